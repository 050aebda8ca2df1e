"""The pipeline: keys, idempotency, recursion guard, filters, deletion and failures."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from pipeline_helpers import CountingStore, FakeRenderer, jpeg_bytes

from thumbnailer.errors import AccessDenied, CorruptImage, TransientError
from thumbnailer.events import Action, ObjectRef
from thumbnailer.pipeline import (
    META_MARKER,
    META_SOURCE_KEY_SHA256,
    Pipeline,
    Status,
    key_digest,
    marker_key,
    thumbnail_metadata,
)
from thumbnailer.render import spec as spec_module
from thumbnailer.render.spec import OutputFormat, Size, ThumbnailSpec
from thumbnailer.settings import Settings
from thumbnailer.storage import MAX_KEY_BYTES, MAX_METADATA_BYTES, metadata_bytes

SRC, DST = "photos", "thumbs"
KEY = "2026/red flower 1+1 été.jpg"


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "root")


def make(store: CountingStore, renderer: FakeRenderer | None = None, **changes: object) -> Pipeline:
    base = Settings(
        destination_bucket=DST,
        source_bucket=SRC,
        spec=ThumbnailSpec(sizes=(Size(128, 128), Size(256, 256))),
    )
    settings = replace(base, **changes)  # type: ignore[arg-type]
    return Pipeline(settings, store, renderer=renderer or FakeRenderer())


def png_bytes() -> bytes:
    """A small real PNG with transparency."""
    buffer = io.BytesIO()
    Image.new("RGBA", (64, 48), (0, 0, 255, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def upload(store: CountingStore, key: str = KEY, data: bytes | None = None) -> ObjectRef:
    data = data if data is not None else jpeg_bytes()
    etag = store.inner.put(SRC, key, data, content_type="image/jpeg")
    store.calls.clear()
    return ObjectRef(SRC, key, size=len(data), etag=etag)


class TestKeys:
    def test_default_template(self, store: CountingStore) -> None:
        p = make(store)
        assert p.destination_key(KEY, Size(128, 128), "jpg") == (
            "thumbnails/2026/red flower 1+1 été_128x128.jpg"
        )
        assert p.destination_key("README", Size(1, 2), "png") == "thumbnails/README_1x2.png"
        assert p.destination_key(".hidden", Size(1, 2), "png") == "thumbnails/.hidden_1x2.png"
        assert p.destination_key("a.b/c", Size(1, 2), "png") == "thumbnails/a.b/c_1x2.png"

    def test_custom_template_fields(self, store: CountingStore) -> None:
        p = make(store, key_template="{prefix}{width}w/{dir}{name}.{ext}")
        assert p.destination_key(KEY, Size(128, 128), "webp") == (
            "thumbnails/128w/2026/red flower 1+1 été.webp"
        )
        p = make(store, key_template="{prefix}{key}/{width}x{height}.{ext}")
        assert p.destination_key("a/b.png", Size(8, 9), "png") == "thumbnails/a/b.png/8x9.png"

    def test_destination_keys_cover_both_auto_formats(self, store: CountingStore) -> None:
        keys = make(store).destination_keys("a.jpg")
        assert keys == [
            "thumbnails/a_128x128.jpg",
            "thumbnails/a_128x128.png",
            "thumbnails/a_256x256.jpg",
            "thumbnails/a_256x256.png",
        ]
        fixed = make(store, spec=ThumbnailSpec(format=OutputFormat.WEBP))
        assert fixed.destination_keys("a.jpg") == ["thumbnails/a_128x128.webp"]


class TestCreate:
    def test_writes_every_size_with_headers_and_metadata(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        ref = upload(store)
        outcome = make(store, renderer, cache_control="max-age=5").process(ref)
        assert outcome.status is Status.CREATED, outcome.error
        assert [t.key for t in outcome.thumbnails] == [
            "thumbnails/2026/red flower 1+1 été_128x128.jpg",
            "thumbnails/2026/red flower 1+1 été_256x256.jpg",
        ]
        info = store.inner.head(DST, outcome.thumbnails[0].key)
        assert info.content_type == "image/jpeg"
        assert info.cache_control == "max-age=5"
        assert info.metadata[META_MARKER] == "1"
        assert info.metadata["source-bucket"] == SRC
        assert unquote(info.metadata["source-key"]) == KEY
        assert info.metadata["source-key"].isascii()
        assert info.metadata["source-etag"] == ref.etag
        assert (
            info.metadata["spec"]
            == ThumbnailSpec(sizes=(Size(128, 128), Size(256, 256))).fingerprint()
        )
        assert outcome.source_bytes == ref.size
        assert outcome.timings.total_ms >= outcome.timings.render_ms >= 0

    def test_duplicate_delivery_does_no_render_and_no_get(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        pipeline = make(store, renderer)
        ref = upload(store)
        assert pipeline.process(ref).status is Status.CREATED
        store.calls.clear()
        again = pipeline.process(ref)
        assert again.status is Status.SKIPPED
        assert again.reason == "thumbnails are current"
        assert renderer.calls == 1
        assert store.calls == {"head": 2}  # one HEAD per thumbnail, nothing else
        assert pipeline.is_current(ref)

    def test_png_sources_with_auto_format_need_one_head_per_size(
        self, store: CountingStore
    ) -> None:
        renderer = FakeRenderer(alpha=True)
        pipeline = make(store, renderer)
        ref = upload(store, "logo.PNG")
        created = pipeline.process(ref)
        assert [t.key.rsplit(".", 1)[1] for t in created.thumbnails] == ["png", "png"]
        store.calls.clear()
        assert pipeline.process(ref).status is Status.SKIPPED
        assert store.calls == {"head": 2}
        assert renderer.calls == 1

    def test_a_new_jpeg_costs_one_head(self, store: CountingStore) -> None:
        # The first HEAD answers 404: every thumbnail must be made, and JPEG data never makes
        # PNG ones, so neither the other sizes nor the PNG keys are asked.
        renderer = FakeRenderer()
        outcome = make(store, renderer).process(upload(store))
        assert outcome.status is Status.CREATED
        assert store.calls == {"head": 1, "get": 1, "put": 2, "delete": 1}
        assert renderer.calls == 1

    def test_a_new_version_costs_one_head(self, store: CountingStore) -> None:
        pipeline = make(store)
        pipeline.process(upload(store, data=jpeg_bytes(color="blue")))
        outcome = pipeline.process(upload(store, data=jpeg_bytes(color="green")))
        assert outcome.status is Status.CREATED
        assert store.calls == {"head": 1, "get": 1, "put": 2, "delete": 1}

    def test_a_png_named_jpeg_is_current_without_a_render(self, store: CountingStore) -> None:
        # A transparent PNG saved as .jpg gets PNG thumbnails; its JPEG keys answer 404, so
        # the PNG keys are asked once the source's bytes show it can make them.
        renderer = FakeRenderer(alpha=True)
        pipeline = make(store, renderer)
        ref = upload(store, "misnamed.jpg", png_bytes())
        created = pipeline.process(ref)
        assert [t.key.rsplit(".", 1)[1] for t in created.thumbnails] == ["png", "png"]
        store.calls.clear()
        again = pipeline.process(ref)
        assert (again.status, again.reason) == (Status.SKIPPED, "thumbnails are current")
        assert renderer.calls == 1
        assert store.calls == {"head": 3, "get": 1}

    def test_opaque_png_sources_are_current_without_a_get(self, store: CountingStore) -> None:
        renderer = FakeRenderer(alpha=False)
        pipeline = make(store, renderer)
        ref = upload(store, "opaque.png", png_bytes())
        assert pipeline.process(ref).status is Status.CREATED
        assert store.calls["head"] == 2  # the PNG key, then the JPEG key, before the GET
        store.calls.clear()
        assert pipeline.process(ref).status is Status.SKIPPED
        assert store.calls == {"head": 3}
        assert renderer.calls == 1

    def test_a_missing_size_is_made_again(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        pipeline = make(store, renderer)
        ref = upload(store)
        created = pipeline.process(ref)
        store.inner.delete(DST, created.thumbnails[1].key)
        store.calls.clear()
        assert pipeline.process(ref).status is Status.CREATED
        assert renderer.calls == 2
        assert store.calls["head"] == 2

    def test_newer_source_version_replaces(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        pipeline = make(store, renderer)
        first = upload(store, data=jpeg_bytes(color="blue"))
        pipeline.process(first)
        second = upload(store, data=jpeg_bytes(color="green"))
        assert second.etag != first.etag
        assert not pipeline.is_current(second)
        outcome = pipeline.process(second)
        assert outcome.status is Status.CREATED
        assert renderer.calls == 2
        info = store.inner.head(DST, outcome.thumbnails[0].key)
        assert info.metadata["source-etag"] == second.etag

    def test_stale_event_after_replacement_is_skipped(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        pipeline = make(store, renderer)
        old = upload(store, data=jpeg_bytes(color="blue"))
        new = upload(store, data=jpeg_bytes(color="green"))
        pipeline.process(new)
        late = pipeline.process(old)  # the old version's event arrives last
        assert late.status is Status.SKIPPED
        assert renderer.calls == 1

    def test_changed_spec_renders_again(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        ref = upload(store)
        make(store, renderer).process(ref)
        spec = ThumbnailSpec(sizes=(Size(128, 128), Size(256, 256)), quality=50)
        assert make(store, renderer, spec=spec).process(ref).status is Status.CREATED
        assert renderer.calls == 2

    def test_thumbnails_an_older_engine_drew_are_made_again(
        self, store: CountingStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        renderer = FakeRenderer()
        ref = upload(store)
        monkeypatch.setattr(spec_module, "OUTPUT_VERSION", spec_module.OUTPUT_VERSION - 1)
        make(store, renderer).process(ref)
        monkeypatch.undo()
        assert make(store, renderer).process(ref).status is Status.CREATED
        assert renderer.calls == 2
        assert make(store, renderer).process(ref).status is not Status.CREATED
        assert renderer.calls == 2

    def test_missing_size_and_etag_are_read_with_a_head(self, store: CountingStore) -> None:
        ref = upload(store)
        outcome = make(store).process(replace(ref, size=None, etag=None))
        assert outcome.status is Status.CREATED
        assert store.calls["head"] >= 1

    def test_too_large_is_refused_before_download(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        ref = upload(store)
        small = ThumbnailSpec(
            sizes=(Size(128, 128),), limits=replace(ThumbnailSpec().limits, max_input_bytes=10)
        )
        outcome = make(store, renderer, spec=small).process(ref)
        assert outcome.status is Status.FAILED
        assert outcome.error is not None and outcome.error.kind == "too_large"
        assert not outcome.retryable
        assert store.calls["get"] == 0 and renderer.calls == 0


class TestGuards:
    @pytest.mark.parametrize(
        ("key", "reason"),
        [
            ("thumbnails/a_128x128.jpg", "under the thumbnail prefix"),
            ("failed/a.jpg.json", "under the failure prefix"),
            ("folder/", "folder placeholder"),
        ],
    )
    def test_own_output_is_never_processed(
        self, store: CountingStore, key: str, reason: str
    ) -> None:
        renderer = FakeRenderer()
        outcome = make(store, renderer).process(ObjectRef(SRC, key, size=5, etag="e"))
        assert (outcome.status, outcome.reason) == (Status.SKIPPED, reason)
        assert renderer.calls == 0 and sum(store.calls.values()) == 0

    def test_objects_carrying_our_marker_are_skipped(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        store.inner.put(SRC, "copied.jpg", jpeg_bytes(), content_type="image/jpeg",
                        metadata={META_MARKER: "1"})  # fmt: skip
        outcome = make(store, renderer).process(ObjectRef(SRC, "copied.jpg"))
        assert (outcome.status, outcome.reason) == (Status.SKIPPED, "written by thumbnailer")
        assert renderer.calls == 0

    def test_other_buckets_are_skipped(self, store: CountingStore) -> None:
        outcome = make(store).process(ObjectRef("elsewhere", "a.jpg", size=1, etag="e"))
        assert outcome.status is Status.SKIPPED
        assert "not the source bucket" in outcome.reason

    @pytest.mark.parametrize(
        ("changes", "key", "processed"),
        [
            ({"include_prefixes": ("uploads/",)}, "uploads/a.jpg", True),
            ({"include_prefixes": ("uploads/",)}, "other/a.jpg", False),
            ({"exclude_prefixes": ("private/",)}, "private/a.jpg", False),
            ({"include_suffixes": (".jpg", ".png")}, "A.JPG", True),
            ({"include_suffixes": (".JPG",)}, "a.jpg", True),
            ({"include_suffixes": (".jpg",)}, "a.gif", False),
            ({"exclude_suffixes": (".gif",)}, "anim.GIF", False),
            ({"exclude_suffixes": (".gif",)}, "photo.jpg", True),
        ],
    )
    def test_filters(
        self, store: CountingStore, changes: dict[str, object], key: str, processed: bool
    ) -> None:
        ref = upload(store, key)
        outcome = make(store, **changes).process(ref)
        assert (outcome.status is Status.CREATED) is processed


class TestFailureMarkers:
    def test_a_fixed_upload_clears_the_old_failure_marker(self, store: CountingStore) -> None:
        store.inner.put(DST, f"failed/{KEY}.json", b"{}", content_type="application/json")
        assert make(store).process(upload(store)).status is Status.CREATED
        assert list(store.inner.list(DST, "failed/")) == []

    def test_markers_stay_without_deletion_sync(self, store: CountingStore) -> None:
        store.inner.put(DST, f"failed/{KEY}.json", b"{}", content_type="application/json")
        make(store, delete_sync=False).process(upload(store))
        assert len(list(store.inner.list(DST, "failed/"))) == 1

    def test_a_refused_marker_delete_does_not_fail_the_object(self, store: CountingStore) -> None:
        store.fail["delete"] = AccessDenied("no s3:DeleteObject on failed/*")
        assert make(store).process(upload(store)).status is Status.CREATED


class TestDelete:
    def test_deleting_the_source_deletes_its_thumbnails(self, store: CountingStore) -> None:
        pipeline = make(store)
        ref = upload(store)
        created = pipeline.process(ref)
        store.inner.delete(SRC, KEY)
        outcome = pipeline.process(ObjectRef(SRC, KEY, action=Action.DELETED))
        assert outcome.status is Status.DELETED
        assert sorted(outcome.deleted) == sorted(t.key for t in created.thumbnails)
        assert list(store.inner.list(DST, "thumbnails/")) == []

    def test_thumbnails_of_another_source_are_kept(self, store: CountingStore) -> None:
        pipeline = make(store)
        pipeline.process(upload(store, "a.png"))  # a.png and a.jpg share thumbnail keys
        store.inner.delete(SRC, "a.png")
        outcome = pipeline.process(ObjectRef(SRC, "a.jpg", action=Action.DELETED))
        assert outcome.status is Status.SKIPPED
        assert len(list(store.inner.list(DST, "thumbnails/"))) == 2

    def test_reuploaded_source_keeps_its_thumbnails(self, store: CountingStore) -> None:
        pipeline = make(store)
        pipeline.process(upload(store))
        outcome = pipeline.process(ObjectRef(SRC, KEY, action=Action.DELETED))
        assert (outcome.status, outcome.reason) == (Status.SKIPPED, "source exists again")
        assert len(list(store.inner.list(DST, "thumbnails/"))) == 2

    def test_deletion_sync_off(self, store: CountingStore) -> None:
        pipeline = make(store, delete_sync=False)
        pipeline.process(upload(store))
        store.inner.delete(SRC, KEY)
        outcome = pipeline.process(ObjectRef(SRC, KEY, action=Action.DELETED))
        assert (outcome.status, outcome.reason) == (Status.SKIPPED, "deletion sync is off")
        assert len(list(store.inner.list(DST, "thumbnails/"))) == 2


class TestFailures:
    def test_engine_errors_are_permanent(self, store: CountingStore) -> None:
        renderer = FakeRenderer(error=CorruptImage("truncated JPEG"))
        outcome = make(store, renderer).process(upload(store))
        assert outcome.status is Status.FAILED
        assert outcome.permanent_failure and not outcome.retryable
        assert outcome.as_log()["kind"] == "corrupt"
        assert store.calls["put"] == 0

    def test_failures_know_the_source_version(self, store: CountingStore) -> None:
        ref = upload(store)
        renderer = FakeRenderer(error=CorruptImage("bad"))
        outcome = make(store, renderer).process(replace(ref, etag=None, size=None))
        assert (outcome.source_etag, outcome.source_bytes) == (ref.etag, ref.size)

    def test_storage_throttling_is_retryable(self, store: CountingStore) -> None:
        ref = upload(store)
        store.fail["get"] = TransientError("s3://photos/x: SlowDown")
        outcome = make(store).process(ref)
        assert outcome.retryable
        assert outcome.as_log()["retryable"] is True

    def test_missing_source_is_permanent(self, store: CountingStore) -> None:
        outcome = make(store).process(ObjectRef(SRC, "gone.jpg", size=5, etag="e"))
        assert outcome.error is not None and outcome.error.kind == "not_found"
        assert outcome.permanent_failure

    def test_unexpected_exceptions_become_internal_and_retryable(
        self, store: CountingStore
    ) -> None:
        renderer = FakeRenderer(error=ZeroDivisionError("bug"))
        outcome = make(store, renderer).process(upload(store))
        assert outcome.error is not None and outcome.error.kind == "internal"
        assert outcome.retryable
        assert isinstance(outcome.error.__cause__, ZeroDivisionError)


# A key S3 accepts (787 UTF-8 bytes) whose percent-encoded form (2,335 bytes) alone is over
# S3's 2 KB of user metadata. (Folders keep each name within the local file system's limit.)
CJK_KEY = "写真/2026/" + "/".join(["家族旅行の思い出" * 8] * 4) + ".jpg"
# 1010 bytes: its thumbnail keys, thumbnails/…_256x256.jpg, would be 1029.
LONG_KEY = "a/" + "/".join(["x" * 200] * 5) + ".jpg"


class TestS3Limits:
    def test_metadata_of_a_long_non_ascii_key_fits(self) -> None:
        spec = ThumbnailSpec()
        long = thumbnail_metadata(ObjectRef(SRC, CJK_KEY), "e" * 32, "v" * 32, spec,
                                  extra={"failure-kind": "unsupported"})  # fmt: skip
        assert metadata_bytes(long) <= MAX_METADATA_BYTES
        assert "source-key" not in long
        assert long[META_SOURCE_KEY_SHA256] == key_digest(CJK_KEY)
        assert long[META_MARKER] == "1"  # what the recursion guard reads
        assert (long["source-etag"], long["spec"]) == ("e" * 32, spec.fingerprint())
        short = thumbnail_metadata(ObjectRef(SRC, KEY), "e", None, spec)
        assert unquote(short["source-key"]) == KEY and META_SOURCE_KEY_SHA256 not in short

    def test_thumbnails_named_by_digest_are_current_and_deleted(self, store: CountingStore) -> None:
        renderer = FakeRenderer()
        pipeline = make(store, renderer)
        ref = upload(store, CJK_KEY)
        created = pipeline.process(ref)
        assert created.status is Status.CREATED, created.error
        meta = store.inner.head(DST, created.thumbnails[0].key).metadata
        assert meta[META_SOURCE_KEY_SHA256] == key_digest(CJK_KEY)
        again = pipeline.process(ref)
        assert (again.status, again.reason) == (Status.SKIPPED, "thumbnails are current")
        assert renderer.calls == 1
        store.inner.delete(SRC, CJK_KEY)
        deleted = pipeline.process(ObjectRef(SRC, CJK_KEY, action=Action.DELETED))
        assert sorted(deleted.deleted) == sorted(t.key for t in created.thumbnails)

    def test_a_thumbnail_key_over_the_limit_is_refused_before_reading(
        self, store: CountingStore
    ) -> None:
        renderer = FakeRenderer()
        outcome = make(store, renderer).process(upload(store, LONG_KEY))
        assert outcome.error is not None and outcome.error.kind == "rejected"
        assert outcome.permanent_failure
        assert "thumbnail key would be 1029 bytes, over S3's limit of 1024" in outcome.error.message
        assert dict(store.calls) == {"head": 1} and renderer.calls == 0  # no GET, no render

    def test_such_a_source_written_by_a_thumbnailer_is_skipped_not_reported(
        self, store: CountingStore
    ) -> None:
        data = jpeg_bytes()
        etag = store.inner.put(
            SRC, LONG_KEY, data, content_type="image/jpeg", metadata={META_MARKER: "1"}
        )
        store.calls.clear()
        outcome = make(store).process(ObjectRef(SRC, LONG_KEY, size=len(data), etag=etag))
        assert (outcome.status, outcome.reason) == (Status.SKIPPED, "written by thumbnailer")

    def test_deleting_such_a_source_asks_for_no_impossible_key(self, store: CountingStore) -> None:
        outcome = make(store).process(ObjectRef(SRC, LONG_KEY, action=Action.DELETED))
        assert (outcome.status, outcome.reason) == (Status.SKIPPED, "no thumbnails to delete")
        assert store.calls["head"] == 1  # the source only: no thumbnail key could exist

    @pytest.mark.parametrize("key", ["k" * 1020, "日" * 340, "a/" + "é" * 509])
    def test_failure_markers_of_long_keys_stay_within_the_key_limit(self, key: str) -> None:
        marker = marker_key("failed/", key)
        assert marker is not None and marker.startswith("failed/") and marker.endswith(".json")
        assert len(marker.encode()) <= MAX_KEY_BYTES
        assert marker != marker_key("failed/", key + "2")  # sources sharing a long prefix
        assert marker_key("failed/", "short.jpg") == "failed/short.jpg.json"
        assert marker_key("", key) is None


def test_real_renderer_end_to_end(store: CountingStore) -> None:
    """With the real engine: the thumbnail fits its box and is a JPEG."""
    pytest.importorskip("thumbnailer.render._engine")
    pipeline = Pipeline(
        Settings(destination_bucket=DST, spec=ThumbnailSpec(sizes=(Size(32, 32),))), store
    )
    outcome = pipeline.process(upload(store, data=jpeg_bytes((200, 100))))
    assert outcome.status is Status.CREATED, outcome.error
    (thumb,) = outcome.thumbnails
    assert (thumb.width, thumb.height) == (32, 16)
    assert store.inner.get(DST, thumb.key).data[:3] == b"\xff\xd8\xff"

"""LocalStore keeps every key inside its root and round-trips metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from thumbnailer.errors import ObjectNotFound, UnsafeKey
from thumbnailer.storage import LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "root")


def test_put_get_head_round_trip(store: LocalStore) -> None:
    etag = store.put(
        "bucket",
        "photos/cat 1+1 été.jpg",
        b"data",
        content_type="image/jpeg",
        cache_control="max-age=60",
        metadata={"Source-Key": "x"},
    )
    got = store.get("bucket", "photos/cat 1+1 été.jpg")
    assert got.data == b"data"
    assert got.info.etag == etag
    assert got.info.size == 4
    assert got.info.content_type == "image/jpeg"
    assert got.info.cache_control == "max-age=60"
    assert got.info.metadata == {"source-key": "x"}  # names lower-cased, as S3 does
    assert store.head("bucket", "photos/cat 1+1 été.jpg").etag == etag


def test_overwrite_changes_etag(store: LocalStore) -> None:
    first = store.put("b", "k.txt", b"one", content_type="text/plain")
    second = store.put("b", "k.txt", b"two", content_type="text/plain")
    assert first != second
    assert store.get("b", "k.txt").data == b"two"


def test_missing_object(store: LocalStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.get("bucket", "nope.jpg")
    with pytest.raises(ObjectNotFound):
        store.head("bucket", "nope.jpg")


def test_delete_is_idempotent(store: LocalStore) -> None:
    store.put("b", "a/b.jpg", b"x", content_type="image/jpeg")
    store.delete("b", "a/b.jpg")
    store.delete("b", "a/b.jpg")
    with pytest.raises(ObjectNotFound):
        store.head("b", "a/b.jpg")


def test_list_in_key_order_with_prefix(store: LocalStore) -> None:
    for key in ["b/2.jpg", "a/1.jpg", "b/1.jpg"]:
        store.put("bucket", key, key.encode(), content_type="image/jpeg")
    assert [o.key for o in store.list("bucket")] == ["a/1.jpg", "b/1.jpg", "b/2.jpg"]
    assert [o.key for o in store.list("bucket", "b/")] == ["b/1.jpg", "b/2.jpg"]
    assert list(store.list("empty-bucket")) == []


def test_files_placed_by_hand_get_the_same_etag_everywhere(store: LocalStore) -> None:
    (store.root / "bucket" / "hand").mkdir(parents=True)
    (store.root / "bucket" / "hand" / "made.jpg").write_bytes(b"pixels")
    (listed,) = store.list("bucket", "hand/")
    assert listed.etag == store.head("bucket", "hand/made.jpg").etag
    assert listed.etag == store.get("bucket", "hand/made.jpg").info.etag != ""


@pytest.mark.parametrize(
    "key",
    [
        "../outside.jpg",
        "a/../../outside.jpg",
        "a/./b.jpg",
        "/etc/passwd",
        "C:/windows.jpg",
        "a\\..\\b.jpg",
        "nul\x00byte",
        "",
        "folder/",
    ],
)
def test_escaping_keys_are_refused(store: LocalStore, tmp_path: Path, key: str) -> None:
    with pytest.raises(UnsafeKey) as info:
        store.put("bucket", key, b"x", content_type="image/jpeg")
    assert info.value.kind == "unsafe_key"
    with pytest.raises(UnsafeKey):
        store.get("bucket", key)
    with pytest.raises(UnsafeKey):
        store.delete("bucket", key)
    assert not (tmp_path / "outside.jpg").exists()


@pytest.mark.parametrize("bucket", ["..", "../x", "a/b", ".hidden", ""])
def test_unsafe_bucket_names_are_refused(store: LocalStore, bucket: str) -> None:
    with pytest.raises(UnsafeKey):
        store.put(bucket, "k.jpg", b"x", content_type="image/jpeg")


def test_symlink_out_of_the_root_is_refused(store: LocalStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "bucket").mkdir(parents=True)
    (store.root / "bucket" / "link").symlink_to(outside)
    with pytest.raises(UnsafeKey):
        store.put("bucket", "link/evil.jpg", b"x", content_type="image/jpeg")
    assert not (outside / "evil.jpg").exists()

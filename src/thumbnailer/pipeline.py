"""One source object through get → render → put, idempotent and loop-proof.

The pipeline is shared by every adapter (the Lambda handler, the back-fill tool, the local
stack): it never raises for a failing object, it returns an :class:`Outcome` that says what
happened, with timings, and leaves retrying to the caller (``outcome.retryable``).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

from thumbnailer.errors import InternalError, ObjectNotFound, Rejected, ThumbnailerError, TooLarge
from thumbnailer.events.types import Action, ObjectRef
from thumbnailer.render.spec import EXTENSIONS, OutputFormat, Size, Thumbnail, ThumbnailSpec
from thumbnailer.settings import Settings
from thumbnailer.storage.base import (
    MAX_KEY_BYTES,
    MAX_METADATA_BYTES,
    ObjectInfo,
    Store,
    metadata_bytes,
)

__all__ = [
    "META_MARKER",
    "META_SOURCE_ETAG",
    "META_SOURCE_KEY_SHA256",
    "InternalError",
    "Outcome",
    "Pipeline",
    "Renderer",
    "Reporter",
    "Status",
    "Timings",
    "WrittenThumbnail",
    "key_digest",
    "marker_key",
    "thumbnail_metadata",
]

Renderer = Callable[[bytes, ThumbnailSpec], list[Thumbnail]]

# User metadata written on every thumbnail (S3 lower-cases names; values must be ASCII, so the
# source key is percent-encoded).
META_MARKER = "thumbnailer"  # value: metadata version; its presence means "we wrote this"
META_SOURCE_BUCKET = "source-bucket"
META_SOURCE_KEY = "source-key"
# Instead of source-key when that would not fit S3's 2 KB of metadata (a long non-ASCII key
# triples when percent-encoded): idempotency and deletion sync only compare, a digest will do.
META_SOURCE_KEY_SHA256 = "source-key-sha256"
META_SOURCE_ETAG = "source-etag"
META_SOURCE_VERSION = "source-version"
META_SPEC = "spec"

# Formats that may carry transparency: with format `auto` their thumbnails are most likely PNG,
# so the idempotency check asks for the PNG key first and usually needs one HEAD per size.
_ALPHA_SUFFIXES = (".png", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif", ".avif", ".ico")
# Every JPEG starts with these bytes; JPEG carries no transparency, so `auto` makes JPEG of it.
_JPEG_MAGIC = b"\xff\xd8\xff"


class Status(StrEnum):
    """What the pipeline did with one object."""

    CREATED = "created"
    SKIPPED = "skipped"
    DELETED = "deleted"
    FAILED = "failed"


@dataclass
class Timings:
    """Milliseconds spent per stage of one object."""

    get_ms: float = 0.0
    render_ms: float = 0.0
    put_ms: float = 0.0
    total_ms: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The timings rounded to 0.1 ms, for logs and events."""
        return {
            "get_ms": round(self.get_ms, 1),
            "render_ms": round(self.render_ms, 1),
            "put_ms": round(self.put_ms, 1),
            "total_ms": round(self.total_ms, 1),
        }


@dataclass(frozen=True)
class WrittenThumbnail:
    """One thumbnail stored in the destination bucket."""

    bucket: str
    key: str
    width: int
    height: int
    size: int
    content_type: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "width": self.width,
            "height": self.height,
            "bytes": self.size,
            "content_type": self.content_type,
        }


@dataclass
class Outcome:
    """The result of processing one object reference."""

    ref: ObjectRef
    status: Status
    reason: str = ""  # why it was skipped
    error: ThumbnailerError | None = None
    thumbnails: tuple[WrittenThumbnail, ...] = ()
    deleted: tuple[str, ...] = ()
    source_bytes: int | None = None
    source_etag: str | None = None
    timings: Timings = field(default_factory=Timings)

    @property
    def retryable(self) -> bool:
        """True for a transient failure: the caller should make the event come back."""
        return self.status is Status.FAILED and self.error is not None and not self.error.permanent

    @property
    def permanent_failure(self) -> bool:
        """True for a failure that retrying cannot fix (reported once, then acknowledged)."""
        return self.status is Status.FAILED and not self.retryable

    def as_log(self) -> dict[str, Any]:
        """One structured log record for this object."""
        record: dict[str, Any] = {
            "bucket": self.ref.bucket,
            "key": self.ref.key,
            "action": self.ref.action.value,
            "outcome": self.status.value,
            "source_bytes": self.source_bytes,
            "thumbnails": [t.as_dict() for t in self.thumbnails],
            "thumbnail_bytes": sum(t.size for t in self.thumbnails),
            **self.timings.as_dict(),
        }
        if self.reason:
            record["reason"] = self.reason
        if self.error is not None:
            record["kind"] = self.error.kind
            record["error"] = self.error.message  # not "message": reserved by logging
            record["retryable"] = self.retryable
        if self.deleted:
            record["deleted"] = list(self.deleted)
        return record


class Reporter(Protocol):
    """Tells the world about outcomes (see :mod:`thumbnailer.reporting`); must never raise."""

    def created(self, outcome: Outcome, request_id: str = "") -> None:
        """Called after thumbnails were written."""
        ...

    def failed(self, outcome: Outcome, request_id: str = "") -> None:
        """Called once per permanent failure."""
        ...


def key_digest(key: str) -> str:
    """The value of ``source-key-sha256`` for source ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


def thumbnail_metadata(
    ref: ObjectRef,
    etag: str,
    version_id: str | None,
    spec: ThumbnailSpec,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """User metadata linking a thumbnail (or, with ``extra``, a marker) to its source and spec.

    Always within S3's limit: the marker (the recursion guard) and the bucket, ETag and spec
    (idempotency) are always written; a source key too long to fit is written as its digest.
    """
    metadata = {
        META_MARKER: "1",
        META_SOURCE_BUCKET: ref.bucket,
        META_SOURCE_KEY: quote(ref.key, safe="/"),
        META_SOURCE_ETAG: etag,
        META_SPEC: spec.fingerprint(),
    }
    if version_id:
        metadata[META_SOURCE_VERSION] = version_id
    metadata.update(extra or {})
    if metadata_bytes(metadata) > MAX_METADATA_BYTES:
        del metadata[META_SOURCE_KEY]
        metadata[META_SOURCE_KEY_SHA256] = key_digest(ref.key)
    if metadata_bytes(metadata) > MAX_METADATA_BYTES:
        metadata.pop(META_SOURCE_VERSION, None)  # informative only; S3 holds it on the source
    return metadata


def marker_key(failure_prefix: str, key: str) -> str | None:
    """Key of the failure marker of source ``key`` (``None`` when markers are off).

    ``PREFIX/KEY.json``; when that is over S3's 1024 bytes, the key is cut and a digest of the
    whole key keeps markers of different sources apart.
    """
    if not failure_prefix:
        return None
    full = f"{failure_prefix}{key}.json"
    if len(full.encode()) <= MAX_KEY_BYTES:
        return full
    tail = f"~{key_digest(key)[:32]}.json"
    room = max(0, MAX_KEY_BYTES - len(failure_prefix.encode()) - len(tail.encode()))
    head = key.encode()[:room].decode("utf-8", errors="ignore")  # never half a character
    return f"{failure_prefix}{head}{tail}"


def _default_renderer() -> Renderer:
    # Imported on first use: the handler module must stay cheap to import.
    from thumbnailer.render import render

    return render


class Pipeline:
    """Moves source objects to thumbnails according to :class:`~thumbnailer.settings.Settings`.

    ``store`` reads sources and writes thumbnails (both buckets live behind one store);
    ``renderer`` defaults to :func:`thumbnailer.render.render` and can be replaced (tests count
    renders through it); ``reporter`` is told about created thumbnails and permanent failures.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        renderer: Renderer | None = None,
        reporter: Reporter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.store = store
        self.reporter = reporter
        self._renderer = renderer
        self._clock = clock
        self._fingerprint = settings.spec.fingerprint()

    @property
    def renderer(self) -> Renderer:
        """The render function in use."""
        if self._renderer is None:
            self._renderer = _default_renderer()
        return self._renderer

    # -- keys ---------------------------------------------------------------------------------

    def destination_key(self, key: str, size: Size, ext: str) -> str:
        """The thumbnail key of source ``key`` for one box and file extension."""
        slash = key.rfind("/") + 1
        directory, filename = key[:slash], key[slash:]
        dot = filename.rfind(".")
        name = filename[:dot] if dot > 0 else filename
        return self.settings.key_template.format(
            prefix=self.settings.prefix,
            key=key,
            stem=directory + name,
            dir=directory,
            name=name,
            width=size.width,
            height=size.height,
            ext=ext,
        )

    def extensions(self, key: str) -> tuple[str, ...]:
        """Possible thumbnail extensions for ``key``, the likeliest first.

        With format ``auto`` the renderer picks JPEG, or PNG for images with transparency, which
        is known only after decoding; both keys are possible.
        """
        fmt = self.settings.spec.format
        if fmt is not OutputFormat.AUTO:
            return (EXTENSIONS[fmt],)
        jpg, png = EXTENSIONS[OutputFormat.JPEG], EXTENSIONS[OutputFormat.PNG]
        return (png, jpg) if key.lower().endswith(_ALPHA_SUFFIXES) else (jpg, png)

    def destination_keys(self, key: str) -> list[str]:
        """Every key a thumbnail of source ``key`` may have (each size, each possible format)."""
        return [
            self.destination_key(key, size, ext)
            for size in self.settings.spec.sizes
            for ext in self.extensions(key)
        ]

    def failure_marker_key(self, key: str) -> str | None:
        """Key of the failure marker of source ``key`` (``None`` when markers are off)."""
        return marker_key(self.settings.failure_prefix, key)

    def check_destination_keys(self, ref: ObjectRef) -> None:
        """Refuse a source whose thumbnail keys would be over S3's 1024-byte key limit.

        Raised before the source is read, so such a source costs no GET and no render, and
        fails with a message that says why rather than with the refused PUT.
        """
        longest = max(len(k.encode()) for k in self.destination_keys(ref.key))
        if longest > MAX_KEY_BYTES:
            raise Rejected(
                f"{ref}: its thumbnail key would be {longest} bytes, over S3's limit of "
                f"{MAX_KEY_BYTES} (a shorter source key, prefix or key template avoids it)"
            )

    # -- decisions ----------------------------------------------------------------------------

    def skip_reason(self, ref: ObjectRef) -> str | None:
        """Why this object must not be processed (recursion guard and filters), or ``None``."""
        s = self.settings
        key = ref.key
        if s.source_bucket and ref.bucket != s.source_bucket:
            return f"bucket {ref.bucket!r} is not the source bucket"
        if key.startswith(s.prefix):
            return "under the thumbnail prefix"
        if s.failure_prefix and key.startswith(s.failure_prefix):
            return "under the failure prefix"
        if key.endswith("/"):
            return "folder placeholder"
        if s.include_prefixes and not key.startswith(s.include_prefixes):
            return "not under an include prefix"
        if s.exclude_prefixes and key.startswith(s.exclude_prefixes):
            return "under an exclude prefix"
        lowered = key.lower()
        if s.include_suffixes and not lowered.endswith(
            tuple(x.lower() for x in s.include_suffixes)
        ):
            return "suffix not included"
        if s.exclude_suffixes and lowered.endswith(tuple(x.lower() for x in s.exclude_suffixes)):
            return "suffix excluded"
        return None

    def _belongs(self, info: ObjectInfo, ref: ObjectRef) -> bool:
        meta = info.metadata
        if META_MARKER not in meta or meta.get(META_SOURCE_BUCKET) != ref.bucket:
            return False
        if META_SOURCE_KEY in meta:
            return meta[META_SOURCE_KEY] == quote(ref.key, safe="/")
        return meta.get(META_SOURCE_KEY_SHA256) == key_digest(ref.key)

    def _head_or_none(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            return self.store.head(bucket, key)
        except ObjectNotFound:
            return None

    def _current_as(self, ref: ObjectRef, etag: str, ext: str) -> bool | None:
        """Whether every size has a thumbnail with extension ``ext`` made from ``etag`` today.

        ``None`` when the first size has no thumbnail with that extension at all (for a new
        object: the one HEAD it costs). Stops at the first thumbnail that is missing or stale,
        so it costs at most one HEAD per thumbnail.
        """
        dest = self.settings.destination_bucket
        for index, size in enumerate(self.settings.spec.sizes):
            info = self._head_or_none(dest, self.destination_key(ref.key, size, ext))
            if info is None:
                return None if index == 0 else False
            meta = info.metadata
            if not (
                self._belongs(info, ref)
                and meta.get(META_SOURCE_ETAG) == etag
                and meta.get(META_SPEC) == self._fingerprint
            ):
                return False
        return True

    def _current_in(self, ref: ObjectRef, etag: str, extensions: tuple[str, ...]) -> bool | None:
        """:meth:`_current_as` for the first of ``extensions`` that has thumbnails.

        All sizes of one source share a format, so the first extension found decides; ``None``
        when none of them has a thumbnail of the first size.
        """
        for ext in extensions:
            current = self._current_as(ref, etag, ext)
            if current is not None:
                return current
        return None

    def _split_extensions(self, key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The extensions worth a HEAD before the source is read, and those to ask after.

        With format ``auto`` a PNG thumbnail needs a source with transparency, which the
        source's first bytes can rule out (JPEG has none): when JPEG is the likelier output,
        the PNG keys are asked only after the GET, and only for a source that is not a JPEG.
        A new JPEG then costs one HEAD, a redelivered one a HEAD per thumbnail.
        """
        extensions = self.extensions(key)
        if extensions[1:] == (EXTENSIONS[OutputFormat.PNG],):
            return extensions[:1], extensions[1:]
        return extensions, ()

    @staticmethod
    def _possible(extensions: tuple[str, ...], data: bytes) -> tuple[str, ...]:
        """The deferred extensions ``data`` can still produce (no PNG from JPEG data)."""
        if data.startswith(_JPEG_MAGIC):
            return tuple(e for e in extensions if e != EXTENSIONS[OutputFormat.PNG])
        return extensions

    def _current_for(self, ref: ObjectRef, etag: str) -> bool:
        """True if every size has a thumbnail made from ``etag`` with today's spec."""
        return bool(self._current_in(ref, etag, self.extensions(ref.key)))

    def is_current(self, ref: ObjectRef) -> bool:
        """True if the thumbnails of ``ref`` exist for its ETag and the current spec.

        Uses the reference's ETag, or a HEAD of the source when it has none. Raises
        :class:`~thumbnailer.errors.ThumbnailerError` kinds (e.g. ``not_found``).
        """
        etag = ref.etag or self.store.head(ref.bucket, ref.key).etag
        return self._current_for(ref, etag)

    # -- processing ---------------------------------------------------------------------------

    def process(self, ref: ObjectRef, *, request_id: str = "") -> Outcome:
        """Process one reference; never raises for a failing object (see ``Outcome.error``)."""
        started = self._clock()
        timings = Timings()
        seen: dict[str, Any] = {}  # what was learnt about the source before a failure
        try:
            if ref.action is Action.DELETED:
                outcome = self._delete(ref, timings)
            else:
                outcome = self._create(ref, timings, seen)
        except ThumbnailerError as exc:
            outcome = self._failed(ref, exc, timings, seen)
        except Exception as exc:
            error = InternalError(f"{type(exc).__name__}: {exc}")
            error.__cause__ = exc
            outcome = self._failed(ref, error, timings, seen)
        timings.total_ms = (self._clock() - started) * 1000
        if self.reporter is not None:
            if outcome.permanent_failure:
                self.reporter.failed(outcome, request_id)
            elif outcome.status is Status.CREATED:
                self.reporter.created(outcome, request_id)
        return outcome

    @staticmethod
    def _failed(
        ref: ObjectRef, error: ThumbnailerError, timings: Timings, seen: dict[str, Any]
    ) -> Outcome:
        return Outcome(
            ref,
            Status.FAILED,
            error=error,
            source_bytes=seen.get("size"),
            source_etag=seen.get("etag", ref.etag),
            timings=timings,
        )

    def _create(self, ref: ObjectRef, timings: Timings, seen: dict[str, Any]) -> Outcome:
        reason = self.skip_reason(ref)
        if reason:
            return Outcome(ref, Status.SKIPPED, reason=reason, timings=timings)
        try:
            self.check_destination_keys(ref)
        except Rejected:
            # Reported only for a source of its own: one a thumbnailer wrote is skipped, as below.
            if META_MARKER in self.store.head(ref.bucket, ref.key).metadata:
                return Outcome(ref, Status.SKIPPED, reason="written by thumbnailer")
            raise
        limit = self.settings.spec.limits.max_input_bytes
        size, etag = ref.size, ref.etag
        if size is None or etag is None:
            head = self.store.head(ref.bucket, ref.key)
            if META_MARKER in head.metadata:
                return Outcome(ref, Status.SKIPPED, reason="written by thumbnailer")
            size, etag = head.size, head.etag
        seen.update(size=size, etag=etag)
        if size > limit:
            raise TooLarge(f"{ref}: {size} bytes is over the {limit}-byte limit")
        early, deferred = self._split_extensions(ref.key)
        current = self._current_in(ref, etag, early)
        if current:
            return Outcome(
                ref, Status.SKIPPED, reason="thumbnails are current", source_etag=etag,
                timings=timings,
            )  # fmt: skip

        start = self._clock()
        source = self.store.get(ref.bucket, ref.key)
        timings.get_ms = (self._clock() - start) * 1000
        info, data = source.info, source.data
        seen.update(size=len(data), etag=info.etag or etag)
        if META_MARKER in info.metadata:
            return Outcome(ref, Status.SKIPPED, reason="written by thumbnailer", timings=timings)
        if len(data) > limit:
            raise TooLarge(f"{ref}: {len(data)} bytes is over the {limit}-byte limit")
        # The object may have been replaced since the event: what counts is what we read.
        if info.etag and info.etag != etag:
            current = self._current_in(ref, info.etag, early + self._possible(deferred, data))
        elif current is None and deferred:
            # Nothing in the likelier format: the other one counts if this source can make it.
            current = self._current_in(ref, etag, self._possible(deferred, data))
        if current:
            return Outcome(
                ref, Status.SKIPPED, reason="thumbnails are current", source_bytes=len(data),
                source_etag=info.etag or etag, timings=timings,
            )  # fmt: skip

        start = self._clock()
        thumbnails = self.renderer(data, self.settings.spec)
        timings.render_ms = (self._clock() - start) * 1000

        metadata = thumbnail_metadata(ref, info.etag or etag, info.version_id, self.settings.spec)
        dest = self.settings.destination_bucket
        written = []
        start = self._clock()
        for thumb in thumbnails:
            key = self.destination_key(ref.key, thumb.box, thumb.extension)
            self.store.put(
                dest,
                key,
                thumb.data,
                content_type=thumb.content_type,
                cache_control=self.settings.cache_control,
                metadata=metadata,
            )
            written.append(
                WrittenThumbnail(
                    dest, key, thumb.width, thumb.height, len(thumb.data), thumb.content_type
                )
            )
        self._clear_failure(ref)
        timings.put_ms = (self._clock() - start) * 1000
        return Outcome(
            ref,
            Status.CREATED,
            thumbnails=tuple(written),
            source_bytes=len(data),
            source_etag=info.etag or etag,
            timings=timings,
        )

    def _clear_failure(self, ref: ObjectRef) -> None:
        """Remove the failure marker of an earlier, broken version (S3 DELETEs are free)."""
        marker = self.failure_marker_key(ref.key)
        # Deleting needs the permission deletion sync grants; without it, markers stay.
        if marker and self.settings.delete_sync:
            # The thumbnails are written: a stale marker must not fail the object.
            with contextlib.suppress(ThumbnailerError):
                self.store.delete(self.settings.destination_bucket, marker)

    def _delete(self, ref: ObjectRef, timings: Timings) -> Outcome:
        reason = self.skip_reason(ref)
        if reason:
            return Outcome(ref, Status.SKIPPED, reason=reason, timings=timings)
        if not self.settings.delete_sync:
            return Outcome(ref, Status.SKIPPED, reason="deletion sync is off", timings=timings)
        # Events can arrive late: if the key was uploaded again, its thumbnails are its own.
        if self._head_or_none(ref.bucket, ref.key) is not None:
            return Outcome(ref, Status.SKIPPED, reason="source exists again", timings=timings)
        dest = self.settings.destination_bucket
        deleted = []
        start = self._clock()
        for key in self.destination_keys(ref.key):
            if len(key.encode()) > MAX_KEY_BYTES:
                continue  # a key S3 refuses holds no thumbnail (it was refused when made)
            info = self._head_or_none(dest, key)
            # Another source may map to the same key (a.jpg and a.png): delete only our own.
            if info is not None and self._belongs(info, ref):
                self.store.delete(dest, key)
                deleted.append(key)
        marker = self.failure_marker_key(ref.key)
        if marker:
            self.store.delete(dest, marker)
        timings.put_ms = (self._clock() - start) * 1000
        if not deleted:
            return Outcome(ref, Status.SKIPPED, reason="no thumbnails to delete", timings=timings)
        return Outcome(ref, Status.DELETED, deleted=tuple(deleted), timings=timings)

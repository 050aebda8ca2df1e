"""The storage contract: a small protocol the pipeline reads and writes through."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_METADATA_BYTES",
    "ObjectInfo",
    "Store",
    "StoredObject",
    "metadata_bytes",
]

# S3's limits. The pipeline keeps to them whatever the store, so that what works locally works
# on S3 (moto and the local store do not enforce them).
MAX_KEY_BYTES = 1024  # an object key, in UTF-8 bytes
# User-defined metadata: at most 2 KB, the sum of the UTF-8 bytes of every name and value. Read
# as 2,000 bytes, the stricter meaning of "2 KB": a few bytes less never costs anything.
MAX_METADATA_BYTES = 2000


def metadata_bytes(metadata: Mapping[str, str]) -> int:
    """The size S3 counts against :data:`MAX_METADATA_BYTES`."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in metadata.items())


@dataclass(frozen=True)
class ObjectInfo:
    """What is known about a stored object without its bytes."""

    bucket: str
    key: str
    size: int
    etag: str  # without quotes
    content_type: str = ""
    cache_control: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)  # user metadata, lower-case names
    version_id: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class StoredObject:
    """An object read into memory."""

    info: ObjectInfo
    data: bytes = field(repr=False)


class Store(Protocol):
    """Buckets of keyed objects; raises only :mod:`thumbnailer.errors` types."""

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Describe an object; :class:`~thumbnailer.errors.ObjectNotFound` if absent."""
        ...

    def get(self, bucket: str, key: str) -> StoredObject:
        """Read an object (the current version) into memory."""
        ...

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Write an object and return its ETag."""
        ...

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object; deleting an absent object is not an error."""
        ...

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` in key order (metadata is not filled in)."""
        ...

"""The storage contract: a small protocol the pipeline reads and writes through."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

__all__ = ["ObjectInfo", "Store", "StoredObject"]


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

"""A store over a local directory: ``ROOT/BUCKET/KEY``, metadata in JSON sidecars.

Keys can never leave the bucket directory: absolute keys, ``..`` segments, backslashes and NUL
bytes are refused with :class:`~thumbnailer.errors.UnsafeKey`, and the resolved path is checked
to be inside the root (symlinks included).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from thumbnailer.errors import ObjectNotFound, ThumbnailerError, UnsafeKey
from thumbnailer.storage.base import ObjectInfo, StoredObject

__all__ = ["LocalStore"]

_META_DIR = ".thumbnailer-meta"  # sidecars live apart so they can never collide with a key
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_]{0,254}$")


class LocalStore:
    """:class:`~thumbnailer.storage.base.Store` over a directory (tests, demos, `make`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _paths(self, bucket: str, key: str) -> tuple[Path, Path]:
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise UnsafeKey(f"bucket name {bucket!r} is not allowed")
        if not key or key.startswith("/") or "\\" in key or "\x00" in key:
            raise UnsafeKey(f"key {key!r}: empty, absolute or with a backslash/NUL")
        parts = key.split("/")
        if any(part in ("..", ".") for part in parts) or re.match(r"^[A-Za-z]:", key):
            raise UnsafeKey(f"key {key!r}: '.' and '..' segments are not allowed")
        if key.endswith("/"):
            raise UnsafeKey(f"key {key!r}: folder keys are not stored")
        base = self.root / bucket
        path = (base / key).resolve()
        if not path.is_relative_to(base.resolve()):
            raise UnsafeKey(f"key {key!r} escapes the bucket directory")
        meta = self.root / _META_DIR / bucket / (key + ".json")
        return path, meta

    def _read_meta(self, meta: Path) -> dict[str, object]:
        try:
            loaded = json.loads(meta.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Describe an object."""
        path, meta = self._paths(bucket, key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(f"{bucket}/{key}: not found") from None
        except OSError as exc:
            raise ThumbnailerError(f"{bucket}/{key}: {exc.strerror}") from exc
        if not path.is_file():
            raise ObjectNotFound(f"{bucket}/{key}: not a file")
        sidecar = self._read_meta(meta)
        metadata = sidecar.get("metadata")
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=stat.st_size,
            etag=str(sidecar.get("etag") or self._etag(path.read_bytes())),
            content_type=str(sidecar.get("content_type", "")),
            cache_control=str(sidecar.get("cache_control", "")),
            metadata=dict(metadata) if isinstance(metadata, dict) else {},
            last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    @staticmethod
    def _etag(data: bytes) -> str:
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def get(self, bucket: str, key: str) -> StoredObject:
        """Read an object into memory."""
        info = self.head(bucket, key)
        path, _ = self._paths(bucket, key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(f"{bucket}/{key}: not found") from None
        return StoredObject(info, data)

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
        """Write an object (atomically: temporary file, then rename) and return its ETag."""
        path, meta = self._paths(bucket, key)
        etag = self._etag(data)
        sidecar = {
            "etag": etag,
            "content_type": content_type,
            "cache_control": cache_control,
            "metadata": {k.lower(): v for k, v in (metadata or {}).items()},
        }
        try:
            for target, payload in ((path, data), (meta, json.dumps(sidecar).encode())):
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
                tmp.write_bytes(payload)
                tmp.replace(target)
        except OSError as exc:
            raise ThumbnailerError(f"{bucket}/{key}: cannot write: {exc.strerror}") from exc
        return etag

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object and its sidecar (absent is fine)."""
        for target in self._paths(bucket, key):
            target.unlink(missing_ok=True)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` in key order."""
        self._paths(bucket, "probe")  # validates the bucket name
        base = self.root / bucket
        if not base.is_dir():
            return
        keys = sorted(
            path.relative_to(base).as_posix()
            for path in base.rglob("*")
            if path.is_file() and ".tmp-" not in path.name
        )
        for key in keys:
            if key.startswith(prefix):
                info = self.head(bucket, key)  # the same ETag as head/get, sidecar or not
                yield ObjectInfo(
                    bucket=bucket,
                    key=key,
                    size=info.size,
                    etag=info.etag,
                    last_modified=info.last_modified,
                )

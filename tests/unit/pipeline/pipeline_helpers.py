"""A counting store and a counting fake renderer for pipeline tests."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

from PIL import Image

from thumbnailer.render.spec import OutputFormat, Thumbnail, ThumbnailSpec
from thumbnailer.storage import LocalStore, ObjectInfo, StoredObject


class CountingStore:
    """A LocalStore that counts calls per method (and can be told to fail)."""

    def __init__(self, root: Path) -> None:
        self.inner = LocalStore(root)
        self.calls: Counter[str] = Counter()
        self.fail: dict[str, Exception] = {}

    def _enter(self, name: str) -> None:
        self.calls[name] += 1
        if name in self.fail:
            raise self.fail[name]

    def head(self, bucket: str, key: str) -> ObjectInfo:
        self._enter("head")
        return self.inner.head(bucket, key)

    def get(self, bucket: str, key: str) -> StoredObject:
        self._enter("get")
        return self.inner.get(bucket, key)

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
        self._enter("put")
        return self.inner.put(
            bucket, key, data, content_type=content_type, cache_control=cache_control,
            metadata=metadata,
        )  # fmt: skip

    def delete(self, bucket: str, key: str) -> None:
        self._enter("delete")
        self.inner.delete(bucket, key)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        self._enter("list")
        return self.inner.list(bucket, prefix)


class FakeRenderer:
    """Counts renders; makes one small real image per size (PNG if ``alpha``, else JPEG)."""

    def __init__(self, alpha: bool = False, error: Exception | None = None) -> None:
        self.calls = 0
        self.alpha = alpha
        self.error = error

    def __call__(self, data: bytes, spec: ThumbnailSpec) -> list[Thumbnail]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        fmt = spec.format
        if fmt is OutputFormat.AUTO:
            fmt = OutputFormat.PNG if self.alpha else OutputFormat.JPEG
        out = []
        for box in spec.sizes:
            buffer = io.BytesIO()
            Image.new("RGB", (box.width, box.height // 2 or 1), "red").save(
                buffer, "JPEG" if fmt is OutputFormat.JPEG else fmt.value.upper()
            )
            out.append(Thumbnail(buffer.getvalue(), box.width, box.height // 2 or 1, fmt, box))
        return out


def jpeg_bytes(size: tuple[int, int] = (64, 48), color: str = "blue") -> bytes:
    """A small real JPEG."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()

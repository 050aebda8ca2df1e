"""Object storage behind one small protocol: :class:`S3Store` and :class:`LocalStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thumbnailer.storage.base import (
    MAX_KEY_BYTES,
    MAX_METADATA_BYTES,
    ObjectInfo,
    Store,
    StoredObject,
    metadata_bytes,
)
from thumbnailer.storage.local import LocalStore

if TYPE_CHECKING:
    from thumbnailer.storage.s3 import S3Store, client_config, map_error

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_METADATA_BYTES",
    "LocalStore",
    "ObjectInfo",
    "S3Store",
    "Store",
    "StoredObject",
    "client_config",
    "map_error",
    "metadata_bytes",
]

_S3_NAMES = {"S3Store", "client_config", "map_error"}


def __getattr__(name: str) -> Any:
    # botocore is only needed (and only imported) by users of the S3 store.
    if name in _S3_NAMES:
        from thumbnailer.storage import s3

        return getattr(s3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

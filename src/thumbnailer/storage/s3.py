"""The S3 store: boto3 behind :class:`~thumbnailer.storage.base.Store`, errors mapped."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    UnknownServiceError,
)

from thumbnailer.errors import (
    AccessDenied,
    ConfigError,
    ObjectNotFound,
    Rejected,
    ThumbnailerError,
    TransientError,
)
from thumbnailer.storage.base import ObjectInfo, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Store", "client_config", "map_error"]

_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchVersion"}
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId"}
_TRANSIENT = {
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalError",
    "503",
    "500",
}


def client_config(
    retry_mode: Literal["standard", "adaptive"] = "standard", max_attempts: int = 3
) -> Config:
    """botocore client configuration with the settings' retry mode and attempt count."""
    return Config(
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=30,
    )


def map_error(exc: Exception, what: str) -> ThumbnailerError:
    """Translate a botocore (or socket) exception about ``what`` into our hierarchy.

    ``what`` names the object, e.g. ``s3://bucket/key``; the caller chains ``exc``.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        detail = error.get("Message") or code or str(status)
        if code in _NOT_FOUND or status == 404 or code == "NoSuchBucket":
            return ObjectNotFound(f"{what}: not found ({code or status})")
        if code in _DENIED or status == 403:
            return AccessDenied(f"{what}: access denied ({detail})")
        if code in _TRANSIENT or status == 429 or status >= 500:
            return TransientError(f"{what}: {code or status}: {detail}")
        # Any other refusal (KeyTooLongError, MetadataTooLarge, InvalidArgument, a redirect to
        # another region, ...): the request itself is refused, and resending cannot change it.
        return Rejected(f"{what}: {code or status}: {detail}")
    if isinstance(exc, NoCredentialsError):
        return AccessDenied(f"{what}: no AWS credentials")
    if isinstance(exc, ParamValidationError):
        return Rejected(f"{what}: refused before sending: {exc}")
    if isinstance(exc, (NoRegionError, UnknownServiceError)):
        return ConfigError(f"{what}: {type(exc).__name__}: {exc}")
    # Connection errors, timeouts, a body cut short while streaming (IncompleteReadError,
    # ResponseStreamingError), OS-level socket errors: all may heal on retry.
    return TransientError(f"{what}: {type(exc).__name__}: {exc}")


def _info(bucket: str, key: str, response: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=int(response.get("ContentLength", 0)),
        etag=str(response.get("ETag", "")).strip('"'),
        content_type=str(response.get("ContentType", "")),
        cache_control=str(response.get("CacheControl", "")),
        metadata={k.lower(): v for k, v in response.get("Metadata", {}).items()},
        version_id=response.get("VersionId") or None,
        last_modified=response.get("LastModified"),
    )


class S3Store:
    """:class:`~thumbnailer.storage.base.Store` over Amazon S3 (or any S3 API endpoint)."""

    def __init__(self, client: S3Client | None = None, *, config: Config | None = None) -> None:
        # The default client is built on first use so importing and constructing stay cheap.
        self._client = client
        self._config = config or client_config()
        self._lock = threading.Lock()

    @property
    def client(self) -> S3Client:
        """The boto3 S3 client (built once, on first use, unless one was injected)."""
        if self._client is None:
            # boto3's default session is not thread-safe: build the client once, under a lock.
            with self._lock:
                if self._client is None:
                    import boto3

                    self._client = boto3.client("s3", config=self._config)
        return self._client

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Describe an object."""
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, f"s3://{bucket}/{key}") from exc
        return _info(bucket, key, response)

    def get(self, bucket: str, key: str) -> StoredObject:
        """Read an object into memory."""
        what = f"s3://{bucket}/{key}"
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            data = response["Body"].read()
        except (ClientError, BotoCoreError, OSError) as exc:
            raise map_error(exc, what) from exc
        return StoredObject(_info(bucket, key, response), data)

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
        extra: dict[str, Any] = {}
        if cache_control:
            extra["CacheControl"] = cache_control
        try:
            response = self.client.put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata=dict(metadata or {}),
                **extra,
            )
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, f"s3://{bucket}/{key}") from exc
        return str(response.get("ETag", "")).strip('"')

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object (absent is fine)."""
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            error = map_error(exc, f"s3://{bucket}/{key}")
            if not isinstance(error, ObjectNotFound) or "NoSuchBucket" in str(exc):
                raise error from exc

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects under ``prefix``, page by page."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        bucket=bucket,
                        key=item["Key"],
                        size=int(item.get("Size", 0)),
                        etag=str(item.get("ETag", "")).strip('"'),
                        last_modified=item.get("LastModified"),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, f"s3://{bucket}/{prefix}") from exc

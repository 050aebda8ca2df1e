"""The one error hierarchy of thumbnailer.

Every failure a user can see is a :class:`ThumbnailerError` with a stable ``kind`` string
(used in logs, metrics, failure markers and CLI output) and a ``permanent`` flag: permanent
failures are reported once and never retried; transient ones are retried by the caller
(SQS redelivery, S3 Batch Operations ``TemporaryFailure``).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDenied",
    "ConfigError",
    "CorruptImage",
    "EmptyInput",
    "InternalError",
    "InvalidEvent",
    "LocalFileError",
    "ObjectNotFound",
    "Rejected",
    "RenderTimeout",
    "TerraformError",
    "ThumbnailerError",
    "TooLarge",
    "TransientError",
    "UnsafeKey",
    "UnsupportedFormat",
]


class ThumbnailerError(Exception):
    """Base of every error thumbnailer raises on purpose."""

    kind: ClassVar[str] = "error"
    permanent: ClassVar[bool] = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """Return the error as ``{"kind": ..., "message": ...}`` for JSON output."""
        return {"kind": self.kind, "message": self.message}


class EmptyInput(ThumbnailerError):
    """The input has no bytes."""

    kind = "empty"


class UnsupportedFormat(ThumbnailerError):
    """The input is not one of the allowed formats (decided from its content)."""

    kind = "unsupported"


class CorruptImage(ThumbnailerError):
    """The input claims a supported format but cannot be decoded."""

    kind = "corrupt"


class TooLarge(ThumbnailerError):
    """The input exceeds a byte or pixel limit; refused before decoding its pixels."""

    kind = "too_large"


class RenderTimeout(ThumbnailerError):
    """Rendering took longer than the spec's time budget."""

    kind = "timeout"


class ObjectNotFound(ThumbnailerError):
    """The source object no longer exists."""

    kind = "not_found"


class AccessDenied(ThumbnailerError):
    """The function is not allowed to read or write an object."""

    kind = "access_denied"


class LocalFileError(ThumbnailerError):
    """A local file cannot be read or written for a reason other than absence or permission."""

    kind = "io"


class UnsafeKey(ThumbnailerError):
    """A storage key that would escape its root (``../``, absolute paths)."""

    kind = "unsafe_key"


class ConfigError(ThumbnailerError):
    """A setting has an invalid value, or settings combine into a loop."""

    kind = "config"


class TerraformError(ThumbnailerError):
    """A Terraform command failed; the message carries Terraform's own diagnostics."""

    kind = "terraform"


class TransientError(ThumbnailerError):
    """A failure that may heal on retry: throttling, 5xx, timeouts, connection errors."""

    kind = "transient"
    permanent = False


class InvalidEvent(ThumbnailerError):
    """An event (or SQS message body) that is not one of the accepted shapes; never retried."""

    kind = "invalid_event"


class InternalError(ThumbnailerError):
    """An unexpected exception (a bug or an unmapped library error); retried, then dead-lettered."""

    kind = "internal"
    permanent = False


class Rejected(ThumbnailerError):
    """The store refused the request as invalid: key too long, metadata too large."""

    kind = "rejected"

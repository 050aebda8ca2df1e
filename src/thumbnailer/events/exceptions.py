"""Errors of event parsing."""

from __future__ import annotations

from thumbnailer.errors import ThumbnailerError

__all__ = ["InvalidEvent"]


class InvalidEvent(ThumbnailerError):
    """An event (or SQS message body) that is not one of the accepted shapes; never retried."""

    kind = "invalid_event"

"""Errors of event parsing (defined with the rest of the hierarchy in ``thumbnailer.errors``)."""

from thumbnailer.errors import InvalidEvent

__all__ = ["InvalidEvent"]

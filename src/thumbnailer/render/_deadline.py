"""The spec's time budget for one render, shared by the engine and the slow decoders."""

from __future__ import annotations

import time

from thumbnailer.errors import RenderTimeout

__all__ = ["Deadline"]


class Deadline:
    """The time budget, checked between stages and between a slow decoder's steps.

    A single library call (one video frame, one PDF page object) is not interrupted.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.end is not None and time.monotonic() > self.end

    def check(self, stage: str) -> None:
        """Raise :class:`RenderTimeout` if the budget is spent."""
        if self.expired():
            raise RenderTimeout(f"rendering took longer than {self.seconds:g} s (at {stage})")

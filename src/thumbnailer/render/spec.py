"""What to render (:class:`ThumbnailSpec`) and what comes out (:class:`Thumbnail`)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum

from thumbnailer.errors import ConfigError

__all__ = ["Fit", "Limits", "OutputFormat", "Size", "Thumbnail", "ThumbnailSpec", "parse_color"]

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")  # noqa: RUF001  (the multiplication sign is accepted on purpose)
_HEX_RE = re.compile(r"^#?([0-9a-fA-F]{6})$")
_NAMED_COLORS = {"white": (255, 255, 255), "black": (0, 0, 0)}

MAX_SIDE = 10_000

# Part of every fingerprint. Raised whenever the engine draws some input differently (2: colour
# named by code points, P3/BT.2020/HDR, is converted to sRGB), so thumbnails an older engine made
# no longer count as current and a back-fill makes them again.
OUTPUT_VERSION = 2


class Fit(StrEnum):
    """How an image is placed in its box."""

    FIT = "fit"  # keep aspect ratio inside the box, never upscale
    COVER = "cover"  # exactly the box, centre crop
    PAD = "pad"  # exactly the box, letterboxed with the background


class OutputFormat(StrEnum):
    """Encoded format of a thumbnail; ``auto`` picks JPEG, or PNG when there is alpha."""

    AUTO = "auto"
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"


CONTENT_TYPES = {
    OutputFormat.JPEG: "image/jpeg",
    OutputFormat.PNG: "image/png",
    OutputFormat.WEBP: "image/webp",
    OutputFormat.AVIF: "image/avif",
}
EXTENSIONS = {
    OutputFormat.JPEG: "jpg",
    OutputFormat.PNG: "png",
    OutputFormat.WEBP: "webp",
    OutputFormat.AVIF: "avif",
}


@dataclass(frozen=True, order=True)
class Size:
    """A box in pixels, written ``WxH``."""

    width: int
    height: int

    def __post_init__(self) -> None:
        for side in (self.width, self.height):
            if not 1 <= side <= MAX_SIDE:
                raise ConfigError(f"size {self.width}x{self.height}: sides must be 1..{MAX_SIDE}")

    @classmethod
    def parse(cls, text: str) -> Size:
        """Parse ``"128x128"`` (also ``X`` or the multiplication sign) into a :class:`Size`."""
        match = _SIZE_RE.match(text)
        if not match:
            raise ConfigError(f"invalid size {text!r}: expected WIDTHxHEIGHT, e.g. 128x128")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


def parse_color(text: str) -> tuple[int, int, int]:
    """Parse ``#rrggbb``, ``rrggbb``, ``white`` or ``black`` into an RGB triple."""
    named = _NAMED_COLORS.get(text.strip().lower())
    if named:
        return named
    match = _HEX_RE.match(text.strip())
    if not match:
        raise ConfigError(f"invalid colour {text!r}: expected #rrggbb, e.g. #ffffff")
    value = int(match.group(1), 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


@dataclass(frozen=True)
class Limits:
    """Bounds that protect the renderer from hostile or oversized inputs."""

    max_input_bytes: int = 100 * 1024 * 1024
    max_input_pixels: int = 50_000_000  # counted over all frames decoded
    time_budget_seconds: float | None = 30.0

    def __post_init__(self) -> None:
        if self.max_input_bytes < 1:
            raise ConfigError("max_input_bytes must be at least 1")
        if self.max_input_pixels < 1:
            raise ConfigError("max_input_pixels must be at least 1")
        if self.time_budget_seconds is not None and self.time_budget_seconds <= 0:
            raise ConfigError("time_budget_seconds must be positive")


@dataclass(frozen=True)
class ThumbnailSpec:
    """Everything that decides the thumbnails made from one input."""

    sizes: tuple[Size, ...] = (Size(128, 128),)
    fit: Fit = Fit.FIT
    format: OutputFormat = OutputFormat.AUTO
    quality: int = 85
    background: tuple[int, int, int] = (255, 255, 255)
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not self.sizes:
            raise ConfigError("at least one size is required")
        if len(set(self.sizes)) != len(self.sizes):
            raise ConfigError("sizes must not repeat")
        if not 1 <= self.quality <= 100:
            raise ConfigError(f"quality {self.quality}: must be 1..100")
        if len(self.background) != 3 or not all(0 <= c <= 255 for c in self.background):
            raise ConfigError(f"background {self.background}: expected an RGB triple 0..255")
        # Accept plain strings from callers; store the enums.
        object.__setattr__(self, "fit", Fit(self.fit))
        object.__setattr__(self, "format", OutputFormat(self.format))

    def fingerprint(self) -> str:
        """A short stable hash of every field that changes the output pixels or bytes.

        Stored on each thumbnail, it lets a redelivered event prove the thumbnail is current.
        Limits are left out: they decide whether an input is accepted, not what it looks like.
        :data:`OUTPUT_VERSION` is in: a thumbnail an older engine drew is not current.
        """
        canonical = json.dumps(
            {
                "sizes": [str(s) for s in self.sizes],
                "fit": self.fit.value,
                "format": self.format.value,
                "quality": self.quality,
                "background": list(self.background),
                "v": OUTPUT_VERSION,
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Thumbnail:
    """One encoded thumbnail: the box it was made for, and what came out."""

    data: bytes = field(repr=False)
    width: int
    height: int
    format: OutputFormat
    box: Size

    @property
    def content_type(self) -> str:
        """MIME type of :attr:`data`, e.g. ``image/jpeg``."""
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        """File extension without the dot, e.g. ``jpg``."""
        return EXTENSIONS[self.format]

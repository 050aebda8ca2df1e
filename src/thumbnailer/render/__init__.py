"""The pure rendering core: bytes in, thumbnails out; no AWS, no files, no events."""

from thumbnailer.render.spec import Fit, Limits, OutputFormat, Size, Thumbnail, ThumbnailSpec

__all__ = [
    "Fit",
    "Limits",
    "OutputFormat",
    "Size",
    "Thumbnail",
    "ThumbnailSpec",
    "can_encode",
    "render",
]


# render() is defined by the engine module and re-exported here.
from thumbnailer.render._engine import render


def can_encode(fmt: OutputFormat) -> bool:
    """Whether this build can write ``fmt`` thumbnails (AVIF needs an optional Pillow part)."""
    from thumbnailer.render import _encode  # Pillow loads here, not when the package is imported

    return _encode.can_encode(fmt)

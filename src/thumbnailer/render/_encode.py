"""Encode a finished thumbnail; nothing from the source (EXIF, XMP, ICC, comments) goes out."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from PIL import Image

from thumbnailer.errors import UnsupportedFormat
from thumbnailer.render.spec import OutputFormat

__all__ = ["ALPHA_FORMATS", "GREY_FORMATS", "can_encode", "encode"]

ALPHA_FORMATS = frozenset({OutputFormat.PNG, OutputFormat.WEBP, OutputFormat.AVIF})
GREY_FORMATS = frozenset({OutputFormat.JPEG, OutputFormat.PNG})


def _options(fmt: OutputFormat, quality: int) -> dict[str, Any]:
    if fmt is OutputFormat.JPEG:
        return {"quality": quality, "optimize": True}
    if fmt is OutputFormat.PNG:
        return {"compress_level": 6}
    if fmt is OutputFormat.WEBP:
        return {"quality": quality, "method": 4}
    # One encoder thread keeps AVIF output byte-identical from run to run.
    return {"quality": quality, "speed": 8, "max_threads": 1}


def can_encode(fmt: OutputFormat) -> bool:
    """Whether this Pillow build can write ``fmt`` (its AVIF encoder is an optional part)."""
    if fmt is OutputFormat.AUTO:
        return can_encode(OutputFormat.JPEG) and can_encode(OutputFormat.PNG)
    name = fmt.value.upper()
    if name not in Image.SAVE:
        Image.init()  # registers every plugin's encoder, as Image.save would
    return name in Image.SAVE


def encode(image: Image.Image, fmt: OutputFormat, quality: int) -> bytes:
    """Return ``image`` encoded as ``fmt`` with only its pixels (no metadata).

    Raises :class:`~thumbnailer.errors.UnsupportedFormat` when this build has no encoder for
    ``fmt``, which Pillow itself reports as a bare ``KeyError``.
    """
    if not can_encode(fmt):
        raise UnsupportedFormat(
            f"this build cannot write {fmt.value.upper()} thumbnails (Pillow has no "
            f"{fmt.value.upper()} encoder); choose another output format"
        )
    image.info = {}  # the encoders copy icc_profile/exif/transparency from info otherwise
    buffer = BytesIO()
    image.save(buffer, format=fmt.value.upper(), **_options(fmt, quality))
    return buffer.getvalue()

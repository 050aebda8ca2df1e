"""Decoders behind one small interface: read the header, check limits, then decode.

Pillow formats are handled here; HEIF, PDF and video live in their own modules, imported
only when such an input arrives (their libraries are large and slow to import).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from io import BytesIO
from typing import Protocol

from PIL import (
    AvifImagePlugin,  # noqa: F401  (importing a plugin registers it with Image.open)
    BmpImagePlugin,  # noqa: F401
    GifImagePlugin,  # noqa: F401
    Image,
    ImageFile,
    JpegImagePlugin,  # noqa: F401
    PngImagePlugin,  # noqa: F401
    TiffImagePlugin,  # noqa: F401
    WebPImagePlugin,  # noqa: F401
)

from thumbnailer.errors import TooLarge
from thumbnailer.render._deadline import Deadline
from thumbnailer.render._sniff import Kind

__all__ = [
    "PixelBudget",
    "Source",
    "decoder_threads",
    "open_source",
    "orientation_from_exif",
    "read_orientation",
]

_PIL_FORMATS = {
    Kind.JPEG: "JPEG",
    Kind.PNG: "PNG",
    Kind.GIF: "GIF",
    Kind.WEBP: "WEBP",
    Kind.TIFF: "TIFF",
    Kind.BMP: "BMP",
    Kind.AVIF: "AVIF",
}
_ORIENTATION_TAG = 0x0112
_JPEG_BLOCK_LIMIT = 16 * 1024 * 1024  # each read is a copy: bounded for huge files
# warnings.catch_warnings() swaps process-wide state; renders on several threads (backfill)
# must not interleave it, or one thread could restore filters inside another's open().
_WARNINGS_LOCK = threading.Lock()


class PixelBudget:
    """Counts pixels decoded for one input (over all frames) against the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, width: int, height: int, what: str) -> None:
        """Account for decoding ``width`` x ``height`` pixels, or raise :class:`TooLarge`."""
        self.used += width * height
        if self.used > self.limit:
            raise TooLarge(
                f"{what} is {width}x{height} = {width * height:,} pixels; the limit is "
                f"{self.limit:,} pixels per input"
            )


class Source(Protocol):
    """An opened input whose header is read and checked, its pixels not yet decoded."""

    @property
    def size(self) -> tuple[int, int]:
        """Full-resolution size of the image as stored (before orientation)."""
        ...

    def orientation(self) -> int:
        """EXIF orientation 1..8; before :meth:`decode` it may be only a hint."""
        ...

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        """Decode the pixels, at any size no smaller than ``target`` (stored orientation)."""
        ...

    def close(self) -> None:
        """Release the decoder."""
        ...


def decoder_threads() -> int:
    """The thread count Pillow gives libavif and libheif, so every path uses the machine alike."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def read_orientation(image: Image.Image) -> int:
    """EXIF (or XMP) orientation of ``image``; anything but 1..8 counts as 1."""
    return _orientation(image.getexif)


def orientation_from_exif(block: bytes) -> int:
    """EXIF orientation 1..8 from a raw EXIF block; anything else (or a broken block) is 1."""

    def parsed() -> Image.Exif:
        exif = Image.Exif()
        exif.load(block)
        return exif

    return _orientation(parsed)


def _orientation(read_exif: Callable[[], Image.Exif]) -> int:
    try:
        value = read_exif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not fail the image: assume upright
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _nclx_codes(data: bytes) -> tuple[int, int] | None:
    """(primaries, transfer) from the primary item's ``nclx`` box of an ISO-BMFF image."""
    from thumbnailer.render._isobmff import read_items

    try:
        items = read_items(data)
    except ValueError:  # a meta box this reader does not follow: the colour stays as decoded
        return None
    nclx = items.nclx(items.primary)
    return None if nclx is None else (nclx.primaries, nclx.transfer)


def _cicp_chunk(data: bytes) -> tuple[int, int] | None:
    """(primaries, transfer) from a PNG's ``cICP`` chunk, which comes before the image data."""
    offset = 8  # after the signature
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"cICP" and length == 4 and offset + 12 <= len(data):
            return data[offset + 8], data[offset + 9]
        offset += 12 + length
    return None


def _open_with_pillow(data: bytes, pillow_format: str) -> ImageFile.ImageFile:
    with _WARNINGS_LOCK, warnings.catch_warnings():
        # Our own pixel limit decides; Pillow's warning would only duplicate it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(BytesIO(data), formats=[pillow_format])


class PillowSource:
    """JPEG, PNG/APNG, GIF, WebP, TIFF, BMP and AVIF through Pillow."""

    def __init__(self, data: bytes, kind: Kind, budget: PixelBudget) -> None:
        self.kind = kind
        self.data = data  # the image reads from it; kept for decoders that reread it
        self.image = _open_with_pillow(data, _PIL_FORMATS[kind])
        width, height = self.image.size
        budget.spend(width, height, f"the {kind} image")
        self._fix_low_bit_colour_key()
        self._colour_from_code_points()

    def _colour_from_code_points(self) -> None:
        """Describe colour named by H.273 code points as a profile, for the colour step.

        libavif applies an AVIF's ``nclx`` matrix only, so its primaries and transfer are
        still to convert (an embedded ICC profile wins). A PNG ``cICP`` chunk overrides any
        ``iCCP`` (PNG, third edition); Pillow does not read it.
        """
        from thumbnailer.render._cicp import profile_for

        if self.kind is Kind.AVIF and not self.image.info.get("icc_profile"):
            codes = _nclx_codes(self.data)
        elif self.kind is Kind.PNG:
            codes = _cicp_chunk(self.data)
        else:
            return
        if codes is None:
            return
        icc = profile_for(*codes)
        if icc:
            self.image.info["icc_profile"] = icc
        else:  # sRGB by its code points, whatever a PNG's iCCP says
            self.image.info.pop("icc_profile", None)

    def _fix_low_bit_colour_key(self) -> None:
        # Pillow expands 1/2/4-bit grey PNG pixels to 0..255 but leaves the tRNS key in the
        # file's scale, so nothing would match it and transparency would be lost.
        stream = getattr(self.image, "png", None)
        scale = {"L;1": 255, "L;2": 85, "L;4": 17}.get(getattr(stream, "im_rawmode", ""))
        key = self.image.info.get("transparency")
        if scale and isinstance(key, int):
            self.image.info["transparency"] = key * scale

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def orientation(self) -> int:
        if self.kind is Kind.PNG and "exif" not in self.image.info and not self._loaded():
            return 1  # Pillow would decode the whole PNG to look for a late eXIf chunk
        return read_orientation(self.image)

    def _loaded(self) -> bool:
        return not self.image.tile

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        if self.kind is Kind.JPEG:
            if target is not None:
                # Shrink-on-load: libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below target.
                self.image.draft(None, target)
                self._skip_unused_scans(target)
            # The file in one call (up to 16 MiB): fed in 64 KiB pieces, libjpeg suspends and
            # restarts at each piece's end, about 3 % of the decode time.
            block = min(len(self.data), _JPEG_BLOCK_LIMIT)
            self.image.decodermaxblock = max(self.image.decodermaxblock, block)
        self.image.load()
        return self.image

    def _skip_unused_scans(self, target: tuple[int, int]) -> None:
        """At 1/8 scale, decode a progressive JPEG from only the scans that scale uses."""
        if self.image.decoderconfig[:1] != (8,) or not self.image.info.get("progressive"):
            return
        from thumbnailer.render._jpeg import without_unused_scans

        lighter = without_unused_scans(self.data)
        if lighter is None:
            return
        image = _open_with_pillow(lighter, "JPEG")
        image.draft(None, target)
        if image.size == self.image.size and image.decoderconfig[:1] == (8,):
            self.image, self.data = image, lighter

    def close(self) -> None:
        # Nothing to release: the image reads from memory, and closing it would also free
        # the decoded pixels that the caller is still using.
        return None


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# PNG pixels through libvips (faster, and in less memory than Pillow), when installed.
# Set to False to force the Pillow path (tests and benchmarks compare both).
USE_VIPS: bool | None = None  # None: decide on first use
# Large AVIF pixels through PyAV (the `video` extra), when installed; False forces Pillow.
USE_AV: bool | None = None  # None: decide on first use
# Still WebP pixels straight from libwebp (Pillow's copy, through ctypes) when it loads;
# False leaves them to Pillow, as it does animated WebP.
USE_LIBWEBP: bool | None = None  # None: decide on first use


def open_source(
    data: bytes, kind: Kind, budget: PixelBudget, deadline: Deadline | None = None
) -> Source:
    """Open ``data`` with the decoder for ``kind``: header read and limits checked.

    ``deadline`` is also checked between the steps of decoders that take several (video,
    PDF, HEIC tiles, a lossy WebP with alpha).
    """
    global USE_VIPS, USE_AV, USE_LIBWEBP
    if kind is Kind.WEBP and USE_LIBWEBP is not False:
        from thumbnailer.render._libwebp import load

        codec = load()
        USE_LIBWEBP = codec is not None
        if codec is not None:
            from thumbnailer.render._webp import open_still_webp

            still = open_still_webp(data, budget, codec, deadline)
            if still is not None:
                return still
    if kind is Kind.PNG:
        if USE_VIPS is None:
            USE_VIPS = _installed("pyvips")
        if USE_VIPS:
            from thumbnailer.render._vips import PngSource

            return PngSource(data, budget)
    if kind is Kind.AVIF:
        if USE_AV is None:
            USE_AV = _installed("av")
        if USE_AV:
            from thumbnailer.render._avif import AvifSource

            return AvifSource(data, budget)
    if kind in _PIL_FORMATS:
        return PillowSource(data, kind, budget)
    if kind is Kind.HEIF:
        from thumbnailer.render._heif import HeifSource

        if USE_AV is None:
            USE_AV = _installed("av")
        return HeifSource(data, budget, deadline, use_av=USE_AV)
    if kind is Kind.PDF:
        from thumbnailer.render._pdf import PdfSource

        return PdfSource(data, budget, deadline)
    from thumbnailer.render._video import VideoSource

    return VideoSource(data, budget, deadline)

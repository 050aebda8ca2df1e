"""The contenders of the engine benchmark.

Each contender turns the bytes of one input into a 128 px JPEG, quality 85 (or, for the
reference decodes, only decodes). Each imports what it needs when loaded, so that a child
process measuring it carries no other library. Candidate paths under study are registered
by ``bench/_candidates.py``.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOX = 128
QUALITY = 85
THREADS_ENV = {"VIPS_CONCURRENCY": "1"}  # set before pyvips is imported, in every child

Run = Callable[[bytes], tuple[int, int]]  # returns the output (width, height)


@dataclass(frozen=True)
class Contender:
    """A way of making the thumbnail (or a reference decode) of some input formats."""

    name: str
    label: str
    formats: frozenset[str]  # input formats it applies to
    load: Callable[[], Run]  # imports what it needs, returns the runner
    reference: bool = False  # a decode-only floor, not a thumbnailer
    candidate: bool = False  # an alternative path under study, off unless asked for

    def applies(self, fmt: str) -> bool:
        """Whether this contender runs on inputs of format ``fmt``."""
        return fmt in self.formats


ALL = frozenset({"jpeg", "png", "webp", "heic", "avif"})
# pyvips-binary's libheif has no HEVC decoder (patents): it cannot read HEIC at all. It reads
# AVIF (with libaom's decoder).
VIPS_FORMATS = frozenset({"jpeg", "png", "webp", "avif"})


def _ours() -> Run:
    from thumbnailer.render import OutputFormat, Size, ThumbnailSpec, render

    spec = ThumbnailSpec(sizes=(Size(BOX, BOX),), format=OutputFormat.JPEG, quality=QUALITY)

    def run(data: bytes) -> tuple[int, int]:
        (thumb,) = render(data, spec)
        return thumb.width, thumb.height

    return run


def _ours_without_vips() -> Run:
    """The engine without pyvips and PyAV (a layer built `--without vips,video`).

    PNG and AVIF pixels then come from Pillow; WebP still comes from libwebp, which Pillow
    itself carries.
    """
    sys.modules["pyvips"] = None  # type: ignore[assignment]  # find_spec() now says: absent
    sys.modules["av"] = None  # type: ignore[assignment]
    return _ours()


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - the lock always has it
        return
    register_heif_opener()


def _pillow_naive() -> Run:
    """What most code does: open, convert, shrink, save. Pillow decodes every pixel."""
    from PIL import Image

    _register_heif()

    def run(data: bytes) -> tuple[int, int]:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB")  # decodes the whole image; draft() can no longer help
        rgb.thumbnail((BOX, BOX))
        rgb.save(io.BytesIO(), "JPEG", quality=QUALITY)
        return rgb.size

    return run


def _import_pyvips() -> Any:
    os.environ.update(THREADS_ENV)
    import pyvips

    return pyvips


def _pyvips() -> Run:
    """libvips' own thumbnailer from memory, one thread: shrink-on-load where it can."""
    pyvips = _import_pyvips()

    def run(data: bytes) -> tuple[int, int]:
        source = pyvips.Source.new_from_memory(data)
        img = pyvips.Image.thumbnail_source(source, BOX, height=BOX)
        if img.hasalpha():
            img = img.flatten(background=[255, 255, 255])
        if img.format != "uchar":
            img = img.colourspace("srgb")  # 16-bit RGB to 8-bit sRGB, scaled
        img.jpegsave_buffer(Q=QUALITY, keep="none")
        return img.width, img.height

    return run


def _jpeg_draft() -> Run:
    """The floor for JPEG: Pillow's DCT-scaled decode (1/2..1/8) and nothing else."""
    from PIL import Image

    def run(data: bytes) -> tuple[int, int]:
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (BOX, BOX))
            im.load()
            return im.size

    return run


def _heif_full() -> Run:
    """The reference for HEIC: a full decode of the primary image with pillow-heif."""
    import pillow_heif

    def run(data: bytes) -> tuple[int, int]:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        _ = heif.data  # decodes the primary image's pixels
        width, height = heif.size
        return int(width), int(height)

    return run


CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in [
        Contender("ours", "thumbnailer.render", ALL, _ours),
        Contender(
            "ours_pillow",
            "thumbnailer.render without pyvips and PyAV",
            frozenset({"png", "webp", "avif"}),
            _ours_without_vips,
        ),
        Contender("pillow", "naive Pillow", ALL, _pillow_naive),
        Contender("pyvips", "pyvips thumbnail_source", VIPS_FORMATS, _pyvips),
        Contender("draft", "Pillow draft decode (floor)", frozenset({"jpeg"}), _jpeg_draft, True),
        Contender("heif_full", "HEIC full decode", frozenset({"heic"}), _heif_full, True),
    ]
}


def register(contender: Contender) -> None:
    """Add a candidate path (see ``bench/_candidates.py``)."""
    CONTENDERS[contender.name] = contender

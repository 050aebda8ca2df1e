"""PNG pixels through libvips, when pyvips is installed.

Pillow decodes every pixel of a PNG at full size. libvips shrinks it while it streams the
rows in (a few rows in memory, not the whole image), so the pixels come out already shrunk
to no less than the size the engine asked for.
"""

from __future__ import annotations

import math

import pyvips
from PIL import Image

from thumbnailer.render._decode import (
    PillowSource,
    PixelBudget,
    orientation_from_exif,
)
from thumbnailer.render._sniff import Kind

__all__ = ["PngSource"]

# No operation cache: every input is seen once, and the cache would hold its pixels.
pyvips.cache_set_max(0)

_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_SIXTEEN_BIT = frozenset({"rgb16", "grey16"})


def _late_png_orientation(data: bytes) -> int:
    """Orientation from an eXIf chunk after the image data, which a header read misses.

    Walks the chunk headers only (skipping their data), so it costs microseconds.
    """
    position = 8
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if kind == b"eXIf":
            return orientation_from_exif(data[position + 8 : position + 8 + length])
        if kind == b"IEND":
            break
        position += 12 + length
    return 1


class PngSource(PillowSource):
    """A PNG whose header Pillow reads and whose shrink-on-load decode libvips does.

    Pillow reads the PNG header in microseconds and knows every ancillary chunk (tRNS
    colour keys, eXIf before the data), so limits and orientation behave as on the Pillow
    path; APNG (libvips shows the default image, Pillow the first frame) stays on Pillow.
    """

    def __init__(self, data: bytes, budget: PixelBudget) -> None:
        super().__init__(data, Kind.PNG, budget)
        self._late_orientation = 1

    def orientation(self) -> int:
        found = super().orientation()
        return found if found != 1 else self._late_orientation

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        if target is None or getattr(self.image, "n_frames", 1) != 1:
            return super().decode(target)
        width, height = self.size
        image = pyvips.Image.pngload_source(
            _source(self.data), access="sequential", fail_on="error"
        )
        factor = max(1, math.floor(min(width / target[0], height / target[1])))
        if factor > 1:
            # A box average, like Pillow's reduce(); premultiplied so edges keep colour.
            # Narrowing each row first (shrinkh) buffers rows factor times narrower than
            # shrinking rows together first: half the peak, and no slower. 16-bit samples
            # stay 16-bit until they are few.
            if image.hasalpha():
                image = image.premultiply().shrinkh(factor).shrinkv(factor).unpremultiply()
            else:
                image = image.shrinkh(factor).shrinkv(factor)
        if "exif" not in self.image.info:
            self._late_orientation = _late_png_orientation(self.data)
        return _to_pillow(image, self.image.info.get("icc_profile"))


def _source(data: bytes) -> pyvips.Source:
    # A source reads our bytes in place; passing bytes to a *_buffer loader copies them.
    return pyvips.Source.new_from_memory(data)


def _to_pillow(image: pyvips.Image, icc: bytes | None) -> Image.Image:
    """The 8-bit Pillow image of ``image``, carrying ``icc`` for the colour step."""
    if image.format == "ushort":  # 16-bit samples: keep the top byte (scaled, not clipped)
        image = image >> 8
    elif image.format in ("float", "double") and image.interpretation in _SIXTEEN_BIT:
        image = image / 256  # premultiplied 16-bit samples come back as floats
    if image.format != "uchar":
        image = image.cast("uchar")
    mode = _MODES.get(image.bands)
    if mode is None:
        raise ValueError(f"unexpected number of bands: {image.bands}")
    result = Image.frombytes(mode, (image.width, image.height), image.write_to_memory())
    result.info = {"icc_profile": icc} if icc else {}
    return result

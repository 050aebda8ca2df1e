"""PNG and WebP pixels through libvips, when pyvips is installed.

Pillow decodes every pixel of these formats at full size. libvips shrinks PNG while it streams
the rows in (a few rows in memory, not the whole image) and decodes WebP at a reduced scale
inside libwebp. The header (size, orientation, ICC profile) still comes from Pillow, so limits
and orientation behave exactly as on the Pillow path; only the pixels come from here, already
shrunk to no less than the size the engine asked for.
"""

from __future__ import annotations

import math

import pyvips
from PIL import Image

from thumbnailer.render._decode import PillowSource, PixelBudget
from thumbnailer.render._sniff import Kind

__all__ = ["VipsSource"]

# No operation cache: every input is seen once, and the cache would hold its pixels.
pyvips.cache_set_max(0)

_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _late_png_orientation(data: bytes) -> int:
    """Orientation from an eXIf chunk after the image data, which a header read misses.

    Walks the chunk headers only (skipping their data), so it costs microseconds.
    """
    position = 8
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if kind == b"eXIf":
            exif = Image.Exif()
            try:
                exif.load(data[position + 8 : position + 8 + length])
            except Exception:  # a broken EXIF block must not fail the image: assume upright
                return 1
            value = exif.get(0x0112, 1)
            return value if isinstance(value, int) and 1 <= value <= 8 else 1
        if kind == b"IEND":
            break
        position += 12 + length
    return 1


class VipsSource(PillowSource):
    """A :class:`PillowSource` whose shrink-on-load decode is done by libvips."""

    def __init__(self, data: bytes, kind: Kind, budget: PixelBudget) -> None:
        super().__init__(data, kind, budget)
        self.data = data
        self._late_orientation = 1

    def orientation(self) -> int:
        found = super().orientation()
        return found if found != 1 else self._late_orientation

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        width, height = self.size
        animated = getattr(self.image, "n_frames", 1) != 1
        if target is None or (animated and self.kind is Kind.PNG):
            # Full size wanted, or an APNG (libvips shows the default image, Pillow frame 1).
            return super().decode(target)
        if self.kind is Kind.WEBP:
            scale = min(1.0, max(target[0] / width, target[1] / height))
            image = pyvips.Image.webpload_source(self._source(), scale=scale, fail_on="error")
            image = self._to_8bit(image)
        else:
            image = pyvips.Image.pngload_source(
                self._source(), access="sequential", fail_on="error"
            )
            image = self._to_8bit(image)
            factor = max(1, math.floor(min(width / target[0], height / target[1])))
            if factor > 1:
                # A box average, like Pillow's reduce(); premultiplied so edges keep colour.
                # Narrowing each row first (shrinkh) buffers rows factor times narrower than
                # shrink(), which averages full-width rows first: half the peak for RGBA.
                if image.hasalpha():
                    image = image.premultiply().shrinkh(factor).shrinkv(factor).unpremultiply()
                else:
                    image = image.shrinkh(factor).shrinkv(factor)
                image = image.cast("uchar")
        if self.kind is Kind.PNG and "exif" not in self.image.info:
            self._late_orientation = _late_png_orientation(self.data)
        mode = _MODES.get(image.bands)
        if mode is None:
            raise ValueError(f"unexpected number of bands: {image.bands}")
        pixels = image.write_to_memory()
        result = Image.frombytes(mode, (image.width, image.height), pixels)
        icc = self.image.info.get("icc_profile")
        result.info = {"icc_profile": icc} if icc else {}
        return result

    def _source(self) -> pyvips.Source:
        # A source reads our bytes in place; passing bytes to a *_buffer loader copies them.
        return pyvips.Source.new_from_memory(self.data)

    @staticmethod
    def _to_8bit(image: pyvips.Image) -> pyvips.Image:
        if image.format == "ushort":  # 16-bit PNG: keep the top byte (scaled, not clipped)
            return (image >> 8).cast("uchar")
        if image.format != "uchar":
            return image.cast("uchar")
        return image

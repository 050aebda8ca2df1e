"""Still WebP images decoded by libwebp at a reduced size, without pyvips.

The size comes from libwebp's header parser and the ICC profile and EXIF block from the
file's RIFF chunks: microseconds, where Pillow copies the file and sets up a whole-canvas
animation decoder just to read the size. libwebp's rescaler shrinks opaque and lossless
pictures while they are decoded; a lossy picture with alpha is shrunk here, a strip of
full-size rows at a time, so that colour is weighted by alpha. Animated files are left to
the other paths, which show their first frame.
"""

from __future__ import annotations

import math
from contextlib import closing

from PIL import Image

from thumbnailer.render._deadline import Deadline
from thumbnailer.render._decode import PixelBudget, orientation_from_exif
from thumbnailer.render._geometry import SHRINK_MARGIN, whole_factor
from thumbnailer.render._libwebp import Features, Libwebp, Planes
from thumbnailer.render._sniff import Kind

__all__ = ["WebpSource", "open_still_webp"]

_MARGIN = 1.5  # decoded size over the largest thumbnail's, where libwebp shrinks
_STEP = 256 * 1024  # bytes of the file read between two strips of rows (lossy with alpha)
_STRIP_PIXELS = 1 << 18  # full-size pixels shrunk at a time (about 2 MiB of work space)
# libwebp's own conversion (BT.601, limited range, its fixed-point constants), as an affine
# map of (Y, U, V) for Image.convert(): (R, G, B) = matrix x (Y, U, V, 1).
_YUV_TO_RGB = (
    *(19077 / 16384, 0.0, 26149 / 16384, -14234 / 64),
    *(19077 / 16384, -6419 / 16384, -13320 / 16384, 8708 / 64),
    *(19077 / 16384, 33050 / 16384, 0.0, -17685 / 64),
)


def _decode_scale(size: tuple[int, int], target: tuple[int, int] | None) -> float:
    """The scale (at most 1) to decode a ``size`` WebP at for the engine's ``target``.

    libwebp's rescaler averages exact areas (no aliasing) on its way out, so a smaller margin
    than the engine's default keeps the detail: 98 % of a pure Lanczos' contrast on fine
    stripes at 1.5x (94 % straight to size, as libvips' thumbnailer does), for 1 % fewer
    instructions than at 2x.
    """
    if target is None:
        return 1.0
    needed = [math.ceil(side * _MARGIN / SHRINK_MARGIN) for side in target]
    return min(1.0, max(needed[0] / size[0], needed[1] / size[1]))


def open_still_webp(
    data: bytes, budget: PixelBudget, codec: Libwebp, deadline: Deadline | None = None
) -> WebpSource | None:
    """A source for ``data`` when it is a still WebP, ``None`` when it is animated.

    A header libwebp cannot read raises :class:`~thumbnailer.errors.CorruptImage`.
    """
    features = codec.features(data)
    if features.animated:
        return None
    return WebpSource(data, features, budget, codec, deadline)


class WebpSource:
    """A still WebP: header and metadata read from the file, pixels from libwebp."""

    def __init__(
        self,
        data: bytes,
        features: Features,
        budget: PixelBudget,
        codec: Libwebp,
        deadline: Deadline | None = None,
    ) -> None:
        self.data = data
        self._features = features
        self._codec = codec
        self._deadline = deadline
        budget.spend(features.width, features.height, f"the {Kind.WEBP} image")
        chunks = _metadata_chunks(data)
        self._icc = chunks.get(b"ICCP")
        exif = chunks.get(b"EXIF")
        self._orientation = orientation_from_exif(exif) if exif else 1

    @property
    def size(self) -> tuple[int, int]:
        return self._features.width, self._features.height

    def orientation(self) -> int:
        return self._orientation

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        width, height = self.size
        features = self._features
        if features.has_alpha and features.lossy:
            # libwebp's rescaler averages a lossy picture's colour without alpha as weight:
            # the colour of invisible pixels would darken the edges. Decoded at full size,
            # a strip of rows at a time, and box-shrunk with alpha premultiplied instead.
            factor = whole_factor(self.size, target) // 2 * 2  # whole chroma blocks
            if factor > 1:
                return self._reduced_while_decoding(factor)
            size = self.size
        else:
            scale = _decode_scale(self.size, target)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = self._codec.decode(self.data, self._features, size)
        image = Image.frombytes("RGBA" if self._features.has_alpha else "RGB", size, pixels)
        image.info = {"icc_profile": self._icc} if self._icc else {}
        return image

    def _reduced_while_decoding(self, factor: int) -> Image.Image:
        """The picture box-shrunk by ``factor``, only a few full-size rows ever in memory."""
        width, height = self.size
        result = Image.new("RGBA", (-(-width // factor), -(-height // factor)))
        strip_rows = max(1, _STRIP_PIXELS // (width * factor)) * factor
        done = 0
        decoding = self._codec.decode_rows(self.data, self._features, _STEP)
        with closing(decoding):  # the decoder and its planes go even when a strip fails
            for planes in decoding:
                while planes.ready - done >= strip_rows or (
                    planes.ready == height and done < height
                ):
                    count = min(strip_rows, planes.ready - done)
                    strip = _premultiplied_shrink(planes, done, count, factor)
                    result.paste(strip, (0, done // factor))
                    done += count
                    planes.release(done)
                if self._deadline is not None:
                    self._deadline.check("decoding the WebP image")
        result.info = {"icc_profile": self._icc} if self._icc else {}
        return result

    def close(self) -> None:
        return None


def _premultiplied_shrink(planes: Planes, top: int, count: int, factor: int) -> Image.Image:
    """Rows ``top`` to ``top + count`` of the decoded planes, box-shrunk by ``factor``, RGBA.

    ``factor`` is even, so that each box holds whole 2x2 chroma blocks. The average is
    weighted by alpha (premultiplied, as Pillow's ``reduce()`` does for RGBA) in YUV:
    conversion to RGB is affine, so averaging first and converting the few averages gives
    the colours that converting every pixel first would, apart from rounding and the
    clipping of out-of-gamut values, for a fraction of the work.
    """
    luma, blue, red, alpha = planes.rows(top, count)
    full, half = (planes.width, count), (planes.chroma_width, (count + 1) // 2)
    a = Image.frombytes("L", full, alpha)
    a_half = a.reduce(2)  # the mean alpha of the 2x2 block each chroma sample stands for
    weighted = [
        _times_alpha(Image.frombytes("L", size, plane), weight).reduce(step)
        for plane, size, weight, step in (
            (luma, full, a, factor),
            (blue, half, a_half, factor // 2),
            (red, half, a_half, factor // 2),
        )
    ]
    premultiplied = Image.merge("RGBa", [*weighted, a.reduce(factor)])
    y, u, v, mean_alpha = premultiplied.convert("RGBA").split()  # divided by alpha again
    rgb = Image.merge("RGB", [y, u, v]).convert("RGB", _YUV_TO_RGB)
    rgb.putalpha(mean_alpha)
    return rgb


def _times_alpha(plane: Image.Image, alpha: Image.Image) -> Image.Image:
    """Each sample times its alpha (over black, alpha as the mask: rounded, not truncated)."""
    return Image.composite(plane, Image.new("L", plane.size), alpha)


def _metadata_chunks(data: bytes) -> dict[bytes, bytes]:
    """The ICCP and EXIF chunks of a RIFF WebP file (the first of each; others skipped).

    Walks the chunk headers only, so the image data is never copied; a damaged chunk list
    just ends the walk (libwebp has already accepted the picture's own chunks).
    """
    found: dict[bytes, bytes] = {}
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    position = 12
    while position + 8 <= end:
        fourcc = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        if fourcc in (b"ICCP", b"EXIF") and fourcc not in found:
            found[fourcc] = data[position + 8 : min(end, position + 8 + length)]
        position += 8 + length + (length & 1)
    return found

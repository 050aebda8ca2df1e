"""Large AVIF pixels through PyAV (FFmpeg's demuxer, dav1d and swscale), when installed.

Pillow's AVIF plugin hands over the whole picture at once: libavif's YUV planes, a full-size
RGB buffer and a bytes copy of it are alive together, about 8 bytes per pixel (over 400 MiB at
the default 50 MP limit). Here dav1d decodes the YUV planes (1.5 bytes per pixel for 4:2:0) and
swscale converts them to RGB and box-shrinks them in one pass, so no full-size RGB image is
ever allocated.

Alpha is a second AV1 picture in the file (an auxiliary item); FFmpeg shows it as a second
stream, decoded to one byte per pixel. Colour and alpha are then combined a strip of rows at a
time and box-shrunk with premultiplied alpha, as Pillow's ``reduce()`` does, so transparent
pixels do not darken the edges: only the two decoded pictures are full size.

The header (size, pixel limit, orientation from ``irot``/``imir``, ICC profile) still comes
from Pillow, so limits, orientation and colour behave exactly as on the Pillow path; only the
pixels come from here. Anything this path does not cover the same way goes to Pillow: image
sequences, grids (which FFmpeg shows as one stream per tile), colour premultiplied by alpha
(a ``prem`` reference, which FFmpeg ignores), limited-range alpha, pixel formats without an
alpha twin, and any file whose items FFmpeg and the ``meta`` box disagree about.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import av
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation, VideoReformatter
from av.video.stream import VideoStream
from PIL import Image

from thumbnailer.render._avframes import FULL_RANGE, LIMITED_RANGE, rows_of
from thumbnailer.render._decode import PillowSource, PixelBudget, decoder_threads
from thumbnailer.render._geometry import whole_factor
from thumbnailer.render._isobmff import read_items
from thumbnailer.render._pixels import reduce_buffer
from thumbnailer.render._sniff import Kind

__all__ = ["AvifSource"]

# avformat_find_stream_info() (run by av.open) decodes the whole picture once just to learn
# its pixel format: for a still image that doubles the decode time, and it happens before our
# pixel limit is checked. A decoder limited to a few pixels gives up at once; the stream is
# still opened, and the context that decodes it below has no such limit.
_PROBE_OPTIONS = {"max_pixels": "16"}
# One picture in flight: frame threading would keep several full-size pictures for a still
# image (2.6x the peak at 50 MP with 2 threads); the threads still share its tiles and rows.
_CODEC_OPTIONS = {"max_frame_delay": "1"}
# The decoded colour and alpha formats that combine into one swscale input with alpha.
_WITH_ALPHA = {
    (f"yuv{layout}p{depth}", f"gray{depth}"): f"yuva{layout}p{depth}"
    for layout in ("420", "422", "444")
    for depth in ("", "10le")
}
# Chroma interpolated in full, not pairwise: without it swscale's subsampled paths also turn
# some opaque alpha (255) into 254, and a thumbnail of an opaque picture would keep alpha.
_JOIN_FLAGS = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INT
# Full-width rows converted to RGBA at a time (rounded to whole boxes): about 4 MiB of RGBA.
_STRIP_PIXELS = 1 << 20


class AvifSource(PillowSource):
    """A :class:`PillowSource` for AVIF whose shrink-on-load decode is FFmpeg's."""

    def __init__(self, data: bytes, budget: PixelBudget) -> None:
        super().__init__(data, Kind.AVIF, budget)

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        width, height = self.size
        factor = whole_factor((width, height), target)
        simple = self.image.mode in ("RGB", "RGBA") and getattr(self.image, "n_frames", 1) == 1
        if factor < 2 or not simple:
            # Little to gain at (nearly) full size; sequences stay on Pillow.
            return super().decode(target)
        try:
            image = self._decode_shrunk(factor)
        except (av.FFmpegError, ValueError):  # LayoutError is a ValueError
            # Pillow (libavif) is the authority on what a valid AVIF is: a file FFmpeg cannot
            # read, or whose items this module cannot place, is decoded there, and only if
            # libavif fails too is it corrupt.
            image = None
        if image is None:
            return super().decode(target)
        icc = self.image.info.get("icc_profile")
        image.info = {"icc_profile": icc} if icc else {}
        return image

    def _decode_shrunk(self, factor: int) -> Image.Image | None:
        """The picture box-shrunk by ``factor``, or ``None`` when FFmpeg sees another one."""
        if self.image.mode == "RGB":
            frame = self._decode_stream(0, None)
            return None if frame is None else self._shrink(frame, factor)
        items = self._colour_and_alpha_items()
        if items is None:
            return None
        # One after the other, each decoder closed before the next opens: dav1d's working
        # memory for a 50 MP picture (20 to 30 MiB) is then never held twice. Colour first,
        # as its decoder needs more, and while it runs the smaller alpha is not held yet.
        colour = self._decode_stream(0, items)
        alpha = None if colour is None else self._decode_stream(1, items)
        if colour is None or alpha is None:
            return None
        return self._shrink_with_alpha(colour, alpha, factor)

    def _colour_and_alpha_items(self) -> list[int] | None:
        """Item ids of the colour and alpha pictures, or ``None`` to leave them to libavif.

        The ``meta`` box says which items they are, and whether the colour is premultiplied.
        """
        items = read_items(self.data)
        if items.alpha is None or items.premultiplied or items.tracks:
            return None
        wanted = [items.primary, items.alpha]
        if {items.types.get(item) for item in wanted} != {b"av01"}:
            return None  # a grid of tiles for the colour or the alpha
        return wanted

    def _decode_stream(self, index: int, items: list[int] | None) -> VideoFrame | None:
        """Stream ``index``'s picture, its decoder closed again on return.

        ``None`` when FFmpeg's streams are not those of ``items`` (a stream has its item's
        id) or, without ``items``, not exactly one: a grid shows one stream per tile.
        """
        count = 1 if items is None else len(items)
        with self._open(count) as box:
            streams = box.streams.video
            if len(box.streams) != count or len(streams) != count:
                return None
            if items is not None and [stream.id for stream in streams] != items:
                return None
            _configure(streams[index])
            return next(box.decode(streams[index]), None)

    def _open(self, streams: int) -> av.container.InputContainer:
        # One dict of options per stream; PyAV's stub says list[str], so it is typed loosely.
        probe: Any = [_PROBE_OPTIONS] * streams
        return av.open(BytesIO(self.data), mode="r", format="mov", stream_options=probe)

    def _shrink(self, frame: VideoFrame, factor: int) -> Image.Image | None:
        """An opaque picture converted to RGB and box-shrunk by swscale in one pass."""
        width, height = self.size
        if (frame.width, frame.height) != (width, height):
            return None  # not the picture Pillow's header describes
        range_ = frame.color_range or None  # unspecified: swscale's default
        small = frame.reformat(
            width=-(-width // factor),
            height=-(-height // factor),
            format="rgb24",
            interpolation="AREA",  # a box average, like Pillow's reduce()
            src_color_range=range_,
            dst_color_range=FULL_RANGE,
        )
        del frame  # the full-size planes go before the small image is copied out
        image: Image.Image = small.to_image()  # type: ignore[no-untyped-call]
        return image

    def _shrink_with_alpha(
        self, colour: VideoFrame, alpha: VideoFrame, factor: int
    ) -> Image.Image | None:
        """Colour and alpha joined a strip at a time and box-shrunk with premultiplied alpha.

        swscale scales each plane on its own, so shrinking there would average the colour of
        transparent pixels into the edges. Each strip is converted to full-size RGBA instead
        and reduced by Pillow, which premultiplies: what the Pillow path does.
        """
        width, height = self.size
        if {(colour.width, colour.height), (alpha.width, alpha.height)} != {(width, height)}:
            return None  # not the picture Pillow's header describes
        joined = _WITH_ALPHA.get((colour.format.name, alpha.format.name))
        if joined is None or alpha.color_range == LIMITED_RANGE:
            return None  # libavif would convert these itself: leave them to it
        range_ = colour.color_range or None  # unspecified: swscale's default
        rows = factor * max(1, _STRIP_PIXELS // (width * factor))
        rows += rows % 2 * factor  # even: 4:2:0 chroma rows are shared by row pairs
        scaler = VideoReformatter()  # one swscale context for all strips
        result = Image.new("RGBA", (-(-width // factor), -(-height // factor)))
        sources = [*colour.planes, alpha.planes[0]]
        for top in range(0, height, rows):
            strip = rows_of(sources, (width, height), top, min(rows, height - top), joined)
            strip.colorspace = colour.colorspace  # the matrix swscale converts with
            rgba = scaler.reformat(
                strip,
                format="rgba",
                interpolation=_JOIN_FLAGS,
                src_color_range=range_,
                dst_color_range=FULL_RANGE,
            )
            del strip
            pixels = rgba.planes[0]
            small = reduce_buffer(
                memoryview(pixels), "RGBA", (width, rgba.height), pixels.line_size, factor
            )
            result.paste(small, (0, top // factor))
        return result


def _configure(stream: VideoStream) -> None:
    stream.codec_context.thread_count = decoder_threads()
    stream.codec_context.options = dict(_CODEC_OPTIONS)

"""Large AVIF pixels through PyAV (FFmpeg's demuxer, dav1d and swscale), when installed.

Pillow's AVIF plugin hands over the whole picture at once: libavif's YUV planes, a full-size
RGB buffer and a bytes copy of it are alive together, about 8 bytes per pixel (over 400 MiB at
the default 50 MP limit). Here dav1d decodes the YUV planes (1.5 bytes per pixel for 4:2:0) and
swscale converts them to RGB and box-shrinks them in one pass, so no full-size RGB image is
ever allocated.

The header (size, pixel limit, orientation from ``irot``/``imir``, ICC profile) still comes
from Pillow, so limits, orientation and colour behave exactly as on the Pillow path; only the
pixels come from here. Anything this path does not cover the same way (alpha, which is a
separate image item; image sequences; grids, which FFmpeg shows as one stream per tile) goes
to Pillow.
"""

from __future__ import annotations

import os
from io import BytesIO
from typing import Any

import av
from PIL import Image

from thumbnailer.render._decode import PillowSource, PixelBudget
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
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG: what RGB output means


def _threads() -> int:
    # The same thread count Pillow gives libavif, so both paths use the machine alike.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class AvifSource(PillowSource):
    """A :class:`PillowSource` for AVIF whose shrink-on-load decode is FFmpeg's."""

    def __init__(self, data: bytes, budget: PixelBudget) -> None:
        super().__init__(data, Kind.AVIF, budget)
        self.data = data

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        width, height = self.size
        factor = 1 if target is None else min(width // target[0], height // target[1])
        simple = self.image.mode == "RGB" and getattr(self.image, "n_frames", 1) == 1
        if factor < 2 or not simple:
            # Little to gain at (nearly) full size; alpha and sequences stay on Pillow.
            return super().decode(target)
        try:
            image = self._decode_shrunk(factor)
        except av.FFmpegError:
            # Pillow (libavif) is the authority on what a valid AVIF is: a file FFmpeg cannot
            # read is decoded there, and only if libavif fails too is it corrupt.
            image = None
        if image is None:
            return super().decode(target)
        icc = self.image.info.get("icc_profile")
        image.info = {"icc_profile": icc} if icc else {}
        return image

    def _decode_shrunk(self, factor: int) -> Image.Image | None:
        """The picture box-shrunk by ``factor``, or ``None`` when FFmpeg sees another one."""
        width, height = self.size
        # One dict of options per stream; PyAV's stub says list[str], so it is typed loosely.
        probe: Any = [_PROBE_OPTIONS]
        with av.open(BytesIO(self.data), mode="r", format="mov", stream_options=probe) as box:
            if len(box.streams) != 1 or len(box.streams.video) != 1:
                return None  # a grid (one stream per tile) or extra items: not one picture
            stream = box.streams.video[0]
            stream.codec_context.thread_count = _threads()
            stream.codec_context.options = dict(_CODEC_OPTIONS)
            for frame in box.decode(stream):
                if (frame.width, frame.height) != (width, height):
                    return None  # not the picture Pillow's header describes
                range_ = frame.color_range or None  # unspecified: swscale's default
                small = frame.reformat(
                    width=-(-width // factor),
                    height=-(-height // factor),
                    format="rgb24",
                    interpolation="AREA",  # a box average, like Pillow's reduce()
                    src_color_range=range_,
                    dst_color_range=_FULL_RANGE,
                )
                del frame  # the full-size planes go before the small image is copied out
                image: Image.Image = small.to_image()  # type: ignore[no-untyped-call]
                return image
        return None

"""What the PyAV decoders (AVIF, HEIC tiles) share: colour ranges and rows of a frame."""

from __future__ import annotations

from av.video.frame import VideoFrame
from av.video.plane import VideoPlane

__all__ = ["FULL_RANGE", "LIMITED_RANGE", "rows_of"]

FULL_RANGE = 2  # AVCOL_RANGE_JPEG: what RGB output means
LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG


def rows_of(
    sources: list[VideoPlane], size: tuple[int, int], top: int, count: int, pixel_format: str
) -> VideoFrame:
    """A new ``pixel_format`` frame holding rows ``top`` to ``top + count`` of the planes.

    ``sources`` are the planes of a picture of ``size``; a plane half as high (4:2:0 chroma)
    gives half the rows, so ``top`` and ``count`` must then be even. swscale can then convert
    a strip of a large picture without a full-size copy of it.
    """
    width, height = size
    strip = VideoFrame(width, count, pixel_format)
    for source, plane in zip(sources, strip.planes, strict=True):
        first = top if source.height == height else top // 2
        _copy_rows(source, first, plane)
    return strip


def _copy_rows(source: VideoPlane, first: int, plane: VideoPlane) -> None:
    """Fill ``plane`` with the rows of ``source`` from row ``first`` on."""
    src, dst = memoryview(source), memoryview(plane)
    src_step, dst_step = source.line_size, plane.line_size
    if src_step == dst_step:
        dst[:] = src[first * src_step : (first + plane.height) * src_step]
        return
    length = min(src_step, dst_step)
    for row in range(plane.height):
        start = (first + row) * src_step
        dst[row * dst_step : row * dst_step + length] = src[start : start + length]

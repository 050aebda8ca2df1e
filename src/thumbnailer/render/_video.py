"""A representative video frame through PyAV (imported only when a video arrives)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

import av
from PIL import Image, ImageStat

from thumbnailer.errors import CorruptImage, UnsupportedFormat
from thumbnailer.render._cicp import profile_for
from thumbnailer.render._deadline import Deadline
from thumbnailer.render._decode import PixelBudget

__all__ = ["VideoSource"]

# Where to look, as fractions of the duration: 10 % first, later ones if that frame is black.
_POSITIONS = (0.10, 0.25, 0.50)
_BLACK = 24  # mean luma below this counts as a black (fade-in, title) frame
_MAX_PACKETS = 500  # give up on streams that never yield a frame
# Display-matrix rotation (degrees counterclockwise) as the EXIF orientation that shows it.
_ORIENTATIONS = {90: 8, 180: 3, 270: 6}


@contextmanager
def _allocation_failures_are_damage() -> Iterator[None]:
    """FFmpeg's ENOMEM, from a file within the byte and pixel limits, is damage, not size.

    The demuxer and decoders refuse tables and buffers a header declares beyond what any
    video needs (a sample table of 2^32 entries) as out of memory; PyAV raises that as a
    ``MemoryError``, which the engine would report as ``too_large`` for a 100 KB file.
    """
    try:
        yield
    except av.error.MemoryError as exc:
        raise CorruptImage("the video file is damaged: it declares impossible sizes") from exc


class VideoSource:
    """The first keyframe at or before 10 % of the duration, skipping black frames."""

    def __init__(self, data: bytes, budget: PixelBudget, deadline: Deadline | None = None) -> None:
        self.deadline = deadline or Deadline(None)
        with _allocation_failures_are_damage():
            self.container = av.open(BytesIO(data), mode="r")
        try:
            if not self.container.streams.video:
                raise UnsupportedFormat("the media file has no video stream")
            self.stream = self.container.streams.video[0]
            if self.stream.codec_context is None:  # FFmpeg knows no decoder for its codec
                raise UnsupportedFormat("the video stream's codec cannot be decoded")
            width = int(self.stream.codec_context.width or 0)
            height = int(self.stream.codec_context.height or 0)
            if width < 1 or height < 1:
                raise CorruptImage("the video stream has no frame size")
            self._size = (width, height)
            self._orientation = 1
            self.budget = budget
            budget.spend(width, height, "a video frame")
        except BaseException:
            self.container.close()
            raise

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def orientation(self) -> int:
        return self._orientation  # known once a frame is decoded (it carries the matrix)

    def _duration(self) -> float:
        if self.stream.duration is not None and self.stream.time_base is not None:
            return float(self.stream.duration * self.stream.time_base)
        if self.container.duration is not None:
            return float(self.container.duration / av.time_base)
        return 0.0

    def _frame_at(self, seconds: float) -> av.VideoFrame | None:
        if seconds > 0 and self.stream.time_base is not None:
            # Land on the keyframe before the position: decoding it needs no other frames.
            offset = int(seconds / self.stream.time_base)
            self.container.seek(offset, stream=self.stream, backward=True, any_frame=False)
        for count, packet in enumerate(self.container.demux(self.stream)):
            if count >= _MAX_PACKETS:
                break
            # A stream may need many packets before a frame: the budget bounds the search.
            self.deadline.check("decoding the video")
            for frame in packet.decode():
                return frame
        return None

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        duration = self._duration()
        frame_pixels = self._size[0] * self._size[1]
        best: tuple[float, Image.Image, int] | None = None
        for index, position in enumerate(_POSITIONS if duration > 0 else (0.0,)):
            if index and self.budget.used + frame_pixels > self.budget.limit:
                break  # looking further would exceed the pixel limit: keep what we have
            if index:
                self.budget.spend(*self._size, "a video frame")
            with _allocation_failures_are_damage():
                frame = self._frame_at(duration * position)
            if frame is None:
                continue
            image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
            # swscale applied the stream's matrix; its primaries and transfer are left to the
            # colour step (wide gamut, HDR).
            icc = profile_for(frame.color_primaries, frame.color_trc)
            image.info = {"icc_profile": icc} if icc else {}
            luma = ImageStat.Stat(image.convert("L").reduce(4)).mean[0]
            if best is None or luma > best[0]:
                best = (luma, image, round(frame.rotation or 0) % 360)
            if luma >= _BLACK:
                break
        if best is None:
            raise CorruptImage("no frame of the video could be decoded")
        _, image, rotation = best
        self._orientation = _ORIENTATIONS.get(rotation, 1)
        return image

    def close(self) -> None:
        self.container.close()

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
import queue
import threading
from collections.abc import Iterator

from PIL import Image, ImageMath

from thumbnailer.render._deadline import Deadline
from thumbnailer.render._decode import PixelBudget, decoder_threads, orientation_from_exif
from thumbnailer.render._geometry import SHRINK_MARGIN, whole_factor
from thumbnailer.render._libwebp import Features, IncrementalDecode, Libwebp, Planes
from thumbnailer.render._sniff import Kind

__all__ = ["WebpSource", "open_still_webp"]

_MARGIN = 1.5  # decoded size over the largest thumbnail's, where libwebp shrinks
# Lossy with alpha: the file is read in about this many steps (so that only that share of
# the rows is decoded at once), each at least 16 KiB.
_STEPS = 64
_MIN_STEP = 16 * 1024
_STRIP_PIXELS = 1 << 18  # full-size pixels shrunk at a time (a few MiB of 32-bit sums)
_MAX_CHUNKS = 64  # a real file has a handful before its EXIF chunk
# libwebp's own conversion (BT.601, limited range, its fixed-point constants in src/dsp/
# yuv.h), as an affine map of (Y, U, V) for Image.convert(): (R, G, B) = matrix x (Y, U, V, 1).
# libwebp's offsets already hold the rounding half, which Image.convert() adds again: taken
# out (32 / 64) here.
_YUV_TO_RGB = (
    *(19077 / 16384, 0.0, 26149 / 16384, (-14234 - 32) / 64),
    *(19077 / 16384, -6419 / 16384, -13320 / 16384, (8708 - 32) / 64),
    *(19077 / 16384, 33050 / 16384, 0.0, (-17685 - 32) / 64),
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
        """The picture box-shrunk by ``factor``, only a few full-size rows ever in memory.

        libwebp decodes on a thread of its own while this one shrinks the rows it has
        finished: the two overlap on a machine with two cores.
        """
        width, height = self.size
        result = Image.new("RGBA", (-(-width // factor), -(-height // factor)))
        strip_rows = max(1, _STRIP_PIXELS // (width * factor)) * factor
        done = 0
        step = max(_MIN_STEP, len(self.data) // _STEPS)
        # Leaving the block stops the decoding thread first, then frees the decoder and its
        # planes, on this thread, whether the rows were all shrunk or something failed.
        with (
            self._codec.incremental(self.data, self._features) as decoder,
            _DecodingAhead(decoder, step, threaded=decoder_threads() > 1) as steps,
        ):
            planes = decoder.planes
            for ready in steps:
                while ready - done >= strip_rows or (ready == height and done < height):
                    count = min(strip_rows, ready - done)
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


class _DecodingAhead:
    """The steps of an incremental decode, run on a thread of their own, a few ahead.

    Iterating yields how many rows are decoded after each step, until all are; an error of
    the decoder is raised here. The queue between the threads orders the decoder's writes
    before the reads of the rows it reports, and bounds how many rows wait unshrunk. With
    one core (or no thread to be had) the steps run on the iterating thread instead.

    Leaving waits until no step is running and none can start, whatever interrupts the
    wait: only then may the owner free the decoder.
    """

    def __init__(self, decoder: IncrementalDecode, step: int, threaded: bool) -> None:
        self._decoder = decoder
        self._step = step
        self._rows: queue.Queue[int | BaseException] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._busy = threading.Lock()  # held by the thread for each step
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="webp-decode", daemon=True)

    def __enter__(self) -> _DecodingAhead:
        if self._thread is not None:
            try:
                self._thread.start()
            except RuntimeError:  # no new thread to be had: decode on this one
                self._thread = None
            except BaseException:
                self._finish()
                raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finish()

    def __iter__(self) -> Iterator[int]:
        height = self._decoder.planes.height
        if self._thread is None:
            ready = 0
            while ready < height:
                ready = self._decoder.advance(self._step)
                yield ready
            return
        while True:
            ready_or_error = self._rows.get()
            if isinstance(ready_or_error, BaseException):
                raise ready_or_error
            yield ready_or_error
            if ready_or_error >= height:
                return

    def _run(self) -> None:
        height = self._decoder.planes.height
        try:
            ready = 0
            while ready < height:
                with self._busy:
                    if self._stop.is_set():
                        return
                    ready = self._decoder.advance(self._step)
                if not self._put(ready):
                    return
        except BaseException as exc:  # handed to the owner's thread, which raises it
            self._put(exc)

    def _put(self, item: int | BaseException) -> bool:
        """Queue ``item`` unless the owner has stopped listening; whether it was queued."""
        while not self._stop.is_set():
            try:
                self._rows.put(item, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def _finish(self) -> None:
        """Stop the thread: no step running, none to come; then let it end."""
        self._stop.set()
        interrupted: BaseException | None = None
        while True:  # a signal may interrupt the wait, never cut it short
            try:
                with self._busy:
                    break
            except BaseException as exc:
                interrupted = exc
        if self._thread is not None and self._thread.ident is not None:
            while self._thread.is_alive():
                try:
                    self._thread.join()
                except BaseException as exc:
                    interrupted = exc
        if interrupted is not None:
            raise interrupted


def _premultiplied_shrink(planes: Planes, top: int, count: int, factor: int) -> Image.Image:
    """Rows ``top`` to ``top + count`` of the decoded planes, box-shrunk by ``factor``, RGBA.

    ``factor`` is even, so that each box holds whole 2x2 chroma blocks. The average is
    weighted by alpha (premultiplied, as Pillow's ``reduce()`` does for RGBA) in YUV:
    conversion to RGB is affine, so averaging first and converting the few averages gives
    the colours that converting every pixel first would, apart from rounding, the clipping
    of out-of-gamut values and libwebp's smoother chroma upsampling, for a fraction of the
    work.
    """
    luma, blue, red, alpha = planes.rows(top, count)
    full, half = (planes.width, count), (planes.chroma_width, (count + 1) // 2)
    a = Image.frombytes("L", full, alpha)
    # Each chroma sample stands for a 2x2 block; at an odd edge, for fewer pixels, which the
    # zeros padding the block to 2x2 weigh in: its weight is its pixels' alpha sum, over 4.
    a_half = a.crop((0, 0, full[0] + full[0] % 2, count + count % 2)).reduce(2)
    [y] = _weighted_means([Image.frombytes("L", full, luma)], a, factor)
    # Chroma is divided by its own weights, the sum of its blocks' alpha.
    chroma = [Image.frombytes("L", half, plane) for plane in (blue, red)]
    u, v = _weighted_means(chroma, a_half, factor // 2)
    rgb = Image.merge("RGB", [y, u, v]).convert("RGB", _YUV_TO_RGB)
    rgb.putalpha(a.reduce(factor))
    return rgb


def _weighted_means(
    planes: list[Image.Image], alpha: Image.Image, factor: int
) -> list[Image.Image]:
    """Each of ``planes`` box-shrunk by ``factor``, every sample weighted by its ``alpha``.

    Sums are kept in 32 bits: premultiplied 8-bit samples (Pillow's RGBa) lose precision
    where alpha is low, and the conversion to RGB multiplies that error by up to 2.
    """
    weight = alpha.convert("I")
    weights = ImageMath.lambda_eval(lambda v: v["w"] * 256, w=weight).reduce(factor)
    means = []
    for plane in planes:
        totals = ImageMath.lambda_eval(lambda v: v["p"] * v["w"], p=plane, w=weight)
        mean = ImageMath.lambda_eval(
            lambda v: (v["t"] * 256 + v["n"] / 2) / v["n"], t=totals.reduce(factor), n=weights
        )
        means.append(mean.convert("L"))  # 0 where nothing is visible
    return means


def _metadata_chunks(data: bytes) -> dict[bytes, bytes]:
    """The ICCP and EXIF chunks of a RIFF WebP file, when its VP8X header announces them.

    Walks the chunk headers only, so the image data is never copied, and stops once it has
    what was announced, or after a bounded number of chunks; a damaged chunk list just ends
    the walk (libwebp has already accepted the picture's own chunks).
    """
    if data[12:16] != b"VP8X" or len(data) < 21:
        return {}  # the simple formats carry no metadata
    flags = data[20]
    wanted = {name for name, bit in ((b"ICCP", 0x20), (b"EXIF", 0x08)) if flags & bit}
    found: dict[bytes, bytes] = {}
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    position = 12
    for _ in range(_MAX_CHUNKS):
        if not wanted or position + 8 > end:
            break
        fourcc = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        if fourcc in wanted:
            found[fourcc] = data[position + 8 : min(end, position + 8 + length)]
            wanted.discard(fourcc)
        position += 8 + length + (length & 1)
    return found

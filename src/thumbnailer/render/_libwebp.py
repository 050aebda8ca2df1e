"""libwebp's advanced decoding API, called through ctypes on the copy Pillow ships.

Pillow's WebP plugin decodes every pixel at full size through its animation decoder, and
libvips' loader, though it scales while decoding, took 7-10 % longer on the same files than
calling libwebp directly. ``WebPDecode`` with ``use_scaling`` runs libwebp's rescaler row by
row as the picture is decoded, so only the small output is allocated (plus, for a lossless
file, libwebp's own full-size ARGB). The incremental decoder hands over full-size YUVA planes
a few rows at a time, for callers that shrink the pixels themselves.

Nothing is compiled for this: the structures below are those of ``webp/decode.h`` for decoder
ABI 0x02xx (every libwebp 1.x), and libwebp itself refuses a configuration made for another
major ABI, in which case this path is reported unusable and the caller uses another.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from thumbnailer.errors import CorruptImage, TooLarge, UnsupportedFormat

__all__ = ["Features", "IncrementalDecode", "Libwebp", "Planes", "load"]

_ABI_VERSION = 0x0209  # WEBP_DECODER_ABI_VERSION of the layout below; only its major byte counts
_MODE_RGB = 0  # WEBP_CSP_MODE
_MODE_RGBA = 1
_MODE_YUVA = 12

# VP8StatusCode values, as a user would read them.
_STATUS_MESSAGES = {
    2: "the WebP decoder was given an invalid parameter",
    3: "the WebP file is damaged",
    4: "the WebP file uses a feature the decoder does not support",
    7: "the WebP file is truncated",
}
_OUT_OF_MEMORY = 1
_UNSUPPORTED_FEATURE = 4
_SUSPENDED = 5  # the incremental decoder wants more of the file
_NOT_ENOUGH_DATA = 7
_LOSSY = 1  # WebPBitstreamFeatures.format


class _Features(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("has_alpha", ctypes.c_int),
        ("has_animation", ctypes.c_int),
        ("format", ctypes.c_int),
        ("pad", ctypes.c_uint32 * 5),
    ]


class _RGBABuffer(ctypes.Structure):
    _fields_ = [("rgba", ctypes.c_void_p), ("stride", ctypes.c_int), ("size", ctypes.c_size_t)]


class _YUVABuffer(ctypes.Structure):
    _fields_ = [
        *[(plane, ctypes.c_void_p) for plane in ("y", "u", "v", "a")],
        *[(f"{plane}_stride", ctypes.c_int) for plane in ("y", "u", "v", "a")],
        *[(f"{plane}_size", ctypes.c_size_t) for plane in ("y", "u", "v", "a")],
    ]


class _Buffers(ctypes.Union):
    _fields_ = [("RGBA", _RGBABuffer), ("YUVA", _YUVABuffer)]


class _DecBuffer(ctypes.Structure):
    _fields_ = [
        ("colorspace", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("is_external_memory", ctypes.c_int),
        ("u", _Buffers),
        ("pad", ctypes.c_uint32 * 4),
        ("private_memory", ctypes.c_void_p),
    ]


class _Options(ctypes.Structure):
    _fields_ = [
        *[
            (name, ctypes.c_int)
            for name in (
                "bypass_filtering",
                "no_fancy_upsampling",
                "use_cropping",
                "crop_left",
                "crop_top",
                "crop_width",
                "crop_height",
                "use_scaling",
                "scaled_width",
                "scaled_height",
                "use_threads",
                "dithering_strength",
                "flip",
                "alpha_dithering_strength",
            )
        ],
        ("pad", ctypes.c_uint32 * 5),
    ]


class _Config(ctypes.Structure):
    _fields_ = [("input", _Features), ("output", _DecBuffer), ("options", _Options)]


@dataclass(frozen=True)
class Features:
    """What the bitstream header says: canvas size, alpha, animation."""

    width: int
    height: int
    has_alpha: bool
    animated: bool
    lossy: bool  # VP8 (with or without an alpha plane), not VP8L


class Libwebp:
    """The decoding functions of the libwebp at ``path``."""

    def __init__(self, path: str, threads: bool = False) -> None:
        self.path = path
        self.threads = threads  # let libwebp use its worker thread
        library = ctypes.CDLL(path)
        self._get_features = library.WebPGetFeaturesInternal
        self._get_features.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.POINTER(_Features),
            ctypes.c_int,
        ]
        self._get_features.restype = ctypes.c_int
        self._init_config = library.WebPInitDecoderConfigInternal
        self._init_config.argtypes = [ctypes.POINTER(_Config), ctypes.c_int]
        self._init_config.restype = ctypes.c_int
        self._decode = library.WebPDecode
        self._decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Config)]
        self._decode.restype = ctypes.c_int
        self._free = library.WebPFreeDecBuffer
        self._free.argtypes = [ctypes.POINTER(_DecBuffer)]
        self._free.restype = None
        self._new_incremental = library.WebPIDecode
        self._new_incremental.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.POINTER(_Config),
        ]
        self._new_incremental.restype = ctypes.c_void_p
        self._update = library.WebPIUpdate
        self._update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        self._update.restype = ctypes.c_int
        self._decoded_area = library.WebPIDecodedArea
        self._decoded_area.argtypes = [ctypes.c_void_p, *[ctypes.POINTER(ctypes.c_int)] * 4]
        self._decoded_area.restype = ctypes.c_void_p
        self._delete_incremental = library.WebPIDelete
        self._delete_incremental.argtypes = [ctypes.c_void_p]
        self._delete_incremental.restype = None
        self._config()  # raises OSError when this libwebp has another decoder ABI

    def features(self, data: bytes) -> Features:
        """Read the header of the WebP ``data``; :class:`CorruptImage` when it is unreadable."""
        found = _Features()
        _check(self._get_features(data, len(data), ctypes.byref(found), _ABI_VERSION))
        return Features(
            found.width,
            found.height,
            has_alpha=bool(found.has_alpha),
            animated=bool(found.has_animation),
            lossy=found.format == _LOSSY,
        )

    def _config(self) -> _Config:
        config = _Config()
        if not self._init_config(ctypes.byref(config), _ABI_VERSION):
            raise OSError("this libwebp has another decoder ABI")
        return config

    def decode(self, data: bytes, features: Features, size: tuple[int, int]) -> bytearray:
        """The still image of ``data`` as RGB (RGBA with alpha) bytes, ``size`` pixels large.

        When ``size`` is smaller than the picture, libwebp's rescaler averages exact areas as
        the rows are decoded; it weights colour by alpha in a lossless picture only, so a
        lossy picture with alpha is not for scaling here.
        """
        config = self._config()
        # A second thread filters and outputs the rows while the first decodes the next ones
        # (libvips lets libwebp do the same); WebPDecode waits for it before returning. The
        # incremental decoder below does not wait when it runs out of data, so rows it
        # reports could still be in flight there, and each update re-points the alpha
        # decoder's bit reader from the calling thread while the worker may be reading it
        # (libwebp 1.6): it keeps to one thread.
        config.options.use_threads = int(self.threads)
        width, height = size
        channels = 4 if features.has_alpha else 3
        pixels = bytearray(width * height * channels)
        if size != (features.width, features.height):
            options = config.options
            options.use_scaling, options.scaled_width, options.scaled_height = 1, width, height
        output = config.output
        output.colorspace = _MODE_RGBA if features.has_alpha else _MODE_RGB
        output.is_external_memory = 1  # libwebp writes straight into ``pixels``
        buffer = (ctypes.c_ubyte * len(pixels)).from_buffer(pixels)
        output.u.RGBA.rgba = ctypes.addressof(buffer)
        output.u.RGBA.stride = width * channels
        output.u.RGBA.size = len(pixels)
        try:
            _check(self._decode(data, len(data), ctypes.byref(config)))
        finally:
            self._free(ctypes.byref(output))  # nothing of ours: only what libwebp allocated
        return pixels

    def incremental(self, data: bytes, features: Features) -> IncrementalDecode:
        """A decode of ``data``'s full-size YUVA planes that reads the file a step at a time."""
        return IncrementalDecode(self, data, features)


class IncrementalDecode:
    """libwebp's incremental decoder writing full-size Y, U, V and alpha planes.

    Each :meth:`advance` reads more of the file and decodes what it can; the caller releases
    the rows it has used (:meth:`Planes.release`), so only the rows decoded from a few steps
    need be in memory, besides libwebp's own full-size alpha plane (a byte per pixel). Use
    it as a context manager: leaving frees the decoder and the planes.
    """

    def __init__(self, codec: Libwebp, data: bytes, features: Features) -> None:
        self._codec, self._data = codec, data
        try:
            self.planes = Planes(features.width, features.height)
        except OSError as exc:  # the mappings themselves could not be made
            raise TooLarge("the WebP image needs more memory than is available") from exc
        self._config = codec._config()  # the decoder keeps pointers into it: alive with it
        self._config.output.colorspace = _MODE_YUVA
        self._config.output.is_external_memory = 1  # libwebp writes straight into the planes
        self._anchors = self.planes.describe(self._config.output.u.YUVA)
        self._decoder = codec._new_incremental(None, 0, ctypes.byref(self._config))
        if not self._decoder:
            self.close()
            raise TooLarge("the WebP image needs more memory than is available")
        self._fed = 0

    def __enter__(self) -> IncrementalDecode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def advance(self, step: int) -> int:
        """Read ``step`` more bytes of the file; how many rows are decoded now (all: done)."""
        if self._fed == len(self._data):
            _check(_NOT_ENOUGH_DATA)  # the file ended before the picture did
        self._fed = min(len(self._data), self._fed + step)
        # Same buffer, longer each time: libwebp reads it in place, without copying.
        status = self._codec._update(self._decoder, self._data, self._fed)
        if status == 0:
            return self.planes.height
        if status != _SUSPENDED:
            _check(status)
        area = [ctypes.c_int(0) for _ in range(4)]  # left, top, width, height decoded
        self._codec._decoded_area(self._decoder, *[ctypes.byref(value) for value in area])
        return area[3].value

    def close(self) -> None:
        """Free the decoder, then the planes it wrote to."""
        if self._decoder:
            self._codec._delete_incremental(self._decoder)
            self._decoder = None
        self.planes.close(self._anchors)


class Planes:
    """The Y, U, V and A planes of a picture being decoded, in anonymous memory mappings.

    Chroma is subsampled 2x2 (VP8 is always 4:2:0). Rows the caller has used are given back
    to the system (``madvise(MADV_DONTNEED)``): the decoder only writes rows below them.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.chroma_width, self.chroma_height = (width + 1) // 2, (height + 1) // 2
        chroma = self.chroma_width * self.chroma_height
        self.y, self.u, self.v, self.a = (
            _anonymous(size) for size in (width * height, chroma, chroma, width * height)
        )
        self._released = [0, 0, 0, 0]  # bytes given back, per plane

    def describe(self, buffer: _YUVABuffer) -> list[ctypes.Array[ctypes.c_ubyte]]:
        """Point libwebp's ``buffer`` at the planes; returns what keeps the addresses valid."""
        anchors = [(ctypes.c_ubyte * len(p)).from_buffer(p) for p in self._planes()]
        buffer.y, buffer.u, buffer.v, buffer.a = (ctypes.addressof(x) for x in anchors)
        buffer.y_stride, buffer.u_stride, buffer.v_stride, buffer.a_stride = self._strides()
        buffer.y_size, buffer.u_size, buffer.v_size, buffer.a_size = (len(p) for p in anchors)
        return anchors

    def rows(self, top: int, count: int) -> tuple[bytes, bytes, bytes, bytes]:
        """Luma and alpha rows ``top`` to ``top + count``, and the chroma rows they use.

        ``top`` is even: chroma rows are ``top // 2`` to ``ceil((top + count) / 2)``.
        """
        first, end = top // 2, (top + count + 1) // 2
        width, chroma_width = self.width, self.chroma_width
        return (
            self.y[top * width : (top + count) * width],
            self.u[first * chroma_width : end * chroma_width],
            self.v[first * chroma_width : end * chroma_width],
            self.a[top * width : (top + count) * width],
        )

    def release(self, rows: int) -> None:
        """Give back the memory of the first ``rows`` rows (an even number, or all of them)."""
        for index, (plane, stride) in enumerate(zip(self._planes(), self._strides(), strict=True)):
            done = rows // 2 if plane is self.u or plane is self.v else rows
            used = done * stride // mmap.PAGESIZE * mmap.PAGESIZE
            if used > self._released[index]:
                plane.madvise(
                    mmap.MADV_DONTNEED, self._released[index], used - self._released[index]
                )
                self._released[index] = used

    def close(self, anchors: list[ctypes.Array[ctypes.c_ubyte]]) -> None:
        """Unmap the planes (``anchors`` from :meth:`describe` are dropped first)."""
        anchors.clear()
        for plane in self._planes():
            plane.close()

    def _planes(self) -> tuple[mmap.mmap, mmap.mmap, mmap.mmap, mmap.mmap]:
        return self.y, self.u, self.v, self.a

    def _strides(self) -> tuple[int, int, int, int]:
        return self.width, self.chroma_width, self.chroma_width, self.width


def _anonymous(size: int) -> mmap.mmap:
    # Private: released pages are freed at once (a shared mapping would keep them as shmem).
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def _check(status: int) -> None:
    if status == 0:
        return
    if status == _OUT_OF_MEMORY:
        raise TooLarge("the WebP image needs more memory than is available")
    message = _STATUS_MESSAGES.get(status, f"the WebP decoder failed (status {status})")
    if status == _UNSUPPORTED_FEATURE:
        raise UnsupportedFormat(message)
    raise CorruptImage(message)


def _candidates() -> Iterator[str]:
    """Where libwebp may be, best first: Pillow's own copy (the one its plugin uses)."""
    import PIL
    from PIL import WebPImagePlugin  # noqa: F401  (loads Pillow's libwebp, if it has one)

    package = Path(PIL.__file__).parent
    yield from map(str, sorted((package.parent / "pillow.libs").glob("libwebp-*.so*")))
    yield from map(str, sorted((package / ".dylibs").glob("libwebp.*dylib")))  # macOS wheels
    # A Pillow built from source links to a libwebp by its soname; that one is loaded now,
    # and the dynamic loader hands it back for the same name, wherever it lives.
    yield from ("libwebp.so.7", "libwebp.7.dylib")
    import ctypes.util

    found = ctypes.util.find_library("webp")  # runs ldconfig: only when all else failed
    if found:
        yield found


@functools.cache
def load() -> Libwebp | None:
    """The first usable libwebp, or ``None`` when there is none."""
    from thumbnailer.render._decode import decoder_threads

    for candidate in _candidates():
        try:
            return Libwebp(candidate, threads=decoder_threads() > 1)
        except (OSError, AttributeError):  # missing, wrong ABI, or too old to have a function
            continue
    return None

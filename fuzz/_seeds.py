"""The seeds: small valid inputs, one per path through the engine, built in code and cached.

Each is just large enough that a 128x128 thumbnail takes the path it is named for, which for
the shrink-on-load paths means a picture at least twice the box: a progressive JPEG at 2048
px (only a 1/8-scale decode drops its AC scans), PNG through libvips, lossy WebP through
libwebp's scaled decode, lossy WebP with alpha through the engine's incremental decode, HEIC
through its stored preview and through PyAV (single picture, grid, alpha, 10 bits), AVIF
through PyAV with and without alpha, PDF and video; and pictures whose colour is named by
code points (HDR HEIC, Display P3 AVIF, HLG video), which the colour step gets a profile for.
The formats only Pillow decodes (GIF, TIFF, BMP, animations) come along at modest sizes.
Photos come from the benchmark's generator (``bench/_inputs.py``), the rest from
:mod:`thumbnailer.samples` where it has them.

Built seeds are cached under ``.cache/fuzz/seeds``; the file names carry :data:`VERSION`, so
changing a recipe builds the seeds again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image

from thumbnailer import samples

# The benchmark's photo generator: its folder holds scripts, not a package.
sys.path.append(str(Path(__file__).resolve().parent.parent / "bench"))
from _inputs import InputKind, encode, photo

__all__ = ["CACHE", "SEEDS", "VERSION", "LoadedSeed", "Seed", "SeedUnavailable", "load"]

VERSION = 1
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "fuzz" / "seeds"


class SeedUnavailable(Exception):
    """This machine cannot build the seed (an encoder is missing); the message says which."""


@dataclass(frozen=True)
class Seed:
    """How to build one seed, and how the fuzzer treats it."""

    name: str
    ext: str  # file extension of the seed and of its findings
    family: str  # structure-aware mutations to use: png, jpeg, riff, isobmff, or "" (none)
    weight: int  # share of the runs, relative to the other seeds
    path: str  # what it exercises in the engine
    build: Callable[[], bytes]


@dataclass(frozen=True)
class LoadedSeed:
    """A seed and its bytes."""

    seed: Seed
    data: bytes


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _like_bench(
    fmt: str,
    width: int,
    height: int,
    number: int,
    *,
    mode: str = "RGB",
    preview: bool = True,
    bits: int = 8,
) -> bytes:
    """Photo ``number``, encoded as the benchmark encodes its inputs of this kind."""
    kind = InputKind("seed", "fuzz seed", fmt, width, height, mode, preview=preview, bits=bits)
    return encode(kind, photo(width, height, number, alpha=mode == "RGBA"), number)


def _progressive_jpeg() -> bytes:
    # 2048 px: a 128 px box is decoded at 1/8 scale, the only scale at which the engine drops
    # the AC scans. Quality 60 keeps the seed (and each run) small.
    return _save(photo(2048, 1536, 1), "JPEG", quality=60, progressive=True, optimize=True)


def _palette_png() -> bytes:
    image = photo(800, 600, 4).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return _save(image, "PNG", transparency=0)


def _frames(count: int, width: int, height: int, number: int) -> list[Image.Image]:
    return [photo(width, height, number + i) for i in range(count)]


def _apng() -> bytes:
    first, *rest = _frames(3, 500, 400, 10)
    return _save(first, "PNG", save_all=True, append_images=rest, duration=100)


def _animated_webp() -> bytes:
    first, *rest = _frames(3, 500, 400, 13)
    return _save(first, "WEBP", save_all=True, append_images=rest, duration=100, quality=70)


def _gif() -> bytes:
    first, *rest = (
        f.convert("P", palette=Image.Palette.ADAPTIVE) for f in _frames(3, 400, 300, 16)
    )
    return _save(first, "GIF", save_all=True, append_images=rest, duration=100, loop=0)


def _webp_alpha_exif() -> bytes:
    # EXIF orientation 8 and an ICC profile: the metadata chunks the engine reads itself.
    exif = Image.Exif()
    exif[0x0112] = 8
    image = photo(640, 480, 19, alpha=True)
    return _save(image, "WEBP", quality=70, exif=exif.tobytes(), icc_profile=_srgb_profile())


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    data: bytes = profile.tobytes()
    return data


def _heic_grid() -> bytes:
    import pillow_heif

    # 512 px tiles, as phones store every photo: the engine decodes a row of tiles at a time.
    out = BytesIO()
    heif = pillow_heif.from_pillow(photo(1024, 768, 22))
    heif.save(out, quality=60, thumbnails=[], tile_size=512)
    return out.getvalue()


def _heic_hdr() -> bytes:
    import pillow_heif

    # BT.2020 primaries and PQ named in the nclx box: the colour step's tone-mapping profile.
    out = BytesIO()
    heif = pillow_heif.from_pillow(photo(800, 600, 26))
    heif.save(out, quality=60, thumbnails=[], color_primaries=9, transfer_characteristics=16)
    return out.getvalue()


def _avif_display_p3() -> bytes:
    data = bytearray(_like_bench("avif", 800, 600, 27))
    at = data.find(b"nclx")  # Pillow names BT.709 primaries; Display P3 is 12
    data[at + 4 : at + 6] = (12).to_bytes(2, "big")
    return bytes(data)


def _video_hlg() -> bytes:
    import av

    if "libx265" not in av.codecs_available:
        raise SeedUnavailable("PyAV has no HEVC encoder (libx265)")
    out = BytesIO()
    picture = photo(320, 240, 28)
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx265", rate=12)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p10le"
        # A phone's HDR video: BT.2020 primaries and HLG, described in the HEVC stream.
        params = "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc:log-level=none"
        stream.codec_context.options = {"x265-params": params, "preset": "ultrafast"}
        for index in range(8):
            frame = av.VideoFrame.from_image(picture.rotate(index * 3))  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame.reformat(format="yuv420p10le")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _webm() -> bytes:
    import av

    codec = next((c for c in ("libvpx-vp9", "libvpx") if c in av.codecs_available), None)
    if codec is None:
        raise SeedUnavailable("PyAV has no VP8 or VP9 encoder")
    out = BytesIO()
    picture = photo(480, 360, 25)
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream(codec, rate=12)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 480, 360, "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for index in range(8):
            frame = av.VideoFrame.from_image(picture.rotate(index * 3))  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


SEEDS: tuple[Seed, ...] = (
    Seed(
        "jpeg-progressive", "jpg", "jpeg", 5, "1/8-scale decode without AC scans", _progressive_jpeg
    ),
    Seed(
        "jpeg-exif-rotated",
        "jpg",
        "jpeg",
        2,
        "DCT-scaled decode, EXIF orientation 6",
        lambda: samples.rotated_phone_jpeg(800, 600),
    ),
    Seed("jpeg-cmyk", "jpg", "jpeg", 1, "CMYK to sRGB", lambda: samples.cmyk_jpeg(400, 300)),
    Seed("png-rgb", "png", "png", 2, "libvips shrink", lambda: _like_bench("png", 800, 600, 2)),
    Seed(
        "png-rgba",
        "png",
        "png",
        3,
        "libvips premultiplied shrink",
        lambda: _like_bench("png", 800, 600, 3, mode="RGBA"),
    ),
    Seed(
        "png-16bit",
        "png",
        "png",
        2,
        "libvips shrink of 16-bit samples",
        lambda: _like_bench("png", 600, 450, 5, mode="RGB16"),
    ),
    Seed(
        "png-grey-16bit",
        "png",
        "png",
        1,
        "libvips shrink of 16-bit grey",
        lambda: samples.gradient_16bit_png(1024, 256),
    ),
    Seed("png-palette", "png", "png", 2, "libvips shrink of a palette with tRNS", _palette_png),
    Seed("apng", "png", "png", 1, "first frame of an animation (Pillow)", _apng),
    Seed(
        "webp-lossy",
        "webp",
        "riff",
        2,
        "libwebp scaled decode",
        lambda: _like_bench("webp", 800, 600, 6),
    ),
    Seed(
        "webp-lossy-alpha",
        "webp",
        "riff",
        6,
        "incremental decode, premultiplied shrink",
        lambda: _like_bench("webp", 800, 600, 7, mode="RGBA"),
    ),
    Seed(
        "webp-lossy-alpha-exif",
        "webp",
        "riff",
        3,
        "incremental decode, EXIF and ICC chunks",
        _webp_alpha_exif,
    ),
    Seed(
        "webp-lossless",
        "webp",
        "riff",
        2,
        "libwebp scaled decode, lossless",
        lambda: _save(photo(500, 400, 8, alpha=True), "WEBP", lossless=True),
    ),
    Seed(
        "webp-animated", "webp", "riff", 2, "first frame of an animation (Pillow)", _animated_webp
    ),
    Seed(
        "heic-preview",
        "heic",
        "isobmff",
        3,
        "stored 320 px preview",
        lambda: _like_bench("heic", 800, 600, 9),
    ),
    Seed(
        "heic-no-preview",
        "heic",
        "isobmff",
        5,
        "PyAV single picture",
        lambda: _like_bench("heic", 800, 600, 10, preview=False),
    ),
    Seed("heic-grid", "heic", "isobmff", 5, "PyAV grid of tiles", _heic_grid),
    Seed(
        "heic-alpha",
        "heic",
        "isobmff",
        5,
        "PyAV picture with an alpha picture",
        lambda: _like_bench("heic", 800, 600, 11, mode="RGBA", preview=False),
    ),
    Seed(
        "heic-10bit",
        "heic",
        "isobmff",
        3,
        "PyAV 10-bit picture",
        lambda: _like_bench("heic", 640, 480, 12, preview=False, bits=10),
    ),
    Seed("heic-hdr", "heic", "isobmff", 2, "PyAV picture, PQ tone-mapped by profile", _heic_hdr),
    Seed(
        "avif-opaque",
        "avif",
        "isobmff",
        4,
        "PyAV decode, swscale shrink",
        lambda: _like_bench("avif", 800, 600, 13),
    ),
    Seed(
        "avif-alpha",
        "avif",
        "isobmff",
        5,
        "PyAV colour and alpha, premultiplied shrink",
        lambda: _like_bench("avif", 800, 600, 14, mode="RGBA"),
    ),
    Seed("avif-p3", "avif", "isobmff", 2, "PyAV decode, Display P3 by profile", _avif_display_p3),
    Seed("pdf", "pdf", "", 2, "pdfium page render", samples.one_page_pdf),
    Seed(
        "video-mp4",
        "mp4",
        "isobmff",
        2,
        "PyAV frame seek and decode",
        lambda: samples.short_video(480, 360, frames=12),
    ),
    Seed("video-webm", "webm", "", 1, "PyAV, Matroska demuxer", _webm),
    Seed("video-hlg", "mp4", "isobmff", 1, "PyAV HEVC, HLG tone-mapped by profile", _video_hlg),
    Seed("gif", "gif", "", 1, "first frame of an animation (Pillow)", _gif),
    Seed(
        "tiff",
        "tif",
        "",
        1,
        "Pillow, deflate",
        lambda: _save(photo(600, 450, 17), "TIFF", compression="tiff_deflate"),
    ),
    Seed("bmp", "bmp", "", 1, "Pillow", lambda: _save(photo(400, 300, 18), "BMP")),
)


def load(
    seeds: Iterable[Seed], cache: Path = CACHE, on_build: Callable[[Seed], None] | None = None
) -> tuple[list[LoadedSeed], list[tuple[Seed, str]]]:
    """The bytes of ``seeds``, built once and then read from ``cache``.

    Returns the loaded seeds and the ones this machine cannot build, with the reason.
    ``on_build`` is told of each seed before it is built (building takes seconds).
    """
    loaded, unavailable = [], []
    for seed in seeds:
        path = cache / f"v{VERSION}-{seed.name}.{seed.ext}"
        if not path.exists():
            if on_build is not None:
                on_build(seed)
            try:
                data = seed.build()
            except SeedUnavailable as exc:
                unavailable.append((seed, str(exc)))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(data)
            partial.replace(path)  # never a half-written seed under its name
        loaded.append(LoadedSeed(seed, path.read_bytes()))
    return loaded, unavailable

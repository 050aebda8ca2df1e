"""Hostile and broken inputs: refused quickly, with one of a few classified errors."""

from __future__ import annotations

import struct
import sys
import time
import zlib
from collections.abc import Callable

import pytest
from imaging_helpers import damaged_copies, encode, png_chunk
from PIL import Image, ImageDraw, ImageFile, ImageFilter

from thumbnailer import (
    CorruptImage,
    EmptyInput,
    RenderTimeout,
    ThumbnailerError,
    TooLarge,
    UnsupportedFormat,
    render,
    samples,
)
from thumbnailer.render import _decode
from thumbnailer.render.spec import Limits, OutputFormat, ThumbnailSpec


def _huge_png(width: int = 40_000, height: int = 40_000, rows: int = 2000) -> bytes:
    """A valid-looking PNG header claiming ``width`` x ``height``, with some real rows."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    raw = (b"\x00" + b"\x00" * width) * rows  # filter byte + a black row, compresses to little
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(raw, 9))
        + png_chunk(b"IEND", b"")
    )


def _huge_jpeg_header(width: int = 60_000, height: int = 60_000) -> bytes:
    """A small JPEG whose frame header (SOF0) is patched to claim a huge size."""
    data = bytearray(encode(Image.new("RGB", (16, 16)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _huge_gif_header() -> bytes:
    data = bytearray(encode(Image.new("P", (16, 16)), "GIF"))
    data[6:10] = struct.pack("<HH", 65_535, 65_535)  # logical screen
    image_descriptor = data.index(b"\x2c")
    data[image_descriptor + 5 : image_descriptor + 9] = struct.pack("<HH", 65_535, 65_535)
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [_huge_png(), _huge_jpeg_header(), _huge_gif_header()],
    ids=["png-40000x40000", "jpeg-60000x60000", "gif-65535x65535"],
)
def test_decompression_bombs_are_refused_from_the_header_quickly(data: bytes) -> None:
    assert len(data) < 500_000
    start = time.perf_counter()
    with pytest.raises(TooLarge) as info:
        render(data)
    assert time.perf_counter() - start < 1.0
    assert info.value.kind == "too_large"
    assert "pixels" in info.value.message


def test_the_pixel_limit_is_configurable() -> None:
    data = samples.photo_jpeg(400, 300)
    spec = ThumbnailSpec(limits=Limits(max_input_pixels=400 * 300 - 1))
    with pytest.raises(TooLarge, match="400x300"):
        render(data, spec)
    assert render(data, ThumbnailSpec(limits=Limits(max_input_pixels=400 * 300)))


def test_the_byte_limit_is_checked_first() -> None:
    data = samples.photo_jpeg(400, 300)
    with pytest.raises(TooLarge, match="bytes"):
        render(data, ThumbnailSpec(limits=Limits(max_input_bytes=len(data) - 1)))


def test_empty_input() -> None:
    with pytest.raises(EmptyInput) as info:
        render(b"")
    assert info.value.kind == "empty"


@pytest.mark.parametrize(
    "data",
    [
        samples.broken_jpeg(),
        encode(Image.new("RGB", (300, 300), (1, 2, 3)), "PNG")[:-40],
        samples.webp()[:200],
        encode(Image.new("RGB", (300, 300)), "GIF")[:30],
        encode(Image.new("RGB", (300, 300)), "TIFF")[:300],
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 30,
        b"\xff\xd8\xff\xe0" + b"\x00" * 40,
        b"%PDF-1.4\nthis is not a pdf",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 40,
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 40,
    ],
    ids=["jpeg", "png", "webp", "gif", "tiff", "png-hdr", "jpeg-hdr", "pdf", "heif", "mp4"],
)
def test_truncated_and_damaged_files_are_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptImage) as info:
        render(data)
    assert info.value.kind == "corrupt"
    assert info.value.__cause__ is not None or "truncated" in info.value.message


def test_a_truncated_jpeg_says_so() -> None:
    with pytest.raises(CorruptImage, match="truncated"):
        render(samples.broken_jpeg())


@pytest.mark.parametrize(
    "source",
    [
        samples.photo_jpeg(64, 48),
        # Large enough for the 1/8-scale path that rewrites the file without its AC scans.
        encode(samples.photo(1200, 900), "JPEG", progressive=True, quality=60),
        encode(Image.new("RGBA", (64, 48), (1, 2, 3, 4)), "PNG"),
        encode(Image.new("RGB", (64, 48)), "GIF"),
        samples.webp(64, 48),
        encode(Image.new("RGB", (64, 48)), "TIFF"),
        encode(Image.new("RGB", (64, 48)), "BMP"),
    ],
    ids=["jpeg", "progressive-jpeg", "png", "gif", "webp", "tiff", "bmp"],
)
def test_random_damage_never_escapes_as_a_library_error(source: bytes) -> None:
    for damaged in damaged_copies(source, 1234, count=60, most_changes=12, kept=8):
        try:
            render(damaged)
        except ThumbnailerError as exc:
            assert exc.kind in {"corrupt", "too_large", "unsupported"}
            assert exc.message


def _cut_out(width: int, height: int) -> Image.Image:
    """A photo with a soft-edged disc of alpha: the paths that weight colour by alpha."""
    image = samples.photo(width, height)
    mask = Image.new("L", (width, height))
    ImageDraw.Draw(mask).ellipse((width // 8, height // 8, width * 7 // 8, height * 7 // 8), 255)
    image.putalpha(mask.filter(ImageFilter.GaussianBlur(4)))
    return image


def _progressive_jpeg() -> bytes:
    # Large enough for the 1/8-scale rewrite; Pillow writes it in one buffer.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ImageFile, "MAXBLOCK", 1 << 24)
        return encode(samples.photo(2048, 1536), "JPEG", progressive=True, quality=60)


# Inputs larger than the box, so that each takes its shrink-on-load path.
_SHRUNK_WHILE_DECODED: dict[str, Callable[[], bytes]] = {
    "progressive-jpeg-rewrite": _progressive_jpeg,
    "png-libvips": lambda: encode(_cut_out(600, 400), "PNG"),
    "webp-scaled": lambda: samples.webp(600, 400),
    "webp-alpha-incremental": lambda: encode(_cut_out(600, 400), "WEBP", quality=80),
    "heic-pyav": lambda: samples.heic(600, 400),
    "avif-pyav": lambda: encode(_cut_out(600, 400), "AVIF", quality=60),
    "video": samples.short_video,
}


@pytest.mark.parametrize("path", list(_SHRUNK_WHILE_DECODED))
def test_random_damage_on_the_shrink_on_load_paths(path: str) -> None:
    source = _SHRUNK_WHILE_DECODED[path]()
    render(source)  # undamaged, it renders
    for damaged in damaged_copies(source, path, count=150, most_changes=20):
        try:
            render(damaged)
        except ThumbnailerError as exc:
            assert exc.kind in {"corrupt", "too_large", "unsupported"}
            assert exc.message
            # A library's own words about Python objects mean an error went unclassified.
            assert "object has no attribute" not in exc.message
            assert "division by zero" not in exc.message


def test_the_time_budget_is_enforced() -> None:
    spec = ThumbnailSpec(limits=Limits(time_budget_seconds=1e-9))
    with pytest.raises(RenderTimeout) as info:
        render(samples.photo_jpeg(300, 200), spec)
    assert info.value.kind == "timeout"


def _blank_png(width: int, height: int) -> bytes:
    """A complete, valid all-black grey PNG, compressed row by row (never all in memory)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("use_vips", [True, False], ids=["vips", "pillow"])
def test_pillows_own_bomb_warning_does_not_escape(
    use_vips: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 90 MP is above Pillow's warning threshold; our limit, raised here, decides alone.
    monkeypatch.setattr(_decode, "USE_VIPS", use_vips)
    data = _blank_png(9500, 9500)
    spec = ThumbnailSpec(limits=Limits(max_input_pixels=100_000_000))
    # Under pytest the warning would be an error, so rendering at all proves it was handled.
    assert [(t.width, t.height) for t in render(data, spec)] == [(128, 128)]


def test_a_decoder_left_out_of_the_build_makes_its_format_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As on a layer built `--without pdf`: the decoder's package cannot be imported.
    monkeypatch.delitem(sys.modules, "thumbnailer.render._pdf", raising=False)
    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(UnsupportedFormat, match="pypdfium2") as info:
        render(samples.one_page_pdf())
    assert info.value.kind == "unsupported"


def test_an_output_format_this_build_cannot_write_is_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As with a Pillow built without libavif: no AVIF encoder registered.
    Image.init()  # every encoder registered first, so removing one stays removed
    monkeypatch.delitem(Image.SAVE, "AVIF")
    with pytest.raises(UnsupportedFormat, match="this build cannot write AVIF thumbnails") as info:
        render(samples.photo_jpeg(64, 48), ThumbnailSpec(format=OutputFormat.AVIF))
    assert info.value.kind == "unsupported"

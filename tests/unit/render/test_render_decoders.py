"""PNG (libvips or Pillow) and WebP (libwebp or Pillow) have two decode paths: same results."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

import pytest
from imaging_helpers import (
    encode,
    open_thumbnail,
    png_chunk,
    record_decoded_sizes,
    rgb_profile_swapping_red_and_green,
)
from PIL import Image, ImageChops, ImageDraw, ImageStat

from thumbnailer import render, samples
from thumbnailer.render import _decode
from thumbnailer.render.spec import Fit, OutputFormat, Size, ThumbnailSpec


def _soft_disc(mode: str = "RGBA") -> Image.Image:
    image = Image.new(mode, (900, 600), (0, 0, 0, 0) if mode == "RGBA" else (0, 0))
    fill = (230, 40, 40, 255) if mode == "RGBA" else (200, 255)
    ImageDraw.Draw(image).ellipse((150, 100, 750, 500), fill=fill)
    return image


def _photo_with_alpha() -> Image.Image:
    image = samples.photo(1200, 800, seed=8)
    image.putalpha(Image.linear_gradient("L").rotate(90).resize(image.size))
    return image


def _oriented(fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(samples.photo(900, 600).transpose(Image.Transpose.ROTATE_90), fmt, exif=exif)


def _rgba16_png(width: int = 900, height: int = 600) -> bytes:
    """A 16-bit RGBA PNG (Pillow cannot write one): a colour ramp under a soft alpha ramp."""
    rows = []
    for y in range(height):
        alpha = (65535 * y // (height - 1)).to_bytes(2, "big")
        row = bytearray(b"\x00")  # filter type: none
        for x in range(width):
            red = (65535 * x // (width - 1)).to_bytes(2, "big")
            row += red + b"\x40\x00" + b"\xc0\x00" + alpha
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + png_chunk(b"IEND", b"")
    )


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (800, 500), 0)
    image.putpalette([0, 0, 0, 40, 200, 40] + [0] * 762)
    ImageDraw.Draw(image).rectangle((200, 100, 599, 399), fill=1)
    return encode(image, "PNG", transparency=0)


CASES = {
    "rgb-png": lambda: encode(samples.photo(1200, 800), "PNG"),
    "rgba-png": lambda: encode(_soft_disc(), "PNG"),
    "rgba-photo-png": lambda: encode(_photo_with_alpha(), "PNG"),
    "rgba-photo-webp": lambda: encode(_photo_with_alpha(), "WEBP", quality=95),
    "la-png": lambda: encode(_soft_disc("LA"), "PNG"),
    "palette-trns": _palette_with_transparency,
    "16bit-grey": lambda: samples.gradient_16bit_png(1024, 256),
    "orientation-6": lambda: _oriented("PNG"),
    "orientation-6-webp": lambda: _oriented("WEBP"),
    "16bit-rgba": _rgba16_png,
    "icc-png": lambda: encode(
        Image.new("RGB", (600, 400), (200, 30, 30)),
        "PNG",
        icc_profile=rgb_profile_swapping_red_and_green(),
    ),
    "icc-webp": lambda: encode(
        Image.new("RGB", (600, 400), (200, 30, 30)),
        "WEBP",
        icc_profile=rgb_profile_swapping_red_and_green(),
    ),
    "webp": lambda: samples.webp(1200, 800),
    # Lossy with alpha, odd sides: the last boxes of rows and columns are partial.
    "rgba-photo-odd-webp": lambda: encode(_photo_with_alpha().resize((1201, 803)), "WEBP"),
    "rgba-webp": lambda: encode(_soft_disc(), "WEBP", quality=90),
    "animated-webp": lambda: encode(
        Image.new("RGB", (600, 400), (20, 20, 220)),
        "WEBP",
        save_all=True,
        append_images=[Image.new("RGB", (600, 400), (220, 20, 20))],
        lossless=True,
    ),
}


def _visible(image: Image.Image) -> Image.Image:
    return image.convert("RGBA").convert("RGBa")


# (USE_LIBWEBP, USE_VIPS) for each path: libwebp takes still WebP files, libvips PNG files.
PATHS = {"libwebp": (True, False), "vips": (False, True), "pillow": (False, False)}


def _render(data: bytes, path: str, spec: ThumbnailSpec) -> list[Image.Image]:
    original = _decode.USE_LIBWEBP, _decode.USE_VIPS
    _decode.USE_LIBWEBP, _decode.USE_VIPS = PATHS[path]
    try:
        return [open_thumbnail(t) for t in render(data, spec)]
    finally:
        _decode.USE_LIBWEBP, _decode.USE_VIPS = original


@pytest.mark.parametrize(
    ("case", "path"),
    [
        (case, path)
        for case in sorted(CASES)
        for path in (("libwebp",) if "webp" in case else ("vips",))
    ],
)
@pytest.mark.parametrize("fit", [Fit.FIT, Fit.COVER])
def test_fast_and_pillow_paths_agree(case: str, path: str, fit: Fit) -> None:
    data = CASES[case]()
    spec = ThumbnailSpec(sizes=(Size(128, 128), Size(300, 200)), fit=fit, format=OutputFormat.PNG)
    fast = _render(data, path, spec)
    plain = _render(data, "pillow", spec)
    for a, b in zip(fast, plain, strict=True):
        assert (a.size, a.mode) == (b.size, b.mode), case
        # Compared premultiplied: colours under nearly transparent pixels are invisible.
        difference = ImageChops.difference(_visible(a), _visible(b))
        assert max(ImageStat.Stat(difference).mean) < 2, case


def test_vips_path_shrinks_while_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyvips")
    from thumbnailer.render import _vips

    sizes = record_decoded_sizes(monkeypatch, _vips.PngSource)
    monkeypatch.setattr(_decode, "USE_VIPS", True)
    render(encode(samples.photo(2400, 1600), "PNG"))
    assert len(sizes) == 1 and sizes[0][0] <= 400


def _big_transparent() -> Image.Image:
    image = Image.new("RGBA", (2400, 1800), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((300, 200, 2100, 1600), fill=(230, 40, 40, 255))
    draw.rectangle((1000, 700, 1400, 1100), fill=(40, 40, 230, 128))
    return image


@pytest.mark.parametrize("fmt", ["TIFF", "GIF", "PNG"])
def test_large_images_shrunk_in_strips_match_a_full_resize(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_decode, "USE_VIPS", False)
    source = _big_transparent()
    if fmt == "GIF":
        source = source.convert("RGB").quantize(16)
        source.info["transparency"] = source.getpixel((0, 0))
    data = encode(source, fmt)
    with Image.open(BytesIO(data)) as reference_source:
        expected = reference_source.convert("RGBA").resize((128, 96), Image.Resampling.LANCZOS)
    spec = ThumbnailSpec(format=OutputFormat.PNG)
    actual = open_thumbnail(render(data, spec)[0]).convert("RGBA")
    assert actual.size == expected.size
    difference = ImageChops.difference(actual, expected)
    assert max(ImageStat.Stat(difference).mean) < 2
    # No dark fringe where the red disc meets transparency.
    left = actual.crop((0, 0, 40, actual.height))  # the disc's edge, away from the blue square
    edge = [p for p in left.get_flattened_data() if isinstance(p, tuple) and 16 <= p[3] < 255]
    assert edge and all(p[0] > 200 and p[1] < 70 for p in edge)


def _stripes() -> Image.Image:
    """Black and white stripes 16 px wide (under 2 px in a 128 px thumbnail), alpha 200."""
    image = Image.new("RGBA", (1200, 800), (255, 255, 255, 200))
    draw = ImageDraw.Draw(image)
    for x in range(0, 1200, 32):
        draw.rectangle((x, 0, x + 15, 799), fill=(0, 0, 0, 200))
    return image


@pytest.mark.parametrize(
    ("fmt", "path"),
    [
        ("PNG", "vips"),
        ("PNG", "pillow"),
        ("WEBP", "libwebp"),
        ("WEBP", "pillow"),
        ("TIFF", "pillow"),
    ],
)
def test_fine_detail_survives_every_shrinking_path(fmt: str, path: str) -> None:
    source = _stripes()
    options = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(source, fmt, **options)
    spec = ThumbnailSpec(format=OutputFormat.PNG)
    [actual] = _render(data, path, spec)
    ideal = source.resize(actual.size, Image.Resampling.LANCZOS)
    contrast = ImageStat.Stat(actual.convert("L")).stddev[0]
    ideal_contrast = ImageStat.Stat(ideal.convert("L")).stddev[0]
    assert contrast > 0.95 * ideal_contrast  # not blurred by shrinking too far


@pytest.mark.parametrize("path", ["vips", "pillow"])
def test_png_orientation_after_the_pixel_data_is_applied(path: str) -> None:
    upright = Image.new("RGB", (600, 400), (128, 128, 128))
    ImageDraw.Draw(upright).rectangle((0, 0, 299, 199), fill=(220, 20, 20))
    png = encode(upright.transpose(Image.Transpose.ROTATE_90), "PNG")
    exif = Image.Exif()
    exif[0x0112] = 6
    end = png.rindex(b"IEND") - 4
    data = png[:end] + png_chunk(b"eXIf", exif.tobytes()) + png[end:]
    [image] = _render(data, path, ThumbnailSpec())
    assert image.size == (128, 85)
    assert image.convert("RGB").getpixel((5, 5)) == pytest.approx((220, 20, 20), abs=30)

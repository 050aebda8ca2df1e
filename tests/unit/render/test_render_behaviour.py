"""What users notice about thumbnails: orientation, colour, transparency, metadata, formats."""

from __future__ import annotations

from io import BytesIO

import pytest
from imaging_helpers import (
    close,
    cmyk_profile_where_cyan_prints_red,
    encode,
    marked,
    open_thumbnail,
    record_decoded_sizes,
    rgb_at,
    rgb_profile_swapping_red_and_green,
    with_orientation,
    ycck_jpeg,
)
from PIL import Image, ImageDraw, features

from thumbnailer import render, samples
from thumbnailer.render import _decode
from thumbnailer.render.spec import Fit, OutputFormat, Size, ThumbnailSpec

RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 20), (20, 20, 220), (255, 255, 255)


def _marked(width: int, height: int) -> Image.Image:
    """Upright picture: red top-left quadrant, blue bottom-right, grey elsewhere."""
    return marked(width, height, RED, BLUE)


def _assert_upright(thumbnail_image: Image.Image) -> None:
    width, height = thumbnail_image.size
    assert close(rgb_at(thumbnail_image, (width // 8, height // 8)), RED, 40)
    assert close(rgb_at(thumbnail_image, (width * 7 // 8, height * 7 // 8)), BLUE, 40)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(orientation: int) -> None:
    data = with_orientation(_marked(300, 200), orientation)
    thumbnail = render(data)[0]
    image = open_thumbnail(thumbnail)
    assert image.size == (128, 85)
    _assert_upright(image)
    assert image.getexif().get(0x0112) in (None, 1)


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_invalid_orientation_values_count_as_upright(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(_marked(300, 200), "JPEG", exif=exif.tobytes())
    image = open_thumbnail(render(data)[0])
    assert image.size == (128, 85)
    _assert_upright(image)


def test_orientation_in_png_webp_tiff_and_avif_is_applied_too() -> None:
    for fmt in ("PNG", "WEBP", "TIFF", "AVIF"):
        image = open_thumbnail(render(with_orientation(_marked(300, 200), 6, fmt))[0])
        assert image.size == (128, 85)
        _assert_upright(image)


def test_shrink_on_load_survives_orientation(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded_sizes = record_decoded_sizes(monkeypatch, _decode.PillowSource)
    data = with_orientation(_marked(3000, 2000), 6)  # stored 2000 x 3000
    image = open_thumbnail(render(data)[0])
    assert image.size == (128, 85)
    _assert_upright(image)
    assert decoded_sizes == [(250, 375)]  # 1/8 scale of the stored size, not full size


@pytest.mark.parametrize("kind", ["progressive", "mpo"])
def test_progressive_and_multi_picture_jpegs_shrink_on_load(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded_sizes = record_decoded_sizes(monkeypatch, _decode.PillowSource)
    if kind == "progressive":
        data = encode(_marked(3000, 2000), "JPEG", progressive=True)
    else:  # phone cameras store depth maps or previews as extra pictures (MPO)
        data = encode(
            _marked(3000, 2000), "MPO", save_all=True, append_images=[Image.new("RGB", (640, 480))]
        )
    image = open_thumbnail(render(data)[0])
    assert image.size == (128, 85)
    _assert_upright(image)
    assert decoded_sizes == [(375, 250)]


def test_profiles_are_converted_to_srgb() -> None:
    profile = rgb_profile_swapping_red_and_green()
    reddish_numbers = Image.new("RGB", (64, 64), (200, 30, 30))
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        image = open_thumbnail(render(encode(reddish_numbers, fmt, icc_profile=profile))[0])
        red, green, _ = rgb_at(image, (10, 10))
        assert green > 150 > 60 > red, fmt  # the profile says these numbers mean green
        assert "icc_profile" not in image.info


def test_an_invalid_profile_is_treated_as_srgb() -> None:
    data = encode(Image.new("RGB", (64, 64), (200, 30, 30)), "JPEG", icc_profile=b"junk" * 50)
    assert close(rgb_at(open_thumbnail(render(data)[0]), (10, 10)), (200, 30, 30), 8)


def test_cmyk_jpeg_without_profile_keeps_its_colours() -> None:
    # Pillow writes CMYK JPEGs the way Photoshop does: Adobe marker, inverted values.
    cmyk = Image.new("CMYK", (64, 64), (0, 255, 255, 0))  # magenta + yellow ink: red
    image = open_thumbnail(render(encode(cmyk, "JPEG"))[0])
    assert image.mode == "RGB"
    assert close(rgb_at(image, (10, 10)), (255, 0, 0), 20)


@pytest.mark.parametrize(
    ("cmyk", "rgb"),
    [((0, 255, 255, 0), (255, 0, 0)), ((255, 0, 255, 0), (0, 255, 0)), ((0, 0, 0, 255), (0, 0, 0))],
)
def test_ycck_jpeg_gives_the_right_colours(
    cmyk: tuple[int, int, int, int], rgb: tuple[int, int, int]
) -> None:
    image = open_thumbnail(render(ycck_jpeg(cmyk))[0])
    assert close(rgb_at(image, (10, 10)), rgb, 12)


def test_cmyk_jpeg_with_profile_uses_the_profile() -> None:
    cyan_ink = Image.new("CMYK", (64, 64), (255, 0, 0, 0))
    data = encode(cyan_ink, "JPEG", icc_profile=cmyk_profile_where_cyan_prints_red())
    red, green, blue = rgb_at(open_thumbnail(render(data)[0]), (10, 10))
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_grey_gradient_stays_a_gradient() -> None:
    image = open_thumbnail(render(samples.gradient_16bit_png(256, 16))[0])
    row = [rgb_at(image, (x, 4))[0] for x in range(0, image.width, 8)]
    assert row == sorted(row)
    assert row[0] < 20 and row[-1] > 235
    assert len(set(row)) > 10  # not clipped to a few values


def _red_square_on_transparent_black(size: int = 200) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((50, 50, 149, 149), fill=(255, 0, 0, 255))
    return image


def test_transparency_is_kept_in_png_output_without_dark_fringes() -> None:
    data = encode(_red_square_on_transparent_black(), "PNG")
    thumbnail = render(data, ThumbnailSpec(sizes=(Size(67, 67),)))[0]
    assert thumbnail.format is OutputFormat.PNG  # auto picks PNG for transparency
    image = open_thumbnail(thumbnail).convert("RGBA")
    assert image.getpixel((0, 0)) == (0, 0, 0, 0)
    edge = [p for p in image.get_flattened_data() if isinstance(p, tuple) and p[3] >= 16]
    assert edge
    assert all(p[0] >= 200 and p[1] <= 40 and p[2] <= 40 for p in edge)  # red, not dark red


def test_transparency_is_flattened_onto_the_background_for_jpeg() -> None:
    data = encode(_red_square_on_transparent_black(), "PNG")
    for background in ((255, 255, 255), (0, 128, 255)):
        spec = ThumbnailSpec(format=OutputFormat.JPEG, background=background)
        image = open_thumbnail(render(data, spec)[0])
        assert image.mode == "RGB"
        assert close(rgb_at(image, (2, 2)), background, 6)
        assert close(rgb_at(image, (64, 64)), (255, 0, 0), 20)
        # The soft edge blends towards the background, never towards black.
        edge = [rgb_at(image, (x, 64)) for x in range(26, 40)]
        assert all(sum(p) >= min(255, sum(background)) - 10 for p in edge)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_and_gif_transparency(fmt: str) -> None:
    palette = Image.new("P", (40, 40), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    ImageDraw.Draw(palette).rectangle((10, 10, 29, 29), fill=1)
    data = encode(palette, fmt, transparency=0)
    png = open_thumbnail(render(data)[0]).convert("RGBA")
    assert png.getpixel((0, 0))[3] == 0  # type: ignore[index]
    assert png.getpixel((20, 20)) == (255, 0, 0, 255)
    jpeg = open_thumbnail(render(data, ThumbnailSpec(format=OutputFormat.JPEG))[0])
    assert close(rgb_at(jpeg, (1, 1)), WHITE, 12)  # JPEG ringing near the red edge


def test_grey_with_alpha_is_kept() -> None:
    image = Image.new("LA", (40, 40), (0, 0))
    ImageDraw.Draw(image).rectangle((10, 10, 29, 29), fill=(200, 255))
    thumbnail = render(encode(image, "PNG"))[0]
    out = open_thumbnail(thumbnail).convert("RGBA")
    assert out.getpixel((0, 0))[3] == 0  # type: ignore[index]
    assert out.getpixel((20, 20)) == (200, 200, 200, 255)


def test_opaque_rgba_is_a_jpeg_under_auto() -> None:
    data = encode(Image.new("RGBA", (40, 40), (10, 20, 30, 255)), "PNG")
    assert render(data)[0].format is OutputFormat.JPEG


def _frames(fmt: str) -> bytes:
    frames = [Image.new("RGB", (60, 40), colour) for colour in (BLUE, GREEN, RED)]
    options: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": 100}
    if fmt == "WEBP":
        options["lossless"] = True
    return encode(frames[0], fmt, **options)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_give_their_first_frame(fmt: str) -> None:
    image = open_thumbnail(render(_frames(fmt))[0])
    assert close(rgb_at(image, (30, 20)), BLUE, 12)


def test_output_carries_no_metadata() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Camera Maker"
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0)}  # GPS
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    profile = rgb_profile_swapping_red_and_green()
    data = encode(
        _marked(300, 200),
        "JPEG",
        exif=exif.tobytes(),
        icc_profile=profile,
        comment=b"secret comment",
        xmp=xmp,
    )
    # IPTC lives in a Photoshop APP13 segment, which Pillow cannot write: splice one in.
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0eIPTC secret byline"
    data = data[:2] + b"\xff\xed" + (len(iptc) + 2).to_bytes(2, "big") + iptc + data[2:]
    assert "photoshop" in Image.open(BytesIO(data)).info  # the input really carries IPTC
    for fmt in (OutputFormat.JPEG, OutputFormat.PNG, OutputFormat.WEBP, OutputFormat.AVIF):
        thumbnail = render(data, ThumbnailSpec(format=fmt))[0]
        image = open_thumbnail(thumbnail)
        assert not image.getexif(), fmt
        for key in ("exif", "icc_profile", "xmp", "comment", "XML:com.adobe.xmp"):
            assert not image.info.get(key), (fmt, key)
        for needle in (b"Camera Maker", b"secret comment", b"adobe:ns:meta", b"red-green", b"IPTC"):
            assert needle not in thumbnail.data, (fmt, needle)


def test_png_text_chunks_are_dropped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Someone Private")
    thumbnail = render(encode(Image.new("RGB", (50, 50)), "PNG", pnginfo=info))[0]
    assert b"Someone Private" not in thumbnail.data


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_decodes_as_itself(fmt: OutputFormat) -> None:
    thumbnail = render(samples.photo_jpeg(400, 300), ThumbnailSpec(format=fmt))[0]
    assert thumbnail.format is not OutputFormat.AUTO
    image = Image.open(BytesIO(thumbnail.data))
    assert image.format == thumbnail.format.value.upper()
    assert image.size == (thumbnail.width, thumbnail.height) == (128, 96)
    assert thumbnail.content_type == Image.MIME[image.format]


def test_avif_encoding_is_built_in() -> None:
    assert features.check("avif")


def test_quality_changes_the_size_of_lossy_output() -> None:
    data = samples.photo_jpeg(600, 400)
    sizes = [
        len(render(data, ThumbnailSpec(quality=q, sizes=(Size(300, 300),)))[0].data)
        for q in (30, 95)
    ]
    assert sizes[0] < sizes[1]


def test_fit_modes_produce_the_promised_sizes() -> None:
    data = encode(_marked(400, 200), "PNG")
    box = Size(100, 100)
    fit = open_thumbnail(render(data, ThumbnailSpec(sizes=(box,), fit=Fit.FIT))[0])
    cover = open_thumbnail(render(data, ThumbnailSpec(sizes=(box,), fit=Fit.COVER))[0])
    pad_spec = ThumbnailSpec(sizes=(box,), fit=Fit.PAD, background=(0, 255, 0))
    pad = open_thumbnail(render(data, pad_spec)[0])
    assert fit.size == (100, 50)
    assert cover.size == (100, 100)
    assert close(rgb_at(cover, (10, 10)), RED, 30)  # the centre crop still shows both colours
    assert close(rgb_at(cover, (90, 90)), BLUE, 30)
    assert pad.size == (100, 100)
    assert close(rgb_at(pad, (50, 5)), (0, 255, 0), 10)  # letterbox above
    assert close(rgb_at(pad, (50, 95)), (0, 255, 0), 10)  # and below
    assert close(rgb_at(pad, (10, 30)), RED, 30)


def test_several_sizes_in_one_call() -> None:
    spec = ThumbnailSpec(sizes=(Size(64, 64), Size(256, 256), Size(32, 100)))
    thumbnails = render(samples.photo_jpeg(800, 600), spec)
    assert [(t.box, t.width, t.height) for t in thumbnails] == [
        (Size(64, 64), 64, 48),
        (Size(256, 256), 256, 192),
        (Size(32, 100), 32, 24),
    ]


def test_default_spec_when_none_is_given() -> None:
    assert [(t.width, t.height) for t in render(samples.photo_jpeg(300, 300))] == [(128, 128)]


@pytest.mark.parametrize(
    "data",
    [
        samples.photo_jpeg(300, 200),
        samples.transparent_png(),
        samples.webp(),
        samples.cmyk_jpeg(),
        samples.rotated_phone_jpeg(),
        encode(_marked(90, 60), "TIFF"),
        encode(_marked(90, 60), "BMP"),
        encode(_marked(90, 60), "AVIF"),
    ],
    ids=["jpeg", "png", "webp", "cmyk", "rotated", "tiff", "bmp", "avif"],
)
@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_same_input_and_spec_give_identical_bytes(data: bytes, fmt: OutputFormat) -> None:
    spec = ThumbnailSpec(sizes=(Size(64, 64), Size(100, 50)), format=fmt, fit=Fit.COVER)
    first = [t.data for t in render(data, spec)]
    second = [t.data for t in render(data, spec)]
    assert first == second

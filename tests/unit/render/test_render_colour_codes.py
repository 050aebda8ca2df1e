"""Colour named by code points (HEIF/AVIF ``nclx``, a video stream's description) ends in sRGB.

Expected colours come from the published linear-light conversion matrices (Display P3 and
BT.2020 to sRGB), not from the engine's own profile builder.
"""

from __future__ import annotations

from io import BytesIO

import pytest
from imaging_helpers import (
    close,
    open_thumbnail,
    png_chunk,
    rgb_at,
    rgb_profile_swapping_red_and_green,
)
from PIL import Image

from thumbnailer import render
from thumbnailer.render import _decode
from thumbnailer.render.spec import OutputFormat, ThumbnailSpec

_PNG = ThumbnailSpec(format=OutputFormat.PNG)

_P3_TO_SRGB = (
    (1.2249401, -0.2249404, 0.0),
    (-0.0420569, 1.0420571, 0.0),
    (-0.0196376, -0.0786361, 1.0982735),
)
_BT2020_TO_SRGB = (
    (1.6604910, -0.5876411, -0.0728499),
    (-0.1245505, 1.1328999, -0.0083494),
    (-0.0181508, -0.1005789, 1.1187297),
)
_PAINT = (200, 100, 50)  # an orange, inside sRGB's gamut in both conversions below


def _srgb_expected(
    rgb: tuple[int, int, int], matrix: tuple[tuple[float, ...], ...]
) -> tuple[int, ...]:
    """``rgb`` (sRGB-curve code values in other primaries) as sRGB code values."""

    def to_linear(code: int) -> float:
        value = code / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    def to_code(light: float) -> int:
        light = min(max(light, 0.0), 1.0)
        value = light * 12.92 if light <= 0.0031308 else 1.055 * light ** (1 / 2.4) - 0.055
        return round(value * 255)

    linear = [to_linear(code) for code in rgb]
    return tuple(to_code(sum(row[k] * linear[k] for k in range(3))) for row in matrix)


def _assert_p3_paint_in_srgb(image: Image.Image, xy: tuple[int, int], tolerance: int) -> None:
    """The pixel at ``xy`` is the Display P3 paint converted to sRGB."""
    expected = _srgb_expected(_PAINT, _P3_TO_SRGB)
    assert close(rgb_at(image, xy), expected, tolerance), (rgb_at(image, xy), expected)


def _heic(image: Image.Image, primaries: int, transfer: int) -> bytes:
    import pillow_heif

    buffer = BytesIO()
    pillow_heif.from_pillow(image).save(
        buffer,
        quality=95,
        color_primaries=primaries,
        transfer_characteristics=transfer,
        matrix_coefficients=6,
        full_range_flag=1,
    )
    return buffer.getvalue()


def _avif_with_primaries(image: Image.Image, primaries: int) -> bytes:
    """An AVIF whose ``nclx`` box names ``primaries`` (Pillow writes BT.709 and sRGB's curve)."""
    buffer = BytesIO()
    image.save(buffer, "AVIF", quality=95)
    data = bytearray(buffer.getvalue())
    at = data.find(b"nclx")
    assert at > 0 and data[at + 4 : at + 6] == b"\x00\x01"
    data[at + 4 : at + 6] = primaries.to_bytes(2, "big")
    return bytes(data)


def _png_with_cicp(image: Image.Image, primaries: int, transfer: int, **options: object) -> bytes:
    """A PNG with a ``cICP`` chunk right after its header, as the PNG specification places it."""
    buffer = BytesIO()
    image.save(buffer, "PNG", **options)  # type: ignore[arg-type]
    data = buffer.getvalue()
    header_end = 8 + 8 + 13 + 4
    chunk = png_chunk(b"cICP", bytes((primaries, transfer, 0, 1)))
    return data[:header_end] + chunk + data[header_end:]


@pytest.fixture(params=[True, False], ids=["pyav", "pillow"])
def avif_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_decode, "USE_AV", request.param)


def test_sdr_code_points_leave_the_colour_as_decoded() -> None:
    from thumbnailer.render._cicp import profile_for

    # BT.709 (or unknown) primaries with any SDR transfer are shown as sRGB, as before.
    assert [profile_for(p, t) for p, t in [(1, 1), (1, 13), (2, 2), (1, 6), (200, 300)]] == [
        None
    ] * 5
    assert profile_for(12, 13) is not None and profile_for(9, 16) is not None


@pytest.mark.parametrize("size", [(120, 90), (800, 600)], ids=["full-size", "shrunk"])
def test_a_display_p3_heic_is_converted_to_srgb(size: tuple[int, int]) -> None:
    data = _heic(Image.new("RGB", size, _PAINT), primaries=12, transfer=13)
    image = open_thumbnail(render(data, _PNG)[0])
    _assert_p3_paint_in_srgb(image, (40, 40), 5)


@pytest.mark.usefixtures("avif_path")
@pytest.mark.parametrize("size", [(120, 90), (800, 600)], ids=["full-size", "shrunk"])
def test_a_display_p3_avif_is_converted_to_srgb(size: tuple[int, int]) -> None:
    data = _avif_with_primaries(Image.new("RGB", size, _PAINT), primaries=12)
    image = open_thumbnail(render(data, _PNG)[0])
    _assert_p3_paint_in_srgb(image, (40, 40), 5)


@pytest.mark.usefixtures("avif_path")
def test_a_display_p3_avif_with_alpha_keeps_alpha_and_converts_colour() -> None:
    picture = Image.new("RGBA", (800, 600), (*_PAINT, 255))
    picture.paste((0, 0, 0, 0), (0, 0, 400, 600))
    data = _avif_with_primaries(picture, primaries=12)
    image = open_thumbnail(render(data, _PNG)[0])
    assert image.mode == "RGBA"
    assert image.getpixel((10, 40))[3] == 0  # type: ignore[index]
    _assert_p3_paint_in_srgb(image, (110, 40), 5)


def test_an_embedded_profile_wins_over_the_nclx_box() -> None:
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = BytesIO()
    Image.new("RGB", (120, 90), _PAINT).save(buffer, "AVIF", quality=95, icc_profile=srgb)
    data = bytearray(buffer.getvalue())
    at = data.find(b"nclx")  # libavif writes both boxes; the ICC profile describes the pixels
    assert at > 0 and data.find(b"prof") > 0
    data[at + 4 : at + 6] = (12).to_bytes(2, "big")
    image = open_thumbnail(render(bytes(data), _PNG)[0])
    assert close(rgb_at(image, (40, 40)), _PAINT, 5)


@pytest.fixture(params=[None, False], ids=["libvips", "pillow"])
def png_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_decode, "USE_VIPS", request.param)


@pytest.mark.usefixtures("png_path")
@pytest.mark.parametrize("size", [(120, 90), (800, 600)], ids=["full-size", "shrunk"])
def test_a_display_p3_png_named_by_cicp_is_converted_to_srgb(size: tuple[int, int]) -> None:
    data = _png_with_cicp(Image.new("RGB", size, _PAINT), primaries=12, transfer=13)
    image = open_thumbnail(render(data, _PNG)[0])
    _assert_p3_paint_in_srgb(image, (40, 40), 2)


def test_a_png_cicp_chunk_wins_over_its_icc_profile() -> None:
    # The profile would swap red and green; cICP says sRGB, and the PNG specification gives
    # cICP the last word.
    picture = Image.new("RGB", (120, 90), _PAINT)
    swapping = rgb_profile_swapping_red_and_green()
    data = _png_with_cicp(picture, primaries=1, transfer=13, icc_profile=swapping)
    assert close(rgb_at(open_thumbnail(render(data, _PNG)[0]), (40, 40)), _PAINT, 1)


def test_an_hdr_png_named_by_cicp_is_tone_mapped() -> None:
    data = _png_with_cicp(Image.new("RGB", (120, 90), (148, 148, 148)), primaries=9, transfer=16)
    white = rgb_at(open_thumbnail(render(data, _PNG)[0]), (40, 40))
    assert min(white) >= 228, white


@pytest.mark.parametrize(
    ("transfer", "reference_white"),
    [(16, 148), (18, 191)],  # PQ at 203 cd/m², HLG at 75 %
    ids=["pq", "hlg"],
)
def test_hdr_heic_is_tone_mapped_not_shown_dim(transfer: int, reference_white: int) -> None:
    # Bands: black, HDR's reference white, a highlight above it.
    picture = Image.new("RGB", (300, 100), (0, 0, 0))
    picture.paste((reference_white,) * 3, (100, 0, 200, 100))
    picture.paste((230,) * 3, (200, 0, 300, 100))
    data = _heic(picture, primaries=9, transfer=transfer)
    image = open_thumbnail(render(data, _PNG)[0])
    black, white, highlight = (rgb_at(image, (x, 20)) for x in (15, 64, 113))
    assert max(black) <= 4
    # Shown as sRGB, the reference white would be a mid or light grey; tone-mapped, near white
    # with room left for the highlight, and still neutral.
    assert min(white) >= 228 and max(white) - min(white) <= 3, white
    assert min(highlight) > max(white), (white, highlight)


def _video(colour: tuple[int, int, int], params: str) -> bytes:
    import av

    buffer = BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx265", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p10le"
        stream.codec_context.options = {"x265-params": f"{params}:log-level=none"}
        picture = Image.new("RGB", (96, 64), colour)
        for _ in range(10):
            frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p10le")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def test_a_bt2020_video_is_converted_to_srgb() -> None:
    data = _video(_PAINT, "colorprim=bt2020:transfer=bt2020-10:colormatrix=smpte170m")
    image = open_thumbnail(render(data, _PNG)[0])
    expected = _srgb_expected(_PAINT, _BT2020_TO_SRGB)
    assert close(rgb_at(image, (40, 30)), expected, 6), (rgb_at(image, (40, 30)), expected)


def test_an_hlg_video_is_tone_mapped_not_shown_dim() -> None:
    # A phone's HDR video: BT.2020 primaries, HLG; the reference white at 75 % signal.
    data = _video((191, 191, 191), "colorprim=bt2020:transfer=arib-std-b67:colormatrix=smpte170m")
    image = open_thumbnail(render(data, _PNG)[0])
    white = rgb_at(image, (40, 30))
    assert min(white) >= 228 and max(white) - min(white) <= 4, white

"""AVIF: large pictures are decoded shrunk through PyAV when it is installed, else by Pillow.

Both paths must give the same thumbnails: orientation from the file's irot/imir transforms,
alpha (a second AV1 picture in the file, shrunk premultiplied), 10-bit pixels, ICC colour, no
metadata, and the same typed errors.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from io import BytesIO

import pytest
from imaging_helpers import (
    close,
    encode,
    marked,
    open_thumbnail,
    record_decoded_sizes,
    rgb_at,
    rgb_profile_swapping_red_and_green,
    with_orientation,
)
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from thumbnailer.errors import CorruptImage, TooLarge
from thumbnailer.render import _decode, render
from thumbnailer.render._isobmff import read_items
from thumbnailer.render.spec import Limits, OutputFormat, Size, ThumbnailSpec

av = pytest.importorskip("av")

RED = (220, 30, 30)
BLUE = (30, 30, 220)
# Large enough that the engine asks for a 4x smaller picture: the PyAV path is taken.
WIDTH, HEIGHT = 1200, 800


def _marked(width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """Upright picture: red top-left quadrant, blue bottom-right, grey elsewhere."""
    return marked(width, height, RED, BLUE)


def _assert_upright(image: Image.Image) -> None:
    width, height = image.size
    assert close(rgb_at(image, (width // 8, height // 8)), RED, 40)
    assert close(rgb_at(image, (width * 7 // 8, height * 7 // 8)), BLUE, 40)


def _oriented_avif(orientation: int) -> bytes:
    return with_orientation(_marked(), orientation, "AVIF", quality=90)


@pytest.fixture
def decoded_by_pyav(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Force the PyAV path and record the size of every picture it decoded."""
    from thumbnailer.render import _avif

    sizes = record_decoded_sizes(monkeypatch, _avif.AvifSource, "_decode_shrunk")
    monkeypatch.setattr(_decode, "USE_AV", True)
    yield sizes


def _both(data: bytes, spec: ThumbnailSpec) -> tuple[list[Image.Image], list[Image.Image]]:
    """Thumbnails through PyAV and through Pillow alone."""
    original = _decode.USE_AV
    try:
        _decode.USE_AV = True
        fast = [open_thumbnail(t) for t in render(data, spec)]
        _decode.USE_AV = False
        plain = [open_thumbnail(t) for t in render(data, spec)]
    finally:
        _decode.USE_AV = original
    return fast, plain


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    assert a.mode == b.mode and a.size == b.size
    return max(ImageStat.Stat(ImageChops.difference(a, b)).mean)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_irot_imir_transforms_come_out_upright(
    orientation: int, decoded_by_pyav: list[tuple[int, int]]
) -> None:
    image = open_thumbnail(render(_oriented_avif(orientation))[0])
    assert image.size == (128, 85)
    _assert_upright(image)
    assert image.getexif().get(0x0112) in (None, 1)
    assert decoded_by_pyav and max(decoded_by_pyav[0]) <= WIDTH // 2  # decoded shrunk


def test_pyav_and_pillow_give_the_same_thumbnails() -> None:
    spec = ThumbnailSpec(sizes=(Size(128, 128), Size(300, 300)), format=OutputFormat.PNG)
    photo = _marked().resize((600, 400)).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    fast, plain = _both(encode(photo, "AVIF", quality=90), spec)
    for a, b in zip(fast, plain, strict=True):
        assert _mean_difference(a, b) < 1.5  # levels: chroma upsampling and rounding differ


def test_icc_profile_is_applied_on_the_pyav_path(decoded_by_pyav: list[tuple[int, int]]) -> None:
    # The profile says the first channel is green: a red-looking file must come out green.
    data = encode(
        Image.new("RGB", (WIDTH, HEIGHT), (200, 20, 20)),
        "AVIF",
        icc_profile=rgb_profile_swapping_red_and_green(),
        quality=90,
    )
    image = open_thumbnail(render(data)[0])
    red, green, _ = rgb_at(image, (60, 40))
    assert green > 150 and red < 80
    assert decoded_by_pyav
    assert "icc_profile" not in image.info


def test_alpha_is_kept(decoded_by_pyav: list[tuple[int, int]]) -> None:
    source = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    ImageDraw.Draw(source).ellipse((200, 100, 1000, 700), fill=(*RED, 255))
    image = open_thumbnail(render(encode(source, "AVIF", quality=90))[0])
    assert image.mode == "RGBA"
    assert image.getpixel((2, 2))[3] == 0  # type: ignore[index]
    assert close(rgb_at(image, (64, 42)), RED, 40)
    assert image.getpixel((64, 42))[3] == 255  # type: ignore[index]
    assert decoded_by_pyav and max(decoded_by_pyav[0]) <= WIDTH // 2  # decoded shrunk


def _cut_out(colour: Image.Image, softness: float = 24) -> Image.Image:
    """``colour`` inside a soft-edged ellipse, on a transparent background that is black.

    Like real cut-outs, fully transparent pixels carry no colour: a shrink that does not
    weight colour by alpha would darken the edges towards that black.
    """
    mask = Image.new("L", colour.size, 0)
    ImageDraw.Draw(mask).ellipse((200, 100, 1000, 700), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(softness))
    image = Image.composite(colour, Image.new("RGB", colour.size), mask.point([0] + [255] * 255))
    image.putalpha(mask)
    return image


def _photo_cut_out() -> Image.Image:
    detail = Image.effect_noise((WIDTH, HEIGHT), 40).convert("RGB")
    photo = ImageChops.blend(_marked(), detail, 0.3)
    return _cut_out(photo.filter(ImageFilter.GaussianBlur(1)))


def _composited(image: Image.Image) -> Image.Image:
    """What a viewer shows: ``image`` over a mid-grey page."""
    page = Image.new("RGBA", image.size, (128, 128, 128, 255))
    return Image.alpha_composite(page, image.convert("RGBA")).convert("RGB")


@pytest.mark.parametrize("softness", [1, 24], ids=["anti-aliased", "feathered"])
def test_edges_do_not_turn_dark(softness: float, decoded_by_pyav: list[tuple[int, int]]) -> None:
    white = _cut_out(Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255)), softness)
    spec = ThumbnailSpec(format=OutputFormat.PNG)
    image = open_thumbnail(render(encode(white, "AVIF", quality=90), spec)[0])
    assert decoded_by_pyav
    # Fainter pixels keep little colour on any path: Pillow premultiplies in 8 bits.
    edge = [
        pixel
        for pixel in image.get_flattened_data()
        if 16 <= pixel[3] < 255  # type: ignore[index]
    ]
    assert len(edge) > 50  # the edge is there, partly transparent
    assert min(min(pixel[:3]) for pixel in edge) >= 235  # type: ignore[index]


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:2:2", "4:4:4"])
def test_pyav_and_pillow_give_the_same_thumbnails_with_alpha(
    subsampling: str, decoded_by_pyav: list[tuple[int, int]]
) -> None:
    spec = ThumbnailSpec(sizes=(Size(128, 128), Size(300, 300)), format=OutputFormat.PNG)
    data = encode(_photo_cut_out(), "AVIF", quality=90, subsampling=subsampling)
    fast, plain = _both(data, spec)
    assert decoded_by_pyav
    for a, b in zip(fast, plain, strict=True):
        assert a.mode == b.mode == "RGBA"
        assert _mean_difference(_composited(a), _composited(b)) < 1.5
        # The alpha plane is decoded alike: opaque stays 255, so the format choice agrees.
        assert ImageChops.difference(a.getchannel("A"), b.getchannel("A")).getbbox() is None


def test_an_opaque_alpha_plane_gives_a_jpeg(decoded_by_pyav: list[tuple[int, int]]) -> None:
    pyvips = pytest.importorskip("pyvips")
    # libheif stores an alpha plane even when every pixel is opaque (libavif leaves it out).
    picture = _marked()
    picture.putalpha(255)
    vips_image = pyvips.Image.new_from_memory(picture.tobytes(), WIDTH, HEIGHT, 4, "uchar")
    data = vips_image.copy(interpretation="srgb").heifsave_buffer(
        compression="av1", Q=80, subsample_mode="on"
    )
    assert read_items(data).alpha is not None
    thumbnail = render(data)[0]
    assert decoded_by_pyav
    assert open_thumbnail(thumbnail).format == "JPEG"


@pytest.mark.parametrize(("bits", "pyav"), [(10, True), (12, False)])
def test_deep_avif_with_alpha(
    bits: int, pyav: bool, decoded_by_pyav: list[tuple[int, int]]
) -> None:
    pyvips = pytest.importorskip("pyvips")
    picture = _photo_cut_out()
    vips_image = pyvips.Image.new_from_memory(picture.tobytes(), WIDTH, HEIGHT, 4, "uchar")
    data = vips_image.copy(interpretation="srgb").heifsave_buffer(
        compression="av1", bitdepth=bits, Q=90
    )
    fast, plain = _both(data, ThumbnailSpec(format=OutputFormat.PNG))
    assert fast[0].mode == "RGBA" and fast[0].size == (128, 85)
    assert _mean_difference(_composited(fast[0]), _composited(plain[0])) < 1.5
    # 12-bit colour and alpha have no joint swscale format: Pillow decodes those.
    assert bool(decoded_by_pyav) is pyav


def _with_reference(data: bytes, kind: bytes, source: int, target: int) -> bytes:
    """``data`` with its Exif item's ``cdsc`` reference turned into ``kind`` source->target.

    Both are 16-bit id references of the same length, so no offset in the file moves.
    """
    at = data.index(b"cdsc")
    size = struct.unpack_from(">I", data, at - 4)[0]
    assert size == 14  # size, type, from, count = 1, to
    return data[:at] + kind + struct.pack(">HHH", source, 1, target) + data[at + 10 :]


def test_premultiplied_alpha_is_left_to_pillow(decoded_by_pyav: list[tuple[int, int]]) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    plain = encode(_photo_cut_out(), "AVIF", quality=90, exif=exif.tobytes())
    items = read_items(plain)
    assert items.alpha is not None
    data = _with_reference(plain, b"prem", items.primary, items.alpha)
    assert read_items(data).premultiplied
    image = open_thumbnail(render(data, ThumbnailSpec(format=OutputFormat.PNG))[0])
    assert image.mode == "RGBA" and image.size == (128, 85)
    assert decoded_by_pyav == []  # FFmpeg would not divide the colour by alpha


def test_alpha_ffmpeg_cannot_decode_is_left_to_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    from thumbnailer.render import _avif

    real = _avif.AvifSource._decode_stream

    def refuse_alpha(self: _avif.AvifSource, index: int, items: list[int] | None) -> object:
        if index == 1:
            raise av.InvalidDataError(1094995529, "Invalid data found when processing input")
        return real(self, index, items)

    data = encode(_photo_cut_out(), "AVIF", quality=90)
    spec = ThumbnailSpec(format=OutputFormat.PNG)
    _, plain = _both(data, spec)
    monkeypatch.setattr(_avif.AvifSource, "_decode_stream", refuse_alpha)
    monkeypatch.setattr(_decode, "USE_AV", True)
    image = open_thumbnail(render(data, spec)[0])
    assert ImageChops.difference(image, plain[0]).getbbox() is None


def _alpha_payload(data: bytes) -> tuple[int, int]:
    """Offset and size of the alpha picture's AV1 data in the file."""
    alpha = read_items(data).alpha
    with av.open(BytesIO(data), format="mov") as box:
        for packet in box.demux():
            if packet.stream.id == alpha and packet.size:
                assert packet.pos is not None
                return packet.pos, packet.size
    raise AssertionError("no alpha packet")


@pytest.mark.parametrize("use_av", [True, False], ids=["pyav", "pillow"])
def test_damaged_alpha_item_is_corrupt(use_av: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_decode, "USE_AV", use_av)
    data = encode(_photo_cut_out(), "AVIF", quality=90)
    start, _ = _alpha_payload(data)
    broken = data[:start] + bytes(16) + data[start + 16 :]  # its sequence header is gone
    with pytest.raises(CorruptImage) as caught:
        render(broken)
    assert caught.value.kind == "corrupt"
    assert caught.value.__cause__ is not None


def test_ten_bit_avif_comes_out_in_eight_bits() -> None:
    pyvips = pytest.importorskip("pyvips")
    picture = _marked()
    vips_image = pyvips.Image.new_from_memory(picture.tobytes(), WIDTH, HEIGHT, 3, "uchar")
    data = vips_image.copy(interpretation="srgb").heifsave_buffer(
        compression="av1", bitdepth=10, Q=90
    )
    spec = ThumbnailSpec(format=OutputFormat.PNG)
    fast, plain = _both(data, spec)
    for image in (fast[0], plain[0]):
        assert image.mode == "RGB" and image.size == (128, 85)
        _assert_upright(image)
    assert _mean_difference(fast[0], plain[0]) < 1.5


def test_no_metadata_leaks() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {0x0002: (48.0, 51.0, 24.0)}  # GPS latitude
    data = encode(_marked(), "AVIF", exif=exif.tobytes(), xmp=b"<x:xmpmeta/>", quality=90)
    for fmt in (OutputFormat.JPEG, OutputFormat.PNG, OutputFormat.WEBP):
        image = open_thumbnail(render(data, ThumbnailSpec(format=fmt))[0])
        assert not image.getexif()
        assert "xmp" not in image.info and "XML:com.adobe.xmp" not in image.info


def test_pixel_limit_is_checked_before_pyav_opens_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[object] = []
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: opened.append(args))
    monkeypatch.setattr(_decode, "USE_AV", True)
    spec = ThumbnailSpec(limits=Limits(max_input_pixels=WIDTH * HEIGHT - 1))
    with pytest.raises(TooLarge):
        render(_oriented_avif(1), spec)
    assert opened == []


def _damaged(data: bytes) -> bytes:
    """The coded picture overwritten in its second half; the container stays valid."""
    broken = bytearray(data)
    middle = len(broken) // 2
    broken[middle : middle + 2000] = bytes((i * 7919) % 251 for i in range(2000))
    return bytes(broken)


@pytest.mark.parametrize("use_av", [True, False], ids=["pyav", "pillow"])
@pytest.mark.parametrize("damage", ["truncated", "damaged"])
def test_broken_avif_is_corrupt(use_av: bool, damage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_decode, "USE_AV", use_av)
    photo = _marked().resize((60, 40)).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    data = encode(photo, "AVIF", quality=95)
    broken = data[: len(data) // 2] if damage == "truncated" else _damaged(data)
    with pytest.raises(CorruptImage) as caught:
        render(broken)
    assert caught.value.kind == "corrupt"
    assert caught.value.__cause__ is not None


def test_a_file_ffmpeg_cannot_read_is_left_to_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(av, "open", refuse)
    monkeypatch.setattr(_decode, "USE_AV", True)
    image = open_thumbnail(render(_oriented_avif(6))[0])
    assert image.size == (128, 85)
    _assert_upright(image)


def test_small_avif_is_decoded_by_pillow(decoded_by_pyav: list[tuple[int, int]]) -> None:
    data = encode(_marked(200, 150), "AVIF", quality=90)
    assert open_thumbnail(render(data)[0]).size == (128, 96)
    assert decoded_by_pyav == []  # no 2x reduction to gain


def test_pillow_alone_reads_avif_when_pyav_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_decode, "USE_AV", None)
    monkeypatch.setitem(sys.modules, "av", None)  # as in a layer built --without video
    image = open_thumbnail(render(_oriented_avif(8))[0])
    assert image.size == (128, 85)
    _assert_upright(image)
    assert _decode.USE_AV is False

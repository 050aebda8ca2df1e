"""HEIC grids decoded a tile at a time (PyAV), checked against libheif's whole-picture decode."""

from __future__ import annotations

import dataclasses
import gc
import struct
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from imaging_helpers import (
    close,
    marked,
    open_thumbnail,
    record_decoded_sizes,
    rgb_at,
    with_orientation_steps,
)
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFilter, ImageStat

from thumbnailer import CorruptImage, RenderTimeout, ThumbnailerError, render
from thumbnailer.render import _decode, _heif_tiles, _isobmff, _pixels
from thumbnailer.render._isobmff import Items, LayoutError, read_grid, read_items
from thumbnailer.render.spec import Limits, OutputFormat, ThumbnailSpec

PNG = ThumbnailSpec(format=OutputFormat.PNG)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _picture(width: int, height: int) -> Image.Image:
    """Smooth ramps, a hard-edged disc and fine lines: colour, edges and detail to compare."""
    ramp = Image.linear_gradient("L").resize((width, height))
    image = Image.merge(
        "RGB",
        (
            ramp,
            ramp.transpose(Image.Transpose.ROTATE_90).resize(ramp.size),
            ramp.point(lambda v: 255 - v),
        ),
    )
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(230, 40, 40))
    for x in range(0, width, 9):
        draw.line((x, 0, x, height // 8), fill=(250, 250, 250))
    return image


def _heic(image: Image.Image, tile: int = 256, bits: int = 8, **options: Any) -> bytes:
    """``image`` as a HEIC grid of ``tile`` px tiles (0: one picture), ``bits`` per sample."""
    if bits == 8:
        heif = pillow_heif.from_pillow(image)
    else:  # 16-bit samples in, stored at 10 bits
        raw = image.tobytes()
        wide = bytearray(2 * len(raw))
        wide[0::2] = raw
        wide[1::2] = raw
        heif = pillow_heif.from_bytes(mode="RGB;16", size=image.size, data=bytes(wide))
    buffer = BytesIO()
    heif.save(buffer, quality=92, tile_size=tile, **options)
    return buffer.getvalue()


def _with_libheif(data: bytes, spec: ThumbnailSpec, monkeypatch: pytest.MonkeyPatch) -> Image.Image:
    """The thumbnail libheif's whole-picture decode gives (the path without PyAV)."""
    with monkeypatch.context() as patch:
        patch.setattr(_decode, "USE_AV", False)
        return open_thumbnail(render(data, spec)[0])


def _assert_matches_libheif(
    data: bytes, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's thumbnail of ``data`` is ``size`` and looks like libheif's."""
    expected = _with_libheif(data, PNG, monkeypatch)
    actual = open_thumbnail(render(data, PNG)[0])
    assert actual.size == expected.size == size
    difference = ImageChops.difference(actual, expected)
    assert max(ImageStat.Stat(difference).mean) < 1.5
    # The two convert 4:2:0 chroma alike but not identically: edges differ a little.
    assert max(high for _, high in ImageStat.Stat(difference).extrema) < 40


@pytest.fixture
def tile_decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Sizes of the pictures the tile path returned (it returns ``None`` when it declines)."""
    monkeypatch.setattr(_decode, "USE_AV", None)  # decided afresh: PyAV is installed here
    return record_decoded_sizes(monkeypatch, _heif_tiles.TileGrid)


@pytest.mark.parametrize(
    ("bits", "options"),
    [
        (8, {}),
        (10, {}),
        (8, {"chroma": 444}),
        (8, {"chroma": 422}),
        # With an ICC profile the colr box holds it instead of nclx (as phones write): the
        # matrix and range then come from the HEVC stream, here BT.709 in limited range.
        (8, {"icc_profile": SRGB, "matrix_coefficients": 1, "full_range_flag": 0}),
    ],
    ids=["8-bit 4:2:0", "10-bit 4:2:0", "8-bit 4:4:4", "8-bit 4:2:2", "ICC, BT.709 limited"],
)
def test_grid_matches_libheif(
    bits: int,
    options: dict[str, Any],
    tile_decodes: list[tuple[int, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1100x700 in 256 px tiles: the last column and row of tiles are cropped.
    data = _heic(_picture(1100, 700), bits=bits, **options)
    assert (b"colrnclx" in data) is ("icc_profile" not in options)
    _assert_matches_libheif(data, (128, 81), monkeypatch)
    assert tile_decodes, "the grid was not decoded tile by tile"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_grid_rotation_and_mirroring_match_libheif(
    orientation: int, tile_decodes: list[tuple[int, int]]
) -> None:
    upright = marked(600, 400, (220, 20, 20), (20, 20, 220))
    stored, exif = with_orientation_steps(upright, orientation)
    # pillow-heif turns the EXIF orientation into the grid's irot/imir properties.
    data = _heic(stored, exif=exif)
    image = open_thumbnail(render(data)[0])
    assert tile_decodes
    assert image.size == (128, 85)
    assert close(rgb_at(image, (10, 10)), (220, 20, 20), 40)
    assert close(rgb_at(image, (118, 75)), (20, 20, 220), 40)
    assert close(rgb_at(image, (118, 10)), (128, 128, 128), 40)


@pytest.mark.parametrize(
    ("bits", "options"),
    [(8, {}), (10, {}), (8, {"chroma": 444})],
    ids=["8-bit 4:2:0", "10-bit 4:2:0", "8-bit 4:4:4"],
)
def test_a_single_picture_is_converted_in_strips_and_matches_libheif(
    bits: int,
    options: dict[str, Any],
    tile_decodes: list[tuple[int, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1501 px wide: odd, so chroma rows and strips do not line up with anything.
    monkeypatch.setattr(_heif_tiles, "_STRIP_PIXELS", 1501 * 40)  # 14 strips of 40 rows
    data = _heic(_picture(1501, 545), tile=0, bits=bits, **options)
    assert read_items(data).types[read_items(data).primary] == b"hvc1"
    _assert_matches_libheif(data, (128, 46), monkeypatch)
    assert tile_decodes


def _cut_out(width: int, height: int) -> Image.Image:
    """The test picture as a cut-out: an opaque disc, a soft edge, nothing around it.

    The colour under the invisible part is black, as cut-out tools leave it: averaged in
    without alpha as weight, it would darken the edges.
    """
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse((width // 8, height // 8, width * 7 // 8, height * 7 // 8), 255)
    mask = mask.filter(ImageFilter.GaussianBlur(width // 60))
    image = Image.composite(_picture(width, height), Image.new("RGB", (width, height)), mask)
    image.putalpha(mask)
    return image


@pytest.mark.parametrize(("width", "height"), [(1100, 700), (1101, 701)], ids=["even", "odd"])
def test_a_picture_with_alpha_is_decoded_here_and_matches_libheif(
    width: int,
    height: int,
    tile_decodes: list[tuple[int, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pillow-heif stores a picture with alpha (and its alpha) as single pictures, not grids;
    # odd sides are padded, and both pictures get a clean aperture trimming the padding.
    monkeypatch.setattr(_heif_tiles, "_STRIP_PIXELS", width * 40)  # strips of 40 rows
    data = _heic(_cut_out(width, height), tile=0)
    items = read_items(data)
    assert items.alpha is not None and items.types[items.alpha] == b"hvc1"
    expected = _with_libheif(data, PNG, monkeypatch)
    actual = open_thumbnail(render(data, PNG)[0])
    assert tile_decodes, "the picture with alpha went to libheif"
    assert actual.mode == expected.mode == "RGBA"
    assert actual.size == expected.size == (128, 81)
    alpha = ImageChops.difference(actual.getchannel("A"), expected.getchannel("A"))
    assert ImageStat.Stat(alpha).mean[0] < 1
    # Colour where it can be seen (libheif keeps some colour under invisible pixels).
    visible = actual.getchannel("A").point(lambda a: 255 if a >= 16 else 0)
    colour = ImageChops.difference(actual.convert("RGB"), expected.convert("RGB"))
    assert max(ImageStat.Stat(colour, visible).mean) < 1.5
    # Flattened onto white for JPEG alike: the black under the invisible part stays out.
    jpeg = ThumbnailSpec(format=OutputFormat.JPEG)
    flat = open_thumbnail(render(data, jpeg)[0])
    flat_expected = _with_libheif(data, jpeg, monkeypatch)
    assert max(ImageStat.Stat(ImageChops.difference(flat, flat_expected)).mean) < 1.5
    assert min(rgb_at(flat, (4, 4))) > 245  # a corner, outside the disc: white


def test_the_edges_of_a_cut_out_keep_their_colour(tile_decodes: list[tuple[int, int]]) -> None:
    # A red disc with a hard edge, black where it is invisible; 4:4:4, so that no chroma
    # sample spans the edge. Boxes across the edge must weigh each pixel by its alpha.
    image = Image.new("RGBA", (1600, 1000), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((200, 100, 1400, 900), fill=(220, 20, 20, 255))
    thumbnail = open_thumbnail(render(_heic(image, tile=0, chroma=444), PNG)[0])
    assert tile_decodes
    seen = [p for p in thumbnail.get_flattened_data() if isinstance(p, tuple) and p[3] >= 48]
    assert len(seen) > 2000
    assert all(red >= 180 and green <= 60 for red, green, _, _ in seen)


def test_an_alpha_plane_not_decodable_here_goes_to_libheif(
    tile_decodes: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for limited-range alpha: the alpha's frames get no conversion.
    real = _heif_tiles.TileGrid._conversion

    def no_alpha(self: _heif_tiles.TileGrid, frame: Any) -> tuple[int, int] | None:
        return None if self.is_alpha else real(self, frame)

    monkeypatch.setattr(_heif_tiles.TileGrid, "_conversion", no_alpha)
    image = open_thumbnail(render(_heic(_cut_out(600, 400), tile=0), PNG)[0])
    assert tile_decodes == []
    assert image.mode == "RGBA"
    assert image.getpixel((2, 2))[3] == 0  # type: ignore[index]
    assert image.getpixel((64, 40))[3] == 255  # type: ignore[index]


def test_a_10_bit_picture_with_alpha_is_decoded_here_and_matches_libheif(
    tile_decodes: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cut_out = _cut_out(600, 400)
    raw = cut_out.tobytes()
    wide = bytearray(2 * len(raw))
    wide[0::2] = wide[1::2] = raw
    heif = pillow_heif.from_bytes(mode="RGBA;16", size=cut_out.size, data=bytes(wide))
    buffer = BytesIO()
    heif.save(buffer, quality=92)
    data = buffer.getvalue()
    items = read_items(data)
    assert items.alpha is not None and _heif_tiles._pixi(items, items.alpha) == (10,)
    expected = _with_libheif(data, PNG, monkeypatch)
    actual = open_thumbnail(render(data, PNG)[0])
    assert tile_decodes
    assert actual.size == expected.size
    # libheif keeps the top 8 of the 10 bits; so does this path.
    alpha = ImageChops.difference(actual.getchannel("A"), expected.getchannel("A"))
    assert ImageStat.Stat(alpha).mean[0] < 0.5
    visible = actual.getchannel("A").point(lambda a: 255 if a >= 16 else 0)
    colour = ImageChops.difference(actual.convert("RGB"), expected.convert("RGB"))
    assert max(ImageStat.Stat(colour, visible).mean) < 1.5


def test_alpha_of_other_depths_stays_with_libheif(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _heic(_cut_out(600, 400), tile=0)
    assert _heif_tiles.find_tiles(data, 50_000_000) is not None

    _with_items(monkeypatch, _alpha_property(b"pixi", bytes([0, 0, 0, 0, 1, 12])))
    assert _heif_tiles.find_tiles(data, 50_000_000) is None


def test_alpha_of_a_grid_stays_with_libheif(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _heic(_picture(600, 400))  # an opaque grid; one of its tiles made out as alpha
    assert _heif_tiles.find_tiles(data, 50_000_000) is not None

    def with_alpha(items: Items) -> Items:
        return dataclasses.replace(items, alpha=items.targets(items.primary, b"dimg")[0])

    _with_items(monkeypatch, with_alpha)
    assert _heif_tiles.find_tiles(data, 50_000_000) is None


def test_a_premultiplied_picture_stays_with_libheif(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _heic(_cut_out(600, 400), tile=0)
    assert _heif_tiles.find_tiles(data, 50_000_000) is not None
    _with_items(monkeypatch, lambda items: dataclasses.replace(items, premultiplied=True))
    assert _heif_tiles.find_tiles(data, 50_000_000) is None


def test_an_alpha_plane_of_another_size_stays_with_libheif(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _heic(_cut_out(600, 400), tile=0)

    _with_items(monkeypatch, _alpha_property(b"ispe", struct.pack(">III", 0, 300, 200)))
    assert _heif_tiles.find_tiles(data, 50_000_000) is None


def test_a_grid_whose_tile_ffmpeg_rejects_goes_to_libheif(
    tile_decodes: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    def reject(*args: Any) -> None:
        raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(_heif_tiles.TileGrid, "_rgb", reject)
    image = open_thumbnail(render(_heic(marked(600, 400, (220, 20, 20), (20, 20, 220))))[0])
    assert tile_decodes == []
    assert close(rgb_at(image, (10, 10)), (220, 20, 20), 40)


def test_tiles_larger_than_their_boxes_say_are_not_decoded_here(
    tile_decodes: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tiles' ispe claims 64x64; the HEVC pictures are 512x512. FFmpeg must refuse to
    # allocate them (the pixel budget was charged for what the boxes say), so no picture
    # ever comes out of it.
    pictures: list[int] = []
    real = _heif_tiles.TileGrid._conversion

    def spy(self: _heif_tiles.TileGrid, frame: Any) -> tuple[int, int] | None:
        pictures.append(frame.width)
        return real(self, frame)

    monkeypatch.setattr(_heif_tiles.TileGrid, "_conversion", spy)
    data = _heic(_picture(1100, 700))  # 5 x 3 tiles of 256 px
    edits = [  # the tiles, the grid item's size and its layout: 64 px tiles, 300x150
        (
            b"ispe\0\0\0\0" + (256).to_bytes(4, "big") * 2,
            b"ispe\0\0\0\0" + (64).to_bytes(4, "big") * 2,
        ),
        (
            b"ispe\0\0\0\0" + struct.pack(">II", 1100, 700),
            b"ispe\0\0\0\0" + struct.pack(">II", 300, 150),
        ),
        (
            b"\0\0\x02\x04" + struct.pack(">HH", 1100, 700),
            b"\0\0\x02\x04" + struct.pack(">HH", 300, 150),
        ),
    ]
    for old, new in edits:
        assert data.count(old) == 1
        data = data.replace(old, new)
    grid = _heif_tiles.find_tiles(data, 50_000_000)
    assert grid is not None and grid.size == (300, 150)  # the boxes agree with each other
    try:
        render(data)
    except ThumbnailerError as error:
        assert error.kind in ("corrupt", "too_large")
    assert tile_decodes == []
    assert pictures == []


@pytest.mark.parametrize("use_av", [None, False], ids=["tiles", "libheif"])
def test_a_cut_grid_is_a_classified_error(
    use_av: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libheif itself would show the missing tiles as blank (green) squares.
    monkeypatch.setattr(_decode, "USE_AV", use_av)
    data = _heic(_picture(600, 400))
    with pytest.raises(CorruptImage, match="truncated"):
        render(data[: len(data) * 2 // 3])


def test_the_time_budget_stops_a_grid_between_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_decode, "USE_AV", None)
    real = _heif_tiles.TileGrid._rgb
    converted: list[int] = []

    def slow(self: _heif_tiles.TileGrid, *args: Any) -> Image.Image:
        converted.append(1)
        time.sleep(0.05)
        return real(self, *args)

    monkeypatch.setattr(_heif_tiles.TileGrid, "_rgb", slow)
    data = _heic(_picture(1024, 1024), tile=128)  # 64 tiles
    spec = ThumbnailSpec(limits=Limits(time_budget_seconds=0.5))
    started = time.monotonic()
    with pytest.raises(RenderTimeout, match="HEIC tiles"):
        render(data, spec)
    assert time.monotonic() - started < 2.0
    assert 0 < len(converted) < 64


def _alive(kind: type) -> int:
    gc.collect()
    return sum(isinstance(item, kind) for item in gc.get_objects())


def _os_threads() -> int:
    return sum(1 for _ in Path("/proc/self/task").iterdir())


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("use_av", [None, False], ids=["tiles", "libheif"])
def test_a_kept_error_holds_no_decoder(
    use_av: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch keeps each failure until it reports them all: the error's traceback must not
    # keep libheif's decoded picture, or FFmpeg's decoder and its threads, alive meanwhile.
    from av.video.codeccontext import VideoCodecContext

    monkeypatch.setattr(_decode, "USE_AV", use_av)
    data = _heic(_picture(1024, 1024), tile=128)
    render(data)  # threads a decoder keeps for the process are started by now
    threads = _os_threads()
    if use_av is None:  # out of time between two tiles, the decoder in mid-picture
        real = _heif_tiles.TileGrid._rgb

        def slow(self: _heif_tiles.TileGrid, *args: Any) -> Image.Image:
            time.sleep(0.05)
            return real(self, *args)

        monkeypatch.setattr(_heif_tiles.TileGrid, "_rgb", slow)
        spec = ThumbnailSpec(limits=Limits(time_budget_seconds=0.3))
    else:  # a library error after libheif decoded the whole picture

        def fail(*args: Any) -> Image.Image:
            raise ValueError("a library error")

        monkeypatch.setattr(_pixels, "shrink_to_working_mode", fail)
        spec = ThumbnailSpec()
    with pytest.raises(ThumbnailerError) as caught:
        render(data, spec)
    kept = caught.value
    assert kept.kind == ("timeout" if use_av is None else "corrupt")
    assert _alive(VideoCodecContext) == 0
    assert _alive(pillow_heif.HeifFile) == 0
    assert _os_threads() <= threads  # (a decoder's worker threads may end meanwhile)


def test_grid_layout_is_read_from_the_file() -> None:
    data = _heic(_picture(1100, 700))
    items = read_items(data)
    assert items.types[items.primary] == b"grid"
    grid = read_grid(items.data(data, items.primary))
    assert (grid.rows, grid.columns, grid.width, grid.height) == (3, 5, 1100, 700)
    assert len(items.targets(items.primary, b"dimg")) == 15


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x01\x00\x00\x00\x00\x10\x00\x10",
        b"\x00\x00\x00\x00\x00\x10\x00",
        b"\x00\x01" + b"\0" * 8,
    ],
    ids=["empty", "version 1", "short", "32-bit fields cut"],
)
def test_a_damaged_grid_layout_is_refused(payload: bytes) -> None:
    with pytest.raises(LayoutError):
        read_grid(payload)


def _clap(width: int, height: int, across: tuple[int, int], down: tuple[int, int]) -> bytes:
    return struct.pack(">IIIIiIiI", width, 1, height, 1, *across, *down)


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ([], (1502, 546)),
        # What encoders write for 1501x545 coded as 1502x546: the top-left part.
        ([(b"clap", _clap(1501, 545, (-1, 2), (-1, 2)))], (1501, 545)),
        ([(b"clap", _clap(1500, 544, (0, 1), (0, 1)))], None),  # centred: cuts the left edge
        ([(b"irot", b"\x01"), (b"clap", _clap(1501, 545, (-1, 2), (-1, 2)))], None),
        ([(b"clap", _clap(1501, 545, (-1, 0), (-1, 2)))], None),
        ([(b"clap", b"\0" * 31)], None),
    ],
    ids=["none", "top-left", "centred", "after a rotation", "zero denominator", "short"],
)
def test_only_a_clean_aperture_at_the_top_left_is_applied_here(
    properties: list[tuple[bytes, bytes]], expected: tuple[int, int] | None
) -> None:
    items = Items(
        primary=1,
        types={1: b"hvc1"},
        alpha=None,
        premultiplied=False,
        tracks=False,
        properties={1: properties},
        references=[],
        locations={},
        idat=None,
    )
    if expected is None:
        with pytest.raises(LayoutError):
            _heif_tiles._clean_aperture(items, 1, (1502, 546))
    else:
        assert _heif_tiles._clean_aperture(items, 1, (1502, 546)) == expected


def _with_items(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Make the tile path see the file's items as ``change(items)`` returns them."""
    real = _heif_tiles.read_items
    monkeypatch.setattr(_heif_tiles, "read_items", lambda data: change(real(data)))


def _alpha_property(name: bytes, payload: bytes) -> Callable[[Items], Items]:
    """A change for :func:`_with_items`: the alpha item's ``name`` property reads ``payload``."""

    def change(items: Items) -> Items:
        assert items.alpha is not None
        found = items.properties[items.alpha]
        replaced = [(kind, payload if kind == name else old) for kind, old in found]
        return dataclasses.replace(items, properties={**items.properties, items.alpha: replaced})

    return change


def test_tiles_with_their_own_transforms_stay_with_libheif(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _heic(_picture(600, 400))
    assert _heif_tiles.find_tiles(data, 50_000_000) is not None

    def mirrored_tiles(items: Items) -> Items:
        tiles = items.targets(items.primary, b"dimg")
        properties = {
            item: [*found, (b"imir", b"\0")] if item in tiles else found
            for item, found in items.properties.items()
        }
        return dataclasses.replace(items, properties=properties)

    _with_items(monkeypatch, mirrored_tiles)
    assert _heif_tiles.find_tiles(data, 50_000_000) is None


def test_tiles_repeating_the_file_stay_with_libheif(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _heic(_picture(600, 400))

    def repeated(items: Items) -> Items:
        tile = items.targets(items.primary, b"dimg")[0]
        extents, in_idat = items.locations[tile]
        locations = {**items.locations, tile: (extents * 32, in_idat)}
        return dataclasses.replace(items, locations=locations)

    _with_items(monkeypatch, repeated)
    assert _heif_tiles.find_tiles(data, 50_000_000) is None


def test_tiles_over_the_pixel_limit_stay_with_libheif() -> None:
    data = _heic(_picture(600, 400))  # 3 x 2 tiles of 256 px: 393,216 pixels decoded
    assert _heif_tiles.find_tiles(data, 393_216) is not None
    assert _heif_tiles.find_tiles(data, 393_215) is None


def test_a_picture_at_the_pixel_limit_keeps_the_tiles_that_pad_it(
    tile_decodes: list[tuple[int, int]],
) -> None:
    # 4 x 3 tiles of 256 px: 786,432 pixels decoded for a 750,000-pixel picture (4.9 % more,
    # what padding to whole tiles costs), as a 50 MP photo's tiles go 0.8 % over 50 MP.
    data = _heic(_picture(1000, 750))
    spec = ThumbnailSpec(limits=Limits(max_input_pixels=750_000))
    [thumbnail] = render(data, spec)
    assert (thumbnail.width, thumbnail.height) == (128, 96)
    assert len(tile_decodes) == 1  # the tiles, not libheif's whole picture


def test_items_stored_elsewhere_are_left_without_a_location() -> None:
    # iloc version 1, 4-byte offsets and lengths: item 1 in this file, item 2 built from
    # other items (construction method 2), item 3 "to the end of the file" (length 0).
    entries = [(1, 0, [(100, 20)]), (2, 2, [(0, 8)]), (3, 0, [(120, 0)])]
    payload = struct.pack(">IBBH", 1 << 24, 0x44, 0x00, len(entries))
    for item, method, extents in entries:
        payload += struct.pack(">HHHH", item, method, 0, len(extents))
        payload += b"".join(struct.pack(">II", offset, size) for offset, size in extents)
    locations = _isobmff._locations(memoryview(payload), 0, len(payload))
    assert locations == {1: ([(100, 20)], False)}

"""Still WebP files go straight to libwebp (Pillow's copy), decoded at a reduced size."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from imaging_helpers import (
    damaged_copies,
    encode,
    open_thumbnail,
    record_decoded_sizes,
    rgb_at,
    rgb_profile_swapping_red_and_green,
)
from PIL import Image, ImageDraw

from thumbnailer import render, samples
from thumbnailer.errors import CorruptImage, RenderTimeout, ThumbnailerError, TooLarge
from thumbnailer.render import _decode, _libwebp, _webp
from thumbnailer.render._deadline import Deadline
from thumbnailer.render._decode import PixelBudget
from thumbnailer.render.spec import Limits, OutputFormat, ThumbnailSpec


@pytest.fixture
def decoded_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The sizes libwebp decoded to, with the engine choosing its paths as in production."""
    monkeypatch.setattr(_decode, "USE_LIBWEBP", None)
    return record_decoded_sizes(monkeypatch, _webp.WebpSource)


@pytest.fixture
def without_libwebp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No loadable libwebp: neither file is there, nor does libc have its functions."""
    monkeypatch.setattr(_libwebp, "_candidates", lambda: iter(["libnot-webp.so.0", "libc.so.6"]))
    monkeypatch.setattr(_decode, "USE_LIBWEBP", None)
    _libwebp.load.cache_clear()
    yield
    _libwebp.load.cache_clear()


def _disc_on_transparent_black() -> Image.Image:
    image = Image.new("RGBA", (1200, 800), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((200, 100, 1000, 700), fill=(230, 40, 40, 255))
    return image


def test_libwebp_loads_from_pillow() -> None:
    codec = _libwebp.load()
    assert codec is not None
    # The wheel's own copy (manylinux or macOS), not whatever the system has.
    assert "pillow.libs" in codec.path or ".dylibs" in codec.path, codec.path


def test_a_still_webp_is_decoded_straight_to_a_reduced_size(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    [thumbnail] = render(samples.webp(2400, 1600))
    assert (thumbnail.width, thumbnail.height) == (128, 85)
    # About 1.5x the thumbnail, never the 2400x1600 picture.
    [(width, height)] = decoded_sizes
    assert 192 <= width < 256 and 128 <= height < 171


def test_a_webp_smaller_than_the_box_is_decoded_at_its_own_size(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    [thumbnail] = render(samples.webp(100, 60))
    assert (thumbnail.width, thumbnail.height) == (100, 60)
    assert decoded_sizes == [(100, 60)]


def test_an_animated_webp_is_left_to_the_other_paths(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    frames = [Image.new("RGB", (600, 400), colour) for colour in ((20, 20, 220), (220, 20, 20))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    image = open_thumbnail(render(data)[0])
    assert decoded_sizes == []
    assert rgb_at(image, (64, 40))[2] > 200  # the first frame: blue


@pytest.mark.parametrize(
    "options", [{"quality": 90}, {"lossless": True}], ids=["lossy", "lossless"]
)
def test_transparent_edges_keep_their_colour(
    options: dict[str, Any], decoded_sizes: list[tuple[int, int]]
) -> None:
    data = encode(_disc_on_transparent_black(), "WEBP", **options)
    image = open_thumbnail(render(data, ThumbnailSpec(format=OutputFormat.PNG))[0])
    assert decoded_sizes and image.mode == "RGBA"
    edge = [p for p in image.get_flattened_data() if isinstance(p, tuple) and 16 <= p[3] < 240]
    # Colour averaged with alpha as its weight: no black pulled in from the transparent pixels.
    assert edge and all(p[0] > 200 and p[1] < 70 for p in edge)


def test_colour_profile_and_orientation_come_from_the_riff_chunks(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    profile = rgb_profile_swapping_red_and_green()
    if len(profile) % 2 == 0:
        profile += b"\x00"  # odd: the chunk is padded, and the EXIF chunk follows the pad
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: shown 600 wide, 900 high
    stored = Image.new("RGB", (900, 600), (200, 30, 30))
    data = encode(stored, "WEBP", icc_profile=profile, exif=exif.tobytes())
    image = open_thumbnail(render(data)[0])
    assert decoded_sizes
    assert image.size == (85, 128)
    red, green, _ = rgb_at(image, (40, 60))
    assert green > 150 and red < 80  # the profile's red is sRGB green


def test_a_webp_cut_short_in_its_pixels_is_corrupt(decoded_sizes: list[tuple[int, int]]) -> None:
    data = samples.webp(1200, 800)
    with pytest.raises(CorruptImage, match="truncated") as info:
        render(data[: len(data) * 2 // 3])
    assert info.value.kind == "corrupt"


def test_the_pixel_limit_is_checked_before_decoding(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    spec = ThumbnailSpec(limits=Limits(max_input_pixels=1_000_000))
    with pytest.raises(TooLarge, match="1200x1000"):
        render(samples.webp(1200, 1000), spec)
    assert decoded_sizes == []


@pytest.mark.usefixtures("without_libwebp")
def test_without_a_usable_libwebp_the_other_paths_decode(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    [thumbnail] = render(samples.webp(1200, 800))
    assert (thumbnail.width, thumbnail.height) == (128, 85)
    assert decoded_sizes == [] and _decode.USE_LIBWEBP is False


class _ExpiresAfter(Deadline):
    """A time budget spent after ``checks`` checks."""

    def __init__(self, checks: int) -> None:
        super().__init__(60.0)
        self.left = checks

    def expired(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_a_lossy_webp_with_alpha_is_decoded_in_steps_within_the_time_budget(
    planes_closed: list[bool],
) -> None:
    codec = _libwebp.load()
    assert codec is not None
    data = _lossy_with_alpha()
    assert len(data) > 3 * _webp._MIN_STEP  # read in several steps
    source = _webp.open_still_webp(data, PixelBudget(10**8), codec, _ExpiresAfter(2))
    assert source is not None
    with pytest.raises(RenderTimeout, match="decoding the WebP image"):
        source.decode((256, 192))
    assert planes_closed == [True]  # the decoder's memory is gone with the error
    # With time enough, the same file decodes: box-shrunk by an even factor, 6 here.
    source = _webp.open_still_webp(data, PixelBudget(10**8), codec, _ExpiresAfter(100))
    assert source is not None
    assert source.decode((256, 192)).size == (267, 200)
    assert planes_closed == [True, True]


@pytest.mark.parametrize("alpha", [False, True], ids=["scaled", "in-steps"])
def test_random_damage_is_classified_on_both_libwebp_paths(
    alpha: bool, decoded_sizes: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_webp, "_MIN_STEP", 1024)  # damage lands across several steps
    image = samples.photo(600, 400, seed=4)
    if alpha:
        image.putalpha(Image.linear_gradient("L").resize(image.size))
    source = encode(image, "WEBP", quality=70)
    outcomes: set[str] = set()
    for damaged in damaged_copies(source, 99, count=80, most_changes=8):
        try:
            render(damaged)
            outcomes.add("ok")
        except ThumbnailerError as exc:
            assert exc.kind in {"corrupt", "too_large", "unsupported"} and exc.message
            outcomes.add(exc.kind)
    assert decoded_sizes  # libwebp, not a fallback, saw these files
    assert "corrupt" in outcomes


@pytest.mark.parametrize(
    ("options", "size", "alpha"),
    [
        ({"quality": 80}, (1200, 800), False),  # opaque: scaled while decoding
        ({"lossless": True}, (1200, 800), True),  # lossless: scaled while decoding
        ({"quality": 80}, (240, 160), True),  # lossy with alpha, little to shrink: whole
    ],
    ids=["lossy", "lossless-alpha", "lossy-alpha-small"],
)
def test_libwebps_worker_thread_changes_no_byte(
    options: dict[str, Any], size: tuple[int, int], alpha: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    codec = _libwebp.load()
    assert codec is not None
    image = samples.photo(*size, seed=6)
    if alpha:
        image.putalpha(Image.linear_gradient("L").resize(image.size))
    data = encode(image, "WEBP", **options)
    outputs = set()
    for threads in (False, True):
        monkeypatch.setattr(codec, "threads", threads)
        outputs.add(render(data)[0].data)
    assert len(outputs) == 1


@pytest.mark.parametrize("target", [(300, 201), (200, 134)], ids=["factor-4", "factor-6"])
def test_one_colour_under_any_alpha_shrinks_to_that_colour(target: tuple[int, int]) -> None:
    # Odd sides (1203 = 4 x 300 + 3): the last boxes of rows and columns are partial, and
    # their last chroma sample stands for a single column or row.
    rng = random.Random(5)
    cells = (402, 270)
    pattern = bytes(rng.choice([0, 40, 128, 255]) for _ in range(cells[0] * cells[1]))
    image = Image.new("RGB", (1203, 807), (200, 60, 30))
    image.putalpha(
        Image.frombytes("L", cells, pattern).resize(image.size, Image.Resampling.NEAREST)
    )
    data = encode(image, "WEBP", quality=90, exact=True)
    codec = _libwebp.load()
    assert codec is not None
    source = _webp.open_still_webp(data, PixelBudget(10**8), codec)
    assert source is not None
    shrunk = source.decode(target)
    visible = [p for p in shrunk.get_flattened_data() if isinstance(p, tuple) and p[3] >= 16]
    assert len(visible) > shrunk.width * shrunk.height // 2
    assert all(
        max(abs(c - e) for c, e in zip(p, (200, 60, 30), strict=False)) <= 3 for p in visible
    )


def _lossy_with_alpha(width: int = 1600, height: int = 1200) -> bytes:
    image = samples.photo(width, height, seed=3)
    image.putalpha(Image.linear_gradient("L").resize(image.size))
    return encode(image, "WEBP", quality=80)


def _decoding_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "webp-decode" and t.is_alive()]


@pytest.fixture
def planes_closed(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each decode in steps: whether no decoding thread was running when it was freed."""
    closed: list[bool] = []
    real = _libwebp.IncrementalDecode.close

    def spy(self: _libwebp.IncrementalDecode) -> None:
        closed.append(not _decoding_threads())
        real(self)

    monkeypatch.setattr(_libwebp.IncrementalDecode, "close", spy)
    return closed


def test_a_decoding_error_on_the_decoder_thread_reaches_the_caller(
    planes_closed: list[bool],
) -> None:
    data = _lossy_with_alpha()
    with pytest.raises(CorruptImage, match="truncated"):
        render(data[: len(data) * 3 // 4])
    assert planes_closed == [True]
    assert not _decoding_threads()


def test_a_failing_shrink_stops_the_decoder_thread(
    planes_closed: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Image.Image:
        raise MemoryError

    monkeypatch.setattr(_webp, "_premultiplied_shrink", broken)
    with pytest.raises(TooLarge):  # the engine reports running out of memory as too_large
        render(_lossy_with_alpha())
    assert planes_closed == [True]
    assert not _decoding_threads()


def test_a_chroma_sample_at_an_odd_edge_weighs_for_the_pixels_it_covers() -> None:
    # 7x4 picture, a 4x4 box and a 3x4 one: luma and alpha flat, chroma U 128 except its
    # last column, which stands for the picture's last pixel column alone.
    planes = _libwebp.Planes(7, 4)
    try:
        planes.y[:] = bytes([128]) * 28
        planes.a[:] = bytes([255]) * 28
        planes.u[:] = bytes([128, 128, 128, 255]) * 2
        planes.v[:] = bytes([128]) * 8
        shrunk = _webp._premultiplied_shrink(planes, 0, 4, 4)
    finally:
        planes.close([])
    # In the 3-column box two columns have U 128 and one 255: the mean is 170.3, not 191.5.
    expected_blue = round(19077 / 16384 * 128 + 33050 / 16384 * (128 * 2 + 255) / 3 - 17717 / 64)
    assert abs(shrunk.getpixel((1, 0))[2] - expected_blue) <= 1
    assert shrunk.getpixel((0, 0))[:3] == shrunk.getpixel((0, 0))[:1] * 3  # grey box

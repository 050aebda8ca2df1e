"""Pure geometry: the sizes and crops users see, without any pixels."""

from __future__ import annotations

import pytest

from thumbnailer.render._geometry import oriented, plan, source_target
from thumbnailer.render.spec import Fit, Size


@pytest.mark.parametrize(
    ("source", "box", "expected"),
    [
        ((1800, 1200), Size(128, 128), (128, 85)),
        ((1200, 1800), Size(128, 128), (85, 128)),
        ((4000, 3000), Size(200, 100), (133, 100)),
        ((100, 50), Size(128, 128), (100, 50)),  # never upscaled
        ((10000, 1), Size(128, 128), (128, 1)),  # each side at least 1 px
        ((1, 10000), Size(128, 128), (1, 128)),
        ((128, 128), Size(128, 128), (128, 128)),
    ],
)
def test_fit_keeps_aspect_inside_box(
    source: tuple[int, int], box: Size, expected: tuple[int, int]
) -> None:
    result = plan(*source, box, Fit.FIT)
    assert result.scaled == expected
    assert result.canvas == expected
    assert result.crop == (0, 0, *source)


def test_cover_is_exactly_the_box_with_a_centred_crop() -> None:
    result = plan(4000, 2000, Size(100, 100), Fit.COVER)
    assert result.canvas == (100, 100)
    assert result.scaled == (100, 100)
    left, top, right, bottom = result.crop
    assert (right - left, bottom - top) == (2000, 2000)
    assert left == 1000  # centred horizontally
    assert top == 0


def test_cover_fills_the_box_even_from_a_small_source() -> None:
    result = plan(50, 20, Size(100, 100), Fit.COVER)
    assert result.canvas == (100, 100)
    left, top, right, bottom = result.crop
    assert (right - left, bottom - top) == (20, 20)


def test_pad_letterboxes_into_the_exact_box() -> None:
    result = plan(400, 200, Size(100, 100), Fit.PAD)
    assert result.canvas == (100, 100)
    assert result.scaled == (100, 50)
    assert result.offset == (0, 25)


def test_orientations_five_to_eight_swap_sides() -> None:
    assert [oriented(30, 20, o) for o in range(1, 9)] == [(30, 20)] * 4 + [(20, 30)] * 4


def test_source_target_leaves_a_margin_and_none_when_full_size_is_needed() -> None:
    plans = [plan(4000, 3000, Size(128, 128), Fit.FIT)]
    target = source_target(4000, 3000, plans)
    assert target is not None
    assert 256 <= target[0] < 4000
    big = [plan(4000, 3000, Size(3000, 3000), Fit.FIT)]
    assert source_target(4000, 3000, big) is None

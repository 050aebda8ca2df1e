"""Progressive JPEGs at 1/8 scale decode from only the scans that scale uses: same pixels."""

from __future__ import annotations

import random
from io import BytesIO
from typing import Any

import pytest
from imaging_helpers import encode
from PIL import Image, ImageChops, ImageFile

from thumbnailer import render
from thumbnailer.errors import CorruptImage
from thumbnailer.render import _jpeg
from thumbnailer.samples import photo


@pytest.fixture(autouse=True)
def _room_for_progressive_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow writes a progressive JPEG in one buffer; grainy test images outgrow the default.
    monkeypatch.setattr(ImageFile, "MAXBLOCK", 1 << 24)


def _progressive(size: tuple[int, int], mode: str = "RGB", **options: Any) -> bytes:
    image = photo(*size, seed=sum(size))
    if mode != "RGB":
        image = image.convert(mode)
    return encode(image, "JPEG", progressive=True, quality=90, **options)


def _eighth_scale(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    width, height = image.size
    image.draft(None, (max(1, width // 9), max(1, height // 9)))
    assert image.decoderconfig[0] == 8
    image.load()
    return image


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("RGB", {"subsampling": 0}),  # 4:4:4: every component at full resolution
        ("RGB", {"subsampling": 1}),  # 4:2:2
        ("RGB", {"subsampling": 2}),  # 4:2:0: chroma keeps its AC scans
        ("L", {}),
        ("CMYK", {}),
        ("RGB", {"restart_marker_rows": 1}),
        ("RGB", {"restart_marker_blocks": 7}),
        ("L", {"restart_marker_blocks": 1}),
    ],
)
@pytest.mark.parametrize("size", [(800, 600), (1001, 777), (64, 1003)])
def test_the_lighter_file_decodes_to_the_same_pixels(
    mode: str, options: dict[str, Any], size: tuple[int, int]
) -> None:
    data = _progressive(size, mode, **options)
    lighter = _jpeg.without_unused_scans(data)
    assert lighter is not None
    assert len(lighter) < len(data) / 2
    full, light = _eighth_scale(data), _eighth_scale(lighter)
    assert light.mode == full.mode
    assert light.size == full.size
    assert ImageChops.difference(full, light).getbbox() is None


def test_files_it_does_not_handle_are_left_alone() -> None:
    progressive = _progressive((400, 300))
    without_end = progressive[:-2]
    cut_in_a_scan = progressive[: len(progressive) * 2 // 3]
    baseline = encode(photo(400, 300), "JPEG")
    assert _jpeg.without_unused_scans(baseline) is None
    assert _jpeg.without_unused_scans(without_end) is None
    assert _jpeg.without_unused_scans(cut_in_a_scan) is None
    assert _jpeg.without_unused_scans(b"\xff\xd8\xff") is None
    assert _jpeg.without_unused_scans(b"not a jpeg") is None


def test_a_second_frame_header_is_left_alone() -> None:
    # The decoder and the pixel budget read the first frame header; rebuilding scans for a
    # later, larger one would allocate for a picture nobody checked (65535x65535 would
    # need gigabytes).
    progressive = _progressive((400, 300))
    start = progressive.index(b"\xff\xc2")
    length = int.from_bytes(progressive[start + 2 : start + 4], "big")
    frame = bytearray(progressive[start : start + 2 + length])
    frame[5:9] = (3000).to_bytes(2, "big") + (4000).to_bytes(2, "big")
    assert _jpeg.without_unused_scans(progressive) is not None
    assert _jpeg.without_unused_scans(progressive[:-2] + frame + b"\xff\xd9") is None


def _spy_lighter(monkeypatch: pytest.MonkeyPatch, *, enabled: bool) -> list[int]:
    """Record the size of each lighter file the engine decodes (or turn the path off)."""
    made: list[int] = []
    real = _jpeg.without_unused_scans

    def spy(data: bytes) -> bytes | None:
        lighter = real(data) if enabled else None
        if lighter is not None:
            made.append(len(lighter))
        return lighter

    monkeypatch.setattr(_jpeg, "without_unused_scans", spy)
    return made


def test_render_decodes_a_large_progressive_jpeg_from_its_dc_scans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _progressive((2400, 1600))
    with monkeypatch.context() as off:
        _spy_lighter(off, enabled=False)
        expected = render(data)
    made = _spy_lighter(monkeypatch, enabled=True)
    assert render(data) == expected  # byte-identical thumbnails
    assert len(made) == 1
    assert made[0] < len(data) / 2


def test_smaller_shrinks_decode_the_whole_progressive_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _spy_lighter(monkeypatch, enabled=True)
    render(_progressive((600, 400)))  # 1/4 scale at most for a 128 box: AC scans count
    assert made == []


def test_a_truncated_progressive_jpeg_is_still_corrupt() -> None:
    data = _progressive((2400, 1600))
    with pytest.raises(CorruptImage, match="truncated"):
        render(data[: len(data) // 2])


def test_damaged_files_never_break_the_rewrite() -> None:
    data = _progressive((400, 300), restart_marker_blocks=5)
    rng = random.Random(7)
    rewritten = 0
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randrange(1, 6)):
            damaged[rng.randrange(2, len(damaged))] = rng.choice((0xFF, rng.randrange(256)))
        lighter = _jpeg.without_unused_scans(bytes(damaged))
        rewritten += lighter is not None
    assert rewritten  # most damage lands in scan data, which the rewrite does not read

"""Every file of the public corpora renders or fails with a classified error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from imaging_helpers import open_thumbnail
from PIL import Image, ImageChops, ImageStat

from thumbnailer import ThumbnailerError, render
from thumbnailer.render import _decode
from thumbnailer.render.spec import OutputFormat, ThumbnailSpec

# Collection needs the file names before fixtures exist; same location rule as ``corpora``.
_ROOT = Path(
    os.environ.get("THUMBNAILER_CORPORA")
    or Path(__file__).resolve().parents[3].parent / "shared" / "corpora"
)
_PNGSUITE = sorted(p.name for p in (_ROOT / "pngsuite").glob("*.png"))
_ORIENTATION = sorted(p.name for p in (_ROOT / "exif-orientation").glob("*.jpg"))
# PngSuite's bad-IDAT-CRC file decodes in Pillow 13; both outcomes are acceptable for it.
_MAY_DECODE = {"xcsn0g01.png"}


@pytest.mark.parametrize("use_vips", [True, False], ids=["vips", "pillow"])
@pytest.mark.parametrize("name", _PNGSUITE or ["(corpus absent)"])
def test_pngsuite(
    corpora: Path, name: str, use_vips: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_decode, "USE_VIPS", use_vips)
    path = corpora / "pngsuite" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    data = path.read_bytes()
    if name.startswith("x") and name not in _MAY_DECODE:
        with pytest.raises(ThumbnailerError) as info:
            render(data)
        assert info.value.kind in {"corrupt", "unsupported"}
        return
    try:
        thumbnail = render(data, ThumbnailSpec(format=OutputFormat.PNG))[0]
    except ThumbnailerError as exc:
        assert name in _MAY_DECODE, f"{name}: {exc.kind}: {exc.message}"
        return
    with Image.open(path) as source:
        assert (thumbnail.width, thumbnail.height) == source.size  # all small: never upscaled
    image = open_thumbnail(thumbnail)
    if name.startswith(("tb", "tm3", "tp1")):  # PngSuite's files with transparency
        assert image.mode in ("RGBA", "LA")
        assert image.getchannel("A").getextrema()[0] == 0
    if name.startswith("basn0g16"):  # 16-bit grey must not be clipped to white
        low, high = image.convert("L").getextrema()  # type: ignore[misc]
        assert low < 50 and high > 200


@pytest.mark.parametrize("name", _ORIENTATION or ["(corpus absent)"])
def test_exif_orientation_examples_match_the_upright_reference(corpora: Path, name: str) -> None:
    folder = corpora / "exif-orientation"
    if not (folder / name).is_file():
        pytest.skip(f"{folder / name} not found")
    shape = name.split("_")[0]
    thumbnail = render((folder / name).read_bytes())[0]
    reference = render((folder / f"{shape}_1.jpg").read_bytes())[0]
    expected = (128, 85) if shape == "Landscape" else (85, 128)
    assert (thumbnail.width, thumbnail.height) == expected
    image = open_thumbnail(thumbnail)
    assert image.getexif().get(0x0112) in (None, 1)
    difference = ImageChops.difference(image.convert("L"), open_thumbnail(reference).convert("L"))
    assert ImageStat.Stat(difference).mean[0] < 8

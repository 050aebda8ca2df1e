"""Sample inputs: deterministic, each what its name says, and all handled by the engine."""

from __future__ import annotations

from io import BytesIO

from PIL import Image

from thumbnailer import CorruptImage, render, samples
from thumbnailer.render._sniff import Kind, sniff


def test_samples_are_deterministic_and_uniquely_named() -> None:
    first = samples.sample_inputs()
    assert first == samples.sample_inputs()
    stems = [name.rsplit(".", 1)[0] for name, _ in first]
    assert len(set(stems)) == len(stems)  # thumbnails named <stem>_<box> never collide


def test_samples_cover_the_promised_cases() -> None:
    kinds = {name: sniff(data) for name, data in samples.sample_inputs()}
    assert set(kinds.values()) >= {
        Kind.JPEG, Kind.PNG, Kind.WEBP, Kind.GIF, Kind.HEIF, Kind.PDF, Kind.VIDEO,
    }  # fmt: skip
    with Image.open(BytesIO(samples.cmyk_jpeg())) as image:
        assert image.mode == "CMYK"
    with Image.open(BytesIO(samples.gradient_16bit_png())) as image:
        assert image.mode.startswith("I;16")
    with Image.open(BytesIO(samples.rotated_phone_jpeg())) as image:
        assert image.getexif()[0x0112] == 6
    with Image.open(BytesIO(samples.transparent_png())) as image:
        assert image.mode == "RGBA"


def test_every_sample_renders_except_the_broken_one() -> None:
    for name, data in samples.sample_inputs():
        if name.startswith("broken"):
            try:
                render(data)
            except CorruptImage:
                continue
            raise AssertionError("the broken sample rendered")
        assert render(data), name


def test_photo_has_the_asked_size_and_looks_photographic() -> None:
    image = samples.photo(320, 200, seed=4)
    assert image.size == (320, 200)
    assert len(set(image.reduce(4).get_flattened_data())) > 1000  # many colours, not flat
    assert samples.photo(64, 64, seed=4).tobytes() != samples.photo(64, 64, seed=5).tobytes()

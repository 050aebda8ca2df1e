"""The format is decided from the content only, against an allowlist."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from thumbnailer import UnsupportedFormat, render
from thumbnailer.render._sniff import Kind, sniff


def _encoded(fmt: str, mode: str = "RGB") -> bytes:
    buffer = BytesIO()
    Image.new(mode, (8, 8), (10, 20, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [
        ("JPEG", Kind.JPEG),
        ("PNG", Kind.PNG),
        ("GIF", Kind.GIF),
        ("WEBP", Kind.WEBP),
        ("TIFF", Kind.TIFF),
        ("BMP", Kind.BMP),
        ("AVIF", Kind.AVIF),
    ],
)
def test_pillow_formats_are_recognised_by_their_bytes(fmt: str, kind: Kind) -> None:
    assert sniff(_encoded(fmt)) is kind


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", Kind.HEIF),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", Kind.AVIF),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", Kind.VIDEO),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", Kind.VIDEO),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", Kind.VIDEO),
        (b"%PDF-1.7\n", Kind.PDF),
    ],
)
def test_container_formats_are_recognised_by_their_brands(head: bytes, kind: Kind) -> None:
    assert sniff(head + b"\x00" * 32) is kind


@pytest.mark.parametrize(
    "data",
    [
        _encoded("PPM"),  # Pillow decodes these, but they are not on the allowlist
        _encoded("PCX"),
        _encoded("TGA"),
        _encoded("ICO"),
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"PK\x03\x04" + b"\x00" * 40,
        b"hello, this is text",
        b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A mp42"[:12] + b"\x00" * 20,
    ],
)
def test_anything_else_is_refused_before_decoding(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as info:
        render(data)
    assert info.value.kind == "unsupported"
    assert "not a supported" in info.value.message


def test_the_content_decides_not_the_claimed_type() -> None:
    # GIF bytes are rendered as a GIF whatever a caller believes the file is.
    thumbnails = render(_encoded("GIF"))
    assert thumbnails[0].width == 8

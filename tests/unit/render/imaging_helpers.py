"""Helpers for render tests: build inputs in code and look at what came out."""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import pytest
from PIL import Image, ImageDraw

from thumbnailer.render.spec import Thumbnail


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """Encode ``image`` as ``fmt`` with Pillow."""
    buffer = BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def damaged_copies(
    source: bytes, seed: object, count: int, most_changes: int, kept: int = 12
) -> Iterator[bytes]:
    """``count`` seeded copies of ``source``, each with 1 to ``most_changes - 1`` random bytes
    overwritten past its first ``kept`` bytes, and 3 in 10 also cut short there."""
    rng = random.Random(seed)
    for _ in range(count):
        damaged = bytearray(source)
        for _ in range(rng.randrange(1, most_changes)):
            damaged[rng.randrange(kept, len(damaged))] = rng.randrange(256)
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(kept, len(damaged))]
        yield bytes(damaged)


def record_decoded_sizes(
    monkeypatch: pytest.MonkeyPatch, owner: type, method: str = "decode"
) -> list[tuple[int, int]]:
    """Sizes of the images ``owner.method`` returns from now on (``None`` results are skipped).

    Shows what a decoder really decoded: a scaled decode, a preview, or the full picture.
    """
    sizes: list[tuple[int, int]] = []
    real: Callable[..., Image.Image | None] = getattr(owner, method)

    @functools.wraps(real)
    def recording(self: Any, *args: Any, **kwargs: Any) -> Image.Image | None:
        image = real(self, *args, **kwargs)
        if image is not None:
            sizes.append(image.size)
        return image

    monkeypatch.setattr(owner, method, recording)
    return sizes


def marked(
    width: int, height: int, top_left: tuple[int, int, int], bottom_right: tuple[int, int, int]
) -> Image.Image:
    """An upright picture: ``top_left`` quadrant, ``bottom_right`` quadrant, grey elsewhere."""
    image = Image.new("RGB", (width, height), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=top_left)
    draw.rectangle((width // 2, height // 2, width, height), fill=bottom_right)
    return image


# How to store an upright image so that orientation N (EXIF, or HEIF's irot/imir) shows it
# upright again.
_STORE = {
    1: [],
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_90],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_270],
}


def with_orientation_steps(upright: Image.Image, orientation: int) -> tuple[Image.Image, bytes]:
    """``upright`` as stored for EXIF ``orientation`` (1..8), and EXIF bytes that say so."""
    stored = upright
    for step in _STORE[orientation]:
        stored = stored.transpose(step)
    exif = Image.Exif()
    exif[0x0112] = orientation  # AVIF and HEIF encoders write it as irot/imir
    return stored, exif.tobytes()


def with_orientation(
    upright: Image.Image, orientation: int, fmt: str = "JPEG", quality: int = 95
) -> bytes:
    """``upright`` stored so that it shows upright under EXIF ``orientation`` (1..8)."""
    stored, exif = with_orientation_steps(upright, orientation)
    return encode(stored, fmt, exif=exif, quality=quality)


def open_thumbnail(thumbnail: Thumbnail) -> Image.Image:
    """Decode a thumbnail's bytes (fully loaded)."""
    image = Image.open(BytesIO(thumbnail.data))
    image.load()
    return image


def rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    """The RGB colour of one pixel, whatever the mode."""
    pixel = image.convert("RGB").getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int) -> bool:
    """Whether two colours differ by at most ``tolerance`` in every channel."""
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + _s15(x) + _s15(y) + _s15(z)


def _desc(text: str) -> bytes:
    ascii_text = text.encode() + b"\x00"
    return (
        b"desc\x00\x00\x00\x00"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + b"\x00" * 8  # Unicode language and count
        + b"\x00" * 3  # ScriptCode code and count
        + b"\x00" * 67
    )


def _profile(colour_space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table = struct.pack(">I", len(tags))
    body = b""
    for signature, data in tags:
        padded = data + b"\x00" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = 128 + table_size + len(body)
    header = (
        struct.pack(">I", size)
        + b"\x00" * 4
        + struct.pack(">I", 0x02100000)
        + (b"mntr" if colour_space == b"RGB " else b"prtr")
        + colour_space
        + (b"XYZ " if colour_space == b"RGB " else b"Lab ")
        + b"\x00" * 12
        + b"acsp"
        + b"\x00" * 28
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + table + body


# sRGB colorants adapted to D50, as ICC matrix profiles store them.
_RED = (0.4361, 0.2225, 0.0139)
_GREEN = (0.3851, 0.7169, 0.0971)
_BLUE = (0.1431, 0.0606, 0.7141)


def rgb_profile_swapping_red_and_green() -> bytes:
    """An RGB matrix profile whose first channel is sRGB's green and second its red.

    Pixels tagged with it that read (200, 30, 30) are really green: a renderer that honours
    the profile outputs green, one that ignores it outputs red.
    """
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\x00\x00"
    return _profile(
        b"RGB ",
        [
            (b"desc", _desc("red-green swap")),
            (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", _xyz(*_GREEN)),
            (b"gXYZ", _xyz(*_RED)),
            (b"bXYZ", _xyz(*_BLUE)),
            (b"rTRC", curve),
            (b"gTRC", curve),
            (b"bTRC", curve),
        ],
    )


def _lab16(lightness: float, a: float, b: float) -> bytes:
    # lut16 legacy Lab encoding: L 0..100 -> 0..0xFF00, a/b -128..127.996 -> 0..0xFFFF.
    return struct.pack(
        ">HHH",
        round(lightness / 100 * 0xFF00),
        round((a + 128) * 256),
        round((b + 128) * 256),
    )


def cmyk_profile_where_cyan_prints_red() -> bytes:
    """A CMYK profile (lut16 A2B0) in which the cyan channel alone gives red.

    Other ink combinations: magenta alone blue, yellow alone green, black ink black, no ink
    white. A naive conversion makes cyan pixels cyan; honouring the profile makes them red.
    """
    white, black = (100.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    red, green, blue = (53.2, 80.1, 67.2), (87.7, -86.2, 83.2), (32.3, 79.2, -107.9)
    colours = {(0, 0, 0): white, (1, 0, 0): red, (0, 1, 0): blue, (0, 0, 1): green}
    clut = b""
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    lab = black if k or (c + m + y) > 1 else colours[(c, m, y)]
                    clut += _lab16(*lab)
    identity = b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    ramp = struct.pack(">HH", 0, 0xFFFF)
    lut = (
        b"mft2\x00\x00\x00\x00"
        + bytes([4, 3, 2, 0])
        + identity
        + struct.pack(">HH", 2, 2)
        + ramp * 4
        + clut
        + ramp * 3
    )
    return _profile(
        b"CMYK",
        [(b"desc", _desc("cyan prints red")), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"A2B0", lut)],
    )


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def ycck_jpeg(cmyk: tuple[int, int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    """A YCCK JPEG (Adobe transform 2, as Photoshop writes CMYK) of one flat CMYK colour.

    YCCK stores C, M and Y as the YCbCr of (C, M, Y) seen as RGB. Pillow cannot write it, so we
    write the YCC values through Pillow's CMYK encoder (which inverts, Adobe style) and flip
    the Adobe marker's transform byte from 0 (plain CMYK) to 2 (YCCK).
    """
    c, m, y, k = cmyk
    luma = round(0.299 * c + 0.587 * m + 0.114 * y)
    cb = min(255, max(0, round(128 - 0.168736 * c - 0.331264 * m + 0.5 * y)))
    cr = min(255, max(0, round(128 + 0.5 * c - 0.418688 * m - 0.081312 * y)))
    stored = Image.new("CMYK", size, (255 - luma, 255 - cb, 255 - cr, k))
    data = bytearray(encode(stored, "JPEG", quality=100, subsampling=0))
    marker = data.index(b"\xff\xee\x00\x0eAdobe")
    assert data[marker + 15] == 0
    data[marker + 15] = 2
    return bytes(data)

"""Decide an input's format from its first bytes (never from a name or a Content-Type)."""

from __future__ import annotations

from enum import StrEnum

from thumbnailer.errors import UnsupportedFormat

__all__ = ["Kind", "sniff"]


class Kind(StrEnum):
    """The allowlist of input formats the engine decodes."""

    JPEG = "JPEG"
    PNG = "PNG"
    GIF = "GIF"
    WEBP = "WebP"
    TIFF = "TIFF"
    BMP = "BMP"
    AVIF = "AVIF"
    HEIF = "HEIF"
    PDF = "PDF"
    VIDEO = "video"


# ISO base media (ftyp) brands, grouped by what decodes them.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_VIDEO_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
        b"qt  ", b"M4V ", b"M4VH", b"M4VP", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"dash",
        b"MSNV", b"f4v ", b"mmp4", b"XAVC", b"av01", b"hvc1",
    }
)  # fmt: skip
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska / WebM


def _ftyp_brands(data: bytes) -> list[bytes]:
    """Major and compatible brands of an ISO-BMFF ``ftyp`` box, or ``[]``."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return []
    box_size = int.from_bytes(data[0:4], "big")
    end = min(len(data), box_size if 16 <= box_size <= 4096 else 16)
    brands = [data[8:12]]
    brands += [data[i : i + 4] for i in range(16, end - 3, 4)]
    return brands


def sniff(data: bytes) -> Kind:
    """Return the format of ``data`` from its magic bytes, or raise :class:`UnsupportedFormat`."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Kind.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Kind.WEBP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Kind.TIFF
    if head[:2] == b"BM" and len(head) >= 18:
        return Kind.BMP
    if head.startswith(b"%PDF-"):
        return Kind.PDF
    if head.startswith(_EBML):
        return Kind.VIDEO
    brands = _ftyp_brands(data[:4096])
    # A file can list several brands: the most specific decoder wins.
    if any(b in _AVIF_BRANDS for b in brands):
        return Kind.AVIF
    if any(b in _HEIF_BRANDS for b in brands):
        return Kind.HEIF
    if any(b in _VIDEO_BRANDS for b in brands):
        return Kind.VIDEO
    raise UnsupportedFormat(_describe(data))


def _describe(data: bytes) -> str:
    """A message naming what the input looks like, so users see why it was refused."""
    head = data[:16]
    known = (
        (b"PK\x03\x04", "a ZIP archive"),
        (b"<svg", "an SVG document"),
        (b"<?xml", "an XML document"),
        (b"ID3", "an MP3 file"),
        (b"8BPS", "a Photoshop document"),
        (b"\x00\x00\x01\x00", "an ICO file"),
    )
    for magic, name in known:
        if head.startswith(magic):
            return f"{name} is not a supported input format"
    if _ftyp_brands(data[:4096]):
        brand = data[8:12].decode("latin-1").strip()
        return f"ISO media with brand {brand!r} is not a supported input format"
    return (
        "not a supported format (expected JPEG, PNG, GIF, WebP, TIFF, BMP, AVIF, HEIC/HEIF, "
        "PDF or video)"
    )

"""Mutations that know a format's structure: PNG chunks, JPEG segments, RIFF (WebP) chunks and
ISO-BMFF boxes (HEIC, AVIF, MP4).

Random bytes mostly land in compressed pixel data, and a damaged header field mostly fails
a checksum or the first sanity check. These mutations change one field, box or chunk and keep
the rest consistent (PNG checksums recomputed, enclosing box sizes and item offsets adjusted),
so that the input gets past the parsers to the code behind them. Every walk over the
structure is bounded and reads through :func:`~_mutations.get_int`, which reads zeros past the
end: a mutated, truncated input is walked like any other.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from dataclasses import dataclass

from _mutations import Donors, Mutation, get_int, interesting, put_int, set_integer

__all__ = ["FORMAT_MUTATIONS"]

_MOST_PARTS = 4096  # chunks, segments or boxes walked; real files have dozens
_MOST_DEPTH = 6  # levels of nested boxes walked


def _exif(rng: random.Random) -> bytes:
    """A minimal EXIF (TIFF) block holding one Orientation tag, valid or not, either order."""
    big = rng.random() < 0.5
    order = ">" if big else "<"
    head = b"MM\x00\x2a" if big else b"II\x2a\x00"
    orientation = rng.choice((*range(10), interesting(rng)))
    # Header, then one IFD: one entry (tag 0x0112, type SHORT, count 1), no next IFD.
    return head + struct.pack(order + "IHHHIHHI", 8, 1, 0x0112, 3, 1, orientation & 0xFFFF, 0, 0)


# PNG ----------------------------------------------------------------------------------------

_PNG_TYPES = (b"IDAT", b"IEND", b"IHDR", b"PLTE", b"tRNS", b"fdAT", b"eXIf", b"acTL", b"fcTL")


def _png_chunks(buf: bytearray) -> list[tuple[int, int, bytes]]:
    """(offset, stated length, type) of each chunk after the signature."""
    chunks: list[tuple[int, int, bytes]] = []
    pos = 8
    while pos + 8 <= len(buf) and len(chunks) < _MOST_PARTS:
        length = get_int(buf, pos, 4)
        chunks.append((pos, length, bytes(buf[pos + 4 : pos + 8])))
        pos += 12 + length
    return chunks


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_fix_checksums(buf: bytearray) -> None:
    """Recompute the CRC of every whole chunk: libpng would refuse most damage at the CRC."""
    for pos, length, _ in _png_chunks(buf):
        end = pos + 8 + length
        if end + 4 <= len(buf):
            put_int(buf, end, 4, zlib.crc32(buf[pos + 4 : end]))


def _png_ancillary(rng: random.Random) -> bytes:
    """A chunk the decoders act on: transparency, palette, EXIF, animation, ICC profile."""
    kind = rng.choice((b"tRNS", b"eXIf", b"PLTE", b"acTL", b"fcTL", b"iCCP", b"sBIT", b"gAMA"))
    if kind == b"eXIf":
        body = (b"Exif\x00\x00" if rng.random() < 0.2 else b"") + _exif(rng)
    elif kind == b"acTL":  # frame count, play count
        body = struct.pack(">II", interesting(rng), interesting(rng))
    elif kind == b"fcTL":  # sequence, size, offset, delay, dispose and blend operations
        size_and_place = [interesting(rng) for _ in range(4)]
        body = struct.pack(">5I2H2B", 0, *size_and_place, 1, 1, rng.randrange(3), rng.randrange(2))
    elif kind == b"iCCP":  # a name, compression method 0, then a profile that is not one
        body = b"x\x00\x00" + zlib.compress(rng.randbytes(200))
    else:
        body = rng.randbytes(rng.choice((0, 1, 2, 6, 30, 768)))
    return _png_chunk(kind, body)


def png(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Change one chunk of a PNG (or APNG), then (mostly) make its checksums right again."""
    chunks = _png_chunks(buf)
    if not chunks:
        return set_integer(rng, buf, donors)
    pos, length, _ = rng.choice(chunks)
    op = rng.randrange(8)
    if op == 0:  # an IHDR field: width, height, bit depth, colour type, methods, interlace
        field = rng.choice((0, 4, 8, 9, 10, 11, 12))
        if field < 8:
            put_int(buf, 16 + field, 4, interesting(rng, get_int(buf, 16 + field, 4)))
        elif 16 + field < len(buf):
            buf[16 + field] = rng.choice((0, 1, 2, 3, 4, 6, 8, 16, 255, buf[16 + field] ^ 1))
    elif op == 1:  # a chunk's length
        put_int(buf, pos, 4, interesting(rng, length))
    elif op == 2:  # drop a chunk (rather not IHDR)
        pos, length, _ = rng.choice(chunks[1:] or chunks)
        del buf[pos : pos + 12 + length]
    elif op == 3:  # a chunk repeated before another
        block = buf[pos : pos + 12 + length]
        at = rng.choice(chunks)[0]
        buf[at:at] = block
    elif op == 4:  # an ancillary chunk, right after IHDR or anywhere
        at = chunks[1][0] if len(chunks) > 1 and rng.random() < 0.5 else rng.choice(chunks)[0]
        buf[at:at] = _png_ancillary(rng)
    elif op == 5:  # damage inside the compressed data of an IDAT chunk
        data_chunks = [c for c in chunks if c[2] == b"IDAT" and c[1] > 0]
        if data_chunks:
            pos, length, _ = rng.choice(data_chunks)
            for _ in range(rng.randint(1, 10)):
                at = pos + 8 + rng.randrange(length)
                if at < len(buf):
                    buf[at] = rng.randrange(256)
    elif op == 6:  # an integer inside a chunk's data
        if length:
            put_int(buf, pos + 8 + rng.randrange(length), rng.choice((1, 2, 4)), interesting(rng))
    else:  # a chunk of another type
        buf[pos + 4 : pos + 8] = rng.choice(_PNG_TYPES)
    if rng.random() < 0.85:
        _png_fix_checksums(buf)
    return buf


# JPEG ---------------------------------------------------------------------------------------

_SOS = 0xDA
_FRAMES = (0xC0, 0xC1, 0xC2)
# Inside entropy-coded data 0xFF is followed by 0x00 (stuffing), a restart marker or a fill
# byte; anything else starts the next segment.
_NEXT_SEGMENT = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_MARKERS = (0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xC4, 0xDA, 0xDB, 0xDD, 0xE1, 0xD9, 0xD0, 0x01)


def _jpeg_segments(buf: bytearray) -> list[tuple[int, int, int]]:
    """(offset, stated length, marker) of each segment up to the end of image."""
    segments: list[tuple[int, int, int]] = []
    pos = 2
    while pos + 4 <= len(buf) and buf[pos] == 0xFF and len(segments) < _MOST_PARTS:
        marker = buf[pos + 1]
        if marker == 0xD9:
            break
        length = get_int(buf, pos + 2, 2)
        segments.append((pos, length, marker))
        pos += 2 + length
        if marker == _SOS:  # skip the entropy-coded data that follows a scan header
            found = _NEXT_SEGMENT.search(buf, pos)
            if found is None:
                break
            pos = found.start()
    return segments


def jpeg(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Change one segment of a JPEG: frame or scan header, a length, a marker, a whole scan."""
    segments = _jpeg_segments(buf)
    if not segments:
        return set_integer(rng, buf, donors)
    frames = [s for s in segments if s[2] in _FRAMES]
    scans = [s for s in segments if s[2] == _SOS]
    pos, length, marker = rng.choice(segments)
    op = rng.randrange(8)
    if op == 0 and frames:  # frame header: precision, size, components, sampling, tables
        pos = frames[0][0]
        at = pos + rng.choice((4, 5, 7, 9, 11, 12, 14, 15, 17))
        if at in (pos + 5, pos + 7):
            put_int(buf, at, 2, interesting(rng, get_int(buf, at, 2)))
        elif at < len(buf):
            buf[at] = rng.choice((0, 1, 2, 3, 4, 8, 12, 16, 0x11, 0x12, 0x21, 0x22, 0x41, 0x44))
    elif op == 1 and scans:  # scan header: components, tables, spectral selection, approximation
        pos, length, _ = rng.choice(scans)
        at = pos + 4 + rng.randrange(max(1, length - 2))
        if at < len(buf):
            buf[at] = rng.choice((0, 1, 2, 3, 63, 64, 255, 0x10, 0x11, 0x21, buf[at] ^ 1))
    elif op == 2:  # a segment's length
        put_int(buf, pos + 2, 2, interesting(rng, length))
    elif op == 3:  # drop a segment; a scan goes with its entropy-coded data
        end = pos + 2 + length
        if marker == _SOS:
            later = [s[0] for s in segments if s[0] > pos]
            end = later[0] if later else max(pos, len(buf) - 2)
        del buf[pos:end]
    elif op == 4:  # a segment header repeated before another
        block = buf[pos : pos + 2 + length]
        at = rng.choice(segments)[0]
        buf[at:at] = block
    elif op == 5:  # a restart interval, which the engine's scan rewrite takes into account
        at = rng.choice(segments)[0]
        buf[at:at] = b"\xff\xdd\x00\x04" + struct.pack(">H", interesting(rng) & 0xFFFF)
    elif op == 6:  # a segment of another kind
        buf[pos + 1] = rng.choice(_MARKERS)
    elif scans:  # damage in the first KiBs of a scan's entropy-coded data
        pos, length, _ = rng.choice(scans)
        for _ in range(rng.randint(1, 10)):
            at = pos + 2 + length + rng.randrange(2000)
            if at < len(buf):
                buf[at] = rng.randrange(256)
    return buf


# RIFF (WebP) --------------------------------------------------------------------------------

_RIFF_INSERTED = (b"EXIF", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8X")


def _riff_chunks(buf: bytearray) -> list[tuple[int, int, bytes]]:
    """(offset, stated length, fourcc) of each chunk after the RIFF header."""
    chunks: list[tuple[int, int, bytes]] = []
    pos = 12
    while pos + 8 <= len(buf) and len(chunks) < _MOST_PARTS:
        length = get_int(buf, pos + 4, 4, big=False)
        chunks.append((pos, length, bytes(buf[pos : pos + 4])))
        pos += 8 + length + (length & 1)
    return chunks


def _damage(rng: random.Random, buf: bytearray, start: int, length: int, times: int) -> None:
    """Overwrite up to ``times`` random bytes in ``buf[start : start + length]``."""
    for _ in range(rng.randint(1, times)):
        at = start + rng.randrange(max(1, length))
        if at < len(buf):
            buf[at] = rng.randrange(256)


def riff(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Change one chunk of a WebP: sizes, VP8X flags and canvas, frame headers, alpha, EXIF."""
    chunks = _riff_chunks(buf)
    if not chunks:
        return set_integer(rng, buf, donors)
    pos, length, _ = rng.choice(chunks)
    by_kind = {kind: (p, n) for p, n, kind in chunks}
    op = rng.randrange(9)
    if op == 0:  # the RIFF size
        put_int(buf, 4, 4, interesting(rng, get_int(buf, 4, 4, big=False)), big=False)
    elif op == 1:  # a chunk's size
        put_int(buf, pos + 4, 4, interesting(rng, length), big=False)
    elif op == 2:  # drop a chunk
        del buf[pos : pos + 8 + length + (length & 1)]
    elif op == 3:  # a chunk repeated before another, or at the end
        block = buf[pos : pos + 8 + length + (length & 1)]
        at = rng.choice([*(c[0] for c in chunks), len(buf)])
        buf[at:at] = block
    elif op == 4 and b"VP8X" in by_kind:  # VP8X flags, canvas width or height (24 bits)
        pos = by_kind[b"VP8X"][0]
        if rng.random() < 0.4 and pos + 8 < len(buf):
            buf[pos + 8] ^= 1 << rng.randrange(8)
        else:
            at = pos + rng.choice((12, 15))
            put_int(buf, at, 3, interesting(rng, get_int(buf, at, 3, big=False)), big=False)
    elif op == 5:  # the frame header's size: VP8 (14 bits each) or VP8L (packed bits)
        if b"VP8 " in by_kind:
            at = by_kind[b"VP8 "][0] + 8 + rng.choice((6, 8))
            put_int(buf, at, 2, interesting(rng, get_int(buf, at, 2, big=False)), big=False)
        elif b"VP8L" in by_kind:
            at = by_kind[b"VP8L"][0] + 9
            value = get_int(buf, at, 4, big=False) ^ (1 << rng.randrange(32))
            put_int(buf, at, 4, value if rng.random() < 0.5 else interesting(rng), big=False)
    elif op == 6 and b"ALPH" in by_kind:  # the alpha header byte, or its compressed data
        pos, length = by_kind[b"ALPH"]
        if rng.random() < 0.5 and pos + 8 < len(buf):
            buf[pos + 8] = rng.randrange(256)
        else:
            _damage(rng, buf, pos + 9, length - 1, 10)
    elif op == 7:  # a chunk the decoders act on, announced in the VP8X flags
        kind = rng.choice(_RIFF_INSERTED)
        body = rng.choice((_exif(rng), b"Exif\x00\x00" + _exif(rng), rng.randbytes(40), b""))
        at = rng.choice([*(c[0] for c in chunks), len(buf)])
        buf[at:at] = kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)
        if buf[12:16] == b"VP8X" and len(buf) > 20:
            buf[20] |= rng.choice((0x02, 0x08, 0x10, 0x20))  # animation, EXIF, alpha, ICC
    else:  # damage inside a chunk's data
        _damage(rng, buf, pos + 8, length, 10)
    return buf


# ISO-BMFF (HEIC, AVIF, MP4) -----------------------------------------------------------------

# Boxes that hold boxes, and the bytes before their first child (full box header, counts).
_CONTAINERS = {
    **dict.fromkeys((b"iprp", b"ipco", b"dinf", b"moov", b"trak", b"mdia", b"minf"), 0),
    **dict.fromkeys((b"stbl", b"edts", b"udta", b"mvex", b"moof", b"traf"), 0),
    **dict.fromkeys((b"meta", b"iref"), 4),
    **dict.fromkeys((b"dref", b"stsd"), 8),
}
_BIG = frozenset({b"mdat", b"meta", b"moov"})  # not copied or dropped whole: too much at once
_BOX_TYPES = (
    *(b"grid", b"hvc1", b"av01", b"auxC", b"clap", b"irot", b"imir", b"pixi", b"ispe"),
    *(b"colr", b"moov", b"idat", b"iden", b"prem", b"auxl", b"dimg", b"thmb"),
)


@dataclass(frozen=True)
class _Box:
    offset: int
    size: int  # as stated (may run past the end of a damaged file)
    kind: bytes
    header: int  # 8, or 16 with a 64-bit size

    @property
    def payload(self) -> int:
        return self.offset + self.header


def _boxes(buf: bytearray) -> list[_Box]:
    """Every box, depth first, as far as the sizes can be followed."""
    found: list[_Box] = []

    def walk(start: int, end: int, depth: int) -> None:
        pos = start
        while pos + 8 <= end and depth < _MOST_DEPTH and len(found) < _MOST_PARTS:
            size, kind, header = get_int(buf, pos, 4), bytes(buf[pos + 4 : pos + 8]), 8
            if size == 1:
                size, header = get_int(buf, pos + 8, 8), 16
            elif size == 0:  # to the end of the enclosing box
                size = end - pos
            found.append(_Box(pos, size, kind, header))
            if size < header or pos + size > end:
                return  # the rest of this level cannot be placed
            skip = _CONTAINERS.get(kind)
            if kind == b"iinf":  # a full box, then an entry count of 2 or 4 bytes
                skip = 6 if buf[pos + header] == 0 else 8
            if skip is not None:
                walk(pos + header + skip, pos + size, depth + 1)
            pos += size

    walk(0, len(buf), 0)
    return found


class _Fields:
    """Unsigned big-endian fields read in order from ``buf[pos:end]``; zeros past ``end``."""

    def __init__(self, buf: bytearray, pos: int, end: int) -> None:
        self.buf, self.pos, self.end = buf, pos, min(end, len(buf))

    @property
    def exhausted(self) -> bool:
        return self.pos >= self.end

    def take(self, width: int) -> int:
        value = get_int(self.buf, self.pos, width) if self.pos + width <= self.end else 0
        self.pos += width
        return value


@dataclass(frozen=True)
class _Extent:
    start: int  # where the item's bytes are in the file
    length: int
    in_file: bool  # placed by file offset (construction method 0), not inside idat
    field: int  # offset of its extent_offset field in the iloc box
    width: int  # bytes of that field (0: it has none)


def _item_extents(buf: bytearray, boxes: list[_Box]) -> list[_Extent]:
    """Where the ``iloc`` box says each item's bytes are (in the file or in ``idat``)."""
    iloc = next((b for b in boxes if b.kind == b"iloc"), None)
    if iloc is None:
        return []
    idat = next((b for b in boxes if b.kind == b"idat"), None)
    fields = _Fields(buf, iloc.payload, iloc.offset + iloc.size)
    version = fields.take(1)
    fields.take(3)  # flags
    sizes, more = fields.take(1), fields.take(1)
    offset_width, length_width, base_width = sizes >> 4, sizes & 15, more >> 4
    index_width = more & 15 if version else 0
    extents = []
    for _ in range(min(fields.take(2 if version < 2 else 4), 1000)):
        fields.take(2 if version < 2 else 4)  # item id
        method = fields.take(2) & 15 if version else 0  # 0: in the file, 1: in idat
        fields.take(2)  # data reference index
        base = fields.take(base_width)
        for _ in range(min(fields.take(2), 100)):
            fields.take(index_width)
            field = fields.pos
            start, length = base + fields.take(offset_width), fields.take(length_width)
            if method == 1 and idat is not None:
                start += idat.payload
            if method <= 1 and 0 <= start < len(buf) and length:
                size = min(length, len(buf) - start)
                extents.append(_Extent(start, size, method == 0, field, offset_width))
        if fields.exhausted:
            break
    return extents


def _property_indexes(buf: bytearray, ipma: _Box) -> list[tuple[int, int]]:
    """(offset, width) of each property index in an ``ipma`` box."""
    fields = _Fields(buf, ipma.payload, ipma.offset + ipma.size)
    version, flags = fields.take(1), fields.take(3)
    wide = 2 if flags & 1 else 1
    indexes = []
    for _ in range(min(fields.take(4), 1000)):
        fields.take(2 if version < 1 else 4)  # item id
        for _ in range(fields.take(1)):
            indexes.append((fields.pos, wide))
            fields.take(wide)
        if fields.exhausted:
            break
    return indexes


def _property(rng: random.Random) -> bytes:
    """A property box that changes how a picture is shown or decoded."""
    kind = rng.randrange(4)
    if kind == 0:  # rotation, in quarter turns
        return struct.pack(">I4sB", 9, b"irot", rng.randrange(4))
    if kind == 1:  # mirror axis
        return struct.pack(">I4sB", 9, b"imir", rng.randrange(2))
    if kind == 2:  # clean aperture: width, height, horizontal and vertical offset fractions
        return struct.pack(">I4s8I", 40, b"clap", *(interesting(rng) for _ in range(8)))
    # Bits per channel (a full box: version and flags, then a count and one byte each).
    channels = rng.choice((1, 3))
    bits = [rng.choice((0, 1, 8, 10, 12, 16))] * channels
    return struct.pack(f">I4sIB{channels}B", 13 + channels, b"pixi", 0, channels, *bits)


def _insert_property(rng: random.Random, buf: bytearray, boxes: list[_Box]) -> None:
    """Append a property to ``ipco``, keeping the enclosing sizes and item offsets right."""
    ipco = next((b for b in boxes if b.kind == b"ipco" and b.header == 8), None)
    if ipco is None:
        return
    added = _property(rng)
    at = ipco.offset + ipco.size
    # Item data after the insertion point moves: without this every picture would be lost.
    for extent in _item_extents(buf, boxes):
        if extent.in_file and extent.start >= at and extent.width in (4, 8):
            value = get_int(buf, extent.field, extent.width) + len(added)
            put_int(buf, extent.field, extent.width, value)
    for box in boxes:  # ipco and every box around it
        if box.header == 8 and box.offset <= ipco.offset and at <= box.offset + box.size:
            put_int(buf, box.offset, 4, box.size + len(added))
    buf[at:at] = added


def isobmff(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Change one box of a HEIC, AVIF or MP4 file: sizes, item places, properties, data."""
    boxes = _boxes(buf)
    if not boxes:
        return set_integer(rng, buf, donors)
    small = [b for b in boxes if b.kind not in _BIG] or boxes
    box = rng.choice(small)
    op = rng.randrange(11)
    if op == 0:  # a box's size
        chosen = rng.choice(boxes)
        put_int(buf, chosen.offset, 4, interesting(rng, chosen.size))
    elif op == 1:  # drop a box
        del buf[box.offset : box.offset + box.size]
    elif op == 2:  # a box repeated before another
        block = buf[box.offset : box.offset + box.size]
        at = rng.choice(small).offset
        buf[at:at] = block
    elif op == 3:  # an integer inside a box
        if box.size > box.header:
            at = box.payload + rng.randrange(box.size - box.header)
            width = rng.choice((1, 2, 4))
            put_int(buf, at, width, interesting(rng, get_int(buf, at, width)))
    elif op == 4:  # a picture's width or height (ispe)
        sizes = [b for b in boxes if b.kind == b"ispe"]
        if sizes:
            at = rng.choice(sizes).payload + 4 + 4 * rng.randrange(2)
            put_int(buf, at, 4, interesting(rng, get_int(buf, at, 4)))
    elif op == 5:  # a field of the item locations (iloc)
        places = [b for b in boxes if b.kind == b"iloc"]
        if places:
            iloc = places[0]
            for _ in range(rng.randint(1, 3)):
                at = iloc.payload + 4 + rng.randrange(max(1, iloc.size - iloc.header - 4))
                put_int(buf, at, rng.choice((1, 2, 4)), interesting(rng, get_int(buf, at, 2)))
    elif op == 6:  # an item's own bytes: a grid layout, the start of a coded picture
        extents = _item_extents(buf, boxes)
        if extents:
            extent = rng.choice(extents)
            if extent.length <= 12 or rng.random() < 0.3:
                at = extent.start + rng.randrange(extent.length)
                put_int(buf, at, rng.choice((1, 2, 4)), interesting(rng, get_int(buf, at, 2)))
            else:
                _damage(rng, buf, extent.start, extent.length, 10)
    elif op == 7:  # a box of another type
        buf[box.offset + 4 : box.offset + 8] = rng.choice(_BOX_TYPES)
    elif op == 8:  # a new property (rotation, mirror, clean aperture, bit depth)
        _insert_property(rng, buf, boxes)
    elif op == 9:  # an item associated with another property
        ipma = next((b for b in boxes if b.kind == b"ipma"), None)
        indexes = _property_indexes(buf, ipma) if ipma is not None else []
        count = len(_boxes_in(boxes, b"ipco"))
        if indexes and count:
            at, width = rng.choice(indexes)
            essential = 1 << (8 * width - 1) if rng.random() < 0.5 else 0
            put_int(buf, at, width, essential | rng.randint(1, count + 1))
    else:  # damage in the media data
        media = [b for b in boxes if b.kind == b"mdat"]
        if media:
            _damage(rng, buf, media[0].payload, media[0].size - media[0].header, 20)
    return buf


def _boxes_in(boxes: list[_Box], kind: bytes) -> list[_Box]:
    """The boxes directly inside the first box of type ``kind``."""
    parent = next((b for b in boxes if b.kind == kind), None)
    if parent is None:
        return []
    end = parent.offset + parent.size
    inside = [b for b in boxes if parent.payload <= b.offset < end]
    # Direct children only: each starts where the previous one ends.
    children, pos = [], parent.payload
    for box in inside:
        if box.offset == pos:
            children.append(box)
            pos = box.offset + box.size
    return children


FORMAT_MUTATIONS: dict[str, Mutation] = {
    "png": png,
    "jpeg": jpeg,
    "riff": riff,
    "isobmff": isobmff,
}

"""Just enough of the HEIF item boxes (ISO/IEC 23008-12) to find an AVIF's alpha item.

Only the small ``meta`` box is read: which item is the picture (``pitm``), each item's type
(``iinf``), which item is its alpha plane (an ``auxl`` reference from an item whose ``auxC``
property names the alpha auxiliary type) and whether the colour is premultiplied by it (a
``prem`` reference). Pixel data is never touched. Anything malformed raises
:class:`LayoutError`; the caller then leaves the file to a full decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["AvifItems", "LayoutError", "read_items"]

# The alpha auxiliary type of AVIF, and the one HEIF files (and older libavif) use.
_ALPHA_TYPES = frozenset(
    {"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", "urn:mpeg:hevc:2015:auxid:1"}
)


class LayoutError(ValueError):
    """The item boxes are damaged or say something this reader does not handle."""


@dataclass(frozen=True)
class AvifItems:
    """What the ``meta`` box says about the picture and its alpha plane."""

    primary: int  # item id of the picture shown
    types: dict[int, bytes]  # item id -> item type (b"av01", b"grid", b"Exif", ...)
    alpha: int | None  # item id of the primary item's alpha plane, if it has one
    premultiplied: bool  # a ``prem`` reference: colour is premultiplied by alpha
    tracks: bool  # a ``moov`` box: the file also holds an image sequence


def _boxes(data: memoryview, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, payload start, payload end)`` of each box in ``data[start:end]``."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise LayoutError("a box header is cut off")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise LayoutError("a box header is cut off")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:  # the last box: it runs to the end
            size = end - pos
        if size < header or pos + size > end:
            raise LayoutError(f"the {kind!r} box overruns its container")
        yield bytes(kind), pos + header, pos + size
        pos += size


class _Reader:
    """Big-endian fields read from one box payload, never past its end."""

    def __init__(self, data: memoryview, start: int, end: int) -> None:
        self.data = data
        self.pos = start
        self.end = end

    def uint(self, size: int) -> int:
        if self.pos + size > self.end:
            raise LayoutError("a box is shorter than its fields")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value

    def version_flags(self) -> tuple[int, int]:
        word = self.uint(4)
        return word >> 24, word & 0xFFFFFF

    def cstring(self) -> str:
        tail = bytes(self.data[self.pos : self.end])
        text, _, _ = tail.partition(b"\0")
        self.pos += len(text) + 1
        return text.decode("utf-8", "replace")


def read_items(data: bytes) -> AvifItems:
    """The picture's items from the file's ``meta`` box; :class:`LayoutError` if unusable."""
    view = memoryview(data)
    meta: tuple[int, int] | None = None
    tracks = False
    for kind, start, end in _boxes(view, 0, len(view)):
        if kind == b"meta":
            meta = (start, end)
        tracks = tracks or kind == b"moov"
    if meta is None:
        raise LayoutError("no meta box")
    reader = _Reader(view, *meta)
    reader.version_flags()
    primary: int | None = None
    types: dict[int, bytes] = {}
    references: list[tuple[bytes, int, list[int]]] = []
    properties: list[tuple[bytes, int, int]] = []
    associations: dict[int, list[int]] = {}
    for kind, start, end in _boxes(view, reader.pos, meta[1]):
        if kind == b"pitm":
            box = _Reader(view, start, end)
            version, _ = box.version_flags()
            primary = box.uint(2 if version == 0 else 4)
        elif kind == b"iinf":
            types = _item_types(view, start, end)
        elif kind == b"iref":
            references = _references(view, start, end)
        elif kind == b"iprp":
            properties, associations = _properties(view, start, end)
    if primary is None:
        raise LayoutError("no primary item")

    def aux_type(item: int) -> str | None:
        for index in associations.get(item, []):
            if not 1 <= index <= len(properties):
                raise LayoutError(f"item {item} names property {index}, which is missing")
            kind, start, end = properties[index - 1]
            if kind == b"auxC":
                box = _Reader(view, start, end)
                box.version_flags()
                return box.cstring()
        return None

    alphas = [
        source
        for kind, source, targets in references
        if kind == b"auxl" and primary in targets and aux_type(source) in _ALPHA_TYPES
    ]
    if len(alphas) > 1:
        raise LayoutError(f"item {primary} has {len(alphas)} alpha planes")
    return AvifItems(
        primary=primary,
        types=types,
        alpha=alphas[0] if alphas else None,
        premultiplied=any(kind == b"prem" for kind, _, _ in references),
        tracks=tracks,
    )


def _item_types(view: memoryview, start: int, end: int) -> dict[int, bytes]:
    reader = _Reader(view, start, end)
    version, _ = reader.version_flags()
    reader.uint(2 if version == 0 else 4)  # entry count: the boxes themselves are counted
    types: dict[int, bytes] = {}
    for kind, entry_start, entry_end in _boxes(view, reader.pos, end):
        if kind != b"infe":
            continue
        entry = _Reader(view, entry_start, entry_end)
        entry_version, _ = entry.version_flags()
        if entry_version < 2:
            raise LayoutError("an item info entry older than version 2 has no item type")
        item = entry.uint(2 if entry_version == 2 else 4)
        entry.uint(2)  # protection index
        types[item] = entry.uint(4).to_bytes(4, "big")
    return types


def _references(view: memoryview, start: int, end: int) -> list[tuple[bytes, int, list[int]]]:
    """Each reference as ``(type, from item, [to items])``."""
    reader = _Reader(view, start, end)
    version, _ = reader.version_flags()
    size = 2 if version == 0 else 4
    result = []
    for kind, ref_start, ref_end in _boxes(view, reader.pos, end):
        ref = _Reader(view, ref_start, ref_end)
        source = ref.uint(size)
        count = ref.uint(2)
        result.append((kind, source, [ref.uint(size) for _ in range(count)]))
    return result


def _properties(
    view: memoryview, start: int, end: int
) -> tuple[list[tuple[bytes, int, int]], dict[int, list[int]]]:
    """The ``ipco`` properties in order, and each item's 1-based property indexes."""
    properties: list[tuple[bytes, int, int]] = []
    associations: dict[int, list[int]] = {}
    for kind, box_start, box_end in _boxes(view, start, end):
        if kind == b"ipco":
            properties = list(_boxes(view, box_start, box_end))
        elif kind == b"ipma":
            reader = _Reader(view, box_start, box_end)
            version, flags = reader.version_flags()
            for _ in range(reader.uint(4)):
                item = reader.uint(2 if version < 1 else 4)
                wide = flags & 1
                indexes = [reader.uint(2 if wide else 1) for _ in range(reader.uint(1))]
                mask = 0x7FFF if wide else 0x7F  # the top bit says "essential"
                associations.setdefault(item, []).extend(i & mask for i in indexes)
    return properties, associations

"""Just enough of the HEIF item boxes (ISO/IEC 23008-12) to place a picture's coded data.

Only the small ``meta`` box is read: which item is the picture (``pitm``), each item's type
(``iinf``), its properties in order (``iprp``), its references (``iref``: the tiles of a
grid, the alpha plane as an ``auxl`` reference from an item whose ``auxC`` property names the
alpha auxiliary type, a ``prem`` reference when colour is premultiplied by it) and where each
item's bytes are (``iloc``, ``idat``). Pixel data is only sliced out, never decoded. Anything
malformed raises :class:`LayoutError`; the caller then leaves the file to a full decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Grid", "Items", "LayoutError", "picture_cut_short", "read_grid", "read_items"]

# The alpha auxiliary type of AVIF, and the one HEIF files (and older libavif) use.
_ALPHA_TYPES = frozenset(
    {"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", "urn:mpeg:hevc:2015:auxid:1"}
)


class LayoutError(ValueError):
    """The item boxes are damaged or say something this reader does not handle."""


@dataclass(frozen=True)
class Nclx:
    """Colour named by ITU-T H.273 code points in an ``nclx`` ``colr`` property."""

    primaries: int
    transfer: int
    matrix: int
    full_range: bool


@dataclass(frozen=True)
class Items:
    """What the ``meta`` box says about the picture, its tiles and its alpha plane."""

    primary: int  # item id of the picture shown
    types: dict[int, bytes]  # item id -> item type (b"av01", b"hvc1", b"grid", b"Exif", ...)
    alpha: int | None  # item id of the primary item's alpha plane, if it has one
    premultiplied: bool  # a ``prem`` reference: colour is premultiplied by alpha
    tracks: bool  # a ``moov`` box: the file also holds an image sequence
    # item id -> its properties in association order, as (box type, payload)
    properties: dict[int, list[tuple[bytes, bytes]]]
    references: list[tuple[bytes, int, list[int]]]  # (type, from item, [to items])
    # item id -> (byte ranges of its data, in order; whether they are offsets into ``idat``)
    locations: dict[int, tuple[list[tuple[int, int]], bool]]
    idat: tuple[int, int] | None  # payload range of the ``idat`` box, if there is one

    def property(self, item: int, kind: bytes) -> bytes | None:
        """The payload of ``item``'s first property of type ``kind``, if it has one."""
        return next(
            (payload for name, payload in self.properties.get(item, []) if name == kind), None
        )

    def nclx(self, *items: int) -> Nclx | None:
        """The first ``nclx`` colour property among ``items``, in that order, if any has one."""
        for item in items:
            for name, payload in self.properties.get(item, []):
                if name == b"colr" and payload[:4] == b"nclx" and len(payload) >= 11:
                    return Nclx(
                        primaries=int.from_bytes(payload[4:6], "big"),
                        transfer=int.from_bytes(payload[6:8], "big"),
                        matrix=int.from_bytes(payload[8:10], "big"),
                        full_range=bool(payload[10] & 0x80),
                    )
        return None

    def targets(self, item: int, kind: bytes) -> list[int]:
        """The items ``item`` references with ``kind`` (``dimg``: a grid's tiles, in order)."""
        return next(
            (to for name, source, to in self.references if name == kind and source == item), []
        )

    def extents(self, file_size: int, item: int) -> list[tuple[int, int]]:
        """Where ``item``'s bytes are in the file, as (offset, length) pairs in order."""
        if item not in self.locations:
            raise LayoutError(f"item {item} has no location")
        extents, in_idat = self.locations[item]
        base, end = 0, file_size
        if in_idat:
            if self.idat is None:
                raise LayoutError(f"item {item} lies in an idat box the file does not have")
            base, end = self.idat
        result = []
        for offset, length in extents:
            if base + offset + length > end:
                raise LayoutError(f"item {item}'s data lies beyond its container")
            result.append((base + offset, length))
        return result

    def data(self, file: bytes, item: int) -> bytes:
        """The bytes of ``item`` (its extents joined), sliced from ``file``."""
        return b"".join(file[start : start + size] for start, size in self.extents(len(file), item))


@dataclass(frozen=True)
class Grid:
    """A ``grid`` item: the picture is ``rows`` x ``columns`` tiles, cropped to its size."""

    rows: int
    columns: int
    width: int
    height: int


def read_grid(payload: bytes) -> Grid:
    """The layout in a ``grid`` item's data; :class:`LayoutError` if it is not one."""
    if len(payload) < 8 or payload[0] != 0:
        raise LayoutError("the grid item's data is not a version 0 image grid")
    wide = payload[1] & 1
    if len(payload) != (12 if wide else 8):
        raise LayoutError("the grid item's data has the wrong length")
    width, height = struct.unpack_from(">II" if wide else ">HH", payload, 4)
    return Grid(rows=payload[2] + 1, columns=payload[3] + 1, width=width, height=height)


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


def read_items(data: bytes, cut_ok: bool = False) -> Items:
    """The picture's items from the file's ``meta`` box; :class:`LayoutError` if unusable.

    ``cut_ok``: a file cut short after its ``meta`` box is read too (to tell that it is).
    """
    view = memoryview(data)
    meta: tuple[int, int] | None = None
    tracks = False
    try:
        for kind, start, end in _boxes(view, 0, len(view)):
            if kind == b"meta":
                meta = (start, end)
            tracks = tracks or kind == b"moov"
    except LayoutError:
        if meta is None or not cut_ok:
            raise
    if meta is None:
        raise LayoutError("no meta box")
    reader = _Reader(view, *meta)
    reader.version_flags()
    primary: int | None = None
    types: dict[int, bytes] = {}
    references: list[tuple[bytes, int, list[int]]] = []
    properties: list[tuple[bytes, int, int]] = []
    associations: dict[int, list[int]] = {}
    locations: dict[int, tuple[list[tuple[int, int]], bool]] = {}
    idat: tuple[int, int] | None = None
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
        elif kind == b"iloc":
            locations = _locations(view, start, end)
        elif kind == b"idat":
            idat = (start, end)
    if primary is None:
        raise LayoutError("no primary item")
    item_properties: dict[int, list[tuple[bytes, bytes]]] = {}
    for item, indexes in associations.items():
        if not all(1 <= index <= len(properties) for index in indexes):
            raise LayoutError(f"item {item} names a property that is missing")
        item_properties[item] = [
            (properties[i - 1][0], bytes(view[properties[i - 1][1] : properties[i - 1][2]]))
            for i in indexes
        ]

    def aux_type(item: int) -> str | None:
        payload = next((p for kind, p in item_properties.get(item, []) if kind == b"auxC"), None)
        if payload is None:
            return None
        box = _Reader(memoryview(payload), 0, len(payload))
        box.version_flags()
        return box.cstring()

    alphas = [
        source
        for kind, source, targets in references
        if kind == b"auxl" and primary in targets and aux_type(source) in _ALPHA_TYPES
    ]
    if len(alphas) > 1:
        raise LayoutError(f"item {primary} has {len(alphas)} alpha planes")
    return Items(
        primary=primary,
        types=types,
        alpha=alphas[0] if alphas else None,
        premultiplied=any(kind == b"prem" for kind, _, _ in references),
        tracks=tracks,
        properties=item_properties,
        references=references,
        locations=locations,
        idat=idat,
    )


def picture_cut_short(data: bytes) -> bool:
    """Whether the primary picture's coded data (a grid's: its tiles') runs past the file's end.

    libheif decodes a grid whose last tiles are missing with those tiles blank; the file is
    cut short all the same. ``False`` when the boxes cannot be read at all: that is for the
    decoder to report.
    """
    try:
        items = read_items(data, cut_ok=True)
    except LayoutError:
        return False
    for item in [items.primary, *items.targets(items.primary, b"dimg")]:
        if item not in items.locations or items.locations[item][1]:
            continue  # not placed by this reader, or inside the meta box: for the decoder
        try:
            items.extents(len(data), item)
        except LayoutError:
            return True
    return False


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


def _locations(
    view: memoryview, start: int, end: int
) -> dict[int, tuple[list[tuple[int, int]], bool]]:
    """Each item's extents from the ``iloc`` box, as absolute (offset, length) pairs."""
    reader = _Reader(view, start, end)
    version, _ = reader.version_flags()
    if version > 2:
        raise LayoutError(f"iloc version {version} is not known")
    sizes = reader.uint(1)
    more = reader.uint(1)
    offset_size, length_size, base_size = sizes >> 4, sizes & 15, more >> 4
    index_size = more & 15 if version > 0 else 0
    locations: dict[int, tuple[list[tuple[int, int]], bool]] = {}
    for _ in range(reader.uint(2 if version < 2 else 4)):
        item = reader.uint(2 if version < 2 else 4)
        method = reader.uint(2) & 15 if version > 0 else 0
        # Data in another file or built from other items is not read here, nor an extent of
        # unstated length ("the rest of the file"): such an item is left without a location.
        usable = reader.uint(2) == 0 and method <= 1
        base = reader.uint(base_size)
        extents = []
        for _ in range(reader.uint(2)):
            reader.uint(index_size)
            offset, length = base + reader.uint(offset_size), reader.uint(length_size)
            usable = usable and length > 0
            extents.append((offset, length))
        if usable:
            locations[item] = (extents, method == 1)
    return locations

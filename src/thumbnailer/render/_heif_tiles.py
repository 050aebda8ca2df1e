"""HEIC pictures decoded by FFmpeg's HEVC decoder (PyAV) a tile or a strip at a time.

Photos over 35 MP (HEVC's largest picture) and every phone photo are stored as a grid of
small HEVC pictures, typically 512x512. libheif decodes the whole grid into one YCbCr picture
and converts it to RGB in one piece: at 50 MP that is 240 MiB for 8-bit 4:2:0, about 390 MiB
for 10-bit and 470 MiB for 4:4:4. Here each tile is decoded on its own, converted to RGB, and
each row of tiles is box-shrunk into the result before the next is decoded: only one row of
tiles is ever held at full size, whatever the picture's size or bit depth. A single picture
(HEVC's levels stop at 35 MP, though encoders write larger ones) is decoded whole, as YCbCr,
and converted to RGB a strip of rows at a time.

The colour conversion follows the picture's ``colr`` (nclx) box as libheif does: its matrix
and range, or, without one, what the HEVC stream itself says. An alpha plane is an auxiliary
picture of its own, monochrome: a single picture's alpha picture is decoded first, then the
colour, converted a strip at a time, joins it, and each RGBA strip is box-shrunk with alpha
premultiplied. Anything this module does not decode exactly as libheif would (alpha of a
grid, premultiplied colour, limited-range or 12-bit alpha, a clean aperture other
than the padding cut off the right and bottom edges, tiles with differing codec settings,
unusual matrices, items it cannot place, a tile FFmpeg rejects) is left to libheif, which
remains the authority on what a valid HEIF file is.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation, VideoReformatter
from PIL import Image, ImageMath

from thumbnailer.render._avframes import FULL_RANGE, LIMITED_RANGE, rows_of
from thumbnailer.render._deadline import Deadline
from thumbnailer.render._decode import decoder_threads
from thumbnailer.render._geometry import whole_factor
from thumbnailer.render._isobmff import Grid, Items, LayoutError, read_grid, read_items

__all__ = ["TileGrid", "find_tiles"]

# Properties the picture (a grid, or a single picture) may carry that change nothing about
# decoding its pixels, or that are applied here (irot, imir: on the small result; clap: when
# it only cuts the padding off the right and bottom edges, as encoders write it for sizes
# that are not whole coding blocks).
_PLAIN = frozenset({b"ispe", b"pixi", b"colr", b"hvcC", b"irot", b"imir", b"clap"})
# A grid's tiles: transforms on a tile (rare, but libheif applies them) are not done here.
_PLAIN_TILE = frozenset({b"ispe", b"pixi", b"colr", b"hvcC"})
# An alpha picture's item: its auxiliary type and the clean aperture that trims its padding
# (as the colour's does), besides what a tile may carry.
_PLAIN_ALPHA = _PLAIN_TILE | {b"auxC", b"clap"}
_ALPHA_FORMATS = frozenset({"gray", "gray10le"})  # FFmpeg's monochrome HEVC, 8 and 10 bits
# HEVC matrix_coefficients → the swscale colour space with the same matrix. Identity (RGB
# stored as is), YCgCo, constant luminance and the rest are left to libheif.
_MATRICES = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9}
_UNSPECIFIED = 2
_STRIP_PIXELS = 1 << 20  # a single picture is converted about a megapixel of rows at a time
_PADDING_ALLOWED = 1.1  # tiles may cover this much of the picture, even over the pixel limit
# Rounded, not truncated, and chroma interpolated over the full width: the means of the
# thumbnail then match the encoded picture's (truncation darkens by about 1 level).
_CONVERT = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
# A HEIF transform → its Pillow transpose. ``imir`` axis 0 flips top to bottom, as libheif
# reads and writes it (orientation 4; 2 is axis 1).
_MIRROR = {0: Image.Transpose.FLIP_TOP_BOTTOM, 1: Image.Transpose.FLIP_LEFT_RIGHT}
_ROTATE = {
    1: Image.Transpose.ROTATE_90,
    2: Image.Transpose.ROTATE_180,
    3: Image.Transpose.ROTATE_270,
}


class TileGrid:
    """A HEIC picture's tiles (a single picture is one) and how they make an upright one.

    ``item`` is the picture (a grid, or a single picture); by default the primary one.
    ``is_alpha``: it is an alpha picture, decoded to ``L``. The primary picture's
    :attr:`alpha`, when set, is another ``TileGrid``, of its alpha picture.
    """

    def __init__(
        self,
        data: bytes,
        items: Items,
        tiles: list[int],
        hvcc: bytes,
        item: int | None = None,
        is_alpha: bool = False,
    ) -> None:
        self.data = data
        self.items = items
        self.item = items.primary if item is None else item
        self.is_alpha = is_alpha
        self.tiles = tiles
        self.hvcc = hvcc
        self.alpha: TileGrid | None = None
        self.tile_size = _ispe(items, tiles[0])
        if tiles == [self.item]:  # one picture: a grid of one tile
            self.grid = Grid(rows=1, columns=1, width=self.tile_size[0], height=self.tile_size[1])
        else:
            self.grid = read_grid(items.data(data, self.item))
        width, height = _clean_aperture(items, self.item, (self.grid.width, self.grid.height))
        self.grid = Grid(self.grid.rows, self.grid.columns, width, height)
        self.transforms = _transforms(items, self.item)
        self.nclx = items.nclx(self.item, *tiles)

    @property
    def size(self) -> tuple[int, int]:
        """The picture's size once its rotation is applied."""
        width, height = self.grid.width, self.grid.height
        turns = sum(1 for t in self.transforms if t in (_ROTATE[1], _ROTATE[3]))
        return (height, width) if turns % 2 else (width, height)

    def decode(self, target: tuple[int, int], deadline: Deadline | None) -> Image.Image | None:
        """The upright picture box-shrunk by the largest whole factor that keeps ``target``.

        ``target`` is in upright orientation. ``None`` when the decoder's pictures are not
        the tiles the ``meta`` box describes, or FFmpeg rejects one: libheif, the authority
        on what a valid file is, then decodes it.
        """
        factor = whole_factor(self.size, target)
        try:
            shrunk = self._shrunk(factor, deadline)
        except av.FFmpegError:
            return None
        if shrunk is None:
            return None
        for transform in self.transforms:
            shrunk = shrunk.transpose(transform)
        return shrunk

    def _shrunk(self, factor: int, deadline: Deadline | None) -> Image.Image | None:
        """The stored picture box-shrunk by ``factor``, one row of tiles at a time.

        With an alpha plane the rows are RGBA, and ``reduce()`` premultiplies them.
        """
        width, height = self.grid.width, self.grid.height
        mode = "RGB" if self.alpha is None else "RGBA"
        rows = self._rows(deadline) if self.alpha is None else self._rows_with_alpha(deadline)
        shrunk = Image.new(mode, (-(-width // factor), -(-height // factor)))
        pending: Image.Image | None = None  # full-size rows not yet a whole box high
        done = 0  # full-size rows shrunk into the result so far
        for row_image in rows:
            if row_image is None:
                return None
            # Coded pictures are padded to whole coding blocks; the clean aperture cuts that.
            rows_left = height - done - (0 if pending is None else pending.height)
            if row_image.width != width or row_image.height > rows_left:
                row_image = row_image.crop((0, 0, width, min(row_image.height, rows_left)))
            if row_image.height == 0:
                continue
            if pending is not None:
                joined = Image.new(mode, (width, pending.height + row_image.height))
                joined.paste(pending)
                joined.paste(row_image, (0, pending.height))
                row_image = joined
            last = done + row_image.height >= height
            whole = row_image.height if last else row_image.height // factor * factor
            if whole:
                part = (
                    row_image if whole == row_image.height else row_image.crop((0, 0, width, whole))
                )
                shrunk.paste(part.reduce(factor), (0, done // factor))
                done += whole
            pending = (
                None
                if whole == row_image.height
                else row_image.crop((0, whole, width, row_image.height))
            )
        return shrunk

    def _rows_with_alpha(self, deadline: Deadline | None) -> Iterator[Image.Image | None]:
        """The strips of :meth:`_rows` as RGBA (a single picture with a single alpha picture).

        The alpha picture is decoded first, whole, and its decoder closed before the colour's
        opens: two whole-picture decoders at once would hold both pictures and both decoders'
        tables (312 instead of 244 MiB for a 50 MP cut-out).
        """
        assert self.alpha is not None
        alpha_strips = list(self.alpha._rows(deadline))
        if any(strip is None for strip in alpha_strips):  # spare the colour's decode
            yield None
            return
        alpha_rows = iter(alpha_strips)
        for colour in self._rows(deadline):
            alpha = next(alpha_rows, None)
            if colour is None or alpha is None or alpha.size != colour.size:
                yield None
                return
            colour.putalpha(alpha)
            yield colour
        if next(alpha_rows, None) is not None:
            yield None

    def _rows(self, deadline: Deadline | None) -> Iterator[Image.Image | None]:
        """Each row of tiles as one strip of the picture's width (the last one cropped).

        RGB strips; ``L`` for an alpha plane.
        """
        grid, (tile_width, tile_height) = self.grid, self.tile_size
        context = VideoCodecContext.create("hevc", "r")
        context.extradata = self.hvcc
        context.thread_count = decoder_threads()
        context.thread_type = "FRAME" if len(self.tiles) > 1 else "SLICE"
        # The pixel budget was charged for the sizes the boxes state; a stream claiming a
        # larger picture is refused before FFmpeg allocates it (with room for the padding to
        # whole coding blocks and row alignment), and libheif, with its own limits, decides.
        context.options = {"max_pixels": str((tile_width + 128) * (tile_height + 128))}
        scaler = VideoReformatter()
        row: Image.Image | None = None
        index = 0
        for frame in self._frames(context, deadline):
            conversion = self._conversion(frame)
            if (frame.width, frame.height) != (tile_width, tile_height) or conversion is None:
                yield None
                return
            index += 1
            if self.tiles == [self.item]:
                # One large picture: converted a strip at a time, never whole as RGB.
                yield from self._strips(frame, scaler, conversion)
                continue
            top, column = divmod(index - 1, grid.columns)
            top *= tile_height
            if row is None:
                mode = "L" if self.is_alpha else "RGB"
                row = Image.new(mode, (grid.width, min(tile_height, grid.height - top)))
            row.paste(self._pixels(frame, scaler, conversion), (column * tile_width, 0))
            if column == grid.columns - 1:
                yield row
                row = None
        if index != len(self.tiles):
            yield None

    def _frames(
        self, context: VideoCodecContext, deadline: Deadline | None
    ) -> Iterator[VideoFrame]:
        for tile in self.tiles:
            if deadline is not None:
                deadline.check("decoding HEIC tiles")
            yield from context.decode(self._packet(tile))
        yield from context.decode(None)

    def _packet(self, item: int) -> av.Packet[Any]:
        """``item``'s coded bytes copied straight from the file into an FFmpeg-owned packet.

        A packet made from Python bytes is released through the GIL; a frame thread releasing
        it while this thread frees the decoder (after an error, or when the time budget stops
        a grid) would wait for the GIL forever.
        """
        extents = self.items.extents(len(self.data), item)
        packet = av.Packet(sum(size for _, size in extents))
        source, target, filled = memoryview(self.data), memoryview(packet), 0
        for start, size in extents:
            target[filled : filled + size] = source[start : start + size]
            filled += size
        return packet

    def _conversion(self, frame: VideoFrame) -> tuple[int, int] | None:
        """(swscale colour space, colour range) of ``frame``; ``None`` for a matrix not handled.

        The ``colr`` box decides, as in libheif; without one, the HEVC stream's own values.
        An alpha plane's samples are taken as they are, 8 or 10 bits, when not marked
        limited-range.
        """
        if self.is_alpha:
            usable = frame.format.name in _ALPHA_FORMATS and frame.color_range != LIMITED_RANGE
            return (0, FULL_RANGE) if usable else None
        if self.nclx is not None:
            matrix, full_range = self.nclx.matrix, self.nclx.full_range
        else:
            matrix = frame.colorspace if frame.colorspace != _UNSPECIFIED else 6
            full_range = frame.color_range != LIMITED_RANGE
        if matrix not in _MATRICES:
            return None
        return _MATRICES[matrix], FULL_RANGE if full_range else LIMITED_RANGE

    def _strips(
        self, frame: VideoFrame, scaler: VideoReformatter, conversion: tuple[int, int]
    ) -> Iterator[Image.Image]:
        """``frame`` as RGB, about a megapixel of rows at a time."""
        rows = max(2, _STRIP_PIXELS // frame.width // 2 * 2)  # even: 4:2:0 chroma row pairs
        planes, size = list(frame.planes), (frame.width, frame.height)
        for top in range(0, frame.height, rows):
            count = min(rows, frame.height - top)
            strip = rows_of(planes, size, top, count, frame.format.name)
            yield self._pixels(strip, scaler, conversion)

    def _pixels(
        self, frame: VideoFrame, scaler: VideoReformatter, conversion: tuple[int, int]
    ) -> Image.Image:
        """``frame`` (a tile or a strip) as RGB, or as ``L`` for an alpha plane."""
        if self.is_alpha:
            plane = frame.planes[0]
            size = (frame.width, frame.height)
            if frame.format.name == "gray":
                return Image.frombytes("L", size, bytes(plane), "raw", "L", plane.line_size)
            wide = Image.frombytes("I;16", size, bytes(plane), "raw", "I;16", plane.line_size)
            # The top 8 of the 10 bits, as libheif makes 8-bit alpha (a shift, not rounding).
            top: Image.Image = ImageMath.lambda_eval(lambda v: v["a"] >> 2, a=wide.convert("I"))
            return top.convert("L")
        return self._rgb(frame, scaler, conversion)

    def _rgb(
        self, frame: VideoFrame, scaler: VideoReformatter, conversion: tuple[int, int]
    ) -> Image.Image:
        """``frame`` (a tile or a strip) converted to 8-bit RGB."""
        colorspace, colour_range = conversion
        rgb = scaler.reformat(
            frame,
            format="rgb24",
            src_colorspace=colorspace,
            src_color_range=colour_range,
            dst_color_range=FULL_RANGE,
            interpolation=_CONVERT,
        )
        image: Image.Image = rgb.to_image()  # type: ignore[no-untyped-call]
        return image


def find_tiles(data: bytes, max_pixels: int) -> TileGrid | None:
    """The primary image as tiles, when it can be decoded here exactly as libheif would.

    ``None`` too when the tiles hold more than ``max_pixels`` and more than a tenth over the
    picture (the pixel budget was charged for the picture, which tiles far larger than it
    could dwarf; a 50 MP photo's 512 px tiles cover 0.8 % more) or more bytes than the file
    (extents that repeat it): libheif, with its own limits, then decides. An alpha plane is
    decoded here for a single 8- or 10-bit picture only, coded at the colour's size, with
    colour that is not premultiplied.
    """
    try:
        items = read_items(data)
        if items.tracks or (items.alpha is not None and items.premultiplied):
            return None
        grid = _picture(data, items, items.primary, _PLAIN, _PLAIN_TILE)
        if grid is None:
            return None
        if items.alpha is not None:
            alpha = _picture(data, items, items.alpha, _PLAIN_ALPHA, _PLAIN_ALPHA, is_alpha=True)
            if (
                alpha is None
                or grid.tiles != [items.primary]
                or alpha.tiles != [items.alpha]
                or (alpha.grid, alpha.tile_size) != (grid.grid, grid.tile_size)
                or _pixi(items, items.alpha) not in (None, (8,), (10,))
            ):
                return None
            grid.alpha = alpha
    except LayoutError:
        return None
    layout, (tile_width, tile_height) = grid.grid, grid.tile_size
    covered = (
        len(grid.tiles) == layout.rows * layout.columns
        and (layout.columns - 1) * tile_width < layout.width <= layout.columns * tile_width
        and (layout.rows - 1) * tile_height < layout.height <= layout.rows * tile_height
    )
    decoded = layout.rows * tile_height * layout.columns * tile_width
    # Tiles pad the picture to whole tiles: a photo at the limit may go over it by that much.
    allowed = max(max_pixels, int(layout.width * layout.height * _PADDING_ALLOWED))
    matrix = None if grid.nclx is None else grid.nclx.matrix
    if not covered or decoded > allowed or (matrix is not None and matrix not in _MATRICES):
        return None
    return grid


def _picture(
    data: bytes,
    items: Items,
    item: int,
    plain: frozenset[bytes],
    plain_tile: frozenset[bytes],
    is_alpha: bool = False,
) -> TileGrid | None:
    """``item`` (a grid of HEVC tiles, or one HEVC picture) as tiles, if it is usable here.

    Its own properties, and its tiles', must be among ``plain`` and ``plain_tile``; all tiles
    of one size and one codec configuration, their bytes within the file.
    """
    tiles = [item] if items.types.get(item) == b"hvc1" else []
    if items.types.get(item) == b"grid":
        tiles = items.targets(item, b"dimg")
    if not tiles or any(items.types.get(tile) != b"hvc1" for tile in tiles):
        return None
    kinds = {kind for kind, _ in items.properties.get(item, [])}
    tile_kinds = {kind for tile in tiles for kind, _ in items.properties.get(tile, [])}
    hvccs = {items.property(tile, b"hvcC") for tile in tiles}
    sizes = {_ispe(items, tile) for tile in tiles}
    if tiles != [item] and not tile_kinds <= plain_tile:
        return None
    if not kinds <= plain or len(hvccs) != 1 or len(sizes) != 1:
        return None
    coded = sum(size for tile in tiles for _, size in items.extents(len(data), tile))
    if coded > len(data):
        return None
    (hvcc,) = hvccs
    if hvcc is None:
        return None
    return TileGrid(data, items, tiles, hvcc, item=item, is_alpha=is_alpha)


def _pixi(items: Items, item: int) -> tuple[int, ...] | None:
    """Bits per sample of each of ``item``'s channels (``pixi``), if it says."""
    payload = items.property(item, b"pixi")
    if payload is None or len(payload) < 5 or len(payload) < 5 + payload[4]:
        return None
    return tuple(payload[5 : 5 + payload[4]])


def _ispe(items: Items, item: int) -> tuple[int, int]:
    payload = items.property(item, b"ispe")
    if payload is None or len(payload) != 12:
        raise LayoutError(f"item {item} has no usable size (ispe)")
    return int.from_bytes(payload[4:8], "big"), int.from_bytes(payload[8:12], "big")


def _clean_aperture(items: Items, item: int, size: tuple[int, int]) -> tuple[int, int]:
    """The size ``item``'s ``clap`` crops ``size`` to; :class:`LayoutError` unless at (0, 0).

    A crop anywhere else, or one listed after a rotation (so in rotated coordinates), is left
    to libheif.
    """
    kinds = [kind for kind, _ in items.properties.get(item, [])]
    payload = items.property(item, b"clap")
    if payload is None:
        return size
    if {b"irot", b"imir"} & set(kinds[: kinds.index(b"clap")]) or len(payload) != 32:
        raise LayoutError("a clean aperture this module does not apply")
    fields = struct.unpack(">IIIIiIiI", payload)
    if 0 in fields[1::2]:
        raise LayoutError("a clean aperture with a zero denominator")
    width, height, across, down = (
        Fraction(n, d) for n, d in zip(fields[::2], fields[1::2], strict=True)
    )
    # Its centre is the picture's centre moved by the offsets (ISO/IEC 14496-12, 12.1.4).
    left = across + Fraction(size[0] - 1, 2) - (width - 1) / 2
    top = down + Fraction(size[1] - 1, 2) - (height - 1) / 2
    whole = width.denominator == height.denominator == 1
    if left or top or not whole or not (0 < width <= size[0] and 0 < height <= size[1]):
        raise LayoutError("a clean aperture that is not the top-left part of the picture")
    return int(width), int(height)


def _transforms(items: Items, item: int) -> list[Image.Transpose]:
    """The item's rotation and mirroring, in the order they apply."""
    result = []
    for kind, payload in items.properties.get(item, []):
        if kind == b"irot" and payload and payload[0] & 3:
            result.append(_ROTATE[payload[0] & 3])
        elif kind == b"imir" and payload:
            result.append(_MIRROR[payload[0] & 1])
    return result

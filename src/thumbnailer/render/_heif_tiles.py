"""Large HEIC grids decoded a tile at a time by FFmpeg's HEVC decoder (PyAV), when installed.

Photos over 35 MP (HEVC's largest picture) and every phone photo are stored as a grid of
small HEVC pictures, typically 512x512. libheif decodes the whole grid into one YCbCr picture
and converts it to RGB in one piece: at 50 MP that is 240 MiB for 8-bit 4:2:0, about 390 MiB
for 10-bit and 470 MiB for 4:4:4. Here each tile is decoded on its own, converted to RGB, and
each row of tiles is box-shrunk into the result before the next is decoded: only one row of
tiles is ever held at full size, whatever the picture's size or bit depth.

The colour conversion follows the picture's ``colr`` (nclx) box as libheif does: its matrix
and range, or, without one, what the HEVC stream itself says. Anything this module does not
decode exactly as libheif would (alpha, a clean-aperture crop, tiles with differing codec
settings, unusual matrices, items it cannot place) is left to libheif, which remains the
authority on what a valid HEIF file is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import av
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation, VideoReformatter
from PIL import Image

from thumbnailer.render._deadline import Deadline
from thumbnailer.render._isobmff import Items, LayoutError, read_grid, read_items

__all__ = ["TileGrid", "find_grid"]

# Properties a tile or the grid may carry that change nothing about decoding its pixels, or
# that are applied here (irot, imir: on the small result).
_PLAIN = frozenset({b"ispe", b"pixi", b"colr", b"hvcC", b"irot", b"imir"})
# HEVC matrix_coefficients → the swscale colour space with the same matrix. Identity (RGB
# stored as is), YCgCo, constant luminance and the rest are left to libheif.
_MATRICES = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9}
_UNSPECIFIED = 2
_FULL_RANGE, _LIMITED_RANGE = 2, 1  # AVCOL_RANGE_JPEG, AVCOL_RANGE_MPEG
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


def _threads() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class TileGrid:
    """A HEIC grid's tiles and what it takes to turn them into an upright RGB picture."""

    def __init__(self, data: bytes, items: Items, tiles: list[int], hvcc: bytes) -> None:
        self.data = data
        self.items = items
        self.tiles = tiles
        self.hvcc = hvcc
        self.grid = read_grid(items.data(data, items.primary))
        self.tile_size = _ispe(items, tiles[0])
        self.transforms = _transforms(items, items.primary)
        self.nclx = _nclx(items, [items.primary, *tiles])

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
        up_width, up_height = self.size
        factor = max(1, min(up_width // target[0], up_height // target[1]))
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
        """The stored picture box-shrunk by ``factor``, one row of tiles at a time."""
        width, height = self.grid.width, self.grid.height
        shrunk = Image.new("RGB", (-(-width // factor), -(-height // factor)))
        pending: Image.Image | None = None  # full-size rows not yet a whole box high
        done = 0  # full-size rows shrunk into the result so far
        for row_image in self._rows(deadline):
            if row_image is None:
                return None
            if pending is not None:
                joined = Image.new("RGB", (width, pending.height + row_image.height))
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

    def _rows(self, deadline: Deadline | None) -> Iterator[Image.Image | None]:
        """Each row of tiles as one RGB strip of the picture's width (the last one cropped)."""
        grid, (tile_width, tile_height) = self.grid, self.tile_size
        context = VideoCodecContext.create("hevc", "r")
        context.extradata = self.hvcc
        context.thread_count = _threads()
        context.thread_type = "FRAME"  # tiles are independent pictures: decode them side by side
        scaler = VideoReformatter()
        row: Image.Image | None = None
        index = 0
        for frame in self._frames(context, deadline):
            if (frame.width, frame.height) != (tile_width, tile_height):
                yield None
                return
            top, column = divmod(index, grid.columns)
            top *= tile_height
            if row is None:
                row = Image.new("RGB", (grid.width, min(tile_height, grid.height - top)))
            row.paste(self._rgb(frame, scaler), (column * tile_width, 0))
            index += 1
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
            yield from context.decode(_packet(self.items.data(self.data, tile)))
        yield from context.decode(None)

    def _rgb(self, frame: VideoFrame, scaler: VideoReformatter) -> Image.Image:
        matrix, full_range = self.nclx
        if matrix is None:
            matrix = frame.colorspace if frame.colorspace != _UNSPECIFIED else 6
        if full_range is None:
            full_range = frame.color_range != _LIMITED_RANGE
        rgb = scaler.reformat(
            frame,
            format="rgb24",
            src_colorspace=_MATRICES[matrix],
            src_color_range=_FULL_RANGE if full_range else _LIMITED_RANGE,
            dst_color_range=_FULL_RANGE,
            interpolation=_CONVERT,
        )
        image: Image.Image = rgb.to_image()  # type: ignore[no-untyped-call]
        return image


def find_grid(data: bytes) -> TileGrid | None:
    """The primary image's tile grid, when it can be decoded here exactly as libheif would."""
    try:
        items = read_items(data)
        primary = items.primary
        if items.types.get(primary) != b"grid" or items.alpha is not None or items.tracks:
            return None
        tiles = items.targets(primary, b"dimg")
        if not tiles or any(items.types.get(tile) != b"hvc1" for tile in tiles):
            return None
        kinds = {kind for item in [primary, *tiles] for kind, _ in items.properties.get(item, [])}
        hvccs = {items.property(tile, b"hvcC") for tile in tiles}
        sizes = {_ispe(items, tile) for tile in tiles}
        if not kinds <= _PLAIN or len(hvccs) != 1 or len(sizes) != 1:
            return None
        (hvcc,) = hvccs
        if hvcc is None:
            return None
        grid = TileGrid(data, items, tiles, hvcc)
    except LayoutError:
        return None
    layout, (tile_width, tile_height) = grid.grid, grid.tile_size
    covered = (
        len(tiles) == layout.rows * layout.columns
        and (layout.columns - 1) * tile_width < layout.width <= layout.columns * tile_width
        and (layout.rows - 1) * tile_height < layout.height <= layout.rows * tile_height
    )
    matrix = grid.nclx[0]
    if not covered or (matrix is not None and matrix not in _MATRICES):
        return None
    return grid


def _packet(payload: bytes) -> av.Packet[Any]:
    """A packet whose buffer FFmpeg owns.

    A packet made from Python bytes is released through the GIL; a frame thread releasing it
    while this thread frees the decoder (after an error or the time budget stops a grid)
    would wait for the GIL forever.
    """
    packet = av.Packet(len(payload))
    memoryview(packet)[:] = payload
    return packet


def _ispe(items: Items, item: int) -> tuple[int, int]:
    payload = items.property(item, b"ispe")
    if payload is None or len(payload) != 12:
        raise LayoutError(f"item {item} has no usable size (ispe)")
    return int.from_bytes(payload[4:8], "big"), int.from_bytes(payload[8:12], "big")


def _transforms(items: Items, item: int) -> list[Image.Transpose]:
    """The item's rotation and mirroring, in the order they apply."""
    result = []
    for kind, payload in items.properties.get(item, []):
        if kind == b"irot" and payload and payload[0] & 3:
            result.append(_ROTATE[payload[0] & 3])
        elif kind == b"imir" and payload:
            result.append(_MIRROR[payload[0] & 1])
    return result


def _nclx(items: Items, item_ids: list[int]) -> tuple[int | None, bool | None]:
    """(matrix coefficients, full range) from the first nclx ``colr`` box, or (None, None)."""
    for item in item_ids:
        for kind, payload in items.properties.get(item, []):
            if kind == b"colr" and payload[:4] == b"nclx" and len(payload) >= 11:
                return int.from_bytes(payload[8:10], "big"), bool(payload[10] & 0x80)
    return None, None

"""HEIC/HEIF through pillow-heif (imported only when a HEIF input arrives).

Large grids without a usable preview are decoded tile by tile through PyAV when it is
installed (``_heif_tiles``): libheif's whole-picture decode costs 5 to 9 bytes per pixel.
"""

from __future__ import annotations

import pillow_heif
from PIL import Image

from thumbnailer.errors import CorruptImage
from thumbnailer.render._deadline import Deadline
from thumbnailer.render._decode import PixelBudget
from thumbnailer.render._isobmff import picture_cut_short
from thumbnailer.render._pixels import reduce_buffer

__all__ = ["HeifSource"]


class HeifSource:
    """The primary image of a HEIF file; libheif applies its rotation and mirroring."""

    def __init__(
        self,
        data: bytes,
        budget: PixelBudget,
        deadline: Deadline | None = None,
        tiles: bool = False,
    ) -> None:
        """``tiles``: large grids may be decoded a tile at a time (PyAV is installed)."""
        self.data = data
        self.deadline = deadline
        self.tiles = tiles
        # Opening parses the container only; no image is decoded yet.
        self.file = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        if len(self.file) == 0:
            raise CorruptImage("the HEIF file holds no image")
        self.primary = self.file[self.file.primary_index]
        if picture_cut_short(data):
            raise CorruptImage("the HEIF file is truncated (its image data ends early)")
        width, height = self.primary.size
        budget.spend(width, height, "the HEIF image")

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.primary.size
        return int(width), int(height)

    def orientation(self) -> int:
        return 1  # libheif already applied the image's transforms (EXIF must then be ignored)

    def _preview(self, target: tuple[int, int]) -> Image.Image | None:
        """A stored preview at least as large as ``target`` with the primary's shape."""
        width, height = self.size
        sides: list[int] = list(self.primary.info.get("thumbnails") or [])  # type: ignore[arg-type]
        for index, side in sorted(enumerate(sides), key=lambda item: item[1]):
            if side < max(target):
                continue
            thumb = self.primary.get_thumbnail(index)
            t_width, t_height = thumb.size
            same_shape = abs(t_width / t_height - width / height) < 0.01
            if same_shape and t_width >= target[0] and t_height >= target[1]:
                image: Image.Image = thumb.to_pillow()
                return image
        return None

    def _primary(self, target: tuple[int, int] | None) -> Image.Image:
        """The primary image, box-reduced strip by strip when far above ``target``.

        libheif hands over one decoded buffer; turning it into a Pillow image in one go would
        hold a second full-size copy, so large reductions read it a strip of rows at a time.
        """
        width, height = self.size
        factor = 1 if target is None else min(width // target[0], height // target[1])
        mode = str(self.primary.mode)
        if self.tiles and target is not None and mode == "RGB":
            from thumbnailer.render._heif_tiles import find_grid

            grid = find_grid(self.data)
            if grid is not None and grid.size == (width, height):
                tiled = grid.decode(target, self.deadline)
                if tiled is not None:
                    return tiled
        if factor < 2 or mode not in ("RGB", "RGBA", "L"):
            image: Image.Image = self.primary.to_pillow()
            return image
        pixels = memoryview(self.primary.data)
        return reduce_buffer(pixels, mode, (width, height), int(self.primary.stride), factor)

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        image = self._preview(target) if target is not None else None
        if image is None:
            image = self._primary(target)
        icc = self.primary.info.get("icc_profile")
        image.info = {"icc_profile": icc} if icc else {}
        return image

    def close(self) -> None:
        return None

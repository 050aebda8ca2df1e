"""HEIC/HEIF through pillow-heif (imported only when a HEIF input arrives).

Without a usable preview, the primary picture is decoded through PyAV when it is installed
(``_heif_tiles``: a tile or a strip at a time); libheif's whole-picture decode costs 5 to 9
bytes per pixel.
"""

from __future__ import annotations

import pillow_heif
from PIL import Image

from thumbnailer.errors import CorruptImage
from thumbnailer.render._cicp import profile_for
from thumbnailer.render._deadline import Deadline
from thumbnailer.render._decode import PixelBudget
from thumbnailer.render._geometry import whole_factor
from thumbnailer.render._isobmff import picture_cut_short
from thumbnailer.render._pixels import reduce_buffer

__all__ = ["HeifSource"]


class HeifSource:
    """The primary image of a HEIF file, upright: its rotation and mirroring are applied."""

    def __init__(
        self,
        data: bytes,
        budget: PixelBudget,
        deadline: Deadline | None = None,
        use_av: bool = False,
    ) -> None:
        """``use_av``: PyAV is installed, so the primary picture may be decoded through it."""
        self.data = data
        self.deadline = deadline
        self.use_av = use_av
        self.max_pixels = budget.limit
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
            # Multiplied out: a damaged preview may claim a side of 0.
            same_shape = abs(t_width * height - width * t_height) < 0.01 * t_height * height
            if same_shape and t_width >= target[0] and t_height >= target[1]:
                image: Image.Image = thumb.to_pillow()
                return image
        return None

    def _primary(self, target: tuple[int, int] | None) -> Image.Image:
        """The primary image, box-reduced when far above ``target``.

        Through PyAV when it can (see ``_heif_tiles``). Otherwise libheif hands over one
        decoded buffer; turning it into a Pillow image in one go would hold a second
        full-size copy, so large reductions read it a strip of rows at a time.
        """
        width, height = self.size
        factor = whole_factor((width, height), target)
        mode = str(self.primary.mode)
        if self.use_av and target is not None and mode in ("RGB", "RGBA"):
            from thumbnailer.render._heif_tiles import find_tiles

            tiles = find_tiles(self.data, self.max_pixels)
            with_alpha = tiles is not None and tiles.alpha is not None
            if (
                tiles is not None
                and tiles.size == (width, height)
                and with_alpha == (mode == "RGBA")
            ):
                tiled = tiles.decode(target, self.deadline)
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
        image.info = {"icc_profile": icc} if (icc := self._icc_profile()) else {}
        return image

    def _icc_profile(self) -> bytes | None:
        """The embedded profile, else one for the colour its ``nclx`` box names, if not sRGB."""
        icc = self.primary.info.get("icc_profile")
        if icc:
            return bytes(icc)  # type: ignore[arg-type]
        nclx = self.primary.info.get("nclx_profile")
        if not isinstance(nclx, dict):
            return None
        return profile_for(nclx.get("color_primaries"), nclx.get("transfer_characteristics"))

    def close(self) -> None:
        # libheif keeps a picture it decoded (5-9 bytes a pixel) as long as its file lives;
        # the caller keeps only the image decode() returned.
        for name in ("primary", "file"):
            vars(self).pop(name, None)

"""Pure geometry: where each thumbnail's pixels come from and where they go. No Pillow here."""

from __future__ import annotations

import math
from dataclasses import dataclass

from thumbnailer.render.spec import Fit, Size

__all__ = [
    "SHRINK_MARGIN",
    "Plan",
    "oriented",
    "plan",
    "scale_box",
    "source_target",
    "whole_factor",
]

Box = tuple[float, float, float, float]

# EXIF orientations 5..8 store the image with width and height swapped.
_SWAPPING = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class Plan:
    """How one box is made from an upright source of a known size."""

    box: Size
    crop: Box  # region of the upright source, in its pixels (left, top, right, bottom)
    scaled: tuple[int, int]  # size the crop is resized to
    canvas: tuple[int, int]  # size of the output image
    offset: tuple[int, int]  # where the scaled image sits on the canvas

    @property
    def factor(self) -> float:
        """Output pixels per source pixel (below 1 when shrinking)."""
        return max(self.scaled[0] / (self.crop[2] - self.crop[0]), 1e-9)


def oriented(width: int, height: int, orientation: int) -> tuple[int, int]:
    """Size of an image once its EXIF orientation is applied."""
    return (height, width) if orientation in _SWAPPING else (width, height)


def _fit_size(width: int, height: int, box: Size) -> tuple[int, int]:
    """Largest size with the source's aspect ratio inside ``box``, never above the source."""
    if width <= box.width and height <= box.height:
        return width, height
    if width * box.height >= height * box.width:  # wider than the box: width decides
        return box.width, max(1, min(box.height, round(height * box.width / width)))
    return max(1, min(box.width, round(width * box.height / height))), box.height


def plan(width: int, height: int, box: Size, fit: Fit) -> Plan:
    """Plan one thumbnail of an upright ``width`` x ``height`` source."""
    if width < 1 or height < 1:
        raise ValueError(f"source size {width}x{height} must be positive")
    full: Box = (0.0, 0.0, float(width), float(height))
    if fit is Fit.COVER:
        # Scale so the box is covered, then take the centred box-shaped region.
        scale = max(box.width / width, box.height / height)
        crop_w = min(float(width), box.width / scale)
        crop_h = min(float(height), box.height / scale)
        left = (width - crop_w) / 2
        top = (height - crop_h) / 2
        dims = (box.width, box.height)
        return Plan(box, (left, top, left + crop_w, top + crop_h), dims, dims, (0, 0))
    scaled = _fit_size(width, height, box)
    if fit is Fit.PAD:
        offset = ((box.width - scaled[0]) // 2, (box.height - scaled[1]) // 2)
        return Plan(box, full, scaled, (box.width, box.height), offset)
    return Plan(box, full, scaled, scaled, (0, 0))


# How much larger than the largest thumbnail a shrink-on-load decode stays, by default.
SHRINK_MARGIN = 2.0


def source_target(
    width: int, height: int, plans: list[Plan], gap: float = SHRINK_MARGIN
) -> tuple[int, int] | None:
    """The smallest upright source size that still makes every plan well.

    Decoders that can shrink while loading (JPEG DCT scaling, PDF rendering, HEIF previews)
    may decode to any size at least this large; ``gap`` keeps a margin so the final
    resampling filter still has pixels to average. ``None`` when the full size is needed.
    """
    factor = max(p.factor for p in plans) * gap
    if factor >= 1:
        return None
    return (
        min(width, max(1, math.ceil(width * factor))),
        min(height, max(1, math.ceil(height * factor))),
    )


def scale_box(box: Box, fx: float, fy: float) -> Box:
    """Map a crop box from source pixels to a decoded image ``fx``/``fy`` times as large."""
    return (box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy)


def whole_factor(size: tuple[int, int], target: tuple[int, int] | None) -> int:
    """The largest whole factor ``size`` can be box-shrunk by and still cover ``target``.

    1 when there is no target, or when ``size`` is less than twice the target.
    """
    if target is None:
        return 1
    return max(1, min(size[0] // max(1, target[0]), size[1] // max(1, target[1])))

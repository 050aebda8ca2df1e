"""``render()``: bytes in, thumbnails out.

Stages: sniff the format → open the decoder and check limits from the header → decode (with a
size hint for shrink-on-load) → orientation and working mode → pure geometry plan → resize →
colour to sRGB → flatten/pad → encode. Importing this module is cheap: Pillow and the pixel
modules load on the first call.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from thumbnailer.errors import (
    CorruptImage,
    EmptyInput,
    ThumbnailerError,
    TooLarge,
    UnsupportedFormat,
)
from thumbnailer.render import _geometry
from thumbnailer.render._deadline import Deadline
from thumbnailer.render._sniff import Kind, sniff
from thumbnailer.render.spec import OutputFormat, Thumbnail, ThumbnailSpec

if TYPE_CHECKING:
    from PIL import Image

    from thumbnailer.render._pixels import ColourConverter

__all__ = ["render"]


def render(data: bytes, spec: ThumbnailSpec | None = None) -> list[Thumbnail]:
    """Render one thumbnail per size in ``spec`` from the encoded image ``data``.

    Raises :class:`~thumbnailer.errors.EmptyInput`, ``UnsupportedFormat``, ``CorruptImage``,
    ``TooLarge`` or ``RenderTimeout``; never a library's own exception.
    """
    spec = spec or ThumbnailSpec()
    deadline = Deadline(spec.limits.time_budget_seconds)
    if not data:
        raise EmptyInput("the input is empty (0 bytes)")
    if len(data) > spec.limits.max_input_bytes:
        raise TooLarge(
            f"the input is {len(data):,} bytes; the limit is {spec.limits.max_input_bytes:,}"
        )
    kind = sniff(data)
    try:
        return _render(data, kind, spec, deadline)
    except ThumbnailerError as exc:
        _release_frames(exc)
        raise
    except MemoryError as exc:
        _release_frames(exc)
        raise TooLarge(f"the {kind} image needs more memory than is available") from exc
    except Exception as exc:
        _release_frames(exc)
        raise _classify(exc, kind) from exc


def _release_frames(exc: BaseException) -> None:
    """Drop the local variables of the finished frames ``exc`` (and its causes) passed through.

    A caller keeps the error (a batch reports every failure at its end), and with it the
    traceback, whose frames would keep a decoder alive: libheif's decoded picture, an FFmpeg
    codec context and its threads. File names and line numbers stay for the log.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)  # skips the frames still running
        current = current.__cause__ or current.__context__


def _classify(exc: Exception, kind: Kind) -> ThumbnailerError:
    """Map any decoder failure to a user-facing error."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, ModuleNotFoundError):
        # A layer built without this decoder (`thumbnailer package --without ...`).
        return UnsupportedFormat(
            f"{kind} input needs the {exc.name or 'decoder'} package, which is not installed"
        )
    if isinstance(exc, Image.DecompressionBombError):
        return TooLarge(f"the {kind} image has too many pixels to decode safely ({exc})")
    if isinstance(exc, UnidentifiedImageError):
        return CorruptImage(f"the file starts like a {kind} file but its header is damaged")
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return CorruptImage(f"the {kind} file is truncated (it ends before the image data)")
    return CorruptImage(f"the {kind} file cannot be decoded: {text}")


def _render(data: bytes, kind: Kind, spec: ThumbnailSpec, deadline: Deadline) -> list[Thumbnail]:
    from thumbnailer.render import _decode, _pixels

    budget = _decode.PixelBudget(spec.limits.max_input_pixels)
    source = _decode.open_source(data, kind, budget, deadline)
    try:
        deadline.check("reading the header")
        width, height = source.size
        hint = source.orientation()
        upright = _geometry.oriented(width, height, hint)
        plans = [_geometry.plan(*upright, box, spec.fit) for box in spec.sizes]
        target = _geometry.source_target(*upright, plans)
        if target is not None:
            target = _geometry.oriented(*target, hint)  # back to stored orientation
        decoded = source.decode(target)
        deadline.check("decoding")
        orientation = source.orientation()
        if orientation != hint:  # the orientation was only found while decoding
            upright = _geometry.oriented(width, height, orientation)
            plans = [_geometry.plan(*upright, box, spec.fit) for box in spec.sizes]
            target = _geometry.source_target(*upright, plans)
            if target is not None:
                target = _geometry.oriented(*target, orientation)
        working = _pixels.shrink_to_working_mode(decoded, target)
        del decoded  # when a copy was made, free the decoded pixels before resizing
        image = _pixels.orient(working, orientation)
        del working
    finally:
        source.close()
    alpha = _pixels.has_alpha(image)
    fmt = _output_format(spec.format, alpha)
    colour = _pixels.ColourConverter(image.mode, image.info.get("icc_profile"))
    deadline.check("preparing pixels")
    thumbnails = []
    for plan in plans:
        thumbnails.append(_make(image, plan, upright, fmt, alpha, colour, spec))
        deadline.check(f"the {plan.box} thumbnail")
    return thumbnails


def _output_format(requested: OutputFormat, alpha: bool) -> OutputFormat:
    if requested is OutputFormat.AUTO:
        return OutputFormat.PNG if alpha else OutputFormat.JPEG
    return requested


def _make(
    image: Image.Image,
    plan: _geometry.Plan,
    upright: tuple[int, int],
    fmt: OutputFormat,
    alpha: bool,
    colour: ColourConverter,
    spec: ThumbnailSpec,
) -> Thumbnail:
    from thumbnailer.render import _encode, _pixels

    small = colour(_pixels.resize(image, plan, upright))
    out = _pixels.compose(
        small,
        plan,
        keep_alpha=alpha and fmt in _encode.ALPHA_FORMATS,
        grey_ok=fmt in _encode.GREY_FORMATS,
        background=spec.background,
    )
    data = _encode.encode(out, fmt, spec.quality)
    return Thumbnail(data=data, width=out.width, height=out.height, format=fmt, box=plan.box)

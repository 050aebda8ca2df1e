"""Flags shared by every command that renders thumbnails, and the spec they build.

One definition keeps ``--size``, ``--fit``, ``--format`` and ``--quality`` spelled, checked
and documented the same way in every command.
"""

from __future__ import annotations

import argparse

from thumbnailer.errors import ConfigError
from thumbnailer.render import can_encode
from thumbnailer.render.spec import Fit, OutputFormat, Size, ThumbnailSpec

__all__ = ["add_spec_options", "spec_from_args"]

DEFAULT_SPEC = ThumbnailSpec()
# Other spellings --format accepts; "jpg" is what the files are called.
FORMAT_ALIASES = {"jpg": OutputFormat.JPEG.value}


def _size(text: str) -> Size:
    try:
        return Size.parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid quality {text!r}: expected 1..100") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"quality {value}: must be 1..100")
    return value


def add_spec_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--size`` (repeatable), ``--fit``, ``--format`` and ``--quality`` to ``parser``."""
    group = parser.add_argument_group("thumbnail options")
    default_sizes = ",".join(str(s) for s in DEFAULT_SPEC.sizes)
    group.add_argument(
        "--size",
        dest="sizes",
        action="append",
        type=_size,
        metavar="WxH",
        help=f"box to fit each thumbnail in; repeat for several sizes (default {default_sizes})",
    )
    group.add_argument(
        "--fit",
        choices=[f.value for f in Fit],
        default=DEFAULT_SPEC.fit.value,
        help="fit: inside the box, never upscaled; cover: exactly the box, centre crop; "
        "pad: exactly the box, letterboxed (default %(default)s)",
    )
    group.add_argument(
        "--format",
        choices=[*(f.value for f in OutputFormat), *FORMAT_ALIASES],
        default=DEFAULT_SPEC.format.value,
        help="output format; auto: JPEG, or PNG when the image has transparency; jpg is jpeg "
        "(default %(default)s)",
    )
    group.add_argument(
        "--quality",
        type=_quality,
        default=DEFAULT_SPEC.quality,
        metavar="N",
        help="encoder quality 1..100 for JPEG, WebP and AVIF (default %(default)s)",
    )


def spec_from_args(args: argparse.Namespace) -> ThumbnailSpec:
    """Build the :class:`ThumbnailSpec` the flags ask for (raises :class:`ConfigError`)."""
    sizes = tuple(args.sizes) if args.sizes else DEFAULT_SPEC.sizes
    if len(set(sizes)) != len(sizes):
        repeated = sorted({str(s) for s in sizes if sizes.count(s) > 1})
        raise ConfigError(f"--size {', '.join(repeated)} is given more than once")
    fmt = OutputFormat(FORMAT_ALIASES.get(args.format, args.format))
    # Said once before any input is read, rather than as every input's failure.
    if not can_encode(fmt):
        name = fmt.value.upper()
        raise ConfigError(
            f"--format {args.format}: this build cannot write {name} thumbnails "
            f"(its Pillow has no {name} encoder)"
        )
    return ThumbnailSpec(sizes=sizes, fit=Fit(args.fit), format=fmt, quality=args.quality)

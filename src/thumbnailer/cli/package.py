"""``thumbnailer package``: build dist/function.zip and the dependencies layer for Lambda."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from thumbnailer.errors import ConfigError
from thumbnailer.packaging.build import ARCHITECTURES, OPTIONAL_EXTRAS, PYTHONS, build

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``package`` command."""
    parser = subparsers.add_parser(
        "package",
        help="build dist/function.zip and the dependencies layer for Lambda",
        description=(
            "Build the function zip (the thumbnailer package) and a layer zip with the locked "
            "dependencies as wheels for the Lambda platform. Same inputs, same bytes."
        ),
    )
    parser.add_argument(
        "--python", default="3.12", choices=PYTHONS, help="Lambda runtime: 3.12 (default) or 3.13"
    )
    parser.add_argument(
        "--arch", default="arm64", choices=sorted(ARCHITECTURES), help="architecture (arm64)"
    )
    parser.add_argument(
        "--without",
        default="",
        metavar="EXTRAS",
        help=f"comma-separated decoders to leave out: {','.join(OPTIONAL_EXTRAS)}",
    )
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output folder (dist)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    if args.python == "3.11":
        # build() still makes it: the local stack runs the artifact with a 3.11 interpreter.
        raise ConfigError(
            "--python 3.11: Lambda's python3.11 runtime runs on Amazon Linux 2 (glibc 2.26), "
            "which cannot load the layer's manylinux_2_28 wheels; use 3.12 or 3.13"
        )
    result = build(
        out_dir=args.out,
        python=args.python,
        arch=args.arch,
        without=args.without.split(","),
    )
    print(f"built for python{result.python} {result.arch} with extras {','.join(result.extras)}")
    print(result.summary())
    return 0

"""``thumbnailer make``: thumbnails of local files, written to a folder."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from thumbnailer.cli._options import add_spec_options, spec_from_args
from thumbnailer.errors import (
    AccessDenied,
    ConfigError,
    ObjectNotFound,
    ThumbnailerError,
    TooLarge,
)
from thumbnailer.render.spec import Thumbnail, ThumbnailSpec

__all__ = ["register"]

EXIT_OK, EXIT_FAILED = 0, 1
PROGRESS_FROM = 10  # inputs; fewer finish before a bar would help


def register(subparsers: Any) -> None:
    """Add the ``make`` command to the CLI."""
    parser = subparsers.add_parser(
        "make",
        help="make thumbnails of local image, PDF and video files",
        description=(
            "Make one thumbnail per input and size, written to DIR as <stem>_<W>x<H>.<ext> "
            "(W x H is the box asked for). Exit status: 0 when every input succeeded, 1 when "
            "any failed (the others are still processed), 2 on usage errors."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", type=Path, help="files to render")
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder for the thumbnails"
    )
    add_spec_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per input per line instead of the readable summary",
    )
    parser.set_defaults(handler=run)


@dataclass
class Result:
    """What happened to one input."""

    input: Path
    written: list[tuple[Path, Thumbnail]] = field(default_factory=list)
    error: ThumbnailerError | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` line for this input."""
        return {
            "input": str(self.input),
            "ok": self.error is None,
            "thumbnails": [
                {
                    "path": str(path),
                    "width": t.width,
                    "height": t.height,
                    "format": t.format.value,
                    "bytes": len(t.data),
                }
                for path, t in self.written
            ],
            "error": self.error.to_dict() if self.error else None,
        }


def _read(path: Path, spec: ThumbnailSpec) -> bytes:
    """Read one input, refusing oversized files before reading them."""
    try:
        if path.is_dir():
            raise ConfigError(f"{path} is a folder, not a file")
        size = path.stat().st_size
        if size > spec.limits.max_input_bytes:
            raise TooLarge(
                f"the input is {size:,} bytes; the limit is {spec.limits.max_input_bytes:,}"
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ObjectNotFound(f"no such file: {path}") from exc
    except PermissionError as exc:
        raise AccessDenied(f"not allowed to read {path}") from exc
    except OSError as exc:
        raise ThumbnailerError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _write(path: Path, data: bytes) -> None:
    """Write atomically, so an interrupted run never leaves half a thumbnail behind."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except PermissionError as exc:
        raise AccessDenied(f"not allowed to write {path}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ThumbnailerError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _make_one(path: Path, spec: ThumbnailSpec, out: Path, claimed: set[Path]) -> Result:
    from thumbnailer.render import render

    result = Result(input=path)
    try:
        thumbnails = render(_read(path, spec), spec)
        targets = [
            out / f"{path.stem}_{t.box.width}x{t.box.height}.{t.extension}" for t in thumbnails
        ]
        clash = [t for t in targets if t in claimed]
        if clash:
            raise ConfigError(
                f"{clash[0]} was already written for another input with the same name; "
                "rename one of them or run them separately"
            )
        for target, thumbnail in zip(targets, thumbnails, strict=True):
            _write(target, thumbnail.data)
            claimed.add(target)
            result.written.append((target, thumbnail))
    except ThumbnailerError as exc:
        result.error = exc
    return result


class Progress:
    """A one-line progress bar on a terminal's stderr; silent anywhere else."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total, self.stream, self.enabled, self.done = total, stream, enabled, 0

    def clear(self) -> None:
        """Erase the bar so a normal line can be printed."""
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def advance(self) -> None:
        """Count one input as done and redraw."""
        self.done += 1
        if self.enabled:
            filled = self.WIDTH * self.done // self.total
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total}")
            self.stream.flush()


def _human_bytes(count: int) -> str:
    return f"{count} B" if count < 1024 else f"{count / 1024:.1f} KB"


def _describe(result: Result) -> str:
    if result.error is not None:
        return f"fail  {result.input}: {result.error.kind}: {result.error.message}"
    made = ", ".join(
        f"{path} ({t.width}x{t.height} {t.format.value.upper()}, {_human_bytes(len(t.data))})"
        for path, t in result.written
    )
    return f"ok    {result.input} -> {made}"


def run(args: argparse.Namespace) -> int:
    """Render every input; print one line (or JSON object) each and a summary."""
    spec = spec_from_args(args)
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"--out {out}: not a folder") from exc
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create it ({exc.strerror or exc})") from exc
    inputs: list[Path] = args.inputs
    show_bar = not args.json and len(inputs) >= PROGRESS_FROM and sys.stderr.isatty()
    progress = Progress(len(inputs), sys.stderr, show_bar)
    claimed: set[Path] = set()
    failed = made = 0
    for path in inputs:
        result = _make_one(path, spec, out, claimed)
        failed += result.error is not None
        made += len(result.written)
        progress.clear()
        if args.json:
            print(json.dumps(result.to_dict()), flush=True)
        else:
            print(_describe(result), flush=True)
        progress.advance()
    progress.clear()
    if not args.json:
        noun = "input" if len(inputs) == 1 else "inputs"
        print(
            f"{len(inputs)} {noun}: {len(inputs) - failed} ok, {failed} failed; "
            f"{made} thumbnails in {out}"
        )
    return EXIT_FAILED if failed else EXIT_OK

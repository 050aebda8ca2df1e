"""``thumbnailer make``: thumbnails of local files, written to a folder."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from thumbnailer.cli._local_files import (
    FileId,
    folder_entry,
    identity,
    read_input,
    write_atomically,
)
from thumbnailer.cli._options import add_spec_options, spec_from_args
from thumbnailer.cli._text import json_text, shown
from thumbnailer.errors import ConfigError, ObjectNotFound, ThumbnailerError
from thumbnailer.render.spec import EXTENSIONS, OutputFormat, Size, Thumbnail, ThumbnailSpec

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
    # Strings, not Paths: the output names each input exactly as it was given.
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="files to render")
    parser.add_argument(
        "--inputs-from",
        metavar="FILE",
        help="also render the files named in FILE, one per line ('-': standard input); for "
        "more names than a command line holds",
    )
    parser.add_argument(
        "--null",
        action="store_true",
        help="names in --inputs-from end with a NUL character, not a line break "
        "(as `find -print0` writes them)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the thumbnails")
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

    input: str  # the argument exactly as given
    written: list[tuple[Path, Thumbnail]] = field(default_factory=list)
    error: ThumbnailerError | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` line for this input."""
        return {
            "input": json_text(self.input),
            "ok": self.error is None,
            "thumbnails": [
                {
                    "path": json_text(str(path)),
                    "width": t.width,
                    "height": t.height,
                    "format": t.format.value,
                    "bytes": len(t.data),
                }
                for path, t in self.written
            ],
            "error": (
                {"kind": self.error.kind, "message": json_text(self.error.message)}
                if self.error
                else None
            ),
        }


def _target_name(stem: str, box: Size, extension: str) -> str:
    """The file name of one thumbnail: ``<stem>_<W>x<H>.<ext>``."""
    return f"{stem}_{box.width}x{box.height}.{extension}"


def _make_one(name: str, spec: ThumbnailSpec, out: Path, claimed: dict[Path, FileId]) -> Result:
    """Render one input and write its thumbnails; any failure becomes the result's error."""
    from thumbnailer.render import render

    result = Result(input=name)
    try:
        if not name:  # Path("") would be the current folder
            raise ObjectNotFound("an empty name is not a file")
        data, file_id = read_input(name, spec.limits.max_input_bytes)
        thumbnails = render(data, spec)
        stem = Path(name).stem
        targets = [out / _target_name(stem, t.box, t.extension) for t in thumbnails]
        # The same file given twice (a.jpg ./a.jpg) makes the same bytes: no clash.
        clash = [t for t in targets if claimed.get(t, file_id) != file_id]
        if clash:
            raise ConfigError(
                f"{shown(str(clash[0]))} was already written for another input with the same "
                "name; rename one of them or run them separately"
            )
        for target, thumbnail in zip(targets, thumbnails, strict=True):
            write_atomically(target, thumbnail.data)
            claimed[target] = file_id
            result.written.append((target, thumbnail))
    except ThumbnailerError as exc:
        result.error = exc
    return result


def _refuse_overwriting_inputs(inputs: list[str], spec: ThumbnailSpec, out: Path) -> None:
    """Raise :class:`ConfigError` when a thumbnail could be written over one of the inputs.

    With ``--out`` an input folder, ``x.jpg`` and ``x_128x128.jpg`` would lose the second
    to the first one's thumbnail. Every name an input could get counts (both extensions of
    ``auto``), since which one it gets is only known after rendering.
    """
    named = [(name, Path(name)) for name in inputs if name]
    entries = {folder_entry(path): name for name, path in named}
    files = {known: name for name, path in named if (known := identity(path))}
    folder = Path(os.path.realpath(out))
    formats = (
        [OutputFormat.JPEG, OutputFormat.PNG] if spec.format is OutputFormat.AUTO else [spec.format]
    )
    for name, path in named:
        for box in spec.sizes:
            for fmt in formats:
                target = folder / _target_name(path.stem, box, EXTENSIONS[fmt])
                existing = identity(target)
                by_name = entries.get(target)
                victim = by_name or (files.get(existing) if existing else None)
                if victim is not None:
                    # By name, most often a thumbnail of an earlier run a glob picked up again.
                    why = (
                        "which has its name (a thumbnail of an earlier run?)"
                        if by_name
                        else "the same file under another name"
                    )
                    raise ConfigError(
                        f"the thumbnail of {shown(name)} would be written over the input "
                        f"{shown(victim)}, {why}; leave it out of the inputs or choose "
                        "another --out"
                    )


def _listed_inputs(source: str | None, null: bool) -> list[str]:
    """The names in the ``--inputs-from`` file, in order; empty entries are skipped.

    Names are bytes on disk: they are decoded as the file system's own names are, so one
    that is not UTF-8 still names its file.
    """
    if source is None:
        if null:
            raise ConfigError("--null applies to --inputs-from; give the list's FILE")
        return []
    try:
        listing = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"--inputs-from {shown(source)}: {exc.strerror or 'cannot be read'}"
        ) from exc
    entries = listing.split(b"\0") if null else listing.splitlines()
    return [os.fsdecode(entry) for entry in entries if entry]


def _out_folder(text: str) -> Path:
    """The ``--out`` folder; an empty one is refused (``Path("")`` is the current folder)."""
    if not text:
        raise ConfigError("--out is empty; give the folder for the thumbnails")
    return Path(text)


def _prepare_out(out: Path) -> None:
    """Create the ``--out`` folder when needed and check that thumbnails can be written in it."""
    text = str(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"--out {shown(text)}: not a folder") from exc
    except OSError as exc:
        raise ConfigError(f"--out {shown(text)}: cannot create it ({exc.strerror or exc})") from exc
    # Said once now, rather than after rendering every input.
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {shown(text)}: not allowed to write in this folder")


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


def _wants_bar(args: argparse.Namespace) -> bool:
    """A bar for many inputs on a terminal that understands the codes that redraw it."""
    return (
        not args.json
        and len(args.inputs) >= PROGRESS_FROM
        and sys.stderr.isatty()
        and os.environ.get("TERM") != "dumb"
    )


def _human_bytes(count: int) -> str:
    return f"{count} B" if count < 1024 else f"{count / 1024:.1f} KB"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _describe(result: Result) -> str:
    """The readable line for one input."""
    if result.error is not None:
        return f"fail  {result.input}: {result.error.kind}: {result.error.message}"
    made = ", ".join(
        f"{path} ({t.width}x{t.height} {t.format.value.upper()}, {_human_bytes(len(t.data))})"
        for path, t in result.written
    )
    return f"ok    {result.input} -> {made}"


def _emit(line: str) -> None:
    """Print one line now; what the output's encoding cannot hold is backslash-escaped."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    print(line.encode(encoding, "backslashreplace").decode(encoding), flush=True)


def run(args: argparse.Namespace) -> int:
    """Render every input; print one line (or JSON object) each and a summary."""
    spec = spec_from_args(args)
    inputs: list[str] = [*args.inputs, *_listed_inputs(args.inputs_from, args.null)]
    if not inputs:
        raise ConfigError("no inputs: name the files, or list them with --inputs-from FILE")
    out = _out_folder(args.out)
    _refuse_overwriting_inputs(inputs, spec, out)
    _prepare_out(out)
    progress = Progress(len(inputs), sys.stderr, _wants_bar(args))
    claimed: dict[Path, FileId] = {}
    failed = made = 0
    try:
        for name in inputs:
            result = _make_one(name, spec, out, claimed)
            failed += result.error is not None
            made += len(result.written)
            progress.clear()
            _emit(json.dumps(result.to_dict()) if args.json else shown(_describe(result)))
            progress.advance()
    finally:
        progress.clear()  # before anything else is printed, "interrupted" included
    if not args.json:
        _emit(
            shown(
                f"{_plural(len(inputs), 'input')}: {len(inputs) - failed} ok, {failed} failed; "
                f"{_plural(made, 'thumbnail')} in {out}"
            )
        )
    return EXIT_FAILED if failed else EXIT_OK

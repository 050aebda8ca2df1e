"""Command-line interface: ``thumbnailer COMMAND ...``.

Each command lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``handler`` (``Callable[[argparse.Namespace], int]``). This module is the one
place that maps exceptions to messages and exit codes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from thumbnailer import __version__
from thumbnailer.errors import ConfigError, ThumbnailerError

__all__ = ["main", "run"]

# Imported on demand so `thumbnailer make` never pays for boto3 or Terraform helpers.
COMMANDS = ("make", "package", "local", "upload", "backfill", "demo")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="thumbnailer",
        description="Event-driven thumbnails for AWS, and the tools around them.",
    )
    parser.add_argument("--version", action="version", version=f"thumbnailer {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"thumbnailer.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 some input failed, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"thumbnailer {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except ThumbnailerError as exc:
        print(f"thumbnailer {args.command}: {exc.kind}: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"thumbnailer {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader has gone (`... | head -1`): nothing to say, and nowhere to say it.
        _silence_stdout()
        return EXIT_FAILED
    except OSError as exc:  # writing the output failed (`> /dev/full`), or another file did
        print(f"thumbnailer {args.command}: {_os_error_text(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _silence_stdout() -> None:
    """Point standard output at devnull, so the interpreter's flush at exit cannot fail again.

    The recipe of the Python docs' note on SIGPIPE; a stream that is not a real file (one
    replaced by a test, say) has nothing to point.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _os_error_text(exc: OSError) -> str:
    """``exc`` in one line, naming its file when it has one."""
    text = exc.strerror or str(exc)
    return f"{exc.filename}: {text}" if exc.filename else text


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())

"""``thumbnailer demo``: show the whole flow on generated sample inputs.

By default it brings the local stack up (moto server + the real Terraform + the built
artifact), uploads the samples, waits for thumbnails and failure notifications, prints a table,
writes an HTML gallery and brings the stack down. ``--offline`` only renders the samples here
with the engine, with no AWS emulator and no Terraform.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from thumbnailer.errors import ConfigError, ThumbnailerError, TransientError

__all__ = ["register", "run_offline"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="Run sample inputs through the whole flow and show the results.",
        description=__doc__,
    )
    parser.add_argument(
        "--out", type=Path, default=Path("demo-out"), help="Output folder (default: ./demo-out)."
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="Only render the samples here with the engine (no local stack).",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Leave the local stack running afterwards."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".thumbnailer") / "local",
        help="State folder of the local stack (default: ./.thumbnailer/local).",
    )
    parser.add_argument(
        "--trigger",
        choices=("eventbridge", "sqs", "direct"),
        default="eventbridge",
        help="Trigger mode of the local stack (default: eventbridge).",
    )
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="Seconds to wait for results (default: 180)."
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    if args.offline:
        return run_offline(args.out)
    if shutil.which("terraform") is None:
        # The cloud flow needs Terraform; without it, still show what the engine makes.
        print(
            "terraform is not on PATH, so the local stack cannot be applied: rendering the "
            "samples here instead (install Terraform >= 1.5 for the whole flow)",
            file=sys.stderr,
        )
        return run_offline(args.out)
    from botocore.exceptions import BotoCoreError, ClientError

    from thumbnailer.local.demo import run_demo

    try:
        return run_demo(
            out=args.out,
            state_dir=args.state_dir,
            trigger=args.trigger,
            keep=args.keep,
            timeout=args.timeout,
        )
    except (BotoCoreError, ClientError) as exc:
        raise TransientError(f"the local stack did not answer as expected: {exc}") from exc


def _samples() -> list[tuple[str, bytes]]:
    try:
        from thumbnailer.samples import sample_inputs
    except ImportError as exc:  # pragma: no cover - only while the samples module is missing
        raise ConfigError("thumbnailer.samples is not available in this build") from exc
    samples: list[tuple[str, bytes]] = sample_inputs()
    return samples


def run_offline(out: Path) -> int:
    """Render every sample input with the engine into ``out`` and print what was made."""
    from thumbnailer.local.gallery import GalleryEntry, write_gallery
    from thumbnailer.render import Size, ThumbnailSpec, render

    spec = ThumbnailSpec(sizes=(Size(128, 128), Size(512, 512)))
    out.mkdir(parents=True, exist_ok=True)
    entries: list[GalleryEntry] = []
    rows: list[tuple[str, str, str]] = []
    for name, data in _samples():
        source_path = out / "sources" / name
        source_path.parent.mkdir(parents=True, exist_ok=True)
        source_path.write_bytes(data)
        started = time.perf_counter()
        try:
            thumbnails = render(data, spec)
        except ThumbnailerError as exc:
            rows.append((name, f"{exc.kind}: {exc.message}", ""))
            entries.append(GalleryEntry(name, source_path, [], error=f"{exc.kind}: {exc.message}"))
            continue
        elapsed = f"{(time.perf_counter() - started) * 1000:.0f} ms"
        stem = Path(name).stem
        made: list[tuple[Path, str]] = []
        for thumb in thumbnails:
            path = out / "thumbnails" / f"{stem}_{thumb.box}.{thumb.extension}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(thumb.data)
            made.append((path, f"{thumb.width}x{thumb.height} {thumb.format.value}"))
        rows.append((name, ", ".join(label for _, label in made), elapsed))
        entries.append(GalleryEntry(name, source_path, made))
    print_table(("source", "thumbnails (or failure)", "render time"), rows)
    index = write_gallery(out, entries, title="thumbnailer demo (offline render)")
    print(f"\nthumbnails in {out}/thumbnails; gallery: {index.resolve()}")
    return 0


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` as an aligned plain-text table under ``header``."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

"""Mutation fuzzer of the rendering engine: damaged inputs must fail cleanly or render.

Each run takes a seed (a small valid input built in code, see ``_seeds.py``), applies one to
three mutations (byte-level, or aware of PNG chunks, JPEG segments, WebP chunks and ISO-BMFF
boxes) and renders the result in a worker process, under a timeout and an address-space
limit. Outcomes that break the engine's contract are findings (see ``_outcomes.py``), saved
once per signature to the output folder with a JSON line each.

    python fuzz/render_fuzz.py [--minutes M | --runs N] [--seed S] [--only SUBSTRINGS]
                               [--workers W] [--out DIR] [--timeout S] [--address-space MIB]
    python fuzz/render_fuzz.py --replay FILE
    python fuzz/render_fuzz.py --list-seeds

Exit status: 0 when nothing was found, 1 when anything was (or when a seed itself did not
render), 2 on a usage error or when no worker process can start.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from _campaign import Corpus, Reported, Settings, Tally, run_campaign
from _findings import FindingStore
from _outcomes import ENGINE_KINDS, FINDING, OK
from _runner import Worker, WorkerError, WorkerSettings
from _seeds import ROOT, SEEDS, Seed, load

DEFAULT_MINUTES = 10.0
DEFAULT_TIMEOUT = 20.0
DEFAULT_ADDRESS_SPACE_MIB = 2048
DEFAULT_OUT = ROOT / ".cache" / "fuzz" / "findings"
# Columns of the summary: every outcome a run can have.
STATUSES = (OK, *sorted(ENGINE_KINDS), FINDING)
MIB = 1 << 20


def main(argv: Sequence[str] | None = None) -> int:
    """Run a campaign (or replay one input, or list the seeds); return the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--minutes", type=float, help=f"run this long (default {DEFAULT_MINUTES:g})"
    )
    length.add_argument("--runs", type=int, help="run this many mutated inputs")
    parser.add_argument("--seed", type=int, help="of the mutation sequence (default: random)")
    parser.add_argument(
        "--only", metavar="SUBSTRINGS", help="comma-separated parts of seed names, e.g. heic,webp"
    )
    parser.add_argument(
        "--workers", type=int, default=_cpus(), help="worker processes (default: one per CPU)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="findings folder (default .cache/fuzz/findings)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per input before it is a hang (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--address-space",
        type=int,
        default=DEFAULT_ADDRESS_SPACE_MIB,
        metavar="MIB",
        help=f"address-space limit of a worker, 0: none (default {DEFAULT_ADDRESS_SPACE_MIB})",
    )
    parser.add_argument("--replay", type=Path, metavar="FILE", help="render one file and exit")
    parser.add_argument("--list-seeds", action="store_true", help="list the seeds and exit")
    args = parser.parse_args(argv)
    for name in ("minutes", "runs", "timeout"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.address_space < 0:
        parser.error("--address-space must be 0 (no limit) or more")

    if args.list_seeds:
        for seed in SEEDS:
            print(f"{seed.name:<22} weight {seed.weight}  {seed.path}")
        return 0
    worker = WorkerSettings(
        timeout=args.timeout,
        address_space=args.address_space * MIB,
        # Half the timeout: a render that watches its budget ends as a `timeout` error well
        # before the worker is declared hung, so a hang is a render that ignored its budget.
        time_budget=args.timeout / 2,
    )
    if args.replay:
        if not args.replay.is_file():
            parser.error(f"--replay: no such file: {args.replay}")
        return replay(args.replay, worker)

    seeds = _select(args.only)
    if not seeds:
        names = ", ".join(s.name for s in SEEDS)
        parser.error(f"--only {args.only!r} matches no seed; the seeds: {names}")
    loaded, unavailable = load(seeds, on_build=lambda s: _note(f"building seed {s.name}"))
    for seed, reason in unavailable:
        _note(f"seed {seed.name} skipped: {reason}")
    if not loaded:
        _note("no seed could be built")
        return 2
    settings = Settings(
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31),
        runs=args.runs,
        seconds=None if args.runs else 60 * (args.minutes or DEFAULT_MINUTES),
        workers=args.workers,
        worker=worker,
    )
    store = FindingStore(args.out)
    try:
        tally = run_campaign(
            Corpus(loaded), settings, store, on_progress=_progress, on_finding=_new_finding
        )
    except WorkerError as exc:
        _note(str(exc))
        return 2
    print(summary(tally, settings, store, [seed for seed, _ in unavailable]))
    # A seed the engine does not render means its mutants tested nothing but the error path.
    return 1 if tally.findings or tally.unrendered_seeds else 0


def replay(path: Path, settings: WorkerSettings) -> int:
    """Render ``path`` once in a worker, as a campaign would, and print what came of it."""
    with tempfile.TemporaryDirectory(prefix="render-fuzz-") as scratch:
        worker = Worker(Path(scratch), "replay", settings)
        try:
            outcome = worker.render(path.read_bytes())
        except WorkerError as exc:
            _note(str(exc))
            return 2
        finally:
            worker.close()
    print(f"{path}: {outcome.status}")
    if outcome.finding is not None:
        print(f"finding: {outcome.finding.signature}")
    if outcome.message:
        print(outcome.message)
    if outcome.trace:
        print(outcome.trace.rstrip())
    return 1 if outcome.finding else 0


def summary(tally: Tally, settings: Settings, store: FindingStore, skipped: list[Seed]) -> str:
    """The table of outcomes per seed, then the findings with their saved inputs."""
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    rate = tally.runs / tally.seconds if tally.seconds else 0.0
    lines = [
        f"{tally.runs} runs in {tally.seconds:.1f} s ({rate:.1f}/s), --seed {settings.seed}, "
        f"{workers}, timeout {settings.worker.timeout:g} s, "
        f"address space {settings.worker.address_space // MIB or 'unlimited'} MiB",
        "",
    ]
    header = ["seed", "runs", *STATUSES]
    rows = [header]
    for name, counts in tally.outcomes.items():
        rows.append([name, str(sum(counts.values())), *(str(counts[s]) for s in STATUSES)])
    total: Counter[str] = Counter()
    for counts in tally.outcomes.values():
        total.update(counts)
    rows.append(["total", str(tally.runs), *(str(total[s]) for s in STATUSES)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines.append("")
    if skipped:
        lines.append("seeds skipped (cannot be built here): " + ", ".join(s.name for s in skipped))
    for name, outcome in tally.unrendered_seeds.items():
        lines.append(f"unmutated seed {name} did not render: {outcome.status}: {outcome.message}")
    if not tally.findings:
        lines.append("findings: none")
        return "\n".join(lines)
    new = sum(1 for r in tally.findings.values() if r.new)
    lines.append(f"findings: {len(tally.findings)} ({new} new); log: {store.log}")
    for reported in tally.findings.values():
        lines.append(f"  {_finding_line(reported)}")
        lines.append(f"      {reported.path}")
    return "\n".join(lines)


def _finding_line(reported: Reported) -> str:
    label = "NEW  " if reported.new else "known"
    return f"{label} {reported.count:>4}x  {reported.finding.signature}"


def _select(only: str | None) -> list[Seed]:
    if not only:
        return list(SEEDS)
    parts = [p.strip() for p in only.split(",") if p.strip()]
    return [s for s in SEEDS if any(p in s.name for p in parts)]


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _progress(tally: Tally) -> None:
    rate = tally.runs / tally.seconds if tally.seconds else 0.0
    _note(
        f"{tally.seconds / 60:5.1f} min: {tally.runs} runs ({rate:.1f}/s), "
        f"{len(tally.findings)} findings"
    )


def _new_finding(reported: Reported) -> None:
    _note(f"finding: {reported.finding.signature} -> {reported.path}")


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""Engine benchmark: ``thumbnailer.render`` vs naive Pillow vs pyvips, side by side in one run.

For every generated photographic input (see ``_inputs.py``) and every contender
(see ``_contenders.py``), each repetition runs one measurement in a fresh process
(``_measure.py``): median time of the repetitions, and the highest peak RSS above the
interpreter. Contenders are interleaved within each repetition, in a rotating order, so that
the noise of a shared machine falls on all of them alike. Ratios against the engine's
performance targets are marked PASS or MISS.

    python bench/engine.py [--repeat N] [--quick] [--json | --markdown] [--candidates]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _candidates  # noqa: F401  (registers the candidate paths)
from _contenders import CONTENDERS, THREADS_ENV, Contender

HERE = Path(__file__).resolve().parent
MEASURE = HERE / "_measure.py"
MEASURE_TIMEOUT = 600  # seconds for one child; a hang is reported, not waited for forever
MIB = 1024  # ru_maxrss is in KiB


@dataclass
class Cell:
    """Every repetition of one contender on one input."""

    ms: list[float] = field(default_factory=list)
    peak_kb: list[int] = field(default_factory=list)
    baseline_kb: list[int] = field(default_factory=list)
    out_size: tuple[int, int] | None = None
    error: str | None = None

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.ms) if self.ms else None

    @property
    def peak_mib(self) -> float | None:
        return max(self.peak_kb) / MIB if self.peak_kb else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "median_ms": self.median_ms,
            "ms": self.ms,
            "peak_above_interpreter_mib": self.peak_mib,
            "peak_kb": self.peak_kb,
            "baseline_kb": self.baseline_kb,
            "output_size": self.out_size,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cell:
        size = d.get("output_size")
        return cls(
            d["ms"], d["peak_kb"], d["baseline_kb"], tuple(size) if size else None, d["error"]
        )


@dataclass(frozen=True)
class Check:
    """One performance target, evaluated on one input."""

    what: str
    measured: float | None
    limit: float
    unit: str  # "x" for a ratio, "MiB" for memory
    spread: tuple[float, float] | None = None  # lowest and highest per-repetition ratio

    @property
    def straddles(self) -> bool:
        """Whether single repetitions fall on both sides of the target (a noisy verdict)."""
        return self.spread is not None and self.spread[0] <= self.limit < self.spread[1]

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "n/a"
        return "PASS" if self.measured <= self.limit else "MISS"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.what,
            "measured": self.measured,
            "target": self.limit,
            "unit": self.unit,
            "verdict": self.verdict,
            "per_run_range": self.spread,
            "straddles_target": self.straddles,
        }


def generate_inputs(quick: bool) -> list[dict[str, Any]]:
    """Generate (or reuse the cached) inputs in a child process; return the manifest."""
    cmd = [sys.executable, str(HERE / "_inputs.py"), *(["--quick"] if quick else [])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    manifest: list[dict[str, Any]] = json.loads(out)
    return manifest


def describe_machine() -> dict[str, Any]:
    """CPU, memory and library versions, from a child process."""
    cmd = [sys.executable, str(HERE / "_machine.py")]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    machine: dict[str, Any] = json.loads(out)
    return machine


def machine_line(m: dict[str, Any]) -> str:
    """One line a reader can compare their own machine with."""
    return (
        f"engine at {m.get('engine', 'unknown')}; "
        f"{m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, {m['os']}; Python {m['python']}; "
        f"Pillow {m['pillow']} (libjpeg-turbo {m['libjpeg_turbo']}, libwebp {m['libwebp']}, "
        f"zlib {m['zlib']}); pyvips {m['pyvips']} (libvips {m['libvips']}); "
        f"pillow-heif {m['pillow_heif']} (libheif {m['libheif']})"
    )


def measure_once(contender: str, item: dict[str, Any]) -> dict[str, Any]:
    """One fresh process, one measurement."""
    cmd = [sys.executable, str(MEASURE), contender, item["path"], item["warmup_path"]]
    env = {**os.environ, **THREADS_ENV}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=MEASURE_TIMEOUT, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {MEASURE_TIMEOUT} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return {"error": " ".join(tail[0].split())}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run(
    manifest: list[dict[str, Any]],
    contenders: Sequence[Contender],
    repeat: int,
    progress: bool = True,
) -> dict[tuple[str, str], Cell]:
    """All repetitions, contenders interleaved in a rotating order within each one."""
    cells: dict[tuple[str, str], Cell] = {}
    for rep in range(repeat):
        for item in manifest:
            fmt = item["kind"]["fmt"]
            todo = [c for c in contenders if c.applies(fmt)]
            shift = rep % len(todo) if todo else 0
            for contender in todo[shift:] + todo[:shift]:
                cell = cells.setdefault((item["kind"]["name"], contender.name), Cell())
                if cell.error:
                    continue  # a contender that failed once is not retried
                result = measure_once(contender.name, item)
                if "error" in result:
                    cell.error = " ".join(result["error"].split())
                else:
                    cell.ms.append(result["ms"])
                    cell.peak_kb.append(result["peak_above_kb"])
                    cell.baseline_kb.append(result["baseline_kb"])
                    cell.out_size = (result["width"], result["height"])
                if progress:
                    shown = cell.error or f"{result['ms']:.0f} ms"
                    print(
                        f"[{rep + 1}/{repeat}] {item['kind']['name']:<14} "
                        f"{contender.name:<12} {shown}",
                        file=sys.stderr,
                        flush=True,
                    )
    return cells


def _full_megapixels(kind: dict[str, Any]) -> float:
    """Size of the input, or of the full-size input a quick run's tiny one stands for."""
    mp: float = kind["width"] * kind["height"] / 1e6
    return mp * 100 if kind["name"].endswith("_tiny") else mp  # tiny = a tenth of each side


def checks(
    kind: dict[str, Any], cells: dict[tuple[str, str], Cell], baseline: str = "ours"
) -> list[Check]:
    """The performance targets that apply to this input, for ``baseline`` (our engine)."""
    name, fmt = kind["name"], kind["fmt"]

    def ratio(what: str, other: str, limit: float) -> Check:
        """Median of the per-repetition ratios: both ran side by side in each repetition."""
        a, b = cells.get((name, baseline)), cells.get((name, other))
        if not a or not b or not a.ms or not b.ms:
            return Check(what, None, limit, "x")
        if len(a.ms) != len(b.ms):  # one of them failed part-way: compare the medians
            return Check(what, statistics.median(a.ms) / statistics.median(b.ms), limit, "x")
        paired = [x / y for x, y in zip(a.ms, b.ms, strict=True)]
        return Check(what, statistics.median(paired), limit, "x", (min(paired), max(paired)))

    ours = cells.get((name, baseline))
    peak = ours.peak_mib if ours else None
    result: list[Check] = []
    if fmt == "jpeg":
        result.append(ratio("time / pyvips", "pyvips", 0.9))
        result.append(ratio("time / Pillow draft decode", "draft", 1.1))
    elif fmt in ("png", "webp"):
        result.append(ratio("time / pyvips", "pyvips", 1.0))
        if 11 <= _full_megapixels(kind) <= 13:  # the memory target is stated at 12 MP
            result.append(Check("peak RSS above interpreter (12 MP)", peak, 32, "MiB"))
    elif fmt == "heic" and kind.get("preview", True):  # the target assumes a usable preview
        result.append(ratio("time / full decode of primary", "heif_full", 0.25))
    elif fmt == "avif":  # the PyAV path must not be slower than Pillow's plugin it replaces
        result.append(ratio("time / without PyAV (Pillow)", "ours_pillow", 1.0))
    result.append(Check("peak RSS above interpreter (any input)", peak, 256, "MiB"))
    return result


def _fmt_num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    if digits == 0 and value < 100:
        digits = 1  # tiny inputs and fast paths: whole milliseconds would hide the ratio
    return f"{value:.{digits}f}"


def _with_unit(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}x" if unit == "x" else f"{value:.1f} {unit}"


def tables(
    manifest: list[dict[str, Any]],
    contenders: Sequence[Contender],
    cells: dict[tuple[str, str], Cell],
    judge: str = "ours",
) -> tuple[list[list[str]], list[list[str]]]:
    """Rows of the results table and of the targets table (header first)."""
    results = [["input", "file", "contender", "median ms", "min-max ms", "peak MiB", "output"]]
    targets = [["input", f"check ({judge})", "measured", "target", "verdict", "per-run range"]]
    for item in manifest:
        kind = item["kind"]
        size = f"{kind['width']}x{kind['height']}, {item['size_bytes'] / 1e6:.2g} MB"
        for contender in contenders:
            cell = cells.get((kind["name"], contender.name))
            if cell is None:
                continue
            if cell.error:
                row = ["error", cell.error[:48], "—", "—"]
            else:
                row = [
                    _fmt_num(cell.median_ms),
                    f"{_fmt_num(min(cell.ms))}-{_fmt_num(max(cell.ms))}",
                    _fmt_num(cell.peak_mib, 1),
                    "x".join(map(str, cell.out_size or ())),
                ]
            results.append([kind["label"], size, contender.name, *row])
        for check in checks(kind, cells, judge):
            targets.append(
                [
                    kind["label"],
                    check.what,
                    _with_unit(check.measured, check.unit),
                    f"≤ {check.limit:g}{'x' if check.unit == 'x' else ' ' + check.unit}",
                    check.verdict,
                    _range(check),
                ]
            )
    return results, targets


def _range(check: Check) -> str:
    if check.spread is None:
        return ""
    low, high = check.spread
    return f"{low:.2f}-{high:.2f}x" + (" (straddles)" if check.straddles else "")


def render_text(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("---" for _ in rows[0]) + "|")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the results as JSON")
    out.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument(
        "--candidates", action="store_true", help="also measure the faster paths under study"
    )
    parser.add_argument("--only", help="comma-separated input names (e.g. png12,webp12)")
    parser.add_argument("--contenders", help="comma-separated contender names")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--judge", default="ours", help="the contender held to the targets (default ours)"
    )
    parser.add_argument(
        "--load", type=Path, metavar="JSON", help="print the tables of a run saved with --json"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    if args.load:
        doc = json.loads(args.load.read_text())
        return show_saved(doc, args.markdown, args.only, args.contenders, args.judge)
    manifest = _select(generate_inputs(args.quick), args.only)
    if args.contenders:
        names = args.contenders.split(",")
        unknown = [n for n in names if n not in CONTENDERS]
        if unknown:
            parser.error(f"unknown contenders {unknown}; known: {sorted(CONTENDERS)}")
        contenders = [CONTENDERS[n] for n in names]
    else:
        contenders = [c for c in CONTENDERS.values() if args.candidates or not c.candidate]

    machine = describe_machine()
    cells = run(manifest, contenders, args.repeat, progress=not args.quiet)
    if args.json:
        doc = {
            "machine": machine,
            "contenders": [c.name for c in contenders],
            "repeat": args.repeat,
            "quick": args.quick,
            "inputs": manifest,
            "results": {f"{i}/{c}": cell.to_dict() for (i, c), cell in cells.items()},
            "checks": {
                m["kind"]["name"]: [c.to_dict() for c in checks(m["kind"], cells)] for m in manifest
            },
        }
        print(json.dumps(doc, indent=2))
    else:
        print(
            report(
                manifest,
                contenders,
                cells,
                machine,
                args.repeat,
                args.quick,
                args.markdown,
                args.judge,
            )
        )
    return 1 if any(cell.error for cell in cells.values()) else 0


def _select(manifest: list[dict[str, Any]], only: str | None) -> list[dict[str, Any]]:
    if not only:
        return manifest
    wanted = set(only.split(","))
    return [m for m in manifest if m["kind"]["name"].removesuffix("_tiny") in wanted]


def report(
    manifest: list[dict[str, Any]],
    contenders: Sequence[Contender],
    cells: dict[tuple[str, str], Cell],
    machine: dict[str, Any],
    repeat: int,
    quick: bool,
    markdown: bool,
    judge: str = "ours",
) -> str:
    """The header lines, the results table and the targets table."""
    show = render_markdown if markdown else render_text
    results, targets = tables(manifest, contenders, cells, judge)
    legend = ", ".join(f"{c.name} = {c.label}" for c in contenders)
    lines = [
        f"median of {repeat} runs, each in a fresh process; peak RSS above the interpreter "
        "and imports; 128x128 box, JPEG q85 out, one libvips thread",
        f"contenders: {legend}",
        *(["QUICK RUN on tiny inputs: the verdicts mean nothing"] if quick else []),
        f"machine: {machine_line(machine)}",
    ]
    sep = "  \n" if markdown else "\n"
    return f"{sep.join(lines)}\n\n{show(results)}\n\n{show(targets)}"


def show_saved(
    doc: dict[str, Any], markdown: bool, only: str | None, names: str | None, judge: str
) -> int:
    """Print the tables of a run saved with ``--json`` (optionally some inputs/contenders)."""
    cells = {
        tuple(key.split("/", 1)): Cell.from_dict(value) for key, value in doc["results"].items()
    }
    wanted = names.split(",") if names else doc["contenders"]
    contenders = [CONTENDERS[name] for name in wanted if name in doc["contenders"]]
    print(
        report(
            _select(doc["inputs"], only),
            contenders,
            cells,
            doc["machine"],
            doc["repeat"],
            doc["quick"],
            markdown,
            judge,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

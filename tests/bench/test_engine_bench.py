"""Smoke run of the engine benchmark on tiny inputs, so that ``make bench`` cannot rot.

Timings on tiny inputs mean nothing; what is checked is that every contender still runs on
every input it applies to and that the tables come out whole.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "engine.py"
CONTENDERS = {
    # contender: the input formats it must have run on
    "ours": {"jpeg", "png", "webp", "heic", "avif"},
    "ours_pillow": {"png", "webp", "avif"},
    "pillow": {"jpeg", "png", "webp", "heic", "avif"},
    "pyvips": {"jpeg", "png", "webp", "avif"},
    "draft": {"jpeg"},
    "heif_full": {"heic"},
}


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--repeat", "1", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    proc = _bench("--json")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc


def test_every_contender_runs_on_every_input_it_applies_to(report: dict[str, object]) -> None:
    inputs = report["inputs"]
    results = report["results"]
    assert isinstance(inputs, list) and isinstance(results, dict)
    formats = {i["kind"]["fmt"] for i in inputs}
    assert formats == {"jpeg", "png", "webp", "heic", "avif"}
    assert {i["kind"]["mode"] for i in inputs} == {"RGB", "RGBA", "RGB16"}
    for item in inputs:
        name, fmt = item["kind"]["name"], item["kind"]["fmt"]
        for contender, applies in CONTENDERS.items():
            cell = results.get(f"{name}/{contender}")
            if fmt not in applies:
                assert cell is None
                continue
            assert cell is not None, f"{contender} did not run on {name}"
            assert cell["error"] is None, f"{contender} on {name}: {cell['error']}"
            assert cell["median_ms"] > 0
            assert cell["peak_above_interpreter_mib"] >= 0


def test_every_target_of_the_issue_is_checked(report: dict[str, object]) -> None:
    checks = report["checks"]
    assert isinstance(checks, dict)
    verdicts = {c["verdict"] for per_input in checks.values() for c in per_input}
    assert verdicts <= {"PASS", "MISS"}  # never "n/a": every ratio could be computed
    names = {c["check"] for per_input in checks.values() for c in per_input}
    assert any("draft" in n for n in names)
    assert any("full decode" in n for n in names)


def test_markdown_table_names_every_contender() -> None:
    proc = _bench("--markdown", "--only", "jpeg12,png12,heic12")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    for contender in CONTENDERS:
        assert any(f"| {contender} |" in row for row in rows), contender
    assert any("| PASS |" in row or "| MISS |" in row for row in rows)


def test_candidate_paths_still_run() -> None:
    proc = _bench("--json", "--candidates", "--only", "png12a,webp12,heic12")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads(proc.stdout)["results"]
    ran = {key.split("/", 1)[1] for key, cell in results.items() if cell["error"] is None}
    assert {"pillow_best", "vips_pillow", "vips_shrink", "vips_hshrink", "heif_preview"} <= ran

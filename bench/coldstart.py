"""Cold-start import cost of the Lambda handler module, compared with boto3 alone.

``python bench/coldstart.py [--python python3.12] [--rounds 30] [--json]``

Runs every scenario in a fresh interpreter, interleaved round by round (so a busy machine
slows all of them alike), and reports the median wall time minus the median of a bare
interpreter start. The interpreter is a clean virtual environment (``.cache/bench-coldstart``)
holding only the runtime dependencies, at the versions installed here (the lock), with ``src/``
on ``PYTHONPATH`` — what Lambda's ``/var/task`` + layer gives the handler.

Scenarios:

* ``boto3``: ``import boto3`` — the yardstick (the budget is 1.3 times this);
* ``handler``: ``import thumbnailer.aws_lambda`` — what Lambda's init phase pays;
* ``handler + boto3``: the above plus ``import boto3``, which the first invocation adds when it
  builds its clients: the whole import cost of a cold start;
* ``powertools``: Logger and Metrics, the parts of Powertools the handler uses, alone and on
  top of boto3 (their marginal cost: the modules both need are paid once);
* ``powertools batch utility``: the SQS partial-batch helper the handler does not use.

It also checks that the handler module imports no image decoder (Pillow, pillow-heif,
pypdfium2, PyAV) and lists the heaviest packages from ``-X importtime``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".cache" / "bench-coldstart"
LAMBDA_PYTHON = "python3.12"  # the module's default runtime
RUNTIME = ("boto3", "botocore", "s3transfer", "aws-lambda-powertools", "pillow")
DECODERS = ("PIL", "pillow_heif", "pypdfium2", "av")

_POWERTOOLS = (
    "from aws_lambda_powertools import Logger, Metrics;"
    "from aws_lambda_powertools.metrics import single_metric"
)
SCENARIOS = {
    "interpreter": "pass",
    "boto3": "import boto3",
    "handler": "import thumbnailer.aws_lambda",
    "handler + boto3": "import thumbnailer.aws_lambda, boto3",
    "powertools": _POWERTOOLS,
    "boto3 + powertools": "import boto3;" + _POWERTOOLS,
    "powertools batch utility": "import aws_lambda_powertools.utilities.batch",
}


def _default_python() -> str:
    """A working python3.12 (pyenv's, then PATH's), else the interpreter running this."""
    candidates = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        candidates += sorted(str(p) for p in Path(root, "versions").glob("3.12*/bin/python3.12"))
    candidates += [found] if (found := shutil.which(LAMBDA_PYTHON)) else []
    for candidate in candidates:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([candidate, "-c", "pass"], check=True, capture_output=True, timeout=30)
            return candidate
    return sys.executable


def _uv() -> str:
    local = ROOT / ".cache" / "tools" / "bin" / "uv"
    return str(local) if local.exists() else (shutil.which("uv") or "uv")


def ensure_venv(python: str) -> Path:
    """A clean venv for ``python`` with the runtime dependencies at this environment's versions."""
    pins = [f"{name}=={metadata.version(name)}" for name in RUNTIME]
    stamp = VENV / ".pins"
    wanted = json.dumps([python, *pins])
    interpreter = VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == wanted and interpreter.exists()):
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([_uv(), "venv", "-q", "-p", python, str(VENV)], check=True)
        subprocess.run([_uv(), "pip", "install", "-q", "-p", str(interpreter), *pins], check=True)
        stamp.write_text(wanted)
    return interpreter


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(ROOT / "src")
    env["PYTHONDONTWRITEBYTECODE"] = "0"
    return env


def run_once(python: Path, code: str) -> float:
    """Wall seconds of a fresh interpreter running ``code``."""
    start = time.perf_counter()
    subprocess.run([str(python), "-c", code], check=True, env=_env())
    return time.perf_counter() - start


def decoders_loaded(python: Path) -> list[str]:
    """Top-level decoder packages present after importing the handler module."""
    code = (
        "import sys, json, thumbnailer.aws_lambda;"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(DECODERS)!r})))"
    )
    out = subprocess.run(
        [str(python), "-c", code], check=True, env=_env(), capture_output=True, text=True
    ).stdout
    return list(json.loads(out))


def importtime_by_package(python: Path, code: str) -> dict[str, float]:
    """Self import time per top-level package (ms) from ``-X importtime``."""
    err = subprocess.run(
        [str(python), "-X", "importtime", "-c", code],
        check=True,
        env=_env(),
        capture_output=True,
        text=True,
    ).stderr
    totals: dict[str, float] = defaultdict(float)
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        totals[name.split(".")[0]] += int(self_us) / 1000
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def measure(python: Path, rounds: int) -> dict[str, Any]:
    """Interleaved timings of every scenario, medians in ms, import cost net of startup."""
    for code in SCENARIOS.values():  # warm the file cache and write bytecode once
        run_once(python, code)
    samples: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    for _ in range(rounds):
        for name, code in SCENARIOS.items():
            samples[name].append(run_once(python, code) * 1000)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["interpreter"]
    net = {name: medians[name] - base for name in SCENARIOS if name != "interpreter"}
    return {"medians_ms": medians, "import_ms": net}


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print a markdown table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="interpreter (default: pyenv's python3.12, then PATH's)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)

    python = ensure_venv(args.python or _default_python())
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version.split()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    result = measure(python, args.rounds)
    net = result["import_ms"]
    result.update(
        python=version,
        rounds=args.rounds,
        cpus=os.cpu_count(),
        versions={name: metadata.version(name) for name in RUNTIME},
        ratio_handler=net["handler"] / net["boto3"],
        ratio_handler_with_boto3=net["handler + boto3"] / net["boto3"],
        decoders_after_import=decoders_loaded(python),
        importtime_ms=dict(
            list(importtime_by_package(python, SCENARIOS["handler + boto3"]).items())[:8]
        ),
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"Python {version}, {args.rounds} interleaved rounds, {os.cpu_count()} CPUs")
    print("\n| scenario | median wall (ms) | import cost (ms) | vs boto3 |")
    print("|---|---:|---:|---:|")
    for name in SCENARIOS:
        wall = result["medians_ms"][name]
        cost = net.get(name)
        ratio = f"{cost / net['boto3']:.2f}" if cost is not None else "—"
        print(f"| {name} | {wall:.0f} | {'—' if cost is None else f'{cost:.0f}'} "
              f"| {ratio} |")  # fmt: skip
    print(f"\ndecoders imported by the handler module: {result['decoders_after_import'] or 'none'}")
    print("\n-X importtime, self time by top-level package (handler + boto3):")
    for package, ms in result["importtime_ms"].items():
        print(f"  {package:<24} {ms:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure one contender on one input in a fresh process; print one JSON object.

``python bench/_measure.py NAME INPUT WARMUP``:

1. import only what the contender needs and read the input bytes (they are the function's
   input, like the body of an S3 GET, so they are not counted);
2. run the contender once on the tiny WARMUP file of the same format (plugins, codecs and
   lazily imported decoders are loaded: that belongs to cold start, not to this measurement);
3. give free heap pages back to the kernel (``malloc_trim``), take the baseline: the
   resident set size now, then reset the peak (``/proc/self/clear_refs``;
   where that is refused, the baseline is the peak so far);
4. run once, timed; peak RSS above the baseline = ``ru_maxrss`` now minus the baseline.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import _candidates  # noqa: F401  (registers the candidate paths)
from _contenders import CONTENDERS, THREADS_ENV


def _rss_kb() -> int:
    with Path("/proc/self/statm").open() as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _release_free_memory() -> None:
    """Hand free heap pages back to the kernel, so the run cannot reuse them unseen.

    Reading the input and the warm-up leave freed but resident memory behind; a decode that
    reuses it would not raise the peak above the baseline.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def measure(name: str, path: Path, warmup: Path) -> dict[str, Any]:
    """Measure one contender on one input, in this (fresh) process."""
    os.environ.update(THREADS_ENV)
    run = CONTENDERS[name].load()
    data = path.read_bytes()
    run(warmup.read_bytes())
    _release_free_memory()
    baseline = _rss_kb()
    if not _reset_peak():
        baseline = _maxrss_kb()
    start = time.perf_counter()
    width, height = run(data)
    elapsed = time.perf_counter() - start
    peak = _maxrss_kb()
    return {
        "ms": elapsed * 1000,
        "baseline_kb": baseline,
        "peak_above_kb": max(0, peak - baseline),
        "width": width,
        "height": height,
    }


def main(argv: list[str]) -> int:
    """``NAME INPUT WARMUP``: print the measurement (or the error) as JSON."""
    name, path, warmup = argv
    try:
        result = measure(name, Path(path), Path(warmup))
    except Exception as exc:  # report any failure as data: the table shows it
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

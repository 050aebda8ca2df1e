"""The fuzzer's child process: renders the inputs it is sent, one at a time.

``python fuzz/_worker.py --results-fd FD [--address-space BYTES] [--time-budget SECONDS]``

Each line on stdin is a JSON request ``{"path": FILE}``; for each, one JSON line with the
classified outcome (see ``_outcomes.py``) is written to file descriptor FD, a pipe of its own
so that whatever a library prints cannot garble the answers. A first line ``{"ready": true}``
says the worker has started. faulthandler prints every thread's Python stack to stderr when
the process dies of a signal and when it receives SIGUSR1, which the parent sends to a worker
that outlived its timeout before it kills it: a crash or a hang still leaves a stack behind.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import resource
import signal
import sys
from collections.abc import Sequence
from pathlib import Path


def limit_address_space(limit: int) -> None:
    """Cap the process's address space at ``limit`` bytes (0: leave it as it is).

    Set before the decoders are imported, so that their own mappings count too: an
    allocation over the cap fails (``MemoryError``, or a library's abort) instead of the
    machine running out of memory.
    """
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve render requests from stdin until it closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-fd", type=int, required=True)
    parser.add_argument("--address-space", type=int, default=0, help="bytes, 0: no limit")
    parser.add_argument("--time-budget", type=float, default=None, help="the spec's, seconds")
    args = parser.parse_args(argv)

    limit_address_space(args.address_space)
    faulthandler.enable(all_threads=True)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # Imported under the limit, after faulthandler: the engine's import is part of the test.
    from _outcomes import render_and_classify
    from thumbnailer import Limits, ThumbnailSpec

    spec = ThumbnailSpec(limits=Limits(time_budget_seconds=args.time_budget))
    with os.fdopen(args.results_fd, "w", buffering=1) as results:
        results.write(json.dumps({"ready": True}) + "\n")
        for line in sys.stdin:
            request = json.loads(line)
            outcome = render_and_classify(Path(request["path"]).read_bytes(), spec)
            results.write(json.dumps(outcome.to_json()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One worker process seen from the fuzzer: an input in, an outcome out, whatever happens.

The worker (``_worker.py``) is reused for many inputs, since starting one costs the import of
every decoder, and restarted after a crash, after a hang (it is killed) and after a fixed
number of inputs, so that what one render leaves behind (a leak, a fragmented heap) cannot
decide the outcome of a render much later.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _outcomes import Outcome, dead_worker

__all__ = ["Worker", "WorkerError", "WorkerSettings"]

WORKER = Path(__file__).resolve().parent / "_worker.py"
INPUTS_PER_WORKER = 200
START_TIMEOUT = 120.0  # seconds for the interpreter and the engine's import on a busy machine
DUMP_GRACE = 0.5  # seconds a hung worker is given to print its stacks before it is killed
_LOG_TAIL = 20_000  # bytes of a worker's stderr kept for a finding


class WorkerError(Exception):
    """The worker process could not be started; the message holds the end of its stderr."""


@dataclass(frozen=True)
class WorkerSettings:
    """How each input is run."""

    timeout: float  # seconds per input; a render still running then is a hang
    address_space: int  # bytes (RLIMIT_AS), 0 for no limit
    time_budget: float | None  # the spec's time budget, below the timeout


class Worker:
    """A worker process that renders one input at a time, started when first needed."""

    def __init__(self, scratch: Path, name: str, settings: WorkerSettings) -> None:
        """``scratch``: a private folder for the input file and the worker's stderr."""
        self.settings = settings
        self._input = scratch / f"{name}.input"
        self._log = scratch / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._results = -1  # read end of the worker's result pipe
        self._pending = b""
        self._served = 0

    def render(self, data: bytes) -> Outcome:
        """Render ``data`` in the worker and return the outcome, a crash or hang included."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        elif self._served >= INPUTS_PER_WORKER:
            self.close()
            self._start()
        assert self._process is not None and self._process.stdin is not None
        self._input.write_bytes(data)
        mark = self._log.stat().st_size
        self._served += 1
        try:
            self._process.stdin.write(json.dumps({"path": str(self._input)}).encode() + b"\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            pass  # it died before reading: seen below as the end of its results
        try:
            line = self._read_line(time.monotonic() + self.settings.timeout)
        except TimeoutError:
            self._process.send_signal(signal.SIGUSR1)  # faulthandler prints every stack
            time.sleep(DUMP_GRACE)
            self.close()
            return dead_worker("hang", "", self._log_since(mark))
        if line is None:
            code = self._process.wait()
            self.close()
            return dead_worker("crash", _exit_reason(code), self._log_since(mark))
        return Outcome.from_json(json.loads(line))

    def interrupt(self) -> None:
        """Kill the process from another thread; the render in progress ends as a crash."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def close(self) -> None:
        """Stop the worker process, if there is one."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):  # its unread request went with it
                process.stdin.close()
        os.close(self._results)
        self._results, self._pending = -1, b""

    def _start(self) -> None:
        self.close()
        results, child_end = os.pipe()
        command = [
            sys.executable,
            str(WORKER),
            "--results-fd",
            str(child_end),
            "--address-space",
            str(self.settings.address_space),
        ]
        if self.settings.time_budget is not None:
            command += ["--time-budget", str(self.settings.time_budget)]
        # glibc gives each thread that allocates an arena of its own, reserving 64 MiB of
        # address space each: with the decoders' thread pools that reservation alone, not
        # memory in use, would exhaust the address-space limit.
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        try:
            with self._log.open("wb") as log:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    pass_fds=(child_end,),
                    env=env,
                    # Its own session: Ctrl-C in the terminal stops the campaign, and must
                    # not reach a render as a KeyboardInterrupt that would look like a finding.
                    start_new_session=True,
                )
        finally:
            os.close(child_end)
        self._results, self._served = results, 0
        try:
            ready = self._read_line(time.monotonic() + START_TIMEOUT)
        except TimeoutError:
            ready = None
        if ready is None or not json.loads(ready).get("ready"):
            self.close()
            tail = self._log_since(0).strip().splitlines()[-20:]
            raise WorkerError("the worker process did not start:\n" + "\n".join(tail))

    def _read_line(self, deadline: float) -> bytes | None:
        """The worker's next line of results; ``None`` once it has exited."""
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            readable, _, _ = select.select([self._results], [], [], left)
            if not readable:
                continue
            chunk = os.read(self._results, 65536)
            if not chunk:
                return None
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line

    def _log_since(self, offset: int) -> str:
        """What the worker wrote to stderr from ``offset`` on (its end, when long)."""
        with self._log.open("rb") as log:
            log.seek(offset)
            text = log.read()
        return text[-_LOG_TAIL:].decode("utf-8", "replace")


def _exit_reason(code: int) -> str:
    """``SIGSEGV`` for a death by signal, ``exit N`` for an exit."""
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"

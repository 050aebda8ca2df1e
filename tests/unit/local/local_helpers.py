"""Helpers of the local stack's unit tests: processes that name a folder, a stand-in artifact."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from thumbnailer.local.artifact import Artifact


def processes_naming(folder: Path) -> list[int]:
    """Live processes (not zombies) whose command line names ``folder`` (this one excepted)."""
    needle = str(folder.resolve()).encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "cmdline").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def kill_leftovers(folder: Path) -> list[int]:
    """SIGKILL every process naming ``folder``, so a failing test leaves nothing behind.

    The moto server recorded in ``folder`` goes too, if its command line does not name it.
    """
    left = processes_naming(folder)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        server = json.loads((folder / "emulator.json").read_text())
        cmdline = Path(f"/proc/{int(server['pid'])}/cmdline").read_bytes()
        if b"thumbnailer.local.emulator" in cmdline and str(server["port"]).encode() in cmdline:
            left.append(int(server["pid"]))
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for pid in left:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
    return left


def wait_until_gone(folder: Path, timeout: float = 15) -> list[int]:
    """Wait until no process names ``folder``; return those still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    while processes_naming(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    return processes_naming(folder)


def fake_artifact(folder: Path) -> Artifact:
    """An artifact whose folders exist and whose zips are empty files (nothing runs them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("task", "opt/python", "runtime"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    for name in ("function.zip", "layer.zip"):
        (folder / name).write_bytes(b"")
    return Artifact(
        function_zip=folder / "function.zip",
        layer_zip=folder / "layer.zip",
        function_dir=folder / "task",
        layer_dir=folder / "opt" / "python",
        runtime_dir=folder / "runtime",
        built_by="a test",
    )


@contextlib.contextmanager
def unrelated_process() -> Iterator[subprocess.Popen[bytes]]:
    """A process of someone else's, in a session of its own (``setsid sleep 1000``)."""
    process = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()

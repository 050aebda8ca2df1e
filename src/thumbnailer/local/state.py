"""The local stack's state folder: one place for every file the stack writes.

Every process a state file names is checked before it is signalled (:func:`is_ours`): pids
are reused, after a reboot most of all, and a stale record must never stop someone else's
process.

Layout (all under ``--state-dir``, ``.thumbnailer/local`` by default)::

    lock              held by `up` and `down` while they work (names the holder)
    stack.json        what `up` built: endpoint, Terraform outputs, artifact paths
    runner.json       the runner's pid (its process group holds the workers)
    stats.json        counters the runner keeps for `status`
    emulator.json     the moto server's pid and endpoint (written by the emulator module)
    terraform.json    a running Terraform's process group, while `up` or `down` runs it
    *.log             emulator, runner and worker logs
    infra/            private copy of infra/ that Terraform runs in; tf/ its data and state
    artifact/         the built function and layer, unzipped as Lambda lays them out
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thumbnailer.errors import ConfigError

__all__ = [
    "CREDENTIALS",
    "DEFAULT_STATE_DIR",
    "LockBusy",
    "StackInfo",
    "alive",
    "command_line",
    "group_members",
    "is_ours",
    "kill_group",
    "lock_holder",
    "locked",
    "process_record",
    "process_start",
    "read_json",
    "write_json",
]

DEFAULT_STATE_DIR = Path(".thumbnailer") / "local"
# The emulator accepts any credentials; these are the conventional dummies.
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path``; ``{}`` when it is missing or half-written."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` to ``path`` atomically (readers never see a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per thread too: the runner's pollers save their counters concurrently.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n", "utf-8")
    tmp.replace(path)


def alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie counts as gone; one of ours is reaped)."""
    if pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers signal 0.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (an opaque token), or ``None`` when it is not running.

    Together with the pid it names one process: a pid reused later has another start time.
    Linux: field 22 of ``/proc/PID/stat`` (clock ticks since boot); elsewhere what ``ps`` says.
    """
    if pid <= 0:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
    except (OSError, IndexError):
        return None
    return _ps(pid, "lstart=")


def command_line(pid: int) -> list[str] | None:
    """The arguments process ``pid`` was started with, or ``None`` when it is not running."""
    if pid <= 0:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
        said = _ps(pid, "command=")
        return None if said is None else [said]
    except OSError:
        return None
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _ps(pid: int, column: str) -> str | None:
    # Systems without /proc (macOS): ps knows the same; an empty answer means no such process.
    try:
        said = subprocess.run(
            ["ps", "-o", column, "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return said or None


def _names(args: Sequence[str], needle: str) -> bool:
    # `needle` as a whole argument, a value (`-chdir=NEEDLE/...`) or a folder of a path in one.
    pattern = re.compile(rf"(?:^|[\s=]){re.escape(needle)}(?:$|[\s/])")
    return any(pattern.search(arg) for arg in args)


def is_ours(pid: int, *, start: str | None = None, names: Sequence[str] = ()) -> bool:
    """Whether ``pid`` runs and is the process a state file recorded.

    ``start`` is its recorded :func:`process_start` (checked when given); each of ``names`` (a
    module, a state folder) must appear in its command line. A pid that fails either check is
    a stale record: some other process now has that pid.
    """
    if not alive(pid):
        return False
    if start is not None and process_start(pid) != start:
        return False
    if names:
        args = command_line(pid)
        if args is None or not all(_names(args, needle) for needle in names):
            return False
    return True


def process_record(pid: int, **extra: Any) -> dict[str, Any]:
    """What a state file records of process ``pid``: pid, process group and start time."""
    try:
        pgid = os.getpgid(pid)
    except OSError:
        pgid = pid
    return {"pid": pid, "pgid": pgid, "start": process_start(pid), **extra}


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group ``pgid`` (Linux; elsewhere ``[]``)."""
    members: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return members
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class LockBusy(ConfigError):
    """Another process holds the lock and did not let go in time."""


@contextlib.contextmanager
def locked(path: Path, *, wait: float | None, holder: str = "", what: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    ``wait`` is how long to wait for another holder (``None``: as long as it takes); then
    :class:`LockBusy` says that ``what`` (default: the file) is busy and names the holder as it
    described itself (``holder``, written into the file with its pid). The lock is the
    operating system's (``flock``): it goes with its holder, even one killed with SIGKILL, and
    is never inherited by a child process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    said = os.pread(fd, 4096, 0).decode(errors="replace").strip()
                    raise LockBusy(
                        f"{what or path} is busy: {said or 'another process'} is working on "
                        "it; wait for it to finish (or interrupt it) and try again"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder or 'a process'} (pid {os.getpid()})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor lets go of the lock


def lock_holder(path: Path) -> str | None:
    """Who holds the lock on ``path`` (as it described itself), or ``None`` when it is free."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
        return None
    finally:
        os.close(fd)


def kill_group(pgid: int, timeout: float = 10.0) -> bool:
    """SIGTERM the process group ``pgid``, SIGKILL it after ``timeout``; True if it is gone."""

    def group_alive() -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # A zombie leader still answers; reap it if it is ours.
        return alive(pgid) or bool(group_members(pgid))

    if not group_alive():
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
    return not group_alive()


@dataclass
class StackInfo:
    """What ``up`` built, saved as ``stack.json``."""

    endpoint: str
    region: str
    trigger: str
    outputs: dict[str, Any]
    function_dir: str
    layer_dir: str
    runtime_dir: str
    created: float = field(default_factory=time.time)
    concurrency: int = 2

    @property
    def source_bucket(self) -> str:
        """Bucket to upload sources to."""
        return str(self.outputs["source_bucket"])

    @property
    def destination_bucket(self) -> str:
        """Bucket the thumbnails appear in."""
        return str(self.outputs["destination_bucket"])

    @property
    def queue_url(self) -> str | None:
        """Buffer queue URL (None for the direct trigger)."""
        value = self.outputs.get("queue_url")
        return str(value) if value else None

    @property
    def dlq_url(self) -> str:
        """Dead-letter queue URL."""
        return str(self.outputs["dlq_url"])

    @property
    def environment(self) -> dict[str, str]:
        """The function's ``THUMBNAILER_*`` environment as Terraform set it."""
        env = self.outputs.get("function_environment") or {}
        return {str(k): str(v) for k, v in env.items()}

    def save(self, state_dir: Path) -> None:
        """Write ``stack.json``."""
        write_json(state_dir / "stack.json", asdict(self))

    @classmethod
    def load(cls, state_dir: Path) -> StackInfo:
        """Read ``stack.json``; :class:`ConfigError` when the stack is not up."""
        data = read_json(state_dir / "stack.json")
        if not data:
            raise ConfigError(
                f"no local stack in {state_dir}: run `thumbnailer local up` first "
                "(or pass --state-dir)"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{state_dir / 'stack.json'} is not a stack description") from exc

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client(...)`` against the emulator."""
        return {"endpoint_url": self.endpoint, "region_name": self.region, **CREDENTIALS}

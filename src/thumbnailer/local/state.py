"""The local stack's state folder: one place for every file the stack writes.

Layout (all under ``--state-dir``, ``.thumbnailer/local`` by default)::

    stack.json        what `up` built: endpoint, Terraform outputs, artifact paths
    runner.json       the runner's pid (its process group holds the workers)
    stats.json        counters the runner keeps for `status`
    emulator.json     the moto server's pid and endpoint (written by the emulator module)
    *.log             emulator, runner and worker logs
    infra/            private copy of infra/ that Terraform runs in; tf/ its data and state
    artifact/         the built function and layer, unzipped as Lambda lays them out
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thumbnailer.errors import ConfigError

__all__ = [
    "CREDENTIALS",
    "DEFAULT_STATE_DIR",
    "StackInfo",
    "alive",
    "kill_group",
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
        return alive(pgid) or _group_has_members(pgid)

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


def _group_has_members(pgid: int) -> bool:
    # /proc tells whether any live (non-zombie) process is still in the group.
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


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

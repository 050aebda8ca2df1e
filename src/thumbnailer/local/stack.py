"""``thumbnailer local up | status | down``: the whole stack on 127.0.0.1, no AWS, no Docker.

``up``: a moto server (detached), a real ``terraform apply`` of ``infra/examples/local`` to it,
the artifact built for this Python, and the runner (detached) that plays Lambda's part. Every
process and file lives in one state folder; ``down`` stops every process it started (process
groups, verified) and can destroy the Terraform state first. ``up`` and ``down`` hold the
folder's lock while they work, and signal a recorded process only while it verifiably is the
stack's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thumbnailer.errors import ConfigError, TransientError
from thumbnailer.local import artifact as _artifact
from thumbnailer.local.state import (
    CREDENTIALS,
    StackInfo,
    alive,
    group_members,
    is_ours,
    kill_group,
    lock_holder,
    locked,
    process_record,
    read_json,
    write_json,
)

__all__ = [
    "UpOptions",
    "down",
    "infra_root",
    "running",
    "start_runner",
    "status",
    "stop_runner",
    "up",
]

TRIGGERS = ("eventbridge", "sqs", "direct")
RUNNER_MODULE = "thumbnailer.local.runner"
RUNNER_FILE = "runner.json"
TERRAFORM_FILE = "terraform.json"
LOCK_FILE = "lock"
LOCK_WAIT = 5.0  # seconds a second `up` or `down` waits for the first before refusing
# Handles of the detached processes this interpreter started: they must outlive the call that
# started them (a collected Popen of a running child warns), and `down` reaps them.
_DETACHED: list[object] = []


def infra_root() -> Path:
    """The project's ``infra/`` folder (``$THUMBNAILER_INFRA`` overrides)."""
    override = os.environ.get("THUMBNAILER_INFRA")
    candidates = [Path(override)] if override else []
    candidates += [Path(__file__).resolve().parents[3] / "infra", Path.cwd() / "infra"]
    for path in candidates:
        if (path / "examples" / "local" / "main.tf").is_file():
            return path
    raise ConfigError("infra/examples/local not found: run from the project checkout")


@dataclass
class UpOptions:
    """Choices for :func:`up`; ``variables`` are extra Terraform variables of the local example."""

    state_dir: Path
    port: int = 0
    trigger: str = "eventbridge"
    concurrency: int = 2
    variables: Mapping[str, Any] = field(default_factory=dict)
    runner_env: Mapping[str, str] = field(default_factory=dict)
    start_runner: bool = True


def declared_runtime(tag: str) -> str:
    """The Lambda runtime the emulated function is declared with, for interpreter ``tag``.

    The runner runs the artifact with this interpreter whatever the declaration says. The
    module refuses python3.11 (Lambda runs it on Amazon Linux 2, older than the layer's wheels
    need), so any other interpreter stands in for python3.12.
    """
    return tag if tag in ("python3.12", "python3.13") else "python3.12"


def _cache_dir() -> Path:
    # Shared across state folders so a second stack reuses the artifact and providers.
    return Path(os.environ.get("THUMBNAILER_CACHE", str(Path.home() / ".cache" / "thumbnailer")))


def _terraform(state_dir: Path, stage: bool = False) -> Any:
    from thumbnailer.local.terraform import Terraform, stage_infra

    staged = state_dir / "infra"
    # `up` always applies the checkout's current module; `down --destroy` the copy it applied.
    if stage or not (staged / "examples" / "local").is_dir():
        stage_infra(infra_root(), staged)
    return Terraform(
        working_dir=staged / "examples" / "local",
        data_dir=state_dir / "tf" / "data",
        state_file=state_dir / "tf" / "terraform.tfstate",
        cache_dir=_cache_dir() / "terraform",
        process_file=state_dir / TERRAFORM_FILE,
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _exclusive(state_dir: Path, action: str) -> Iterator[None]:
    """Hold the state folder's lock: one ``up`` or ``down`` at a time works on a stack."""
    with locked(
        state_dir / LOCK_FILE,
        wait=LOCK_WAIT,
        holder=f"`thumbnailer local {action}`",
        what=f"the local stack in {state_dir}",
    ):
        yield


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM interrupts like Ctrl-C while the stack is started (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """Let a cleanup finish: a second Ctrl-C or SIGTERM does not cut it short (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _runner_is_ours(state_dir: Path, record: dict[str, Any]) -> bool:
    pid = int(record.get("pid", 0) or 0)
    start = record.get("start")
    if record.get("foreground"):
        # `up --foreground`: the runner is that command itself; its start time tells.
        return start is not None and is_ours(pid, start=str(start))
    return is_ours(
        pid, start=None if start is None else str(start), names=(RUNNER_MODULE, str(state_dir))
    )


def _terraform_is_ours(state_dir: Path, record: dict[str, Any]) -> bool:
    pid = int(record.get("pid", 0) or 0)
    start = record.get("start")
    return start is not None and is_ours(pid, start=str(start), names=(str(state_dir),))


def running(state_dir: Path) -> dict[str, int]:
    """The processes of the stack in ``state_dir`` that still run, by role.

    Roles: ``moto server``, ``runner``, ``terraform``. Only processes that are verifiably the
    stack's count (see :func:`thumbnailer.local.state.is_ours`); stale records do not.
    """
    from thumbnailer.local.emulator import recorded_server

    state_dir = state_dir.resolve()
    found: dict[str, int] = {}
    server = recorded_server(state_dir)
    if server is not None:
        found["moto server"] = int(server["pid"])
    runner = read_json(state_dir / RUNNER_FILE)
    if runner and _runner_is_ours(state_dir, runner):
        found["runner"] = int(runner["pid"])
    terraform = read_json(state_dir / TERRAFORM_FILE)
    if terraform and _terraform_is_ours(state_dir, terraform):
        found["terraform"] = int(terraform["pid"])
    return found


def _describe(found: Mapping[str, int]) -> str:
    return ", ".join(f"{role} (pid {pid})" for role, pid in found.items())


def up(options: UpOptions) -> StackInfo:
    """Bring the stack up and return its description (also saved to ``stack.json``).

    One ``up`` or ``down`` works on a state folder at a time (a lock in it). On a stack that is
    up but whose runner is not running, only the runner is started again. If ``up`` fails or
    is interrupted (Ctrl-C, SIGTERM), everything it started so far is stopped.
    """
    if options.trigger not in TRIGGERS:
        raise ConfigError(f"trigger {options.trigger!r}: expected one of {', '.join(TRIGGERS)}")
    if not 0 <= options.port <= 65535:
        raise ConfigError(f"port {options.port}: expected 1..65535 (or 0 for a free one)")
    state_dir = options.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    with _sigterm_interrupts(), _exclusive(state_dir, "up"):
        found = running(state_dir)
        if (state_dir / "stack.json").is_file() and set(found) == {"moto server"}:
            return _restart_runner(state_dir, options)
        if found:
            kind = "" if (state_dir / "stack.json").is_file() else "half-started "
            raise ConfigError(
                f"a {kind}local stack is already running from {state_dir} ({_describe(found)}): "
                f"`thumbnailer local down --state-dir {state_dir}` first"
            )
        for line in _stop_all(state_dir):  # stale records only: nothing of ours runs
            _log(line)
        try:
            return _start(state_dir, options)
        except BaseException:
            with _shielded():
                _clean_up_after_up(state_dir)
            raise


def _clean_up_after_up(state_dir: Path) -> None:
    """Stop what a failed or interrupted ``up`` started, saying what; never raise."""
    try:
        done = _stop_all(state_dir)
    except Exception as exc:  # the failure of `up` itself is what the user must see
        _log(
            f"up stopped early, and could not stop everything it started ({exc}): "
            f"`thumbnailer local down --state-dir {state_dir}`"
        )
        return
    if done:
        _log("up stopped early; stopped what it had started:")
        for line in done:
            _log(f"  {line}")


def _restart_runner(state_dir: Path, options: UpOptions) -> StackInfo:
    info = StackInfo.load(state_dir)
    for line in _stop_runner(state_dir):  # a stale record, or workers left by a killed runner
        _log(line)
    if options.start_runner:
        start_runner(state_dir, options.runner_env)
        _log(f"the stack in {state_dir} was up but its runner was not running: runner restarted")
    return info


def _start(state_dir: Path, options: UpOptions) -> StackInfo:
    from thumbnailer.local.emulator import MotoServer

    for stale in ("stack.json", "stats.json", RUNNER_FILE):
        (state_dir / stale).unlink(missing_ok=True)
    _log("building the artifact for this Python (cached after the first time)...")
    art = _artifact.prepare(_cache_dir(), state_dir / "artifact")
    _log(f"  {art.function_zip.name} + {art.layer_zip.name} ({art.built_by})")
    server = MotoServer(port=options.port, state_dir=state_dir)
    endpoint = server.start(detach=True)
    _DETACHED.append(server)
    _log(f"moto server on {endpoint}")
    tf = _terraform(state_dir, stage=True)
    variables = {
        "endpoint": endpoint,
        "trigger": options.trigger,
        "function_zip": str(art.function_zip),
        "layer_zip": str(art.layer_zip),
        "runtime": declared_runtime(_artifact.runtime_tag()),
        "architecture": "x86_64",
        **options.variables,
    }
    write_json(state_dir / "tf" / "variables.json", variables)
    _log("terraform init + apply of infra/examples/local ...")
    tf.init()
    tf.apply(variables=variables)
    outputs = tf.output()
    info = StackInfo(
        endpoint=endpoint,
        region=str(outputs.get("region") or "us-east-1"),
        trigger=options.trigger,
        outputs=outputs,
        function_dir=str(art.function_dir),
        layer_dir=str(art.layer_dir),
        runtime_dir=str(art.runtime_dir),
        concurrency=options.concurrency,
    )
    info.save(state_dir)
    if options.start_runner:
        start_runner(state_dir, options.runner_env)
    return info


def start_runner(state_dir: Path, extra_env: Mapping[str, str] | None = None) -> int:
    """Start the runner detached (own process group; its workers share it) and wait for it.

    If it does not become ready, or the wait is interrupted, its process group is stopped.
    """
    state_dir = state_dir.resolve()
    (state_dir / "stats.json").unlink(missing_ok=True)
    env = {**os.environ, **(extra_env or {})}
    with (state_dir / "runner.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", RUNNER_MODULE, "--state-dir", str(state_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    _DETACHED.append(process)
    # Recorded at once, so that a `down` finds the runner even if this process is killed now.
    write_json(state_dir / RUNNER_FILE, process_record(process.pid))
    try:
        _wait_for_runner(state_dir, process)
    except BaseException:
        kill_group(process.pid)
        (state_dir / RUNNER_FILE).unlink(missing_ok=True)
        raise
    return process.pid


def _wait_for_runner(state_dir: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not read_json(state_dir / "stats.json").get("ready"):
        if process.poll() is not None:
            tail = (state_dir / "runner.log").read_text(errors="replace")[-2000:]
            raise ConfigError(f"the runner exited while starting:\n{tail}")
        if time.monotonic() > deadline:
            raise TransientError("the runner did not become ready within 30 s")
        time.sleep(0.1)


def stop_runner(state_dir: Path) -> bool:
    """Stop the runner's process group (runner and workers); True when nothing is left.

    Only a process group that is verifiably the runner's is signalled: a stale record (its pid
    now another process's) is cleared and nothing is signalled.
    """
    _stop_runner(state_dir.resolve())
    return "runner" not in running(state_dir)


def _stop_runner(state_dir: Path) -> list[str]:
    record = read_json(state_dir / RUNNER_FILE)
    if not record:
        return []
    pid = int(record.get("pid", 0) or 0)
    pgid = int(record.get("pgid", 0) or pid)
    done: list[str] = []
    if record.get("foreground"):
        if _runner_is_ours(state_dir, record) and pid != os.getpid():
            raise TransientError(f"the foreground runner (pid {pid}) is still running")
    elif _runner_is_ours(state_dir, record):
        if not kill_group(pgid):
            raise TransientError(f"the runner's process group {pgid} would not stop")
        done.append(f"stopped the runner and its workers (process group {pgid})")
    elif _orphaned_workers(state_dir, pid, pgid):
        # The runner was killed; its workers, in its process group, outlived it.
        if not kill_group(pgid):
            raise TransientError(f"the runner's workers (process group {pgid}) would not stop")
        done.append(f"stopped the workers the runner left (process group {pgid})")
    elif alive(pid):
        done.append(f"cleared a stale runner record (pid {pid} is another process: untouched)")
    (state_dir / RUNNER_FILE).unlink(missing_ok=True)
    return done


def _orphaned_workers(state_dir: Path, pid: int, pgid: int) -> bool:
    if pgid <= 0 or alive(pid):
        return False
    members = group_members(pgid)
    return bool(members) and all(is_ours(m, names=(str(state_dir),)) for m in members)


def _stop_terraform(state_dir: Path) -> list[str]:
    record = read_json(state_dir / TERRAFORM_FILE)
    if not record:
        return []
    pid = int(record.get("pid", 0) or 0)
    pgid = int(record.get("pgid", 0) or pid)
    done: list[str] = []
    if _terraform_is_ours(state_dir, record):
        if not kill_group(pgid, timeout=5):
            raise TransientError(f"terraform's process group {pgid} would not stop")
        command = " ".join(["terraform", str(record.get("command") or "")]).strip()
        done.append(f"stopped {command} and its providers (process group {pgid})")
    elif alive(pid):
        done.append(f"cleared a stale terraform record (pid {pid} is another process: untouched)")
    (state_dir / TERRAFORM_FILE).unlink(missing_ok=True)
    return done


def _stop_emulator(state_dir: Path) -> list[str]:
    from thumbnailer.local.emulator import recorded_server, stop_detached

    record = read_json(state_dir / "emulator.json")
    if not record:
        return []
    pid = int(record.get("pid", 0) or 0)
    if recorded_server(state_dir) is None:
        (state_dir / "emulator.json").unlink(missing_ok=True)
        if alive(pid):
            return [f"cleared a stale moto server record (pid {pid} is another process: untouched)"]
        return []
    if not stop_detached(state_dir) or alive(pid):
        raise TransientError(f"the moto server (pid {pid}) would not stop")
    return [f"stopped the moto server (pid {pid})"]


def _stop_all(state_dir: Path) -> list[str]:
    """Stop every process the stack's records name and that is verifiably the stack's.

    The caller holds the state folder's lock. Stale records are cleared, never signalled.
    """
    done = _stop_runner(state_dir) + _stop_terraform(state_dir) + _stop_emulator(state_dir)
    left = running(state_dir)
    if left:
        raise TransientError(f"still running after down: {_describe(left)}")
    _forget_stopped()
    # The emulator kept everything in memory: the stack and its state are gone with it.
    for stale in ("stack.json", "stats.json"):
        (state_dir / stale).unlink(missing_ok=True)
    (state_dir / "tf" / "terraform.tfstate").unlink(missing_ok=True)
    return done


def _forget_stopped() -> None:
    # `down` reaps by pid, behind the handles' backs; a poll lets each handle learn its child
    # is gone (CPython records a child reaped elsewhere as exited), so none warns when dropped.
    for handle in list(_DETACHED):
        process = (
            handle if isinstance(handle, subprocess.Popen) else getattr(handle, "_process", None)
        )
        if process is None or process.poll() is not None:
            _DETACHED.remove(handle)


def _stop_foreground(state_dir: Path) -> list[str]:
    # `up --foreground` runs the runner in its own terminal: ask it to stop (it then runs
    # `down` itself), never signal its process group, which is the user's shell's. Done
    # without the lock: that process takes it for its own `down`.
    record = read_json(state_dir / RUNNER_FILE)
    pid = int(record.get("pid", 0) or 0)
    if not record.get("foreground") or pid == os.getpid():
        return []
    if not _runner_is_ours(state_dir, record):
        return []  # stale: cleared under the lock
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [f"asked the foreground runner (pid {pid}) to stop"]


def down(state_dir: Path, destroy: bool = False) -> list[str]:
    """Stop everything ``up`` started; return what was done. Verifies no process is left.

    Every recorded process is checked to be the stack's before it is signalled (pids are
    reused, after a reboot most of all); a stale record is reported and cleared. A Terraform
    run left by a killed ``up`` is stopped with its providers.
    """
    state_dir = state_dir.resolve()
    if not state_dir.is_dir():
        return []
    done = _stop_foreground(state_dir)
    with _exclusive(state_dir, "down"):
        if destroy and (state_dir / "stack.json").is_file():
            variables = read_json(state_dir / "tf" / "variables.json")
            if variables and "moto server" in running(state_dir):
                _terraform(state_dir).destroy(variables=variables)
                done.append("terraform destroy")
        done += _stop_all(state_dir)
    return done


def status(state_dir: Path) -> dict[str, Any]:
    """Everything ``status`` shows, as a JSON-ready dict."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _status(state_dir)
    except (BotoCoreError, ClientError) as exc:
        raise TransientError(
            f"the local stack in {state_dir} does not answer ({exc}); "
            "`thumbnailer local down` then `up` to start it again"
        ) from exc


def _not_up(state_dir: Path) -> None:
    """Explain a state folder without ``stack.json`` that is not simply empty."""
    holder = lock_holder(state_dir / LOCK_FILE)
    if holder is not None:
        raise ConfigError(
            f"the local stack in {state_dir} is being started or stopped by {holder}: "
            "try again when it is done"
        )
    found = running(state_dir)
    if found:
        raise ConfigError(
            f"a half-started local stack is left in {state_dir} by an interrupted `up`: "
            f"{_describe(found)} still running; "
            f"`thumbnailer local down --state-dir {state_dir}` stops it"
        )


def _status(state_dir: Path) -> dict[str, Any]:
    import boto3

    state_dir = state_dir.resolve()
    if not (state_dir / "stack.json").is_file():
        _not_up(state_dir)
    info = StackInfo.load(state_dir)
    kwargs = info.client_kwargs()
    sqs = boto3.client("sqs", **kwargs)  # type: ignore[call-overload]
    s3 = boto3.client("s3", **kwargs)  # type: ignore[call-overload]
    env = info.environment
    prefix = env.get("THUMBNAILER_PREFIX", "thumbnails/")
    failure_prefix = env.get("THUMBNAILER_FAILURE_PREFIX", "failed/")

    def depth(url: str | None) -> dict[str, int] | None:
        if not url:
            return None
        attrs = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {
            "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        }

    def keys(bucket: str, under: str) -> list[str]:
        found: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=under):
            found += [o["Key"] for o in page.get("Contents", [])]
        return found

    failures: list[dict[str, Any]] = []
    marker_keys = keys(info.destination_bucket, failure_prefix) if failure_prefix else []
    import json

    for key in marker_keys[-20:]:
        try:
            body = s3.get_object(Bucket=info.destination_bucket, Key=key)["Body"].read()
            marker = json.loads(body)
        except Exception:  # a marker being rewritten is shown without details
            marker = {}
        failures.append({"marker": key, **(marker if isinstance(marker, dict) else {})})
    runner = read_json(state_dir / RUNNER_FILE)
    runner_running = bool(runner) and _runner_is_ours(state_dir, runner)
    stats = read_json(state_dir / "stats.json")
    advice = []
    if not runner_running:
        advice.append(
            f"the runner is not running (see {state_dir / 'runner.log'}): "
            f"`thumbnailer local up --state-dir {state_dir}` starts it again"
        )
    return {
        "state_dir": str(state_dir),
        "endpoint": info.endpoint,
        "region": info.region,
        "credentials": dict(CREDENTIALS),
        "trigger": info.trigger,
        "source_bucket": info.source_bucket,
        "destination_bucket": info.destination_bucket,
        "queue_url": info.queue_url,
        "dlq_url": info.dlq_url,
        "topic_arn": info.outputs.get("topic_arn"),
        "function_name": info.outputs.get("function_name"),
        "runner_running": runner_running,
        "queue_depth": depth(info.queue_url),
        "dlq_depth": depth(info.dlq_url),
        "thumbnails": len(keys(info.destination_bucket, prefix)),
        "failure_count": len(marker_keys),
        "failures": failures,
        "runner": stats,
        "last_errors": stats.get("last_errors", []),
        "advice": advice,
    }

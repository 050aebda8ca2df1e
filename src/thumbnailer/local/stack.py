"""``thumbnailer local up | status | down``: the whole stack on 127.0.0.1, no AWS, no Docker.

``up``: a moto server (detached), a real ``terraform apply`` of ``infra/examples/local`` to it,
the artifact built for this Python, and the runner (detached) that plays Lambda's part. Every
process and file lives in one state folder; ``down`` stops every process it started (process
groups, verified) and can destroy the Terraform state first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thumbnailer.errors import ConfigError, TransientError
from thumbnailer.local import artifact as _artifact
from thumbnailer.local.state import (
    CREDENTIALS,
    StackInfo,
    alive,
    kill_group,
    read_json,
    write_json,
)

__all__ = ["UpOptions", "down", "infra_root", "status", "up"]

TRIGGERS = ("eventbridge", "sqs", "direct")
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
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def up(options: UpOptions) -> StackInfo:
    """Bring the stack up and return its description (also saved to ``stack.json``)."""
    from thumbnailer.local.emulator import MotoServer

    if options.trigger not in TRIGGERS:
        raise ConfigError(f"trigger {options.trigger!r}: expected one of {', '.join(TRIGGERS)}")
    state_dir = options.state_dir.resolve()
    if _running(state_dir):
        raise ConfigError(f"a local stack is already running from {state_dir}: `local down` first")
    state_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("stack.json", "stats.json", "runner.json"):
        (state_dir / stale).unlink(missing_ok=True)
    _log("building the artifact for this Python (cached after the first time)...")
    art = _artifact.prepare(_cache_dir(), state_dir / "artifact")
    _log(f"  {art.function_zip.name} + {art.layer_zip.name} ({art.built_by})")
    server = MotoServer(port=options.port, state_dir=state_dir)
    endpoint = server.start(detach=True)
    _DETACHED.append(server)
    _log(f"moto server on {endpoint}")
    try:
        tf = _terraform(state_dir, stage=True)
        variables = {
            "endpoint": endpoint,
            "trigger": options.trigger,
            "function_zip": str(art.function_zip),
            "layer_zip": str(art.layer_zip),
            "runtime": _artifact.runtime_tag(),
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
    except BaseException:
        server.stop()
        raise
    return info


def start_runner(state_dir: Path, extra_env: Mapping[str, str] | None = None) -> int:
    """Start the runner detached (own process group; its workers share it) and wait for it."""
    (state_dir / "stats.json").unlink(missing_ok=True)
    env = {**os.environ, **(extra_env or {})}
    with (state_dir / "runner.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "thumbnailer.local.runner", "--state-dir", str(state_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    _DETACHED.append(process)
    deadline = time.monotonic() + 30
    while not read_json(state_dir / "stats.json").get("ready"):
        if process.poll() is not None:
            tail = (state_dir / "runner.log").read_text(errors="replace")[-2000:]
            raise ConfigError(f"the runner exited while starting:\n{tail}")
        if time.monotonic() > deadline:
            kill_group(process.pid)
            raise TransientError("the runner did not become ready within 30 s")
        time.sleep(0.1)
    write_json(state_dir / "runner.json", {"pid": process.pid, "pgid": process.pid})
    return process.pid


def stop_runner(state_dir: Path) -> bool:
    """Stop the runner's process group (runner and workers); True when nothing is left."""
    pid = int(read_json(state_dir / "runner.json").get("pgid", 0) or 0)
    if pid <= 0:
        return True
    gone = kill_group(pid)
    if gone:
        (state_dir / "runner.json").unlink(missing_ok=True)
    return gone


def _running(state_dir: Path) -> bool:
    emulator = read_json(state_dir / "emulator.json")
    runner = read_json(state_dir / "runner.json")
    return any(alive(int(d.get("pid", 0) or 0)) for d in (emulator, runner))


def _forget_stopped() -> None:
    # `down` reaps by pid, behind the handles' backs; a poll lets each handle learn its child
    # is gone (CPython records a child reaped elsewhere as exited), so none warns when dropped.
    for handle in list(_DETACHED):
        process = (
            handle if isinstance(handle, subprocess.Popen) else getattr(handle, "_process", None)
        )
        if process is None or process.poll() is not None:
            _DETACHED.remove(handle)


def down(state_dir: Path, destroy: bool = False) -> list[str]:
    """Stop everything ``up`` started; return what was done. Verifies no process is left."""
    from thumbnailer.local.emulator import stop_detached

    state_dir = state_dir.resolve()
    done: list[str] = []
    runner = read_json(state_dir / "runner.json")
    runner_pid = int(runner.get("pid", 0) or 0)
    if runner.get("foreground"):
        # `up --foreground` runs the runner in its own terminal: ask it to stop (it then
        # runs `down` itself), never signal its process group, which is the user's shell's.
        if runner_pid != os.getpid() and alive(runner_pid):
            os.kill(runner_pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while alive(runner_pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            done.append(f"asked the foreground runner (pid {runner_pid}) to stop")
        (state_dir / "runner.json").unlink(missing_ok=True)
        runner_pid = 0
    if runner_pid:
        if not stop_runner(state_dir):
            raise TransientError(f"the runner's process group {runner_pid} would not stop")
        done.append(f"stopped the runner and its workers (process group {runner_pid})")
    if destroy and (state_dir / "stack.json").is_file():
        variables = read_json(state_dir / "tf" / "variables.json")
        emulator = read_json(state_dir / "emulator.json")
        if variables and emulator and alive(int(emulator.get("pid", 0))):
            _terraform(state_dir).destroy(variables=variables)
            done.append("terraform destroy")
    emulator_pid = int(read_json(state_dir / "emulator.json").get("pid", 0) or 0)
    stopped = stop_detached(state_dir)
    if emulator_pid and alive(emulator_pid):
        # stop_detached only signals a server that answers; a busy one is stopped here.
        stopped = kill_group(emulator_pid)
    if stopped:
        done.append(f"stopped the moto server (pid {emulator_pid})")
    left = [p for p in (runner_pid, emulator_pid) if p and alive(p)]
    if left:
        raise TransientError(f"processes still running after down: {left}")
    _forget_stopped()
    # The emulator kept everything in memory: the stack and its state are gone with it.
    for stale in ("stack.json", "stats.json"):
        (state_dir / stale).unlink(missing_ok=True)
    tfstate = state_dir / "tf" / "terraform.tfstate"
    tfstate.unlink(missing_ok=True)
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


def _status(state_dir: Path) -> dict[str, Any]:
    import boto3

    state_dir = state_dir.resolve()
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
    runner = read_json(state_dir / "runner.json")
    stats = read_json(state_dir / "stats.json")
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
        "runner_running": alive(int(runner.get("pid", 0) or 0)),
        "queue_depth": depth(info.queue_url),
        "dlq_depth": depth(info.dlq_url),
        "thumbnails": len(keys(info.destination_bucket, prefix)),
        "failure_count": len(marker_keys),
        "failures": failures,
        "runner": stats,
        "last_errors": stats.get("last_errors", []),
    }

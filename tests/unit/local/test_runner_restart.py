"""A stack whose runner died: `status` says how to recover, and `up` starts just the runner."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from local_helpers import fake_artifact, kill_leftovers, wait_until_gone

from thumbnailer.cli import main
from thumbnailer.local import stack
from thumbnailer.local.emulator import MotoServer
from thumbnailer.local.state import StackInfo, alive, read_json


class Rebuilt(Exception):
    """`up` went on to build the whole stack again."""


@pytest.fixture
def stack_without_runner(tmp_path: Path) -> Iterator[Path]:
    """A stack that is up (emulator, resources, stack.json) but whose runner is not running."""
    state = (tmp_path / "state").resolve()
    server = MotoServer(state_dir=state)
    server.start(detach=True)
    try:
        kwargs = server.client_kwargs()
        s3, sqs = boto3.client("s3", **kwargs), boto3.client("sqs", **kwargs)
        for bucket in ("src", "dst"):
            s3.create_bucket(Bucket=bucket)
        art = fake_artifact(tmp_path / "artifact")
        StackInfo(
            endpoint=server.endpoint,
            region="us-east-1",
            trigger="sqs",
            outputs={
                "source_bucket": "src",
                "destination_bucket": "dst",
                "queue_url": sqs.create_queue(QueueName="q")["QueueUrl"],
                "dlq_url": sqs.create_queue(QueueName="dlq")["QueueUrl"],
            },
            function_dir=str(art.function_dir),
            layer_dir=str(art.layer_dir),
            runtime_dir=str(art.runtime_dir),
        ).save(state)
        yield state
    finally:
        stack.down(state)
        server.stop()
        kill_leftovers(state)


def test_status_says_how_to_start_a_dead_runner_again(
    stack_without_runner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "status", "--state-dir", str(stack_without_runner)]) == 0
    out = capsys.readouterr().out
    assert "NOT running" in out
    assert f"thumbnailer local up --state-dir {stack_without_runner}" in out


def test_up_on_a_stack_whose_runner_died_starts_only_the_runner(
    stack_without_runner: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = stack_without_runner
    server_pid = int(read_json(state / "emulator.json")["pid"])

    def prepare(*args: object) -> None:
        raise Rebuilt

    monkeypatch.setattr(stack._artifact, "prepare", prepare)
    stack.up(stack.UpOptions(state_dir=state))
    assert stack.status(state)["runner_running"]
    runner_pid = int(read_json(state / "runner.json")["pid"])

    # Killed (SIGKILL), as an out-of-memory kill would: `up` brings it back once more.
    os.kill(runner_pid, signal.SIGKILL)
    assert not stack.status(state)["runner_running"]
    stack.up(stack.UpOptions(state_dir=state))
    assert stack.status(state)["runner_running"]
    assert int(read_json(state / "emulator.json")["pid"]) == server_pid  # same emulator

    stack.down(state)
    assert wait_until_gone(state) == []
    assert not alive(server_pid)

"""`down` signals only the stack's own processes: a stale record never stops someone else's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_helpers import kill_leftovers, processes_naming, unrelated_process

from thumbnailer.local import stack
from thumbnailer.local import state as state_module

# Stands in for a runner or a Terraform run: a leader and a child in its process group.
LEADER_AND_CHILD = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', *sys.argv[1:]])\n"
    "time.sleep(60)\n"
)


def _group(state: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start the stand-in (its arguments name ``state``) once its child runs too."""
    process = subprocess.Popen(
        [sys.executable, "-c", LEADER_AND_CHILD, *args], start_new_session=True
    )
    deadline = time.monotonic() + 10
    while len(processes_naming(state)) < 2:
        assert time.monotonic() < deadline, "the stand-in's child did not start"
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("record", ["emulator.json", "runner.json", "terraform.json"])
def test_down_leaves_a_reused_pid_alone_and_clears_the_record(tmp_path: Path, record: str) -> None:
    # After a reboot the recorded pid is someone else's: here, `setsid sleep 1000`.
    with unrelated_process() as other:
        data = {"pid": other.pid, "pgid": other.pid, "endpoint": "http://127.0.0.1:1", "port": 1}
        (tmp_path / record).write_text(json.dumps(data))
        done = stack.down(tmp_path)
        assert other.poll() is None, f"down killed an unrelated process named in {record}"
        assert any("stale" in line and str(other.pid) in line for line in done)
        assert not (tmp_path / record).exists()


def test_a_recorded_start_time_tells_a_reused_pid(tmp_path: Path) -> None:
    with unrelated_process() as other:
        start = state_module.process_start(other.pid)
        assert start is not None
        assert state_module.is_ours(other.pid, start=start)
        assert not state_module.is_ours(other.pid, start=f"{start}0")
        assert not state_module.is_ours(
            other.pid, names=(str(tmp_path),)
        )  # its command line does not


def test_down_stops_the_runner_group_it_recorded(tmp_path: Path) -> None:
    state = tmp_path.resolve()
    runner = _group(state, "thumbnailer.local.runner", "--state-dir", str(state))
    try:
        state_module.write_json(state / "runner.json", state_module.process_record(runner.pid))
        assert stack.running(state) == {"runner": runner.pid}
        done = stack.down(state)
        runner.wait(5)
        assert processes_naming(state) == []
        assert any("stopped the runner" in line for line in done)
    finally:
        kill_leftovers(state)
        if runner.poll() is None:
            runner.kill()
            runner.wait()


def test_down_stops_workers_a_killed_runner_left_in_its_group(tmp_path: Path) -> None:
    state = tmp_path.resolve()
    runner = _group(state, "thumbnailer.local.runner", "--state-dir", str(state))
    try:
        state_module.write_json(state / "runner.json", state_module.process_record(runner.pid))
        runner.kill()
        runner.wait()
        assert processes_naming(state)  # the "worker" is still there
        done = stack.down(state)
        assert not [p for p in processes_naming(state) if state_module.alive(p)]
        assert any("workers" in line for line in done)
    finally:
        kill_leftovers(state)


def test_down_stops_a_terraform_run_an_interrupted_up_left(tmp_path: Path) -> None:
    # `up` killed (SIGKILL) during `terraform apply`: Terraform and its provider live on.
    state = tmp_path.resolve()
    terraform = _group(state, f"-chdir={state}/infra/examples/local", "apply")
    try:
        state_module.write_json(
            state / "terraform.json", state_module.process_record(terraform.pid, command="apply")
        )
        assert stack.running(state) == {"terraform": terraform.pid}
        done = stack.down(state)
        terraform.wait(5)
        assert processes_naming(state) == []
        assert any("terraform apply" in line for line in done)
        assert not (state / "terraform.json").exists()
    finally:
        kill_leftovers(state)
        if terraform.poll() is None:
            terraform.kill()
            terraform.wait()

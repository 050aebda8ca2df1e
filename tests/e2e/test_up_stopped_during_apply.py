"""`up` stopped during the real `terraform apply`: interrupted cleanly, or killed and cleaned.

Each test starts `thumbnailer local up` in a session of its own, as a terminal runs a job,
and stops it once Terraform's AWS provider is applying the module to the emulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import processes_naming, wait_for

pytestmark = pytest.mark.e2e


def _thumbnailer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thumbnailer", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _sigint_as_in_a_terminal() -> None:
    """Run in the child: SIGINT at its default, as a terminal's foreground job has it.

    A suite started in the background by a non-interactive shell (nohup, some CI runners)
    hands SIGINT down ignored, and Python then never raises KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def applying(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`local up` in its own session, in the middle of `terraform apply`."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    state = (tmp_path / "stack").resolve()
    process = subprocess.Popen(
        [sys.executable, "-m", "thumbnailer", "local", "up", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_as_in_a_terminal,
    )
    try:

        def provider_applies() -> bool:
            assert process.poll() is None, process.communicate()
            commands = processes_naming(state).values()
            return any(" apply " in c for c in commands) and any(
                "terraform-provider-aws" in c for c in commands
            )

        wait_for(provider_applies, 240, "terraform apply to run", every=0.2)
        time.sleep(2)  # let it create resources in the emulator
        yield process, state
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)
        _kill_leftovers(state)


def _kill_leftovers(state: Path) -> None:
    """SIGKILL what a failing test left: processes naming the folder, and its moto server."""
    left = list(processes_naming(state))
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        server = json.loads((state / "emulator.json").read_text())
        cmdline = Path(f"/proc/{int(server['pid'])}/cmdline").read_bytes()
        if b"thumbnailer.local.emulator" in cmdline and str(server["port"]).encode() in cmdline:
            left.append(int(server["pid"]))
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def test_ctrl_c_during_apply_reports_interrupted_and_leaves_nothing(
    applying: tuple[subprocess.Popen[str], Path],
) -> None:
    process, state = applying
    os.killpg(process.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert "execution halted" not in err.lower()
    wait_for(lambda: not processes_naming(state), 30, "every process of the stack to stop")
    assert not (state / "stack.json").exists()
    status = _thumbnailer("local", "status", "--state-dir", str(state))
    assert status.returncode == 2
    assert "no local stack" in status.stderr


def test_up_killed_during_apply_is_named_by_status_and_stopped_by_down(
    applying: tuple[subprocess.Popen[str], Path],
) -> None:
    process, state = applying
    process.kill()
    process.communicate(timeout=60)
    left = processes_naming(state)
    assert any("terraform-provider-aws" in c for c in left.values()), left
    status = _thumbnailer("local", "status", "--state-dir", str(state))
    assert status.returncode == 2
    assert "half-started" in status.stderr
    assert f"thumbnailer local down --state-dir {state}" in status.stderr
    again = _thumbnailer("local", "up", "--state-dir", str(state))
    assert again.returncode == 2
    assert "half-started" in again.stderr
    down = _thumbnailer("local", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert "terraform apply" in down.stdout
    assert "moto server" in down.stdout
    assert processes_naming(state) == {}

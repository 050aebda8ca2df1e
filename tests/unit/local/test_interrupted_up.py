"""An interrupted `up` stops what it started; a killed one leaves what `down` can stop.

`up` runs here with a stand-in artifact and a stand-in `terraform` binary whose apply, like the
real one, halts with an error on SIGINT or SIGTERM and leaves a child (the provider) running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_helpers import fake_artifact, kill_leftovers, wait_until_gone

from thumbnailer.errors import ConfigError
from thumbnailer.local import stack
from thumbnailer.local.state import alive

# $1 is -chdir=WORKING_DIR, $2 the command; the "provider" names the working folder.
FAKE_TERRAFORM = f"""#!/bin/sh
dir=$(dirname "$0")
if [ "$2" = apply ]; then
    trap 'echo "Error: execution halted" >&2; exit 1' INT TERM
    {sys.executable} -c 'import time; time.sleep(300)' "$1" &
    echo $! > "$dir/provider.pid"
    touch "$dir/applying"
    wait
fi
exit 0
"""

# `thumbnailer local up` with the stand-ins in place of the artifact build and of Terraform.
UP = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])
    from local_helpers import fake_artifact
    from thumbnailer.cli import main
    from thumbnailer.local import stack
    from thumbnailer.local.terraform import Terraform

    state, binary = Path(sys.argv[1]).resolve(), sys.argv[2]
    stack._artifact.prepare = lambda cache_dir, unpack_dir: fake_artifact(unpack_dir)

    def terraform(state_dir, stage=False):
        fields = Terraform.__dataclass_fields__
        extra = {"process_file": state_dir / "terraform.json"} if "process_file" in fields else {}
        return Terraform(
            working_dir=state_dir,
            data_dir=state_dir / "tf" / "data",
            state_file=state_dir / "tf" / "terraform.tfstate",
            cache_dir=state_dir / "tf" / "cache",
            binary=binary,
            mirror=state_dir,
            **extra,
        )

    stack._terraform = terraform
    sys.exit(main(["local", "up", "--state-dir", str(state)]))
    """
)


def _sigint_as_in_a_terminal() -> None:
    """Run in the child: SIGINT at its default, as a terminal's foreground job has it.

    A suite started in the background by a non-interactive shell (nohup, some CI runners)
    hands SIGINT down ignored, and Python then never raises KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def up_in_apply(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """`up` in a session of its own (as in a terminal), waiting in `terraform apply`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    binary = bin_dir / "terraform"
    binary.write_text(FAKE_TERRAFORM)
    binary.chmod(0o755)
    state = (tmp_path / "state").resolve()
    process = subprocess.Popen(
        [sys.executable, "-c", UP, str(state), str(binary), str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_as_in_a_terminal,
    )
    try:
        deadline = time.monotonic() + 90
        while not (bin_dir / "applying").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                out, err = process.communicate(timeout=30)
                pytest.fail(f"up never reached terraform apply:\n{out}\n{err}")
            time.sleep(0.1)
        yield process, state, bin_dir
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
        provider = bin_dir / "provider.pid"
        if provider.exists():
            pid = int(provider.read_text())
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        kill_leftovers(state)


def _nothing_left(state: Path, bin_dir: Path) -> None:
    assert wait_until_gone(state) == []
    assert not alive(int((bin_dir / "provider.pid").read_text()))
    for name in ("stack.json", "emulator.json", "terraform.json", "runner.json"):
        assert not (state / name).exists(), name


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_up_interrupted_during_apply_stops_everything_and_says_interrupted(
    up_in_apply: tuple[subprocess.Popen[str], Path, Path], how: str
) -> None:
    process, state, bin_dir = up_in_apply
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)  # what a terminal sends its foreground job
    else:
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert "execution halted" not in err
    _nothing_left(state, bin_dir)


def test_up_killed_during_apply_leaves_what_status_explains_and_down_stops(
    up_in_apply: tuple[subprocess.Popen[str], Path, Path],
) -> None:
    process, state, bin_dir = up_in_apply
    process.kill()
    process.communicate(timeout=30)
    with pytest.raises(ConfigError) as caught:
        stack.status(state)
    assert "half-started" in caught.value.message
    assert "thumbnailer local down" in caught.value.message
    with pytest.raises(ConfigError, match="half-started"):
        stack.up(stack.UpOptions(state_dir=state))
    done = stack.down(state)
    assert any("terraform apply" in line for line in done)
    assert any("moto server" in line for line in done)
    _nothing_left(state, bin_dir)


class FakeTerraform:
    """Applies nothing; its outputs describe a stack with no resources behind them."""

    def init(self) -> None:
        return None

    def apply(self, **kwargs: Any) -> None:
        return None

    def output(self) -> dict[str, Any]:
        return {
            "source_bucket": "src",
            "destination_bucket": "dst",
            "dlq_url": "http://127.0.0.1:1/000000000000/dlq",
        }


def test_up_interrupted_while_the_runner_starts_stops_the_runner_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = (tmp_path / "state").resolve()
    monkeypatch.setattr(stack._artifact, "prepare", lambda cache, unpack: fake_artifact(unpack))
    monkeypatch.setattr(stack, "_terraform", lambda state_dir, stage=False: FakeTerraform())

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt  # the first wait for the runner to become ready

    # Only `up`'s own waiting is replaced; the stack's processes keep the real clock.
    monkeypatch.setattr(
        stack, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=ctrl_c)
    )
    try:
        with pytest.raises(KeyboardInterrupt):
            stack.up(stack.UpOptions(state_dir=state))
        assert wait_until_gone(state) == []
        for name in ("stack.json", "emulator.json", "runner.json"):
            assert not (state / name).exists(), name
    finally:
        kill_leftovers(state)

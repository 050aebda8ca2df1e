"""One `up` or `down` at a time works on a state folder; a server never forgets another's record."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from thumbnailer.errors import ConfigError
from thumbnailer.local import stack
from thumbnailer.local.emulator import MotoServer

# Holds the state folder's lock as a running `up` does (flock on STATE/lock, naming itself in
# it), until its stdin closes.
HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys

    with open(os.path.join(sys.argv[1], "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(f"`thumbnailer local up` (pid {os.getpid()})")
        lock.flush()
        print("held", flush=True)
        sys.stdin.read()
    """
)


class Started(Exception):
    """`up` went past the point where it must have waited for the lock."""


@pytest.fixture
def lock_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(stack, "LOCK_WAIT", 0.5, raising=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        yield tmp_path
    finally:
        holder.stdin.close()
        holder.stdout.close()
        holder.wait(10)


def test_a_second_up_on_the_same_folder_refuses_clearly(
    lock_held: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def prepare(*args: object) -> None:
        raise Started

    monkeypatch.setattr(stack._artifact, "prepare", prepare)
    with pytest.raises(ConfigError) as caught:
        stack.up(stack.UpOptions(state_dir=lock_held))
    assert "busy" in caught.value.message
    assert "`thumbnailer local up`" in caught.value.message


def test_down_waits_for_an_up_in_progress_then_refuses(lock_held: Path) -> None:
    (lock_held / "emulator.json").write_text(
        json.dumps({"pid": 999_999_999, "endpoint": "http://127.0.0.1:1", "port": 1})
    )
    with pytest.raises(ConfigError, match="busy"):
        stack.down(lock_held)
    assert (lock_held / "emulator.json").exists()  # the up's records are left to it


def test_stopping_a_server_keeps_the_record_of_another(tmp_path: Path) -> None:
    # Two servers were started from one folder; the second one's record must survive the
    # first one's cleanup, or `down` could not find the second.
    server = MotoServer(state_dir=tmp_path)
    server.start()
    other = {"pid": 999_999_999, "endpoint": "http://127.0.0.1:1", "port": 1}
    (tmp_path / "emulator.json").write_text(json.dumps(other))
    server.stop()
    assert json.loads((tmp_path / "emulator.json").read_text()) == other

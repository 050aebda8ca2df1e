"""The state folder: atomic JSON, a missing stack explained, process-group shutdown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from thumbnailer.errors import ConfigError
from thumbnailer.local.state import StackInfo, alive, kill_group, read_json, write_json


def test_json_round_trip_and_missing_files(tmp_path: Path) -> None:
    assert read_json(tmp_path / "absent.json") == {}
    (tmp_path / "half.json").write_text('{"a": ')
    assert read_json(tmp_path / "half.json") == {}
    write_json(tmp_path / "x" / "s.json", {"n": 1})
    assert read_json(tmp_path / "x" / "s.json") == {"n": 1}
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["s.json"]


def test_loading_a_stack_that_is_not_up_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="thumbnailer local up"):
        StackInfo.load(tmp_path)


def test_kill_group_stops_a_process_and_its_children(tmp_path: Path) -> None:
    # A parent that starts a child in its own group, like the runner and its workers.
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    try:
        assert kill_group(parent.pid, timeout=5)
        parent.wait(5)
        assert not alive(child_pid)
    finally:
        parent.stdout.close()
        if parent.poll() is None:
            parent.kill()
            parent.wait()

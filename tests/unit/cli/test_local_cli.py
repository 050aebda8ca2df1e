"""`thumbnailer local`: arguments checked before anything starts; hints that work as given."""

from __future__ import annotations

from pathlib import Path

import pytest

from thumbnailer.cli import main
from thumbnailer.local import stack
from thumbnailer.local.state import StackInfo


class Started(Exception):
    """`up` was called: the arguments were accepted."""


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "http"])
def test_up_refuses_a_port_out_of_range_as_a_usage_error(
    port: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def up(options: stack.UpOptions) -> StackInfo:
        raise Started

    monkeypatch.setattr(stack, "up", up)
    with pytest.raises(SystemExit) as exited:
        main(["local", "up", "--port", port])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "--port" in err


def test_up_hints_name_the_state_folder_for_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    info = StackInfo(
        endpoint="http://127.0.0.1:4566",
        region="us-east-1",
        trigger="eventbridge",
        outputs={"source_bucket": "src", "destination_bucket": "dst", "dlq_url": "dlq"},
        function_dir="",
        layer_dir="",
        runtime_dir="",
    )
    monkeypatch.setattr(stack, "up", lambda options: info)
    state = tmp_path / "my stack"
    assert main(["local", "up", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    for command in ("upload photo.jpg", "local status", "local down"):
        lines = [line for line in out.splitlines() if f"thumbnailer {command}" in line]
        assert lines, command
        assert all(
            f"--state-dir {state}" in line.split(f"thumbnailer {command}")[1] for line in lines
        )

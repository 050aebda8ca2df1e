"""Every command answers --help, and the README documents every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from thumbnailer import __version__
from thumbnailer.cli import COMMANDS, main

README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"thumbnailer {command}" in capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_documents_every_command(command: str) -> None:
    assert f"thumbnailer {command}" in README.read_text("utf-8")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"thumbnailer {__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["nonsense"])
    assert exited.value.code == 2

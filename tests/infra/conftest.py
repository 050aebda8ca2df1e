"""Fixtures for the Terraform and packaging tests: the artifact built once per session."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from thumbnailer.local.emulator import MotoServer
from thumbnailer.packaging import BuildResult, build

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def find_python312() -> Path | None:
    """A python3.12 interpreter (pyenv's, else PATH's), or None."""
    candidates: list[Path] = []
    try:
        pyenv_root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        candidates += sorted(Path(pyenv_root, "versions").glob("3.12*/bin/python3.12"))
    except (OSError, subprocess.SubprocessError):
        pass
    on_path = shutil.which("python3.12")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        try:
            subprocess.run([candidate, "-c", "pass"], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        return candidate
    return None


@pytest.fixture(scope="session")
def python312() -> Path:
    """A python3.12 interpreter, or skip with the reason."""
    found = find_python312()
    if found is None:
        pytest.skip("python3.12 not found (pyenv or PATH): cannot run the Lambda-layout proof")
    return found


@pytest.fixture(scope="session")
def artifact_x86(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """function.zip + layer for python3.12 / x86_64, built once per session."""
    return build(tmp_path_factory.mktemp("dist-x86"), python="3.12", arch="x86_64")


@pytest.fixture
def moto_server() -> Iterator[MotoServer]:
    """A moto server on 127.0.0.1, stopped after the test."""
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    """The terraform binary, or skip."""
    found = shutil.which("terraform")
    if found is None:
        pytest.skip("terraform is not installed")
    return found

"""``python -m thumbnailer.local.terraform``: the project's Terraform CLI configuration by hand."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from thumbnailer.local.terraform import MIRROR_ENV


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thumbnailer.local.terraform", str(tmp_path / "rc")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HOME": str(tmp_path / "home"), "XDG_DATA_DIRS": "", **env},
    )


def test_writes_the_mirror_configuration_and_prints_how_to_use_it(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws" / "5.80.0" / "linux_amd64").mkdir(
        parents=True
    )
    run = _run(tmp_path, **{MIRROR_ENV: str(mirror)})
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"export TF_CLI_CONFIG_FILE={shlex.quote(str(tmp_path / 'rc'))}\n"
    assert f"providers come from the mirror {mirror}" in run.stderr
    text = (tmp_path / "rc").read_text()
    assert f'path    = "{mirror}"' in text and "direct {" in text


def test_a_mirror_variable_without_the_provider_is_refused(tmp_path: Path) -> None:
    run = _run(tmp_path, **{MIRROR_ENV: str(tmp_path)})
    assert run.returncode == 2
    assert "holds no registry.terraform.io/hashicorp/aws provider" in run.stderr
    assert not (tmp_path / "rc").exists()

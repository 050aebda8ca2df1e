"""`thumbnailer package` refuses bad flags before building anything; `make package` passes options.

The real builds through the command are in tests/infra/test_package.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from thumbnailer.cli import main

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--arch", "sparc"], "argument --arch: invalid choice: 'sparc'"),
        (["--python", "3.9"], "argument --python: invalid choice: '3.9'"),
    ],
    ids=["arch", "python"],
)
def test_flags_outside_the_choices_are_usage_errors(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["package", *flags, "--out", str(tmp_path / "dist")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    # The valid choices are named, so the user sees what to type instead.
    expected = ("arm64", "x86_64") if "--arch" in flags else ("3.11", "3.12", "3.13")
    assert all(choice in err.split("choose from", 1)[1] for choice in expected)
    assert not (tmp_path / "dist").exists()


def test_python_311_is_refused_for_lambda(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["package", "--python", "3.11", "--out", str(tmp_path / "dist")])
    assert code == 2
    err = capsys.readouterr().err
    assert "Amazon Linux 2 (glibc 2.26)" in err and "use 3.12 or 3.13" in err
    assert not (tmp_path / "dist").exists()


def test_unknown_decoder_to_leave_out_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["package", "--without", "video,nonsense", "--out", str(tmp_path / "dist")])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        "thumbnailer package: --without nonsense: expected some of heif, pdf, video, vips"
    )
    assert captured.out == ""
    assert not (tmp_path / "dist").exists(), "nothing is built"


def test_console_entry_exits_2_on_a_bad_flag(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("thumbnailer")
    if not script.is_file():
        pytest.skip(f"no thumbnailer console script beside {sys.executable}")
    completed = subprocess.run(
        [str(script), "package", "--without", "aws", "--out", str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "thumbnailer package: --without aws: expected some of" in completed.stderr
    assert not (tmp_path / "dist").exists()


def test_make_package_passes_package_args() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")

    def dry_run(*extra: str) -> list[str]:
        completed = subprocess.run(
            [make, "--no-print-directory", "-n", "package", *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return completed.stdout.splitlines()

    lines = dry_run("PACKAGE_ARGS=--arch x86_64 --without video,pdf")
    assert lines[-1].endswith(" thumbnailer package --arch x86_64 --without video,pdf")
    assert dry_run()[-1].rstrip().endswith(" thumbnailer package")
    listed = subprocess.run(
        [make, "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert any("make package" in line and "PACKAGE_ARGS=" in line for line in listed.splitlines())

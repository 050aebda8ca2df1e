"""``thumbnailer make``: files in, thumbnails out, a clear report and exit status."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from thumbnailer import samples
from thumbnailer.cli import main


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(samples.photo_jpeg(400, 300))
    (folder / "logo.png").write_bytes(samples.transparent_png(200, 100))
    (folder / "broken.jpg").write_bytes(samples.broken_jpeg())
    (folder / "notes.txt").write_bytes(b"just text")
    return folder


def test_writes_stem_box_ext_per_input_and_size(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "make",
            str(inputs / "photo.jpg"),
            str(inputs / "logo.png"),
            "--out",
            str(out),
            "--size",
            "64x64",
            "--size",
            "300x100",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "logo_300x100.png",
        "logo_64x64.png",
        "photo_300x100.jpg",
        "photo_64x64.jpg",
    ]
    with Image.open(out / "photo_300x100.jpg") as image:
        assert image.size == (133, 100)  # the name has the box, the image fits inside it


def test_failures_are_reported_and_the_rest_still_made(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    files = [str(inputs / n) for n in ("broken.jpg", "photo.jpg", "notes.txt", "missing.png")]
    code = main(["make", *files, "--out", str(out)])
    assert code == 1
    assert (out / "photo_128x128.jpg").is_file()
    stdout = capsys.readouterr().out
    assert "broken.jpg: corrupt: the JPEG file is truncated" in stdout
    assert "notes.txt: unsupported:" in stdout
    assert "missing.png: not_found:" in stdout
    assert "4 inputs: 1 ok, 3 failed" in stdout


def test_json_lines(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    files = [str(inputs / "photo.jpg"), str(inputs / "broken.jpg")]
    code = main(["make", *files, "--out", str(out), "--json", "--format", "webp"])
    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    good, bad = lines
    assert good["ok"] is True and good["error"] is None
    assert good["input"] == files[0]
    [thumb] = good["thumbnails"]
    assert thumb["format"] == "webp"
    assert (thumb["width"], thumb["height"]) == (128, 96)
    assert Path(thumb["path"]).stat().st_size == thumb["bytes"]
    assert bad == {
        "input": files[1],
        "ok": False,
        "thumbnails": [],
        "error": {"kind": "corrupt", "message": bad["error"]["message"]},
    }
    assert "truncated" in bad["error"]["message"]


def test_fit_format_and_quality_flags(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    src = str(inputs / "photo.jpg")
    common = ["--size", "100x100", "--fit", "cover", "--format", "jpeg"]
    assert main(["make", src, "--out", str(out / "low"), *common, "--quality", "20"]) == 0
    assert main(["make", src, "--out", str(out / "high"), *common, "--quality", "95"]) == 0
    low, high = out / "low" / "photo_100x100.jpg", out / "high" / "photo_100x100.jpg"
    assert low.stat().st_size < high.stat().st_size
    with Image.open(low) as image:
        assert image.size == (100, 100)


@pytest.mark.parametrize(
    "flags",
    [
        ["--size", "12"],
        ["--size", "0x10"],
        ["--fit", "stretch"],
        ["--format", "gif"],
        ["--quality", "101"],
        ["--quality", "high"],
    ],
)
def test_usage_errors_exit_2(
    inputs: Path, tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["make", str(inputs / "photo.jpg"), "--out", str(tmp_path / "o"), *flags])
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_repeated_size_and_bad_out_are_usage_errors(inputs: Path, tmp_path: Path) -> None:
    src = str(inputs / "photo.jpg")
    assert main(["make", src, "--out", str(tmp_path / "o"), "--size", "9x9", "--size", "9x9"]) == 2
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    assert main(["make", src, "--out", str(not_a_folder)]) == 2


def test_missing_out_is_a_usage_error(inputs: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["make", str(inputs / "photo.jpg")])
    assert info.value.code == 2


def test_two_inputs_with_the_same_stem_do_not_overwrite_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "pic.jpg").write_bytes(samples.photo_jpeg(200, 100, seed=1))
    (tmp_path / "b" / "pic.jpg").write_bytes(samples.photo_jpeg(200, 100, seed=2))
    out = tmp_path / "out"
    code = main(
        [
            "make",
            str(tmp_path / "a" / "pic.jpg"),
            str(tmp_path / "b" / "pic.jpg"),
            "--out",
            str(out),
        ]
    )
    assert code == 1
    assert "already written for another input" in capsys.readouterr().out
    first = samples.photo_jpeg(200, 100, seed=1)
    from thumbnailer import render

    assert (out / "pic_128x128.jpg").read_bytes() == render(first)[0].data


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_for_many_inputs_on_a_terminal(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = []
    for index in range(12):
        path = tmp_path / f"img{index}.png"
        path.write_bytes(samples.transparent_png(20, 10))
        many.append(str(path))
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["make", *many, "--out", str(tmp_path / "out")]) == 0
    assert "] 12/12" in terminal.getvalue()

    quiet = _Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    assert main(["make", *many[:2], "--out", str(tmp_path / "out2")]) == 0
    assert quiet.getvalue() == ""

    piped = io.StringIO()  # not a terminal: no bar even for many inputs
    monkeypatch.setattr("sys.stderr", piped)
    assert main(["make", *many, "--out", str(tmp_path / "out3")]) == 0
    assert piped.getvalue() == ""


def test_help_describes_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["make", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--out", "--size", "--fit", "--format", "--quality", "--json"):
        assert flag in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("thumbnailer ")

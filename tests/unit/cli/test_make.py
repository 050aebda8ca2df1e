"""``thumbnailer make``: files in, thumbnails out, a clear report and exit status."""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from thumbnailer import samples
from thumbnailer.cli import main, make
from thumbnailer.cli._options import spec_from_args
from thumbnailer.render.spec import Limits, Thumbnail, ThumbnailSpec


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


def _many_pngs(folder: Path, count: int = 12) -> list[str]:
    """``count`` small PNG files in ``folder``: enough inputs for a progress bar."""
    paths = [folder / f"img{index}.png" for index in range(count)]
    for path in paths:
        path.write_bytes(samples.transparent_png(20, 10))
    return [str(path) for path in paths]


def test_progress_bar_only_for_many_inputs_on_a_terminal(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = _many_pngs(tmp_path)
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


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def _limit_input_bytes(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """Lower the byte limit the command renders with (the CLI has no flag for it)."""
    monkeypatch.setattr(
        make,
        "spec_from_args",
        lambda args: dataclasses.replace(
            spec_from_args(args), limits=Limits(max_input_bytes=limit)
        ),
    )


def test_a_name_too_long_for_the_file_system_is_that_inputs_error(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    suffix = "_128x128.jpg"
    fits = inputs / ("M" * (name_max - len(suffix)) + ".jpg")  # its thumbnail's name: name_max
    too_long = inputs / ("L" * (name_max - len(".jpg")) + ".jpg")  # its thumbnail's: longer
    for path in (fits, too_long):
        path.write_bytes(samples.photo_jpeg(100, 80))
    out = tmp_path / "out"
    files = [str(too_long), str(fits), str(inputs / "photo.jpg")]
    assert main(["make", *files, "--out", str(out), "--json"]) == 1
    long_line, fits_line, photo_line = _json_lines(capsys.readouterr().out)
    assert long_line["error"] == {
        "kind": "io",
        "message": f"cannot write {out / too_long.stem}{suffix}: "
        "the name is too long for the file system",
    }
    assert fits_line["ok"] is True
    assert photo_line["ok"] is True
    assert sorted(p.name for p in out.iterdir()) == [
        fits.stem + suffix,
        "photo_128x128.jpg",
    ]  # nothing half-written left behind


def test_ctrl_c_while_a_thumbnail_is_written_leaves_nothing_behind(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: Path, target: Path) -> Path:
        raise KeyboardInterrupt  # after the bytes are written, before the rename

    monkeypatch.setattr(Path, "replace", interrupted)
    out = tmp_path / "out"
    assert main(["make", str(inputs / "photo.jpg"), "--out", str(out)]) == 130
    assert list(out.iterdir()) == []


def _run_cli(*args: str, stdout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thumbnailer", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_reader_that_stops_early_ends_the_run_quietly(inputs: Path, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `thumbnailer make ... | head -1` once head has its line
    try:
        args = ["make", str(inputs / "photo.jpg"), "--out", str(tmp_path / "out"), "--json"]
        done = _run_cli(*args, stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_output_that_cannot_be_written_is_one_line_not_a_traceback(
    inputs: Path, tmp_path: Path
) -> None:
    args = ["make", str(inputs / "photo.jpg"), "--out", str(tmp_path / "out"), "--json"]
    with Path("/dev/full").open("wb") as full:
        done = _run_cli(*args, stdout=full.fileno())
    assert (done.returncode, done.stderr) == (1, "thumbnailer make: No space left on device\n")


@pytest.mark.parametrize(
    ("fmt", "victim"),
    [("auto", "x_128x128.jpg"), ("auto", "x_128x128.png"), ("png", "x_128x128.png")],
)
def test_an_input_named_like_another_inputs_thumbnail_is_never_overwritten(
    tmp_path: Path, fmt: str, victim: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(samples.photo_jpeg(400, 300, seed=1))
    original = samples.photo_jpeg(400, 300, seed=2)
    (folder / victim).write_bytes(original)
    files = [str(folder / victim), str(folder / "x.jpg")]  # read first, yet lost all the same
    assert main(["make", *files, "--out", str(folder), "--format", fmt]) == 2
    assert (folder / victim).read_bytes() == original
    assert sorted(p.name for p in folder.iterdir()) == sorted(["x.jpg", victim])
    err = capsys.readouterr().err
    assert f"the thumbnail of {folder / 'x.jpg'} would be written over the input " in err
    assert f"{folder / victim}, which has its name (a thumbnail of an earlier run?); " in err
    assert "leave it out of the inputs or choose another --out" in err


def test_an_input_reached_through_another_name_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.jpg").write_bytes(samples.photo_jpeg(400, 300, seed=1))
    keep = tmp_path / "keep.jpg"
    keep.write_bytes(samples.photo_jpeg(400, 300, seed=2))
    out = tmp_path / "out"
    out.mkdir()
    os.link(keep, out / "x_128x128.jpg")  # the thumbnail's name, the input's bytes
    assert main(["make", str(tmp_path / "x.jpg"), str(keep), "--out", str(out)]) == 2
    assert keep.read_bytes() == samples.photo_jpeg(400, 300, seed=2)
    assert "the same file under another name" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd")
def test_a_pipe_is_read_no_further_than_the_byte_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    limit, chunk, chunks = 1 << 20, b"\xff\xd8\xff" + bytes(65533), 64  # 4 MiB sent
    _limit_input_bytes(monkeypatch, limit)
    read_end, write_end = os.pipe()
    sent = 0

    def feed() -> None:
        nonlocal sent
        try:
            for _ in range(chunks):
                sent += os.write(write_end, chunk)
        except BrokenPipeError:
            pass  # the reader has gone: how much got through is the point
        finally:
            os.close(write_end)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        code = main(["make", f"/dev/fd/{read_end}", "--out", str(tmp_path / "out"), "--json"])
    finally:
        os.close(read_end)
        writer.join(timeout=30)
    assert code == 1
    [line] = _json_lines(capsys.readouterr().out)
    assert line["error"] == {
        "kind": "too_large",
        "message": f"the input is over the limit of {limit:,} bytes",
    }
    assert sent < chunks * len(chunk)  # refused once over the limit, not at the end


def test_a_regular_file_over_the_byte_limit_is_refused_from_its_size(
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _limit_input_bytes(monkeypatch, 1000)
    big = inputs / "photo.jpg"
    assert main(["make", str(big), "--out", str(tmp_path / "out"), "--json"]) == 1
    [line] = _json_lines(capsys.readouterr().out)
    assert line["error"] == {
        "kind": "too_large",
        "message": f"the input is {big.stat().st_size:,} bytes; the limit is 1,000",
    }


def test_an_empty_out_is_a_usage_error(
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["make", str(inputs / "photo.jpg"), "--out", ""]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # nothing in the current folder


def test_an_empty_input_name_is_that_inputs_error(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["make", "", str(inputs / "photo.jpg"), "--out", str(out), "--json"]) == 1
    empty, photo = _json_lines(capsys.readouterr().out)
    assert empty == {
        "input": "",
        "ok": False,
        "thumbnails": [],
        "error": {"kind": "not_found", "message": "an empty name is not a file"},
    }
    assert photo["ok"] is True


def test_a_folder_or_a_symlink_loop_is_an_io_error(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "pool")
    (tmp_path / "pool").symlink_to(loop)
    assert main(["make", str(inputs), str(loop), "--out", str(tmp_path / "out"), "--json"]) == 1
    folder, looped = _json_lines(capsys.readouterr().out)
    assert folder["error"] == {"kind": "io", "message": f"{inputs} is a folder, not a file"}
    assert looped["error"] == {
        "kind": "io",
        "message": f"cannot read {loop}: Too many levels of symbolic links",
    }


def test_the_same_file_given_twice_is_not_a_clash(
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(inputs)
    names = ["photo.jpg", "./photo.jpg", str(inputs / "photo.jpg")]
    assert main(["make", *names, "--out", str(tmp_path / "out"), "--json"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    assert [line["ok"] for line in lines] == [True, True, True]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo_128x128.jpg"]


def test_format_avif_without_an_encoder_is_a_usage_error(
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Image.init()  # every encoder registered first, so removing one stays removed
    monkeypatch.delitem(Image.SAVE, "AVIF")  # as in a Pillow built without libavif
    out = tmp_path / "out"
    assert main(["make", str(inputs / "photo.jpg"), "--out", str(out), "--format", "avif"]) == 2
    assert capsys.readouterr().err == (
        "thumbnailer make: --format avif: this build cannot write AVIF thumbnails "
        "(its Pillow has no AVIF encoder)\n"
    )
    assert not out.exists()


def test_names_with_control_characters_are_shown_escaped_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["new\nline.jpg", "esc\x1b[31mred.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(samples.photo_jpeg(100, 80))
    out = tmp_path / "out"
    assert main(["make", *(str(tmp_path / n) for n in names), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # one per input and the summary
    assert (
        lines[0]
        == f"ok    {tmp_path}/new\\nline.jpg -> {out}/new\\nline_128x128.jpg (100x80 JPEG, 2.4 KB)"
    )
    assert lines[1].startswith(f"ok    {tmp_path}/esc\\x1b[31mred.jpg -> ")
    assert "\x1b" not in "".join(lines)


def test_a_name_that_is_not_utf8_is_shown_with_the_byte_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xffname.jpg"
    try:
        Path(os.fsdecode(raw)).write_bytes(samples.photo_jpeg(100, 80))
    except OSError:  # some file systems refuse such names
        pytest.skip("this file system does not accept names that are not UTF-8")
    given, out = os.fsdecode(raw), tmp_path / "out"
    # Captured output encodes strictly, as stdout does under a regular UTF-8 locale.
    assert main(["make", given, "--out", str(out)]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[0]
        .startswith(f"ok    {tmp_path}/bad\\xffname.jpg -> {out}/bad\\xffname_128x128.jpg")
    )
    assert main(["make", given, "--out", str(out), "--json"]) == 0
    [line] = _json_lines(capsys.readouterr().out)
    assert line["input"] == f"{tmp_path}/bad\\xffname.jpg"  # no lone surrogate: valid UTF-8
    assert line["thumbnails"][0]["path"] == f"{out}/bad\\xffname_128x128.jpg"  # type: ignore[index]


def test_json_input_is_the_argument_exactly_as_given(
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    names = ["./in/photo.jpg", "in//logo.png", "in/../in/broken.jpg"]
    main(["make", *names, "--out", "out", "--json"])
    assert [line["input"] for line in _json_lines(capsys.readouterr().out)] == names


def test_ctrl_c_clears_the_progress_bar_before_saying_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = _many_pngs(tmp_path)
    calls = 0

    engine = importlib.import_module("thumbnailer.render")  # the package, not the function
    real_render = engine.render

    def render_until_ctrl_c(data: bytes, spec: ThumbnailSpec | None = None) -> list[Thumbnail]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real_render(data, spec)  # type: ignore[no-any-return]

    monkeypatch.setattr(engine, "render", render_until_ctrl_c)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["make", *many, "--out", str(tmp_path / "out")]) == 130
    assert terminal.getvalue().endswith("] 2/12\r\x1b[Kthumbnailer make: interrupted\n")


def test_an_out_folder_that_cannot_be_written_is_a_usage_error(
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    real_access = os.access

    # Root may write anywhere whatever the mode bits, so the answer is simulated.
    def access(path: str | Path, mode: int, **kwargs: bool) -> bool:
        return Path(path) != out and real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    assert main(["make", str(inputs / "photo.jpg"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"thumbnailer make: --out {out}: not allowed to write in this folder\n"
    )
    assert list(out.iterdir()) == []


def test_no_progress_bar_on_a_dumb_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = _many_pngs(tmp_path)
    monkeypatch.setenv("TERM", "dumb")  # cannot erase a line: the bar would pile up
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["make", *many, "--out", str(tmp_path / "out")]) == 0
    assert terminal.getvalue() == ""


@pytest.mark.parametrize(
    ("sizes", "summary"),
    [
        (["--size", "64x64"], "1 input: 1 ok, 0 failed; 1 thumbnail in "),
        (["--size", "64x64", "--size", "32x32"], "1 input: 1 ok, 0 failed; 2 thumbnails in "),
    ],
)
def test_the_summary_counts_in_words(
    inputs: Path, tmp_path: Path, sizes: list[str], summary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["make", str(inputs / "photo.jpg"), "--out", str(tmp_path / "o"), *sizes]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == summary + str(tmp_path / "o")


def test_format_jpg_is_jpeg(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["make", str(inputs / "logo.png"), "--out", str(out), "--format", "jpg"]) == 0
    with Image.open(out / "logo_128x128.jpg") as image:
        assert image.format == "JPEG"  # even for a transparent input, as --format jpeg


def test_inputs_listed_in_a_file_are_rendered_after_the_named_ones(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"{inputs / 'logo.png'}\n\n{inputs / 'broken.jpg'}\n")
    photo = str(inputs / "photo.jpg")
    code = main(
        ["make", photo, "--inputs-from", str(listing), "--out", str(tmp_path / "o"), "--json"]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["input"] for line in lines] == [
        photo,
        str(inputs / "logo.png"),
        str(inputs / "broken.jpg"),
    ]
    assert [line["ok"] for line in lines] == [True, True, False]
    assert code == 1  # the broken one failed; the others were still made


def test_a_nul_separated_list_on_standard_input_keeps_any_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [b"line\nbreak.jpg", b"caf\xe9 latin-1.jpg"]  # a line break, and not UTF-8
    paths = [tmp_path / os.fsdecode(name) for name in names]
    for path in paths:
        path.write_bytes(samples.photo_jpeg(200, 150))
    listing = b"".join(os.fsencode(path) + b"\0" for path in paths)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(listing)))
    out = tmp_path / "out"
    code = main(["make", "--inputs-from", "-", "--null", "--out", str(out), "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and [line["ok"] for line in lines] == [True, True]
    made = sorted(os.fsencode(path.name) for path in out.iterdir())
    assert made == sorted(name[:-4] + b"_128x128.jpg" for name in names)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "no inputs"),
        (["--inputs-from", "missing.txt"], "--inputs-from missing.txt: No such file"),
        (["x.jpg", "--null"], "--null applies to --inputs-from"),
    ],
)
def test_input_list_usage_errors_exit_2(
    arguments: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["make", *arguments, "--out", "out"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

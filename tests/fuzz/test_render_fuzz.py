"""The engine fuzzer (``make fuzz``): a short campaign runs clean, and planted bugs are found.

A campaign that reported nothing because it could not see a crash would be worse than none:
the tests plant each kind of finding, in a worker process (a crash, a hang) or in the
classification the worker applies (an escaped or masked error, a leaked message), and check
that it is reported, saved once and signed with the engine frame it came from.
"""

from __future__ import annotations

import functools
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from thumbnailer import OutputFormat, Size, Thumbnail, ThumbnailSpec, samples
from thumbnailer.render import _engine, _geometry

# The fuzzer's folder holds scripts, not a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fuzz"))
from _campaign import Corpus
from _findings import LOG_NAME, FindingStore
from _format_mutations import FORMAT_MUTATIONS
from _mutations import Donors, mutate
from _outcomes import Finding, Outcome, check_thumbnails, render_and_classify
from _seeds import SEEDS, load

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz" / "render_fuzz.py"
SPEC = ThumbnailSpec()


def _fuzz(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FUZZ), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )


def _table(stdout: str) -> dict[str, dict[str, int]]:
    """The summary's outcome table: seed (and ``total``) -> column -> runs."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("seed "))
    header = lines[start].split()
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        name, *counts = line.split()
        rows[name] = dict(zip(header[1:], map(int, counts), strict=True))
    return rows


def test_a_short_campaign_runs_clean_and_counts_every_run(tmp_path: Path) -> None:
    out = tmp_path / "findings"
    proc = _fuzz(
        *("--runs", "40", "--seed", "1", "--workers", "1"),
        *("--only", "webp-lossy-alpha,heic-grid", "--out", str(out)),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.startswith("40 runs in ")
    table = _table(proc.stdout)
    assert set(table) == {"webp-lossy-alpha", "webp-lossy-alpha-exif", "heic-grid", "total"}
    total = table.pop("total")
    assert total["runs"] == 40 == sum(row["runs"] for row in table.values())
    # Every run has exactly one outcome, and some mutants still render.
    assert sum(v for k, v in total.items() if k != "runs") == 40
    assert total["ok"] > 0 and total["finding"] == 0
    assert "findings: none" in proc.stdout
    assert not (out / LOG_NAME).exists()


# Loaded in the worker processes through PYTHONPATH: the engine crashes on GIF input and
# hangs on BMP input, past the tool's reach (it only sees a process die or fall silent).
_PLANTED = """
import os
import time

from thumbnailer.render import _engine

_real = _engine._render


def _planted(data, kind, spec, deadline):
    if data.startswith(b"GIF"):
        os.abort()
    if data.startswith(b"BM"):
        time.sleep(60)
    return _real(data, kind, spec, deadline)


_engine._render = _planted
"""


def test_a_crash_and_a_hang_are_found_saved_and_signed(tmp_path: Path) -> None:
    plant = tmp_path / "plant"
    plant.mkdir()
    (plant / "sitecustomize.py").write_text(_PLANTED)
    env = {**os.environ, "PYTHONPATH": str(plant)}
    out = tmp_path / "findings"
    proc = _fuzz(
        *("--runs", "1", "--seed", "1", "--workers", "1", "--timeout", "2"),
        *("--only", "gif,bmp", "--out", str(out)),
        env=env,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = [json.loads(line) for line in (out / LOG_NAME).read_text().splitlines()]
    by_kind = {record["kind"]: record for record in records}
    assert len(records) == len(by_kind) == 2  # each signature saved once, however often met
    # The innermost frame of the engine's own code: render() called the planted function.
    frame = "render/_engine.py:render:"
    crash, hang = by_kind["crash"], by_kind["hang"]
    assert crash["signature"].startswith(f"crash SIGABRT at {frame}")
    assert hang["signature"].startswith(f"hang at {frame}")
    assert "_planted" in crash["trace"] and "_planted" in hang["trace"]  # the stack dumps
    assert Path(crash["file"]).read_bytes().startswith(b"GIF")
    assert Path(hang["file"]).read_bytes().startswith(b"BM")
    # The unmutated seeds themselves failed, and the summary says so and where the inputs are.
    assert "unmutated seed gif did not render: finding" in proc.stdout
    assert crash["file"] in proc.stdout and hang["file"] in proc.stdout


def test_replay_reports_a_saved_finding_again(tmp_path: Path) -> None:
    plant = tmp_path / "plant"
    plant.mkdir()
    (plant / "sitecustomize.py").write_text(_PLANTED)
    gif = tmp_path / "input.gif"
    gif.write_bytes(samples.animated_gif())
    proc = _fuzz("--replay", str(gif), env={**os.environ, "PYTHONPATH": str(plant)})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "finding: crash SIGABRT at render/_engine.py:render:" in proc.stdout
    clean = _fuzz("--replay", str(gif))
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert clean.stdout.startswith(f"{gif}: ok")


def _raising(exc: BaseException) -> Callable[..., Any]:
    def fail(*args: object, **kwargs: object) -> Any:
        raise exc

    return fail


def _finding(outcome: Outcome) -> Finding:
    assert outcome.status == "finding", outcome
    assert outcome.finding is not None
    return outcome.finding


def test_an_internal_error_dressed_as_damage_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_geometry, "plan", _raising(ZeroDivisionError("division by zero")))
    finding = _finding(render_and_classify(samples.photo_jpeg(64, 48), SPEC))
    assert (finding.kind, finding.detail) == ("masked", "ZeroDivisionError")
    # Where the engine called the failing function (in the list comprehension of _render).
    assert finding.frame.startswith("render/_engine.py:")


def test_an_exception_escaping_render_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_engine, "sniff", _raising(IndexError("index out of range")))
    finding = _finding(render_and_classify(samples.photo_jpeg(64, 48), SPEC))
    assert (finding.kind, finding.detail) == ("escape", "IndexError")
    assert finding.frame.startswith("render/_engine.py:render:")


def test_python_words_in_a_message_are_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    leak = ValueError("'NoneType' object cannot be read")  # not an internal error type
    monkeypatch.setattr(_geometry, "plan", _raising(leak))
    finding = _finding(render_and_classify(samples.photo_jpeg(64, 48), SPEC))
    assert (finding.kind, finding.detail) == ("leak", "NoneType")
    assert finding.frame.startswith("render/_engine.py:")


@pytest.mark.parametrize("padding", [0, 1_000_000])
def test_out_of_memory_is_a_finding_only_for_a_small_input(
    monkeypatch: pytest.MonkeyPatch, padding: int
) -> None:
    monkeypatch.setattr(_geometry, "plan", _raising(MemoryError()))
    data = samples.photo_jpeg(64, 48) + bytes(padding)  # bytes after the end of the image
    outcome = render_and_classify(data, SPEC)
    if padding:
        assert outcome.status == "too_large" and outcome.finding is None
    else:
        assert _finding(outcome).kind == "memory"


def test_clean_failures_and_renders_are_not_findings() -> None:
    photo = samples.photo_jpeg(300, 200)
    assert render_and_classify(photo, SPEC) == Outcome("ok")
    for data, status in [
        (photo[: len(photo) // 2], "corrupt"),
        (b"", "empty"),
        (b"hello, world", "unsupported"),
    ]:
        outcome = render_and_classify(data, SPEC)
        assert (outcome.status, outcome.finding) == (status, None)
        assert outcome.message


def test_thumbnails_that_break_the_contract_are_findings() -> None:
    box = Size(128, 128)

    def thumbnail(width: int, height: int, data: bytes = b"jpeg") -> Thumbnail:
        return Thumbnail(data, width, height, OutputFormat.JPEG, box)

    assert check_thumbnails([thumbnail(128, 96)], SPEC).status == "ok"
    for thumbnails, detail in [
        ([], "count"),
        ([thumbnail(128, 96)] * 2, "count"),
        ([thumbnail(129, 96)], "size"),
        ([thumbnail(128, 0)], "size"),
        ([thumbnail(128, 96, b"")], "empty"),
    ]:
        finding = _finding(check_thumbnails(thumbnails, SPEC))
        assert (finding.kind, finding.detail) == ("wrong_result", detail)


def test_a_finding_is_saved_once_per_signature(tmp_path: Path) -> None:
    outcome = Outcome("finding", "boom", Finding("crash", "SIGSEGV", "render/_x.py:f:1"))
    store = FindingStore(tmp_path)
    first = store.save(outcome, b"first", "jpg", {"seed": "a"})
    again = store.save(outcome, b"second", "jpg", {"seed": "b"})
    assert first.new and not again.new and again.path == first.path
    assert first.path.read_bytes() == b"first"
    # A later campaign knows it too.
    assert not FindingStore(tmp_path).save(outcome, b"third", "jpg", {}).new
    assert len((tmp_path / LOG_NAME).read_text().splitlines()) == 1


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    loaded, unavailable = load(SEEDS)
    assert not unavailable, unavailable  # this environment has every encoder
    return Corpus(loaded)


def test_the_same_seed_gives_the_same_inputs(corpus: Corpus) -> None:
    first = [corpus.input(7, run) for run in range(50)]
    assert [corpus.input(7, run) for run in range(50)] == first
    assert Corpus(corpus.seeds).input(7, 3) == first[3]  # nothing kept between calls
    others = [corpus.input(8, run)[1] for run in range(50)]
    assert others != [data for _, data in first]
    assert len({seed.seed.name for seed, _ in first}) > 5  # the runs spread over the seeds
    assert sum(data != seed.data for seed, data in first) >= 45  # and change them


@pytest.mark.parametrize("family", sorted(FORMAT_MUTATIONS))
def test_mutations_survive_any_input(corpus: Corpus, family: str) -> None:
    """Mutants of mutants of real files and of scraps: the campaign must never stop on one."""
    rng = random.Random(family)
    seeds = [s.data for s in corpus.seeds if s.seed.family == family]
    donors = Donors(same_format=seeds, any_format=seeds)
    structural = FORMAT_MUTATIONS[family]
    for round_ in range(300):
        data = rng.choice(seeds) if round_ % 3 else rng.randbytes(rng.randrange(1, 64))
        for _ in range(3):
            data = mutate(rng, data, donors, structural)
            assert isinstance(data, bytes) and data


def _spy(
    monkeypatch: pytest.MonkeyPatch,
    owner: object,
    name: str,
    taken: Callable[[Any, tuple[Any, ...]], bool] = lambda result, args: True,
) -> list[bool]:
    """Record, for each call of ``owner.name``, whether ``taken(result, args)``."""
    calls: list[bool] = []
    real = getattr(owner, name)

    @functools.wraps(real)
    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(taken(result, args))
        return result

    monkeypatch.setattr(owner, name, spy)
    return calls


def _paths(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[bool]]:
    """Spies on the engine's shrink-on-load paths, by name."""
    from thumbnailer.render import _avif, _cicp, _heif, _heif_tiles, _jpeg, _libwebp, _vips, _webp

    def reduced(result: object, args: tuple[Any, ...]) -> bool:
        _codec, _data, features, size = args
        return bool(size < (features.width, features.height))

    return {
        "jpeg-scans": _spy(monkeypatch, _jpeg, "without_unused_scans", lambda r, a: r is not None),
        "libvips": _spy(monkeypatch, _vips, "_to_pillow"),
        "libwebp-scaled": _spy(monkeypatch, _libwebp.Libwebp, "decode", reduced),
        "webp-incremental": _spy(monkeypatch, _webp.WebpSource, "_reduced_while_decoding"),
        "heif-preview": _spy(monkeypatch, _heif.HeifSource, "_preview", lambda r, a: r is not None),
        "heif-pyav": _spy(monkeypatch, _heif_tiles.TileGrid, "decode", lambda r, a: r is not None),
        "avif-pyav": _spy(
            monkeypatch, _avif.AvifSource, "_decode_shrunk", lambda r, a: r is not None
        ),
        "colour-codes": _spy(monkeypatch, _cicp, "_profile"),
    }


_SEED_PATHS = {
    "jpeg-progressive": "jpeg-scans",
    "png-rgb": "libvips",
    "png-rgba": "libvips",
    "png-16bit": "libvips",
    "png-grey-16bit": "libvips",
    "png-palette": "libvips",
    "webp-lossy": "libwebp-scaled",
    "webp-lossless": "libwebp-scaled",
    "webp-lossy-alpha": "webp-incremental",
    "webp-lossy-alpha-exif": "webp-incremental",
    "heic-preview": "heif-preview",
    "heic-no-preview": "heif-pyav",
    "heic-grid": "heif-pyav",
    "heic-alpha": "heif-pyav",
    "heic-10bit": "heif-pyav",
    "heic-hdr": ("heif-pyav", "colour-codes"),
    "avif-opaque": "avif-pyav",
    "avif-alpha": "avif-pyav",
    "avif-p3": ("avif-pyav", "colour-codes"),
    "video-hlg": "colour-codes",
}


def test_every_seed_renders_and_takes_the_path_it_is_named_for(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _paths(monkeypatch)
    for loaded in corpus.seeds:
        for calls in paths.values():
            calls.clear()
        name = loaded.seed.name
        assert render_and_classify(loaded.data, SPEC) == Outcome("ok"), name
        taken = {path for path, calls in paths.items() if any(calls)}
        expected = _SEED_PATHS.get(name, ())
        assert taken == ({expected} if isinstance(expected, str) else set(expected)), name

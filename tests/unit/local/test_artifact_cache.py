"""Two stacks starting at once share the artifact cache without breaking or corrupting it."""

from __future__ import annotations

import contextlib
import threading
import zipfile
from pathlib import Path

import pytest

from thumbnailer.local import artifact


def test_concurrent_first_builds_share_one_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small layer (one distribution), built by the fallback, as without network.
    monkeypatch.setattr(artifact, "LAYER_ROOTS", ("idna",))
    monkeypatch.setattr(artifact, "_layer_with_packager", lambda out: None)
    # Both builders reach the writing of a zip together, if nothing keeps them apart.
    together = threading.Barrier(2, timeout=2)
    zip_dir = artifact._zip_dir

    def zip_together(folder: Path, zip_path: Path) -> None:
        # A broken barrier: the other builder is kept waiting elsewhere, as it should be.
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait()
        zip_dir(folder, zip_path)

    monkeypatch.setattr(artifact, "_zip_dir", zip_together)
    results: list[tuple[Path, Path, str]] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(artifact._build(tmp_path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == 2 and results[0] == results[1]
    function_zip, layer_zip, _ = results[0]
    for path in (function_zip, layer_zip):
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            assert archive.namelist()
    # No temporary file or staging folder is left in the cache.
    leftovers = [p for p in tmp_path.rglob(".*") if p.name != ".lock"]
    assert leftovers == []

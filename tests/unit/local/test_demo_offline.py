"""`thumbnailer demo --offline`: each sample rendered or classified, and a linked gallery."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thumbnailer.cli import main
from thumbnailer.samples import sample_inputs


def test_offline_demo_writes_thumbnails_and_a_gallery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo-out"
    assert main(["demo", "--offline", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    names = [name for name, _ in sample_inputs()]
    for name in names:
        assert name in printed
    broken = [n for n in names if n.startswith("broken")]
    assert broken and "corrupt" in printed
    thumbnails = sorted(p.name for p in (out / "thumbnails").iterdir())
    # Two sizes per valid sample.
    assert len(thumbnails) == 2 * (len(names) - len(broken))
    page = (out / "index.html").read_text()
    links = re.findall(r'src="([^"]+)"', page)
    assert links
    for link in links:
        assert (out / link).is_file(), link

"""A static HTML page showing each source beside its thumbnails (relative image links)."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GalleryEntry", "write_gallery"]

# Browsers show these natively; other sources (PDF, video, broken files) get a link instead.
_VIEWABLE = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp"}


@dataclass
class GalleryEntry:
    """One source: its file, its thumbnails (path and a caption), or the error it caused."""

    name: str
    source: Path
    thumbnails: list[tuple[Path, str]] = field(default_factory=list)
    error: str = ""
    note: str = ""


def _rel(path: Path, root: Path) -> str:
    return html.escape(Path(os.path.relpath(path, root)).as_posix(), quote=True)


def write_gallery(out: Path, entries: list[GalleryEntry], title: str) -> Path:
    """Write ``out/index.html`` for ``entries`` and return its path."""
    rows: list[str] = []
    for entry in entries:
        src = _rel(entry.source, out)
        if entry.source.suffix.lower() in _VIEWABLE:
            source_cell = f'<a href="{src}"><img class="src" src="{src}" alt=""></a>'
        else:
            source_cell = f'<a href="{src}">open source file</a>'
        if entry.error:
            thumbs_cell = f'<p class="error">{html.escape(entry.error)}</p>'
        else:
            thumbs_cell = "".join(
                f'<figure><img src="{_rel(path, out)}" alt=""><figcaption>'
                f"{html.escape(caption)}</figcaption></figure>"
                for path, caption in entry.thumbnails
            )
        note = f'<p class="note">{html.escape(entry.note)}</p>' if entry.note else ""
        rows.append(
            f"<tr><th>{html.escape(entry.name)}</th><td>{source_cell}</td>"
            f"<td>{thumbs_cell}{note}</td></tr>"
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .6em; text-align: left; vertical-align: top; }}
img.src {{ max-width: 240px; max-height: 240px; }}
figure {{ display: inline-block; margin: 0 1em 0 0; }}
figcaption {{ font-size: .8em; color: #555; }}
.error {{ color: #b00020; }} .note {{ font-size: .8em; color: #555; white-space: pre-wrap; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
<table><thead><tr><th>source</th><th>original</th><th>thumbnails</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index

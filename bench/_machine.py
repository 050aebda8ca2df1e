"""Describe the machine and the library versions a benchmark ran with; print JSON.

Run in a child process by the harness, so that the harness itself imports no image library.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _engine_version() -> str:
    """The last commit that changed the engine, marked when its sources differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", "src/thumbnailer/render"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src/thumbnailer/render"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    if not commit:
        return "unknown"
    return f"{commit} (with uncommitted changes)" if dirty else commit


def describe() -> dict[str, Any]:
    """CPU, memory, OS, Python and the versions of every imaging library in play."""
    os.environ.setdefault("VIPS_CONCURRENCY", "1")
    import PIL
    import pillow_heif
    import pyvips
    from PIL import features

    return {
        "engine": _engine_version(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": _mem_total_gib(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
        "libwebp": features.version("webp"),
        "zlib": features.version("zlib"),
        "pyvips": pyvips.__version__,
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "pillow_heif": pillow_heif.__version__,
        "libheif": pillow_heif.libheif_version(),
    }


if __name__ == "__main__":
    json.dump(describe(), sys.stdout)

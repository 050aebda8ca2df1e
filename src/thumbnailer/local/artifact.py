"""The deployment artifact the local stack runs: built once per Python, cached, unzipped.

``thumbnailer package`` builds ``function.zip`` and the dependency layer for the running
interpreter's Python version on x86_64 (what this machine can execute). Both zips are passed to
Terraform like a real deployment, and unzipped as Lambda lays them out: the function in a
task folder (``/var/task``) and the layer's ``python/`` folder (``/opt/python``). A third
folder stands in for what the Lambda Python runtime itself provides (boto3 and its
dependencies), linked from this environment.

The layer is cached by the lock file and Python version; the function zip by the package's
sources. Several stacks may start at once and share the cache: each cache entry is built under
its own lock, in staging folders and temporary files unique to the builder, and a finished
zip appears by an atomic rename, never half-written.

When ``thumbnailer package`` cannot run (no network for the wheels), a fallback
assembles the layer from this environment's installed distributions (on Linux x86_64 the same
manylinux wheels); :func:`prepare` reports which one was used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import platform
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from thumbnailer.errors import ConfigError, ThumbnailerError
from thumbnailer.local.state import locked

__all__ = ["Artifact", "prepare", "runtime_tag"]

# Provided by the Lambda Python runtime itself, so not in the layer.
RUNTIME_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
)
# The function's runtime dependencies (the package's extras), in the layer.
LAYER_ROOTS = ("pillow", "pillow-heif", "pypdfium2", "av", "aws-lambda-powertools")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Artifact:
    """The zips Terraform deploys and the folders the runner's workers import from."""

    function_zip: Path
    layer_zip: Path
    function_dir: Path
    layer_dir: Path
    runtime_dir: Path
    built_by: str


def runtime_tag() -> str:
    """Lambda runtime name of the running interpreter, e.g. ``python3.11``."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution_closure(roots: tuple[str, ...], exclude: set[str]) -> list[md.Distribution]:
    seen: dict[str, md.Distribution] = {}
    todo = list(roots)
    while todo:
        name = _norm(todo.pop())
        if name in seen or name in exclude:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen[name] = dist
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            match = re.match(r"\s*([A-Za-z0-9_.\-]+)", req)
            if match:
                todo.append(match.group(1))
    return list(seen.values())


def _copy_distributions(dists: list[md.Distribution], target: Path, link: bool) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if not parts or parts[0] in ("..", "bin") or "__pycache__" in parts:
                continue
            source = Path(str(dist.locate_file(file)))
            top = target / parts[0]
            if link:
                # Link whole top-level entries: the runtime stand-in needs no copy.
                if not top.exists() and not top.is_symlink():
                    top.symlink_to(source.parents[len(parts) - 1] / parts[0])
                continue
            dest = target.joinpath(*parts)
            if dest.exists() or not source.is_file():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)


def _zip_dir(folder: Path, zip_path: Path) -> None:
    # Fixed timestamps and sorted order: the same inputs give the same bytes. Written under a
    # name of its own beside the target, then renamed: no reader sees a half-written zip.
    fd, name = tempfile.mkstemp(dir=zip_path.parent, prefix=f".{zip_path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive,
        ):
            for path in sorted(folder.rglob("*")):
                if path.is_dir() or "__pycache__" in path.parts:
                    continue
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), _ZIP_TIME)
                info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        tmp.chmod(0o644)
        tmp.replace(zip_path)
    finally:
        tmp.unlink(missing_ok=True)


def _staging(out: Path, name: str) -> Path:
    # A folder of this builder's own: another builder's never collides with it.
    return Path(tempfile.mkdtemp(dir=out, prefix=f".{name}-"))


def _package_source() -> Path:
    import thumbnailer

    return Path(thumbnailer.__file__).resolve().parent


def _layer_with_packager(out: Path) -> Path | None:
    """Build the layer with ``thumbnailer package`` (locked wheels for Lambda's platform)."""
    try:
        from thumbnailer.packaging import build
    except ImportError:
        return None
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        result = build(out_dir=out, python=python, arch="x86_64")
    except ThumbnailerError as exc:
        # No network or no uv: the fallback below still gives a working local layer.
        print(f"thumbnailer package failed ({exc.message}); using the fallback", file=sys.stderr)
        return None
    return result.layer_zip


def _build_function(out: Path) -> Path:
    staging = _staging(out, "function")
    try:
        shutil.copytree(
            _package_source(),
            staging / "thumbnailer",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        function_zip = out / "function.zip"
        _zip_dir(staging, function_zip)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return function_zip


def _build_layer(out: Path) -> Path:
    staging = _staging(out, "layer")
    try:
        exclude = {_norm(n) for n in RUNTIME_DISTRIBUTIONS}
        dists = _distribution_closure(LAYER_ROOTS, exclude)
        _copy_distributions(dists, staging / "python", link=False)
        layer_zip = out / f"layer-{runtime_tag()}-x86_64.zip"
        _zip_dir(staging, layer_zip)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return layer_zip


def _source_key() -> str:
    digest = hashlib.sha256()
    root = _package_source()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _dependency_key() -> str:
    digest = hashlib.sha256(runtime_tag().encode())
    lock = _package_source().parents[1] / "uv.lock"
    if lock.is_file():
        digest.update(lock.read_bytes())
    for name in LAYER_ROOTS:
        try:
            digest.update(f"{name}=={md.version(name)}".encode())
        except md.PackageNotFoundError:
            digest.update(name.encode())
    return digest.hexdigest()[:16]


def _build(cache_dir: Path) -> tuple[Path, Path, str]:
    """(function zip, layer zip, how the layer was built), cached.

    The layer depends only on the locked dependencies and this Python, so it is built once and
    shared across code changes; the function zip follows the package's sources. Each entry
    is checked and built under its own lock: a second builder waits for the first, then
    finds the entry done.
    """
    layer_dir = cache_dir / f"layer-{_dependency_key()}"
    layer_dir.mkdir(parents=True, exist_ok=True)
    with locked(layer_dir / ".lock", wait=None, holder="an artifact build"):
        layer, how = _cached_layer(layer_dir)
    out = cache_dir / f"function-{_source_key()}"
    out.mkdir(parents=True, exist_ok=True)
    with locked(out / ".lock", wait=None, holder="an artifact build"):
        function = out / "function.zip"
        if not function.is_file():
            function = _build_function(out)
    return function, layer, how


def _cached_layer(layer_dir: Path) -> tuple[Path, str]:
    """The layer zip in ``layer_dir`` and how it was built; built now if missing."""
    record = layer_dir / "built-by"
    if record.is_file():
        lines = record.read_text().splitlines()
        if len(lines) >= 2 and Path(lines[0]).is_file():
            return Path(lines[0]), lines[1]
    layer = _layer_with_packager(layer_dir)
    how = "thumbnailer package"
    if layer is None:
        layer = _build_layer(layer_dir)
        how = "this environment's installed wheels (fallback)"
    fd, name = tempfile.mkstemp(dir=layer_dir, prefix=".built-by.", suffix=".tmp")
    with os.fdopen(fd, "w") as file:
        file.write(f"{layer}\n{how}\n")
    Path(name).replace(record)
    return layer, how


def prepare(cache_dir: Path, unpack_dir: Path) -> Artifact:
    """Build (or reuse) the artifact for this Python on x86_64 and unzip it into ``unpack_dir``."""
    if platform.machine() not in ("x86_64", "AMD64"):
        raise ConfigError("the local stack runs the x86_64 artifact; this machine is not x86_64")
    function_zip, layer_zip, how = _build(cache_dir)
    function_dir, opt_dir, runtime_dir = (unpack_dir / n for n in ("task", "opt", "runtime"))
    for folder in (function_dir, opt_dir, runtime_dir):
        if folder.exists():
            shutil.rmtree(folder)
    with zipfile.ZipFile(function_zip) as archive:
        archive.extractall(function_dir)
    with zipfile.ZipFile(layer_zip) as archive:
        archive.extractall(opt_dir)
    # Lambda unzips layers to /opt and puts /opt/python on sys.path.
    _copy_distributions(_distribution_closure(RUNTIME_DISTRIBUTIONS, set()), runtime_dir, link=True)
    return Artifact(
        function_zip=function_zip,
        layer_zip=layer_zip,
        function_dir=function_dir,
        layer_dir=opt_dir / "python",
        runtime_dir=runtime_dir,
        built_by=how,
    )

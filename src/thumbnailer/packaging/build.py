"""Build the Lambda artifacts: ``function.zip`` (our code) and a dependencies layer zip.

The layer is installed from the *locked* versions (``uv export --frozen``) as wheels for the
Lambda platform (manylinux, the chosen Python and architecture), never from the host's
site-packages, so a build on a laptop deploys to Lambda without ``cannot import name
'_imaging'``. Both zips are reproducible: sorted entries, fixed timestamps and permissions.

pyvips is the one exception to "wheels only": it is published as an sdist alone. Its Python
files are copied out of the locked sdist (checked against the hash in ``uv.lock``) without
running its build, so nothing compiled on the build machine reaches the layer; the compiled
part of libvips comes from the ``pyvips-binary`` wheel for the Lambda platform.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from thumbnailer.errors import ConfigError

__all__ = [
    "ARCHITECTURES",
    "OPTIONAL_EXTRAS",
    "BuildResult",
    "build",
    "tag_fits",
    "write_reproducible_zip",
]

ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
# Decoder extras a user may leave out; `aws` (boto3, Powertools) is always needed.
OPTIONAL_EXTRAS = ("heif", "pdf", "video", "vips")
# What a function does without each of them (measured in docs/performance.md).
WITHOUT_EXTRA = {
    "heif": "HEIC/HEIF inputs fail as `unsupported`",
    "pdf": "PDF inputs fail as `unsupported`",
    "video": (
        "video inputs fail as `unsupported`; AVIF decodes through Pillow, about 8 bytes per "
        "pixel (440 MiB at 50 MP), and HEIC without a preview through libheif's whole-picture "
        "decode (up to 470 MiB at 50 MP): raise memory_size or lower max_input_pixels"
    ),
    "vips": (
        "PNG decodes through Pillow, 1.1-1.3x the time and 46-54 MiB at 12 MP (the whole "
        "image): raise memory_size or lower max_input_pixels"
    ),
}
PYTHONS = ("3.11", "3.12", "3.13")
# Wheels for Amazon Linux 2023 (glibc 2.34), the OS of python3.12+ runtimes: the newest glibc
# a binary wheel in the layer may need, and the manylinux level the install asks for.
GLIBC = (2, 28)
MANYLINUX = f"manylinux_{GLIBC[0]}_{GLIBC[1]}"
# The older manylinux names and the glibc each stands for (PEP 600).
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can store
MB = 1024 * 1024
# Lambda quotas: function + layers unzipped, and a zip uploaded in the API call.
UNZIPPED_LIMIT = 250 * MB
DIRECT_UPLOAD_LIMIT = 50 * MB

# Never useful at run time, and they make the layer bigger: bytecode is written by the
# runtime's own Python (and ignored if built by another), console scripts point at a
# build-machine interpreter.
_STRIP_DIRS = {"__pycache__"}
_STRIP_SUFFIXES = (".pyc", ".pyo")
_STRIP_TOP = {"bin"}
# The installer's lock on its target folder: nothing to do with the layer.
_STRIP_TOP_FILES = {".lock"}

# Locked packages published only as an sdist of pure Python: their package folder is copied
# from the sdist instead of installed as a wheel. Only these file kinds are accepted from it,
# so a source tree that ever ships a compiled module fails the build instead of reaching Lambda.
_SDIST_ONLY = ("pyvips",)
_PURE_SUFFIXES = (".py", ".pyi", "py.typed")
_DOWNLOAD_TIMEOUT = 120


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build` produced."""

    function_zip: Path
    layer_zip: Path
    python: str
    arch: str
    extras: tuple[str, ...]
    function_unzipped: int
    layer_unzipped: int

    @property
    def unzipped_total(self) -> int:
        """Bytes of function and layer once unzipped (Lambda's limit is 250 MB)."""
        return self.function_unzipped + self.layer_unzipped

    def needs_s3_upload(self) -> list[Path]:
        """The zips too big to upload in the Lambda API call (deploy them through S3)."""
        return [
            p for p in (self.function_zip, self.layer_zip) if p.stat().st_size > DIRECT_UPLOAD_LIMIT
        ]

    def summary(self) -> str:
        """Human-readable sizes and the limits they were checked against."""
        lines = [
            f"{p}: {p.stat().st_size / MB:.1f} MB zipped, {u / MB:.1f} MB unzipped"
            for p, u in (
                (self.function_zip, self.function_unzipped),
                (self.layer_zip, self.layer_unzipped),
            )
        ]
        lines.append(
            f"function + layer unzipped: {self.unzipped_total / MB:.1f} MB "
            f"(Lambda limit {UNZIPPED_LIMIT // MB} MB)"
        )
        for big in self.needs_s3_upload():
            lines.append(
                f"{big.name} is over {DIRECT_UPLOAD_LIMIT // MB} MB: it must be deployed "
                "through S3 (the module's default; keep create_artifacts_bucket on or "
                "set artifacts_bucket)"
            )
        for extra in OPTIONAL_EXTRAS:
            if extra not in self.extras:
                lines.append(f"without {extra}: {WITHOUT_EXTRA[extra]}")
        return "\n".join(lines)


def project_root() -> Path:
    """The checkout holding ``pyproject.toml`` and ``uv.lock`` (builds need the lock)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "uv.lock").is_file() or not (root / "pyproject.toml").is_file():
        raise ConfigError(
            f"no uv.lock beside {root}: `thumbnailer package` runs from a checkout of the project"
        )
    return root


def _uv(root: Path) -> str:
    for candidate in (os.environ.get("UV", ""), str(root / ".cache" / "tools" / "bin" / "uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("uv")
    if found is None:
        raise ConfigError("uv not found: run `make setup` (it installs the pinned uv)")
    return found


def _run(command: list[str], cwd: Path) -> str:
    try:
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, check=False, timeout=900
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{Path(command[0]).name} {command[1]} failed: {exc}") from exc
    if result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip())[-3000:]
        raise ConfigError(f"{Path(command[0]).name} {command[1]} failed:\n{detail}")
    return result.stdout


def _files(root: Path) -> Iterable[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(root).as_posix(), path


def write_reproducible_zip(entries: Iterable[tuple[str, Path]], destination: Path) -> int:
    """Zip ``(name, path)`` entries so the same files always give the same bytes.

    Entries are sorted by name, every timestamp is 1980-01-01, permissions are 0644 (0755 for
    files that were executable), and the creating system is fixed. Returns the unzipped size.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(destination.name + ".tmp")
    total = 0
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, path in sorted(entries):
            mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.create_system = 3  # Unix, whatever the build machine
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            total += len(data)
            archive.writestr(info, data)
    tmp.replace(destination)
    return total


def _strip(site: Path) -> None:
    for top in _STRIP_TOP:
        if (site / top).is_dir():
            shutil.rmtree(site / top)
    for top in _STRIP_TOP_FILES:
        if (site / top).is_file():
            (site / top).unlink()
    for path in sorted(site.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _STRIP_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and path.name.endswith(_STRIP_SUFFIXES):
            path.unlink()


def _locked_sdist(root: Path, name: str) -> tuple[str, str, str]:
    """``(version, url, sha256)`` of ``name``'s sdist as recorded in ``uv.lock``."""
    lock = tomllib.loads((root / "uv.lock").read_text(encoding="utf-8"))
    for package in lock.get("package", []):
        if package.get("name") == name and "sdist" in package:
            sdist = package["sdist"]
            digest = str(sdist.get("hash", ""))
            if "url" in sdist and digest.startswith("sha256:"):
                return str(package["version"]), str(sdist["url"]), digest.removeprefix("sha256:")
    raise ConfigError(f"uv.lock has no sdist with a sha256 hash for {name}")


def _fetch_sdist(root: Path, url: str, sha256: str) -> bytes:
    """The sdist at ``url``, from the checkout's cache or downloaded, matching the lock's hash."""
    cached = root / ".cache" / "sdists" / sha256 / url.rsplit("/", 1)[-1]
    if cached.is_file():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
    try:
        with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
            data = bytes(response.read())
    except OSError as exc:
        raise ConfigError(f"download of {url} failed: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ConfigError(f"{url} does not match the sha256 in uv.lock: refusing to package it")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(cached.name + ".part")
    partial.write_bytes(data)
    partial.replace(cached)
    return data


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def _install_pure_sdist(root: Path, name: str, site: Path) -> None:
    """Copy ``name``'s package folder out of its locked sdist, with a dist-info beside it.

    The sdist's build is never run (it may try to compile against the build machine's
    libraries): files are read straight from the archive, and anything that is not Python
    source makes the build fail.
    """
    version, url, sha256 = _locked_sdist(root, name)
    data = _fetch_sdist(root, url, sha256)
    top = f"{name}-{version}/"
    files: dict[str, bytes] = {}
    metadata = b""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            inside = member.name.removeprefix(top)
            if member.name == top + "PKG-INFO":
                metadata = _read_member(archive, member)
            elif member.isfile() and "/" not in inside and inside.upper().startswith("LICENSE"):
                # The licence travels with the code it covers, as in a wheel's dist-info.
                files[f"{name}-{version}.dist-info/licenses/{inside}"] = _read_member(
                    archive, member
                )
            elif inside.startswith(f"{name}/") and not member.isdir():
                if not member.isfile() or not inside.endswith(_PURE_SUFFIXES):
                    raise ConfigError(
                        f"{name} {version} sdist holds {inside}, which is not pure Python: "
                        "it cannot go in the layer without a build for the Lambda platform"
                    )
                files[inside] = _read_member(archive, member)
    if f"{name}/__init__.py" not in files or not metadata:
        raise ConfigError(f"{name} {version} sdist has no {name}/__init__.py or PKG-INFO")
    # A dist-info as a wheel install would leave, so importlib.metadata finds the version.
    info = f"{name}-{version}.dist-info"
    files[f"{info}/METADATA"] = metadata
    files[f"{info}/INSTALLER"] = b"thumbnailer\n"
    files[f"{info}/top_level.txt"] = f"{name}\n".encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: thumbnailer\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [f"{path},{_record_hash(content)}" for path, content in sorted(files.items())]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,", ""]).encode()
    for path, content in files.items():
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    if handle is None:
        raise ConfigError(f"{member.name}: unreadable in the sdist")
    with handle:
        return handle.read()


def _split_sdist_only(requirements: Path) -> list[str]:
    """Drop the sdist-only packages from ``requirements``; return the names dropped."""
    kept: list[str] = []
    dropped: list[str] = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        name = line.split("==", 1)[0].strip().lower()
        if "==" in line and not line.startswith((" ", "#")) and name in _SDIST_ONLY:
            dropped.append(name)
        else:
            kept.append(line)
    requirements.write_text("\n".join([*kept, ""]), encoding="utf-8")
    return dropped


def _expand_tag(tag: str) -> list[str]:
    """``py2.py3-none-any`` -> ``py2-none-any``, ``py3-none-any`` (a compressed tag set)."""
    parts = tag.strip().split("-")
    if len(parts) != 3:
        return []
    return ["-".join(p) for p in itertools.product(*(part.split(".") for part in parts))]


def _platform_fits(platform: str, machine: str) -> bool:
    if platform == "any":
        return True
    for legacy, glibc in _LEGACY_MANYLINUX.items():
        if platform == f"{legacy}_{machine}":
            return glibc <= GLIBC
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", platform)
    return match is not None and match[3] == machine and (int(match[1]), int(match[2])) <= GLIBC


def _python_fits(interpreter: str, abi: str, minor: int) -> bool:
    match = re.fullmatch(r"(py|cp)3(\d*)", interpreter)
    if match is None:
        return False
    kind, version = match[1], int(match[2]) if match[2] else None
    if abi == "none":
        if kind == "py":
            return version is None or version <= minor
        return version == minor
    if abi == "abi3":  # the stable ABI: built for this minor version or an older one
        return kind == "cp" and version is not None and 2 <= version <= minor
    return kind == "cp" and version == minor and abi == f"cp3{minor}"


def tag_fits(tag: str, python: str, arch: str) -> bool:
    """Whether a wheel tagged ``tag`` loads on Lambda's ``python`` runtime on ``arch``.

    Pure wheels fit if their Python does; binary ones only as manylinux for the architecture
    and at most :data:`GLIBC`. ``linux_<arch>`` (built for one machine only) and musllinux
    (Alpine's libc, not Amazon Linux's) never fit.
    """
    minor = int(python.split(".")[1])
    machine = ARCHITECTURES[arch]
    for one in _expand_tag(tag):
        interpreter, abi, platform = one.split("-")
        if platform == "any" and abi != "none":
            continue  # compiled against an ABI, yet for no platform: not a real wheel
        if _python_fits(interpreter, abi, minor) and _platform_fits(platform, machine):
            return True
    return False


def _wheel_tags(info: Path) -> list[str]:
    wheel = info / "WHEEL"
    if not wheel.is_file():
        return []
    lines = wheel.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")]


def _check_wheels(site: Path, python: str, arch: str) -> None:
    """Refuse a layer holding any distribution whose wheel does not load on the target.

    The installer is asked for manylinux wheels, but it also takes ``linux_<arch>`` wheels
    as a last resort (a private index or a cache may offer one): such a wheel was built for
    one machine's libraries and fails on Lambda at import time.
    """
    wrong: list[str] = []
    for info in sorted(site.glob("*.dist-info")):
        tags = _wheel_tags(info)
        if not any(tag_fits(tag, python, arch) for tag in tags):
            wrong.append(f"{info.name} ({', '.join(tags) or 'no wheel tags'})")
    if wrong:
        glibc = ".".join(map(str, GLIBC))
        raise ConfigError(
            f"wheels that do not load on Lambda's python{python} {arch} (pure Python, or "
            f"manylinux for {ARCHITECTURES[arch]} up to glibc {glibc}): {'; '.join(wrong)}"
        )


def _function_entries(package: Path) -> list[tuple[str, Path]]:
    return [
        (f"thumbnailer/{name}", path)
        for name, path in _files(package)
        if "__pycache__" not in Path(name).parts and not name.endswith(_STRIP_SUFFIXES)
    ]


def build(
    out_dir: Path = Path("dist"),
    python: str = "3.12",
    arch: str = "arm64",
    without: Iterable[str] = (),
) -> BuildResult:
    """Build ``function.zip`` and ``layer-<python>-<arch>.zip`` into ``out_dir``.

    ``without`` names decoder extras to leave out of the layer (``heif``, ``pdf``, ``video``,
    ``vips``).
    Raises :class:`ConfigError` for bad arguments, a failed install, a wheel that would not
    load on the target (see :func:`tag_fits`), or artifacts over Lambda's 250 MB unzipped
    limit; in those cases no zip is written.
    """
    if python not in PYTHONS:
        raise ConfigError(f"python {python!r}: expected one of {', '.join(PYTHONS)}")
    if arch not in ARCHITECTURES:
        raise ConfigError(f"arch {arch!r}: expected one of {', '.join(ARCHITECTURES)}")
    left_out = {w.strip().lower() for w in without if w.strip()}
    unknown = left_out - set(OPTIONAL_EXTRAS)
    if unknown:
        raise ConfigError(
            f"--without {','.join(sorted(unknown))}: expected some of {', '.join(OPTIONAL_EXTRAS)}"
        )
    # boto3/botocore go in the layer on purpose: the runtime's bundled copy changes without
    # notice and differs between regions, while the locked one is what the tests ran against.
    extras = ("aws", *(e for e in OPTIONAL_EXTRAS if e not in left_out))
    root = project_root()
    uv = _uv(root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="thumbnailer-package-") as work_name:
        work = Path(work_name)
        requirements = work / "requirements.txt"
        export = [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"]
        export += [arg for e in extras for arg in ("--extra", e)]
        export += ["--project", str(root), "--output-file", str(requirements), "--quiet"]
        _run(export, root)
        sdist_only = _split_sdist_only(requirements)
        site = work / "layer" / "python"
        _run(
            [
                uv, "pip", "install",
                "--target", str(site),
                "--python-platform", f"{ARCHITECTURES[arch]}-{MANYLINUX}",
                "--python-version", python,
                "--only-binary", ":all:",
                "--no-deps",  # the export is already the full locked closure
                "--no-compile",
                "--quiet",
                "-r", str(requirements),
            ],
            root,
        )  # fmt: skip
        for name in sdist_only:
            _install_pure_sdist(root, name, site)
        _check_wheels(site, python, arch)
        _strip(site)
        layer_entries = [(f"python/{name}", path) for name, path in _files(site)]
        function_entries = _function_entries(Path(__file__).resolve().parents[1])
        # Checked before anything is written: no zip Lambda would refuse is left in out_dir.
        unzipped = sum(path.stat().st_size for _, path in [*layer_entries, *function_entries])
        if unzipped > UNZIPPED_LIMIT:
            raise ConfigError(
                f"function + layer are {unzipped / MB:.1f} MB unzipped, over Lambda's "
                f"{UNZIPPED_LIMIT // MB} MB: leave decoders out with --without"
            )
        layer_zip = out_dir / f"layer-{python}-{arch}.zip"
        layer_size = write_reproducible_zip(layer_entries, layer_zip)

    function_zip = out_dir / "function.zip"
    function_size = write_reproducible_zip(function_entries, function_zip)
    return BuildResult(
        function_zip=function_zip,
        layer_zip=layer_zip,
        python=python,
        arch=arch,
        extras=extras,
        function_unzipped=function_size,
        layer_unzipped=layer_size,
    )

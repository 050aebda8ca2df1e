"""Pure parts of packaging: reproducible zips, argument checks, README tables, CLI config."""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import itertools
import os
import re
import stat
import subprocess
import tarfile
import zipfile
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest
from packaging import tags as wheel_tags

from thumbnailer.errors import ConfigError
from thumbnailer.local.terraform import MIRROR_ENV, find_plugin_mirror, write_cli_config
from thumbnailer.packaging import OPTIONAL_EXTRAS, BuildResult, build, write_reproducible_zip
from thumbnailer.packaging.build import (
    DIRECT_UPLOAD_LIMIT,
    MANYLINUX,
    _check_wheels,
    _install_pure_sdist,
    _split_sdist_only,
    _uv,
    tag_fits,
)
from thumbnailer.packaging.tfdocs import parse_blocks, render, update_readme
from thumbnailer.settings import POWERTOOLS_VARIABLES, VARIABLES

ROOT = Path(__file__).resolve().parents[3]
MODULE = ROOT / "infra" / "modules" / "thumbnailer"


def _tree(root: Path, mtime: int) -> list[tuple[str, Path]]:
    files = {"pkg/b.py": b"print('b')\n", "pkg/a.py": b"A = 1\n", "pkg/tool": b"#!/bin/sh\n"}
    entries = []
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
        entries.append((name, path))
    (root / "pkg/tool").chmod(0o775)
    (root / "pkg/a.py").chmod(0o600)
    return entries


def test_zip_is_byte_identical_whatever_the_mtimes_and_order(tmp_path: Path) -> None:
    first = _tree(tmp_path / "one", 1_600_000_000)
    second = list(reversed(_tree(tmp_path / "two", 1_700_000_000)))
    write_reproducible_zip(first, tmp_path / "one.zip")
    write_reproducible_zip(second, tmp_path / "two.zip")
    digest = [
        hashlib.sha256((tmp_path / z).read_bytes()).hexdigest() for z in ("one.zip", "two.zip")
    ]
    assert digest[0] == digest[1]
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["pkg/a.py", "pkg/b.py", "pkg/tool"]
    modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
    assert modes == {"pkg/a.py": 0o644, "pkg/b.py": 0o644, "pkg/tool": 0o755}
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"python": "3.9"}, "python '3.9'"),
        ({"arch": "ppc64le"}, "arch 'ppc64le'"),
        ({"without": ["aws"]}, "--without aws"),
    ],
)
def test_build_refuses_bad_arguments(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert message in caught.value.message
    assert not any(tmp_path.iterdir()), "nothing is built when the arguments are wrong"


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def test_summary_sends_zips_over_50_mb_through_s3(tmp_path: Path) -> None:
    result = BuildResult(
        function_zip=_sparse(tmp_path / "function.zip", DIRECT_UPLOAD_LIMIT),
        layer_zip=_sparse(tmp_path / "layer-3.12-x86_64.zip", DIRECT_UPLOAD_LIMIT + 1),
        python="3.12",
        arch="x86_64",
        extras=("aws", *OPTIONAL_EXTRAS),
        function_unzipped=1024 * 1024,
        layer_unzipped=200 * 1024 * 1024,
    )
    assert DIRECT_UPLOAD_LIMIT == 50 * 1024 * 1024  # Lambda's quota for a zip in the API call
    assert result.needs_s3_upload() == [result.layer_zip], "exactly 50 MB still goes direct"
    assert result.summary().splitlines() == [
        f"{result.function_zip}: 50.0 MB zipped, 1.0 MB unzipped",
        f"{result.layer_zip}: 50.0 MB zipped, 200.0 MB unzipped",
        "function + layer unzipped: 201.0 MB (Lambda limit 250 MB)",
        "layer-3.12-x86_64.zip is over 50 MB: it must be deployed through S3 (the module's "
        "default; keep create_artifacts_bucket on or set artifacts_bucket)",
    ]


def _supported(python: str, machine: str) -> set[str]:
    """What pip's own tag logic accepts on Lambda: CPython, manylinux up to glibc 2.28."""
    version = (3, int(python.split(".")[1]))
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(28, 4, -1)]
    platforms += [f"manylinux{name}_{machine}" for name in ("2014", "2010", "1")]
    interpreter = f"cp3{version[1]}"
    found = [
        *wheel_tags.cpython_tags(python_version=version, platforms=platforms),
        *wheel_tags.compatible_tags(version, interpreter=interpreter, platforms=platforms),
    ]
    return {str(tag) for tag in found}


@pytest.mark.parametrize(("python", "arch"), [("3.12", "x86_64"), ("3.13", "arm64")])
def test_wheel_tags_fit_as_pip_reckons_them(python: str, arch: str) -> None:
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[arch]
    supported = _supported(python, machine)
    interpreters = ["py2", "py3", "py30", "py312", "py313", "cp37", "cp311", "cp312", "cp313"]
    interpreters += ["pp310", "cp3"]
    abis = ["none", "abi3", "cp311", "cp312", "cp313", "cp313t", "pypy310_pp73"]
    platforms = ["any", "linux_x86_64", "linux_aarch64", "musllinux_1_2_x86_64", "win_amd64"]
    platforms += ["musllinux_1_1_aarch64", "macosx_11_0_arm64", "manylinux_2_34_x86_64"]
    platforms += ["manylinux_2_29_aarch64", "manylinux_2_28_x86_64", "manylinux_2_28_aarch64"]
    platforms += ["manylinux_2_17_x86_64", "manylinux2014_aarch64", "manylinux2014_x86_64"]
    platforms += ["manylinux1_x86_64", "manylinux_2_5_x86_64", "manylinux_2_27_aarch64"]
    for interpreter, abi, platform in itertools.product(interpreters, abis, platforms):
        tag = f"{interpreter}-{abi}-{platform}"
        assert tag_fits(tag, python, arch) == (tag in supported), tag
    # Compressed tag sets: one fitting member is enough.
    assert tag_fits("py2.py3-none-any", python, arch)
    assert tag_fits(f"cp37-abi3-linux_{machine}.manylinux_2_17_{machine}", python, arch)
    assert not tag_fits(f"cp37-abi3-linux_{machine}.musllinux_1_2_{machine}", python, arch)
    assert not tag_fits("not-a-tag", python, arch) and not tag_fits("", python, arch)


def _fake_install(monkeypatch: pytest.MonkeyPatch, tag: str) -> None:
    """Stand in for uv: the export pins one package, the install leaves it with ``tag``."""
    module = importlib.import_module("thumbnailer.packaging.build")

    def run(command: list[str], cwd: Path) -> str:
        if command[1] == "export":
            Path(command[command.index("--output-file") + 1]).write_text("fast==1.0\n")
        else:
            site = Path(command[command.index("--target") + 1])
            (site / "fast").mkdir(parents=True)
            (site / "fast" / "__init__.py").write_text("")
            (site / "fast-1.0.dist-info").mkdir()
            (site / "fast-1.0.dist-info" / "WHEEL").write_text(
                f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n"
            )
        return ""

    monkeypatch.setattr(module, "_run", run)


@pytest.mark.parametrize(
    "tag",
    [
        "cp312-cp312-linux_x86_64",  # built on and for one machine
        "cp312-cp312-musllinux_1_2_x86_64",
        "cp312-cp312-manylinux_2_28_aarch64",
        "cp312-cp312-manylinux_2_34_x86_64",  # newer glibc than the install asks for
        "cp313-abi3-manylinux_2_28_x86_64",
    ],
)
def test_a_wheel_that_does_not_load_on_lambda_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tag: str
) -> None:
    _fake_install(monkeypatch, tag)
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, python="3.12", arch="x86_64", without=OPTIONAL_EXTRAS)
    assert f"fast-1.0.dist-info ({tag})" in caught.value.message
    assert "python3.12 x86_64" in caught.value.message
    assert "manylinux for x86_64 up to glibc 2.28" in caught.value.message
    assert not list(tmp_path.iterdir()), "no zip is written"


def _host_only_wheel(folder: Path) -> Path:
    """A wheel tagged ``linux_x86_64``: what a local build of an sdist produces."""
    files = {
        "hostonly/__init__.py": b"",
        "hostonly-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: hostonly\nVersion: 1.0\n",
        "hostonly-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp312-cp312-linux_x86_64\n"
        ),
    }
    record = [f"{name},sha256={_urlsafe_sha(data)},{len(data)}" for name, data in files.items()]
    files["hostonly-1.0.dist-info/RECORD"] = "\n".join([*record, ""]).encode()
    wheel = folder / "hostonly-1.0-cp312-cp312-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def _urlsafe_sha(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_uv_takes_a_host_only_wheel_for_manylinux_and_the_check_refuses_it(
    tmp_path: Path,
) -> None:
    """The install options alone let a ``linux_x86_64`` wheel through: the check does not."""
    _host_only_wheel(tmp_path)
    site = tmp_path / "site"
    subprocess.run(
        [
            _uv(ROOT), "pip", "install", "--target", str(site),
            "--python-platform", f"x86_64-{MANYLINUX}", "--python-version", "3.12",
            "--only-binary", ":all:", "--no-deps", "--no-index", "--find-links", str(tmp_path),
            "--quiet", "hostonly==1.0",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert (site / "hostonly" / "__init__.py").is_file(), "uv installed it"
    with pytest.raises(ConfigError) as caught:
        _check_wheels(site, "3.12", "x86_64")
    assert "hostonly-1.0.dist-info (cp312-cp312-linux_x86_64)" in caught.value.message


def test_a_manylinux_wheel_for_the_target_is_packaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_install(monkeypatch, "cp312-cp312-manylinux_2_17_x86_64")
    result = build(tmp_path, python="3.12", arch="x86_64", without=OPTIONAL_EXTRAS)
    with zipfile.ZipFile(result.layer_zip) as archive:
        assert "python/fast-1.0.dist-info/WHEEL" in archive.namelist()


def _fake_sdist_checkout(root: Path, files: dict[str, bytes]) -> None:
    """A checkout whose uv.lock pins an sdist already in the build's download cache."""
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as archive:
        for name, data in {"PKG-INFO": b"Metadata-Version: 2.4\nName: pyvips\n", **files}.items():
            info = tarfile.TarInfo(f"pyvips-9.9.9/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    digest = hashlib.sha256(tar.getvalue()).hexdigest()
    url = "https://files.example/pyvips-9.9.9.tar.gz"
    cached = root / ".cache" / "sdists" / digest / "pyvips-9.9.9.tar.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(tar.getvalue())
    (root / "uv.lock").write_text(
        f'[[package]]\nname = "pyvips"\nversion = "9.9.9"\n'
        f'sdist = {{ url = "{url}", hash = "sha256:{digest}" }}\n'
    )


def test_pure_sdist_goes_in_as_its_python_files_with_metadata(tmp_path: Path) -> None:
    _fake_sdist_checkout(
        tmp_path,
        {
            "pyvips/__init__.py": b"X = 1\n",
            "pyvips/vimage.pyi": b"",
            "LICENSE.txt": b"MIT\n",
            "setup.py": b"raise SystemExit('never run')\n",
        },
    )
    site = tmp_path / "site"
    _install_pure_sdist(tmp_path, "pyvips", site)
    found = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    info = "pyvips-9.9.9.dist-info"
    assert found == [
        f"{info}/INSTALLER",
        f"{info}/METADATA",
        f"{info}/RECORD",
        f"{info}/WHEEL",
        f"{info}/licenses/LICENSE.txt",
        f"{info}/top_level.txt",
        "pyvips/__init__.py",
        "pyvips/vimage.pyi",
    ]
    distribution = PathDistribution(site / info)
    assert distribution.metadata["Name"] == "pyvips"
    assert distribution.files is not None
    assert all(f.hash is None or f.hash.value for f in distribution.files)


def test_sdist_with_anything_compiled_is_refused(tmp_path: Path) -> None:
    _fake_sdist_checkout(
        tmp_path, {"pyvips/__init__.py": b"", "pyvips/_fast.cpython-312-x86_64-linux-gnu.so": b""}
    )
    with pytest.raises(ConfigError) as caught:
        _install_pure_sdist(tmp_path, "pyvips", tmp_path / "site")
    assert "not pure Python" in caught.value.message
    assert not (tmp_path / "site").exists()


def test_sdist_only_packages_are_taken_out_of_the_wheel_install(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "cffi==2.1.1\n    # via\n    #   pyvips\npyvips==3.2.0\n    # via thumbnailer\n"
        "pyvips-binary==8.18.7\n"
    )
    assert _split_sdist_only(requirements) == ["pyvips"]
    assert requirements.read_text() == (
        "cffi==2.1.1\n    # via\n    #   pyvips\n    # via thumbnailer\npyvips-binary==8.18.7\n"
    )


def test_readme_tables_are_in_sync_with_variables_and_outputs() -> None:
    assert not update_readme(MODULE, check=True), (
        "infra/modules/thumbnailer/README.md is stale: "
        "run `python -m thumbnailer.packaging.tfdocs infra/modules/thumbnailer`"
    )
    generated = render(MODULE)
    variables = parse_blocks((MODULE / "variables.tf").read_text(), "variable")
    outputs = parse_blocks((MODULE / "outputs.tf").read_text(), "output")
    for block in [*variables, *outputs]:
        assert f"| `{block.name}` |" in generated


def test_parser_reads_multiline_types_and_defaults() -> None:
    text = """variable "tags" {
  description = "Tags, \\"all\\" of them."
  type = object({
    a = optional(string, "x")
  })
  default = {
    a = "y"
  }

  validation {
    condition     = true
    error_message = "never"
  }
}

variable "name" {
  description = "Required."
  type        = string
}
"""
    tags, name = parse_blocks(text, "variable")
    assert tags.description == 'Tags, "all" of them.'
    assert tags.type == 'object({ a = optional(string, "x") })'
    assert tags.default == '{ a = "y" }'
    assert name.required and not tags.required


def test_every_variable_and_output_is_described() -> None:
    text = 'variable "x" {\n  type = string\n}\n'
    with pytest.raises(ConfigError):
        parse_blocks(text, "variable")


def _mirror(root: Path) -> Path:
    provider = root / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / "linux_amd64"
    provider.mkdir(parents=True)
    return root


def test_mirror_from_environment_wins(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path / "mine")
    found = find_plugin_mirror({MIRROR_ENV: str(mirror), "HOME": str(tmp_path)}, search_roots=())
    assert found == mirror


def test_mirror_from_environment_must_hold_the_provider(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        find_plugin_mirror({MIRROR_ENV: str(tmp_path), "HOME": str(tmp_path)}, search_roots=())


def test_mirror_found_by_shallow_search_and_conventional_dirs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert find_plugin_mirror({"HOME": str(home)}, search_roots=(tmp_path / "opt",)) is None
    deep = _mirror(tmp_path / "opt" / "vendor" / "tf-plugins")
    assert find_plugin_mirror({"HOME": str(home)}, search_roots=(tmp_path / "opt",)) == deep
    conventional = _mirror(home / ".terraform.d" / "plugins")
    env = {"HOME": str(home), "XDG_DATA_DIRS": ""}
    assert find_plugin_mirror(env, search_roots=(tmp_path / "opt",)) == conventional


def test_cli_config_uses_the_mirror_then_the_registry(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path / "mirror")
    text = write_cli_config(tmp_path / "rc", mirror).read_text()
    assert f'path    = "{mirror}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text
    assert "direct {" in text and 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text
    plain = write_cli_config(tmp_path / "rc2", None, plugin_cache=tmp_path / "cache").read_text()
    assert "provider_installation" not in plain
    assert f'plugin_cache_dir = "{tmp_path / "cache"}"' in plain


def test_module_sets_exactly_the_function_settings() -> None:
    """Fast half of the contract (the apply test checks the deployed values parse)."""
    main = (MODULE / "main.tf").read_text()
    block = main.split("function_environment = {", 1)[1].split("}", 1)[0]
    names = re.findall(r"^\s*(THUMBNAILER_[A-Z_]+)\s*=", block, re.M)
    assert len(names) == len(set(names))
    assert set(names) == {v.name for v in VARIABLES}
    block = main.split("powertools_environment = {", 1)[1].split("}", 1)[0]
    assert set(re.findall(r"^\s*([A-Z_]+)\s*=", block, re.M)) == {
        v.name for v in POWERTOOLS_VARIABLES
    }

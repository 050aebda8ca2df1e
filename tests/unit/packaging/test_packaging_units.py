"""Pure parts of packaging: reproducible zips, argument checks, README tables, CLI config."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import tarfile
import zipfile
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest

from thumbnailer.errors import ConfigError
from thumbnailer.local.terraform import MIRROR_ENV, find_plugin_mirror, write_cli_config
from thumbnailer.packaging import OPTIONAL_EXTRAS, BuildResult, build, write_reproducible_zip
from thumbnailer.packaging.build import DIRECT_UPLOAD_LIMIT, _install_pure_sdist, _split_sdist_only
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

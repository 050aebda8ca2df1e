"""The Lambda artifact: reproducible, right platform, and it runs on python3.12 as Lambda would."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import re
import subprocess
import tomllib
import zipfile
from collections import defaultdict
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from packaging import tags as wheel_tags
from packaging.markers import Marker
from PIL import Image

from thumbnailer.cli import main
from thumbnailer.local.emulator import MotoServer
from thumbnailer.packaging import ARCHITECTURES, BuildResult, build

pytestmark = [pytest.mark.infra, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ELF_MACHINE = {"x86_64": 62, "arm64": 183}
MB = 1024 * 1024


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _elf_machines(layer: Path) -> dict[str, int]:
    machines: dict[str, int] = {}
    with zipfile.ZipFile(layer) as archive:
        for name in archive.namelist():
            base = name.rsplit("/", 1)[-1]
            if not (base.endswith(".so") or ".so." in base):
                continue
            head = archive.open(name).read(20)
            if head[:4] == b"\x7fELF":
                machines[name] = int.from_bytes(head[18:20], "little")
    return machines


def _wheel_tags(layer: Path) -> dict[str, list[str]]:
    """``Tag:`` lines of every dist-info's WHEEL file in the layer, by dist-info folder."""
    found: dict[str, list[str]] = {}
    with zipfile.ZipFile(layer) as archive:
        for name in archive.namelist():
            if name.endswith(".dist-info/WHEEL"):
                lines = archive.read(name).decode().splitlines()
                found[name.split("/")[1]] = [
                    line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")
                ]
    return found


def _lambda_tags(python: str, machine: str) -> set[str]:
    """Every tag pip would install on Lambda's CPython: manylinux up to glibc 2.28, no less."""
    version = (3, int(python.split(".")[1]))
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(28, 4, -1)]
    platforms += [f"manylinux{name}_{machine}" for name in ("2014", "2010", "1")]
    found = [
        *wheel_tags.cpython_tags(python_version=version, platforms=platforms),
        *wheel_tags.compatible_tags(version, interpreter=f"cp3{version[1]}", platforms=platforms),
    ]
    return {str(tag) for tag in found}


def _assert_wheels_are_for_lambda(layer: Path, python: str, arch: str) -> None:
    machine = ARCHITECTURES[arch]
    supported = _lambda_tags(python, machine)
    tags = _wheel_tags(layer)
    assert tags and all(tags.values()), "every distribution in the layer records its wheel tags"
    unfit = {info: t for info, t in tags.items() if not set(t) & supported}
    assert not unfit, f"wheels that do not load on python{python} {arch}: {unfit}"
    binary = {info: t for info, t in tags.items() if any(not x.endswith("-any") for x in t)}
    assert binary, "the layer should hold binary wheels"
    manylinux = re.compile(rf"manylinux(_2_\d+|2014|2010|1)_{machine}")
    for info, info_tags in binary.items():
        platforms = {tag.rsplit("-", 1)[1] for tag in info_tags}
        # Not one linux_<arch> (host-only) or musllinux tag, even beside a manylinux one.
        assert all(manylinux.fullmatch(p) for p in platforms), f"{info}: {info_tags}"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _layer_versions(layer: Path) -> dict[str, str]:
    """Name -> version of every distribution in the layer, from its METADATA."""
    found: dict[str, str] = {}
    with zipfile.ZipFile(layer) as archive:
        for name in archive.namelist():
            if name.endswith(".dist-info/METADATA"):
                metadata = BytesHeaderParser().parsebytes(archive.read(name))
                assert _norm(metadata["Name"]) not in found, f"two copies of {metadata['Name']}"
                found[_norm(metadata["Name"])] = metadata["Version"]
    return found


def _locked_versions(python: str, machine: str, extras: tuple[str, ...]) -> dict[str, str]:
    """Name -> version of what uv.lock pins for the project's ``extras`` on Lambda's Linux."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for package in lock["package"]:
        by_name[package["name"]].append(package)
    environment = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": machine,
        "extra": "",
    }

    def locked(edge: dict[str, Any]) -> dict[str, Any]:
        candidates = [
            p for p in by_name[edge["name"]] if edge.get("version", p["version"]) == p["version"]
        ]
        assert len(candidates) == 1, f"uv.lock: {edge} names {len(candidates)} packages"
        return candidates[0]

    (project,) = by_name["thumbnailer"]
    edges = [*project.get("dependencies", [])]
    edges += [edge for extra in extras for edge in project["optional-dependencies"][extra]]
    found: dict[str, str] = {}
    seen_extras: set[tuple[str, str]] = set()
    while edges:
        edge = edges.pop()
        if "marker" in edge and not Marker(edge["marker"]).evaluate(environment):
            continue
        package = locked(edge)
        name = package["name"]
        if name not in found:
            found[name] = package["version"]
            edges += package.get("dependencies", [])
        assert found[name] == package["version"], f"{name}: two locked versions reached"
        for extra in edge.get("extra", []):
            if (name, extra) not in seen_extras:
                seen_extras.add((name, extra))
                edges += package["optional-dependencies"][extra]
    return found


def test_build_is_byte_identical(artifact_x86: BuildResult, tmp_path: Path) -> None:
    again = build(tmp_path, python="3.12", arch="x86_64")
    assert _sha(again.function_zip) == _sha(artifact_x86.function_zip)
    assert _sha(again.layer_zip) == _sha(artifact_x86.layer_zip)


def test_layout_and_limits(artifact_x86: BuildResult) -> None:
    with zipfile.ZipFile(artifact_x86.function_zip) as archive:
        names = archive.namelist()
    assert "thumbnailer/aws_lambda.py" in names
    assert all(n.startswith("thumbnailer/") for n in names)
    assert not any("__pycache__" in n for n in names)
    with zipfile.ZipFile(artifact_x86.layer_zip) as archive:
        layer_names = archive.namelist()
        infos = archive.infolist()
    assert all(n.startswith("python/") for n in layer_names)
    assert "python/PIL/__init__.py" in layer_names
    assert "python/boto3/__init__.py" in layer_names
    # pyvips by default: its Python from the locked sdist, libvips from pyvips-binary's wheel.
    assert "python/pyvips/__init__.py" in layer_names
    assert any(
        n.startswith("python/pyvips-") and n.endswith(".dist-info/RECORD") for n in layer_names
    )
    assert any(n.startswith("python/_libvips") and n.endswith(".so") for n in layer_names)
    assert any(n.startswith("python/pyvips_binary.libs/libvips") for n in layer_names)
    assert all(n.endswith((".py", ".pyi")) for n in layer_names if n.startswith("python/pyvips/"))
    assert not any(n.startswith("python/.") for n in layer_names), "no installer leftovers"
    assert not any(n.endswith(".pth") for n in layer_names), "Lambda never reads .pth files"
    assert names == sorted(names) and layer_names == sorted(layer_names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert artifact_x86.unzipped_total <= 250 * 1024 * 1024
    machines = _elf_machines(artifact_x86.layer_zip)
    assert machines and set(machines.values()) == {ELF_MACHINE["x86_64"]}


def test_package_command_writes_the_zips_and_prints_their_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 5 MB upload limit instead of 50, so this small layer must go through S3 (the real
    # limit's boundary is in the unit tests).
    module = importlib.import_module("thumbnailer.packaging.build")
    monkeypatch.setattr(module, "DIRECT_UPLOAD_LIMIT", 5 * MB)
    out = tmp_path / "dist"
    args = ["--python", "3.12", "--arch", "x86_64", "--without", "video,pdf,vips"]
    assert main(["package", *args, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    function_zip, layer_zip = out / "function.zip", out / "layer-3.12-x86_64.zip"
    assert sorted(out.iterdir()) == [function_zip, layer_zip], "the two zips and nothing else"

    with zipfile.ZipFile(layer_zip) as archive:
        tops = {n.split("/")[1] for n in archive.namelist()}
        layer_unzipped = sum(i.file_size for i in archive.infolist())
    assert "av" not in tops and "pypdfium2" not in tops
    assert not {t for t in tops if "vips" in t}, "--without vips leaves pyvips and libvips out"
    assert "PIL" in tops and "pillow_heif" in tops
    with zipfile.ZipFile(function_zip) as archive:
        function_unzipped = sum(i.file_size for i in archive.infolist())

    lines = printed.out.splitlines()
    assert lines[:4] == [
        "built for python3.12 x86_64 with extras aws,heif",
        f"{function_zip}: {function_zip.stat().st_size / MB:.1f} MB zipped, "
        f"{function_unzipped / MB:.1f} MB unzipped",
        f"{layer_zip}: {layer_zip.stat().st_size / MB:.1f} MB zipped, "
        f"{layer_unzipped / MB:.1f} MB unzipped",
        f"function + layer unzipped: {(function_unzipped + layer_unzipped) / MB:.1f} MB "
        "(Lambda limit 250 MB)",
    ]
    assert function_zip.stat().st_size < 5 * MB < layer_zip.stat().st_size
    over = [line for line in lines if "through S3" in line]
    assert over == [
        f"{layer_zip.name} is over 5 MB: it must be deployed through S3 (the module's default; "
        "keep create_artifacts_bucket on or set artifacts_bucket)"
    ]
    # The command says what the function does without each decoder left out.
    notes = [line for line in lines if line.startswith("without ")]
    assert [note.split(":")[0] for note in notes] == [
        "without pdf",
        "without video",
        "without vips",
    ]
    assert "AVIF decodes through Pillow" in notes[1]
    assert lines == [*lines[:4], *over, *notes]


def test_package_command_refuses_a_build_over_lambdas_unzipped_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No real layer fits in 10 MB (Pillow and boto3 alone are several times that).
    module = importlib.import_module("thumbnailer.packaging.build")
    monkeypatch.setattr(module, "UNZIPPED_LIMIT", 10 * MB)
    out = tmp_path / "dist"
    args = ["--arch", "x86_64", "--without", "heif,pdf,video,vips", "--out", str(out)]
    assert main(["package", *args]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    match = re.fullmatch(
        r"thumbnailer package: function \+ layer are (\d+\.\d) MB unzipped, over Lambda's "
        r"10 MB: leave decoders out with --without\n",
        printed.err,
    )
    assert match, printed.err
    assert float(match[1]) > 10
    assert not list(out.iterdir()), "no zip Lambda would refuse is left behind"


def test_layer_holds_exactly_the_locked_versions(artifact_x86: BuildResult) -> None:
    in_layer = _layer_versions(artifact_x86.layer_zip)
    locked = _locked_versions("3.12", "x86_64", artifact_x86.extras)
    assert in_layer == locked
    # The closure really reaches the decoders and the runtime libraries.
    for name in ("pillow", "pillow-heif", "pypdfium2", "av", "pyvips", "pyvips-binary"):
        assert name in in_layer
    for name in ("boto3", "botocore", "aws-lambda-powertools"):
        assert name in in_layer
    # av is locked twice (one version per Python range): the layer has the python3.12 one.
    assert in_layer["av"] == _locked_versions("3.12", "x86_64", ("video",))["av"]
    assert in_layer["av"] != _locked_versions("3.11", "x86_64", ("video",))["av"]


def test_every_wheel_in_the_layer_is_manylinux_for_x86_64(artifact_x86: BuildResult) -> None:
    _assert_wheels_are_for_lambda(artifact_x86.layer_zip, "3.12", "x86_64")


def test_arm64_layer_has_aarch64_wheels_and_binaries(tmp_path: Path) -> None:
    result = build(tmp_path, python="3.12", arch="arm64")
    assert result.layer_zip.name == "layer-3.12-arm64.zip"
    machines = _elf_machines(result.layer_zip)
    assert machines, "the layer should hold compiled extensions"
    wrong = {n: m for n, m in machines.items() if m != ELF_MACHINE["arm64"]}
    assert not wrong, f"non-aarch64 binaries in the arm64 layer: {sorted(wrong)[:5]}"
    assert any(n.startswith("python/_libvips") for n in machines), "libvips for aarch64"
    _assert_wheels_are_for_lambda(result.layer_zip, "3.12", "arm64")


_RUN_HANDLER = """
import sys
# Started with -I -S: no site-packages, no PYTHONPATH, not even the current folder. The path is
# what Lambda's bootstrap gives a function: /var/task, then /opt/python, then the stdlib.
task, layer = sys.argv[1:3]
sys.path[:0] = [task, layer]

import json, sysconfig
import PIL
import aws_lambda_powertools, boto3, botocore
import thumbnailer
from thumbnailer.aws_lambda import handler

class Context:
    function_name = "thumbnailer"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:thumbnailer"
    aws_request_id = "proof-request"
    log_group_name = "/aws/lambda/thumbnailer"
    log_stream_name = "proof"
    def get_remaining_time_in_millis(self):
        return 60000

event = json.load(sys.stdin)
result = handler(event, Context())

# PNG goes through libvips when the layer's pyvips imports: prove it does on this Python.
import io
import pyvips
from PIL import Image
from thumbnailer.render import ThumbnailSpec, render
from thumbnailer.render import _decode
png = io.BytesIO()
Image.new("RGB", (1200, 800), (20, 160, 40)).save(png, "PNG")
thumbnail = render(png.getvalue(), ThumbnailSpec())[0]
# Still WebP goes straight to libwebp: the copy inside the layer's Pillow must load here.
from thumbnailer.render import _libwebp
webp = io.BytesIO()
Image.new("RGB", (1200, 800), (20, 160, 40)).save(webp, "WEBP")
webp_thumbnail = render(webp.getvalue(), ThumbnailSpec())[0]
print(json.dumps({
    "result": result,
    "pil": PIL.__file__,
    "version": sys.version_info[:2],
    "pyvips": pyvips.__file__,
    "pyvips_api_mode": pyvips.API_mode,
    "use_vips": _decode.USE_VIPS,
    "vips_used": "thumbnailer.render._vips" in sys.modules,
    "png_thumbnail": [thumbnail.width, thumbnail.height],
    "libwebp": _libwebp.load().path,
    "webp_thumbnail": [webp_thumbnail.width, webp_thumbnail.height],
    "thumbnailer": thumbnailer.__file__,
    "powertools": aws_lambda_powertools.__file__,
    "boto3": boto3.__file__,
    "botocore": botocore.__file__,
    "site_imported": "site" in sys.modules,
    "path": sys.path,
    "stdlib": sorted({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}),
    "modules": sorted(
        {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""}
    ),
}))
"""


def _s3_event(bucket: str, key: str, size: int) -> dict[str, object]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-27T02:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key.replace(" ", "+"), "size": size},
                },
            }
        ]
    }


def test_handler_runs_from_the_unpacked_artifact_on_python312(
    artifact_x86: BuildResult, tmp_path: Path, moto_server: MotoServer, python312: Path
) -> None:
    task, opt = tmp_path / "var-task", tmp_path / "opt"
    layer = opt / "python"
    with zipfile.ZipFile(artifact_x86.function_zip) as archive:
        archive.extractall(task)
    with zipfile.ZipFile(artifact_x86.layer_zip) as archive:
        archive.extractall(opt)

    credentials = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_server.endpoint,
    }
    s3 = boto3.client("s3", **moto_server.client_kwargs())
    s3.create_bucket(Bucket="proof-source")
    s3.create_bucket(Bucket="proof-thumbnails")
    photo = io.BytesIO()
    Image.new("RGB", (1600, 1200), (200, 40, 40)).save(photo, "JPEG", quality=90)
    key = "photos/red flower.jpg"
    s3.put_object(Bucket="proof-source", Key=key, Body=photo.getvalue())

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": "thumbnailer",
        "POWERTOOLS_SERVICE_NAME": "thumbnailer",
        "POWERTOOLS_METRICS_NAMESPACE": "Thumbnailer",
        "THUMBNAILER_SOURCE_BUCKET": "proof-source",
        "THUMBNAILER_DESTINATION_BUCKET": "proof-thumbnails",
        "THUMBNAILER_SIZES": "128x128,256x256",
        **credentials,
    }
    completed = subprocess.run(
        # -I: no PYTHON* variables, no user site, no script folder; -S: no site-packages at
        # all. Whatever imports must come from the unpacked zips or the standard library.
        [str(python312), "-I", "-S", "-c", _RUN_HANDLER, str(task), str(layer)],
        input=json.dumps(_s3_event("proof-source", key, len(photo.getvalue()))),
        capture_output=True,
        text=True,
        env=env,
        cwd=task,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["version"] == [3, 12]
    # Nothing could have come from an interpreter's site-packages: none was on the path.
    assert not report["site_imported"]
    stdlib = [Path(p) for p in report["stdlib"]]
    stdlib_zip = stdlib[0].parent / "python312.zip"
    assert report["path"][:2] == [str(task), str(layer)]
    for entry in map(Path, report["path"][2:]):
        assert entry == stdlib_zip or any(entry == s or s in entry.parents for s in stdlib), entry
        assert "site-packages" not in entry.parts, entry
    for loaded in map(Path, report["modules"]):
        assert "site-packages" not in loaded.parts, f"{loaded}: from an installed site"
        assert any(root in loaded.parents for root in (task, layer, *stdlib)), loaded
    assert Path(report["thumbnailer"]) == task / "thumbnailer" / "__init__.py"
    assert Path(report["pil"]) == layer / "PIL" / "__init__.py", "Pillow must come from the layer"
    assert Path(report["pyvips"]) == layer / "pyvips" / "__init__.py"
    assert Path(report["powertools"]) == layer / "aws_lambda_powertools" / "__init__.py"
    # boto3 and botocore too: the layer ships the locked copies on purpose, and /opt/python
    # comes before the runtime's own copy on Lambda's path.
    assert Path(report["boto3"]) == layer / "boto3" / "__init__.py"
    assert Path(report["botocore"]) == layer / "botocore" / "__init__.py"
    # API mode: pyvips found the compiled _libvips of pyvips-binary, not a system libvips.
    assert report["pyvips_api_mode"] is True
    assert report["use_vips"] is True and report["vips_used"] is True
    assert report["png_thumbnail"] == [128, 85]
    assert Path(report["libwebp"]).is_relative_to(layer), "libwebp must be Pillow's copy"
    assert report["webp_thumbnail"] == [128, 85]

    listed = s3.list_objects_v2(Bucket="proof-thumbnails", Prefix="thumbnails/")
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    assert keys == [
        "thumbnails/photos/red flower_128x128.jpg",
        "thumbnails/photos/red flower_256x256.jpg",
    ]
    body = s3.get_object(Bucket="proof-thumbnails", Key=keys[0])["Body"].read()
    with Image.open(io.BytesIO(body)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (128, 96)

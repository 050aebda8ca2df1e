"""The Lambda artifact: reproducible, right platform, and it runs on python3.12 as Lambda would."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import boto3
import pytest
from PIL import Image

from thumbnailer.local.emulator import MotoServer
from thumbnailer.packaging import BuildResult, build

pytestmark = [pytest.mark.infra, pytest.mark.slow]

ELF_MACHINE = {"x86_64": 62, "arm64": 183}


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
    assert names == sorted(names) and layer_names == sorted(layer_names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert artifact_x86.unzipped_total <= 250 * 1024 * 1024
    machines = _elf_machines(artifact_x86.layer_zip)
    assert machines and set(machines.values()) == {ELF_MACHINE["x86_64"]}


def test_without_leaves_decoders_out(tmp_path: Path) -> None:
    slim = build(tmp_path, python="3.12", arch="x86_64", without=["video", "pdf", "vips"])
    with zipfile.ZipFile(slim.layer_zip) as archive:
        tops = {n.split("/")[1] for n in archive.namelist()}
    assert "av" not in tops and "pypdfium2" not in tops
    assert not {t for t in tops if "vips" in t}, "--without vips leaves pyvips and libvips out"
    assert "PIL" in tops and "pillow_heif" in tops
    # The build says what the function does without them.
    notes = [line for line in slim.summary().splitlines() if line.startswith("without ")]
    left_out = [note.split(":")[0] for note in notes]
    assert left_out == ["without pdf", "without video", "without vips"]
    assert "AVIF decodes through Pillow" in notes[1]


def test_arm64_layer_has_aarch64_wheels_and_binaries(tmp_path: Path) -> None:
    result = build(tmp_path, python="3.12", arch="arm64")
    assert result.layer_zip.name == "layer-3.12-arm64.zip"
    machines = _elf_machines(result.layer_zip)
    assert machines, "the layer should hold compiled extensions"
    wrong = {n: m for n, m in machines.items() if m != ELF_MACHINE["arm64"]}
    assert not wrong, f"non-aarch64 binaries in the arm64 layer: {sorted(wrong)[:5]}"
    assert any(n.startswith("python/_libvips") for n in machines), "libvips for aarch64"
    with zipfile.ZipFile(result.layer_zip) as archive:
        tags = [
            line.split(":", 1)[1].strip()
            for name in archive.namelist()
            if name.endswith(".dist-info/WHEEL")
            for line in archive.read(name).decode().splitlines()
            if line.startswith("Tag:")
        ]
    platform_tags = [t for t in tags if not t.endswith("-any")]
    assert platform_tags and all("aarch64" in t for t in platform_tags)
    assert all("cp312" in t or "abi3" in t or t.startswith("py3") for t in platform_tags)


_RUN_HANDLER = """
import json, sys
import PIL
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
        # Only what Lambda gives a function: /var/task and /opt/python on the path.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(task), str(opt / "python")]),
        "PYTHONNOUSERSITE": "1",
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
        [str(python312), "-s", "-c", _RUN_HANDLER],
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
    assert report["pil"].startswith(str(opt / "python")), "Pillow must come from the layer"
    assert report["pyvips"].startswith(str(opt / "python")), "pyvips must come from the layer"
    # API mode: pyvips found the compiled _libvips of pyvips-binary, not a system libvips.
    assert report["pyvips_api_mode"] is True
    assert report["use_vips"] is True and report["vips_used"] is True
    assert report["png_thumbnail"] == [128, 85]
    assert report["libwebp"].startswith(str(opt / "python")), "libwebp must be Pillow's copy"
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

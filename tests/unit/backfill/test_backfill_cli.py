"""`thumbnailer backfill` reads the deployed function's settings and finds its queue."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from thumbnailer.cli import main
from thumbnailer.local.state import StackInfo

REGION = "us-east-1"


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (seed, 10, 10)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        lam = boto3.client("lambda", region_name=REGION)
        for bucket in ("src", "dst"):
            s3.create_bucket(Bucket=bucket)
        for i in range(3):
            s3.put_object(Bucket="src", Key=f"p{i}.jpg", Body=_jpeg(i))
        queue = sqs.create_queue(QueueName="thumbs")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        role = iam.create_role(
            RoleName="r",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(e, c):\n    return {}\n")
        lam.create_function(
            FunctionName="thumbnailer",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
            Environment={
                "Variables": {
                    "THUMBNAILER_SOURCE_BUCKET": "src",
                    "THUMBNAILER_DESTINATION_BUCKET": "dst",
                    "THUMBNAILER_SIZES": "16x16",
                }
            },
        )
        # Disabled, so moto does not consume what the back-fill sends.
        lam.create_event_source_mapping(
            EventSourceArn=arn, FunctionName="thumbnailer", Enabled=False
        )
        yield {"s3": s3, "sqs": sqs, "queue": queue}


def test_queue_mode_finds_the_function_queue_and_direct_uses_its_settings(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["backfill", "--bucket", "src", "--function-name", "thumbnailer", "--json"]
    assert main([*base, "--mode", "queue", "--rate", "1000"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["queued"] == 3
    messages = deployed["sqs"].receive_message(QueueUrl=deployed["queue"], MaxNumberOfMessages=10)
    assert len(messages["Messages"]) == 3

    assert main(base) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["created"] == 3
    keys = [o["Key"] for o in deployed["s3"].list_objects_v2(Bucket="dst")["Contents"]]
    # The function's sizes (16x16), not the defaults, decided the thumbnails.
    assert sorted(keys) == [f"thumbnails/p{i}_16x16.jpg" for i in range(3)]


def test_queue_mode_does_not_promise_that_nothing_is_redone(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["backfill", "--bucket", "src", "--function-name", "thumbnailer", "--mode", "queue"]
    assert main([*base, "--rate", "1000"]) == 0
    out = capsys.readouterr().out
    assert "nothing done is redone" not in out
    assert "queued again" in out
    # Again before the queue drained: the three objects are queued a second time, and said so.
    assert main([*base, "--rate", "1000"]) == 0
    out = capsys.readouterr().out
    assert "queued      3" in out
    assert "already held 3 messages" in out


def test_queue_mode_of_a_function_without_a_queue_says_so(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    lam = boto3.client("lambda", region_name=REGION)
    for mapping in lam.list_event_source_mappings(FunctionName="thumbnailer")[
        "EventSourceMappings"
    ]:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    base = ["backfill", "--bucket", "src", "--function-name", "thumbnailer", "--mode", "queue"]
    assert main(base) == 2
    assert "reads no SQS queue" in capsys.readouterr().err


def test_queue_mode_on_a_direct_trigger_stack_explains_there_is_no_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # --local points every client at the stack: keep that from outliving the test.
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "")  # recorded, so that teardown restores the original
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    StackInfo(
        endpoint="http://127.0.0.1:1",
        region=REGION,
        trigger="direct",
        outputs={"source_bucket": "src", "destination_bucket": "dst", "dlq_url": "dlq"},
        function_dir="",
        layer_dir="",
        runtime_dir="",
    ).save(tmp_path)
    code = main(["backfill", "--bucket", "src", "--local", str(tmp_path), "--mode", "queue"])
    assert code == 2
    err = capsys.readouterr().err
    assert "direct trigger" in err
    assert "--mode direct" in err

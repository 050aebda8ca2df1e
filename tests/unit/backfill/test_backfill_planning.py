"""Back-fill: bounded, resumable, never touching the thumbnail prefix (moto in-process)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from thumbnailer.backfill import BackfillOptions, CostModel, estimate_cost, run_backfill
from thumbnailer.errors import ConfigError
from thumbnailer.pipeline import Pipeline
from thumbnailer.render import Size, ThumbnailSpec
from thumbnailer.reporting import Reporter
from thumbnailer.settings import Settings
from thumbnailer.storage.s3 import S3Store

REGION = "us-east-1"


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 256, 40, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="src")
        s3.create_bucket(Bucket="dst")
        for i in range(6):
            s3.put_object(Bucket="src", Key=f"photos/p {i}+.jpg", Body=_jpeg(i))
        s3.put_object(Bucket="src", Key="photos/broken.jpg", Body=b"\xff\xd8\xff nope")
        # Keys the function never processes, even in the source bucket.
        s3.put_object(Bucket="src", Key="thumbnails/old_128x128.jpg", Body=_jpeg(99))
        s3.put_object(Bucket="src", Key="failed/x.json", Body=b"{}")
        settings = Settings(
            destination_bucket="dst", source_bucket="src", spec=ThumbnailSpec(sizes=(Size(32, 32),))
        )
        store = S3Store(s3)
        reporter = Reporter(
            settings, store, client_factory=lambda name: boto3.client(name, region_name=REGION)
        )
        yield {"s3": s3, "pipeline": Pipeline(settings, store, reporter=reporter)}


def _keys(s3: Any, bucket: str) -> dict[str, str]:
    contents = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in contents}


def test_dry_run_counts_estimates_and_changes_nothing(aws: dict[str, Any]) -> None:
    before = _keys(aws["s3"], "dst"), _keys(aws["s3"], "src")
    report = run_backfill(aws["pipeline"], BackfillOptions(bucket="src", dry_run=True))
    assert (report.listed, report.ignored, report.todo) == (9, 2, 7)
    assert report.estimate["total_usd"] > 0
    assert (_keys(aws["s3"], "dst"), _keys(aws["s3"], "src")) == before


def test_direct_makes_thumbnails_and_a_rerun_redoes_nothing(aws: dict[str, Any]) -> None:
    source_before = _keys(aws["s3"], "src")
    report = run_backfill(aws["pipeline"], BackfillOptions(bucket="src", concurrency=3))
    assert report.created == 6
    assert [(k, kind) for k, kind, _ in report.failed] == [("photos/broken.jpg", "corrupt")]
    made = _keys(aws["s3"], "dst")
    assert {k for k in made if k.startswith("thumbnails/")} == {
        f"thumbnails/photos/p {i}+_32x32.jpg" for i in range(6)
    }
    assert "failed/photos/broken.jpg.json" in made
    # The thumbnail prefix of the source bucket was never read as a source nor written.
    assert _keys(aws["s3"], "src") == source_before

    again = run_backfill(aws["pipeline"], BackfillOptions(bucket="src"))
    assert (again.todo, again.created, again.current, again.already_failed) == (0, 0, 6, 1)
    assert again.failed == []
    assert _keys(aws["s3"], "dst") == made  # nothing rewritten


def test_a_changed_source_is_done_again(aws: dict[str, Any]) -> None:
    run_backfill(aws["pipeline"], BackfillOptions(bucket="src"))
    aws["s3"].put_object(Bucket="src", Key="photos/p 2+.jpg", Body=_jpeg(200))
    report = run_backfill(aws["pipeline"], BackfillOptions(bucket="src"))
    assert (report.todo, report.created) == (1, 1)


def test_prefix_and_limit_bound_the_run(aws: dict[str, Any]) -> None:
    report = run_backfill(
        aws["pipeline"], BackfillOptions(bucket="src", prefix="photos/p", limit=4)
    )
    assert report.listed == 4
    assert report.created == 4


def test_queue_mode_sends_s3_events_the_handler_understands(aws: dict[str, Any]) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    options = BackfillOptions(
        bucket="src", prefix="photos/p", mode="queue", queue_url=url, rate=1000
    )
    report = run_backfill(aws["pipeline"], options, sqs_client=sqs, region=REGION)
    assert report.queued == 6
    keys = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            record = json.loads(message["Body"])["Records"][0]
            assert record["eventName"] == "ObjectCreated:Put"
            keys.append(unquote_plus(record["s3"]["object"]["key"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(keys) == sorted(f"photos/p {i}+.jpg" for i in range(6))
    assert _keys(aws["s3"], "dst") == {}  # queue mode renders nothing itself


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        BackfillOptions(bucket="b", mode="queue")
    with pytest.raises(ConfigError):
        BackfillOptions(bucket="b", concurrency=0)
    with pytest.raises(ConfigError):
        BackfillOptions(bucket="b", limit=0)


def test_cost_estimate_scales_with_objects_memory_and_architecture() -> None:
    one = estimate_cost(1000, 2)
    assert estimate_cost(2000, 2)["lambda_usd"] == pytest.approx(2 * one["lambda_usd"], rel=0.01)
    bigger = estimate_cost(1000, 2, CostModel(memory_mb=2048))
    assert bigger["gb_seconds"] == pytest.approx(2 * one["gb_seconds"])
    assert (
        estimate_cost(1000, 2, CostModel(architecture="x86_64"))["lambda_usd"] > one["lambda_usd"]
    )


def test_ignored_keys_are_counted_by_reason(aws: dict[str, Any]) -> None:
    report = run_backfill(aws["pipeline"], BackfillOptions(bucket="src", dry_run=True))
    assert report.ignored_by_reason == {
        "under the thumbnail prefix": 1,
        "under the failure prefix": 1,
    }
    assert report.as_dict()["ignored_by_reason"] == report.ignored_by_reason


def test_a_bucket_that_is_not_the_source_bucket_is_refused(aws: dict[str, Any]) -> None:
    # The function skips every event of another bucket: a back-fill there would do nothing
    # and report success.
    aws["s3"].create_bucket(Bucket="other")
    aws["s3"].put_object(Bucket="other", Key="a.jpg", Body=_jpeg(1))
    with pytest.raises(ConfigError) as caught:
        run_backfill(aws["pipeline"], BackfillOptions(bucket="other", dry_run=True))
    assert "'src'" in caught.value.message
    assert "not the function's source bucket" in caught.value.message


def test_queue_mode_reports_what_the_queue_already_held(aws: dict[str, Any]) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    options = BackfillOptions(
        bucket="src", prefix="photos/p", mode="queue", queue_url=url, rate=1000
    )
    first = run_backfill(aws["pipeline"], options, sqs_client=sqs, region=REGION)
    assert (first.queue_backlog, first.queued) == (0, 6)
    # Run again before the function drained the queue: the same objects are queued again.
    again = run_backfill(aws["pipeline"], options, sqs_client=sqs, region=REGION)
    assert (again.queue_backlog, again.queued) == (6, 6)

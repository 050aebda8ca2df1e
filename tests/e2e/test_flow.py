"""The eventbridge stack end to end: uploads, duplicates, a killed worker, faults, deletions."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from e2e_support import FUNCTION_TIMEOUT, MAX_RECEIVE_COUNT, Stack, image_bytes, wait_for

from thumbnailer.samples import sample_inputs

pytestmark = pytest.mark.e2e

# Worst case for one redelivery: the queue's visibility timeout, then a batch window.
VISIBILITY = 6 * FUNCTION_TIMEOUT + 1
NAMES = ["photo {i}.jpg", "a+b {i}.png", "ünïcödé {i}.webp", "dir/sub dir/pic {i}.gif", "x{i}.jpeg"]


def _upload_all(stack: Stack, objects: dict[str, bytes]) -> None:
    def put(item: tuple[str, bytes]) -> None:
        stack.s3.put_object(Bucket=stack.source, Key=item[0], Body=item[1])

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, objects.items()))


def _mixed_objects(count: int, prefix: str) -> tuple[dict[str, bytes], set[str]]:
    """About 5% broken (corrupt, unsupported, empty); the rest valid in several formats."""
    extra = {name: data for name, data in sample_inputs() if not name.startswith("broken")}
    formats = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
    objects: dict[str, bytes] = {}
    broken: set[str] = set()
    for i in range(count):
        if i % 20 == 7:
            key = f"{prefix}broken {i} +.jpg"
            objects[key] = [b"\xff\xd8\xff\xe0 not really a jpeg", b"just text", b""][i % 3]
            broken.add(key)
            continue
        if i % 25 == 3:
            name, data = list(extra.items())[i % len(extra)]
            objects[f"{prefix}{i} {name}"] = data
            continue
        key = prefix + NAMES[i % len(NAMES)].format(i=i)
        ext = key.rsplit(".", 1)[1]
        objects[key] = image_bytes(formats[ext], i, alpha=(ext == "png" and i % 2 == 0))
    return objects, broken


@pytest.fixture(scope="module")
def mixed(local_stack: Stack) -> tuple[dict[str, bytes], set[str]]:
    """300 concurrent uploads, waited for."""
    objects, broken = _mixed_objects(300, "mixed/")
    _upload_all(local_stack, objects)
    valid = set(objects) - broken

    def finished() -> bool:
        existing = local_stack.keys(local_stack.destination)
        done = sum(local_stack.has_all_thumbnails(k, existing) for k in valid)
        failed = sum(local_stack.marker_of(k) in existing for k in broken)
        return done == len(valid) and failed == len(broken)

    wait_for(finished, 240, "thumbnails of 300 uploads", every=2)
    return objects, broken


def test_every_valid_upload_gets_its_thumbnails_and_every_broken_one_is_reported_once(
    local_stack: Stack, mixed: tuple[dict[str, bytes], set[str]]
) -> None:
    objects, broken = mixed
    assert 10 <= len(broken) <= 20  # ~5%
    existing = local_stack.keys(local_stack.destination)
    sizes = len(local_stack.pipeline.settings.spec.sizes)
    for key in set(objects) - broken:
        assert len(local_stack.thumbnails_of(key, existing)) == sizes, key
        assert local_stack.marker_of(key) not in existing, key
    for key in broken:
        assert local_stack.thumbnails_of(key, existing) == [], key
        marker = json.loads(
            local_stack.s3.get_object(
                Bucket=local_stack.destination, Key=local_stack.marker_of(key)
            )["Body"].read()
        )
        assert marker["source"]["key"] == key
        assert marker["kind"] in {"corrupt", "unsupported", "empty"}
    # Queue drained, nothing retried forever, nothing in the dead-letter queue.
    wait_for(lambda: local_stack.depth(local_stack.info.queue_url) == 0, 60, "an empty queue")
    assert local_stack.depth(local_stack.info.dlq_url) == 0
    # One notification per broken upload, none for the valid ones.
    time.sleep(2)
    notes = local_stack.notifications()
    subjects = [n.get("Subject", "") for n in notes if "Thumbnail failed" in n.get("Subject", "")]
    named = [next((k for k in broken if k.rsplit("/", 1)[-1] in s), None) for s in subjects]
    assert sorted(filter(None, named)) == sorted(broken)


def test_redelivered_events_rewrite_nothing(
    local_stack: Stack, mixed: tuple[dict[str, bytes], set[str]]
) -> None:
    objects, broken = mixed
    keys = sorted(set(objects) - broken)[:20]
    before = {
        t: local_stack.s3.head_object(Bucket=local_stack.destination, Key=t)
        for k in keys
        for t in local_stack.thumbnails_of(k)
    }
    time.sleep(1.1)  # LastModified has one-second resolution
    received = local_stack.stats().get("messages_received", 0)
    for key in keys:
        detail = {"bucket": {"name": local_stack.source}, "object": {"key": key}}
        etag = local_stack.s3.head_object(Bucket=local_stack.source, Key=key)["ETag"].strip('"')
        detail["object"]["etag"] = etag
        body = {
            "version": "0",
            "id": f"dup-{key}",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": local_stack.info.region,
            "resources": [f"arn:aws:s3:::{local_stack.source}"],
            "detail": {
                "version": "0",
                "bucket": {"name": local_stack.source},
                "object": {"key": key, "size": len(objects[key]), "etag": etag},
                "reason": "PutObject",
            },
        }
        local_stack.sqs.send_message(
            QueueUrl=local_stack.info.queue_url, MessageBody=json.dumps(body)
        )
    wait_for(
        lambda: (
            local_stack.stats().get("messages_received", 0) >= received + len(keys)
            and local_stack.depth(local_stack.info.queue_url) == 0
        ),
        60,
        "the duplicates to be consumed",
    )
    for thumb, head in before.items():
        again = local_stack.s3.head_object(Bucket=local_stack.destination, Key=thumb)
        assert again["LastModified"] == head["LastModified"], thumb
        assert again["ETag"] == head["ETag"], thumb


def test_a_worker_killed_mid_batch_loses_nothing(local_stack: Stack) -> None:
    # GetObject of `slow-` keys sleeps 0.5 s: the batch is still running when we kill it.
    objects = {f"slow-{i}.jpg": image_bytes("JPEG", 1000 + i) for i in range(4)}
    baseline = local_stack.stats().get("function_errors", 0)
    _upload_all(local_stack, objects)
    wait_for(lambda: local_stack.stats().get("busy", 0) > 0, 30, "a batch in flight", every=0.05)
    pids = local_stack.stats().get("worker_pids", [])
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: local_stack.stats().get("function_errors", 0) > baseline, 10, "the crash noticed"
    )
    # The crash is a function error: the errors alarm notifies the alert topic.
    errors_alarm = f'ALARM: "{local_stack.info.outputs["function_name"]}-errors"'
    notes: list[dict[str, Any]] = []

    def alarmed() -> bool:
        notes.extend(local_stack.notifications())
        return any(n.get("Subject", "").startswith(errors_alarm) for n in notes)

    wait_for(alarmed, 20, "the function errors alarm notification")

    def done() -> bool:
        existing = local_stack.keys(local_stack.destination, "thumbnails/slow-")
        return all(local_stack.has_all_thumbnails(k, existing) for k in objects)

    wait_for(done, VISIBILITY + 45, "the redelivered batch")
    existing = local_stack.keys(local_stack.destination, "thumbnails/slow-")
    sizes = len(local_stack.pipeline.settings.spec.sizes)
    # Exactly one thumbnail per source and size: no stray second format, nothing missing.
    assert len(existing) == sizes * len(objects)
    assert local_stack.depth(local_stack.info.dlq_url) == 0


def test_transient_s3_faults_are_retried_and_nothing_is_lost(local_stack: Stack) -> None:
    # 10% of the S3 attempts on `flaky-` keys answer 503 SlowDown.
    objects = {f"flaky-{i}.png": image_bytes("PNG", 2000 + i) for i in range(8)}
    _upload_all(local_stack, objects)

    def done() -> bool:
        existing = local_stack.keys(local_stack.destination, "thumbnails/flaky-")
        return all(local_stack.has_all_thumbnails(k, existing) for k in objects)

    wait_for(done, 3 * VISIBILITY + 30, "thumbnails despite faults")
    log = (local_stack.state_dir / "worker.log").read_text(errors="replace")
    assert "injected fault" in log  # the faults really happened
    existing = local_stack.keys(local_stack.destination)
    assert not any(local_stack.marker_of(k) in existing for k in objects)
    assert local_stack.depth(local_stack.info.dlq_url) == 0


def test_a_fault_that_never_heals_ends_in_the_dlq_and_raises_the_alarm(local_stack: Stack) -> None:
    local_stack.notifications()  # start from an empty notification queue
    key = "never-heals.jpg"
    local_stack.s3.put_object(Bucket=local_stack.source, Key=key, Body=image_bytes("JPEG", 3))
    wait_for(
        lambda: local_stack.depth(local_stack.info.dlq_url) == 1,
        # The redrive happens on the receive after the last allowed one.
        (MAX_RECEIVE_COUNT + 1) * VISIBILITY + 60,
        "the message to reach the dead-letter queue",
        every=1,
    )
    dead = local_stack.sqs.receive_message(
        QueueUrl=local_stack.info.dlq_url, AttributeNames=["All"], VisibilityTimeout=1
    )["Messages"][0]
    assert key in dead["Body"]
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 1
    existing = local_stack.keys(local_stack.destination)
    assert local_stack.thumbnails_of(key, existing) == []
    assert local_stack.marker_of(key) not in existing  # transient: never reported as broken
    notes: list[dict[str, Any]] = []

    dlq_alarm = f'ALARM: "{local_stack.info.outputs["function_name"]}-dlq-not-empty"'

    def alarmed() -> bool:
        notes.extend(local_stack.notifications())
        return any(n.get("Subject", "").startswith(dlq_alarm) for n in notes)

    wait_for(alarmed, 20, "the dead-letter-queue alarm notification")
    alarm = next(n for n in notes if n.get("Subject", "").startswith(dlq_alarm))
    assert json.loads(alarm["Message"])["NewStateValue"] == "ALARM"
    # Leave the DLQ empty for the tests that follow.
    local_stack.sqs.purge_queue(QueueUrl=local_stack.info.dlq_url)


def test_deleting_sources_deletes_their_thumbnails(
    local_stack: Stack, mixed: tuple[dict[str, bytes], set[str]]
) -> None:
    objects, broken = mixed
    keys = sorted(set(objects) - broken)[-10:]
    thumbs = [t for k in keys for t in local_stack.thumbnails_of(k)]
    assert thumbs
    for key in keys:
        local_stack.s3.delete_object(Bucket=local_stack.source, Key=key)

    def gone() -> bool:
        existing = local_stack.keys(local_stack.destination)
        return not any(t in existing for t in thumbs)

    wait_for(gone, 60, "thumbnails of deleted sources to disappear")
    existing = local_stack.keys(local_stack.destination)
    others = sorted(set(objects) - broken - set(keys))[:10]
    assert all(local_stack.has_all_thumbnails(k, existing) for k in others)

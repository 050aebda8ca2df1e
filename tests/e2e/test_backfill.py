"""Back-fill against the local stack: objects that arrived before the trigger existed."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from e2e_support import FAULTS, Stack, image_bytes, wait_for

from thumbnailer.local import stack as stack_module

pytestmark = pytest.mark.e2e


def _backfill(stack: Stack, *args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "thumbnailer", "backfill", "--bucket", stack.source]
    command += ["--local", str(stack.state_dir), "--json", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def old_objects(local_stack: Stack) -> dict[str, str]:
    """Objects put in the bucket while no trigger delivered anything (events dropped)."""
    wait_for(lambda: local_stack.depth(local_stack.info.queue_url) == 0, 120, "an idle queue")
    assert stack_module.stop_runner(local_stack.state_dir)
    keys = {f"old/direct {i}.jpg": "direct" for i in range(12)}
    keys |= {f"old/queue {i}.png": "queue" for i in range(8)}
    for i, key in enumerate(keys):
        fmt = "JPEG" if key.endswith(".jpg") else "PNG"
        local_stack.s3.put_object(
            Bucket=local_stack.source, Key=key, Body=image_bytes(fmt, 500 + i)
        )
    # The trigger "did not exist yet": drop the events those uploads caused.
    wait_for(lambda: local_stack.depth(local_stack.info.queue_url) >= len(keys), 30, "events")
    local_stack.sqs.purge_queue(QueueUrl=local_stack.info.queue_url)
    wait_for(lambda: local_stack.depth(local_stack.info.queue_url) == 0, 30, "the purge")
    stack_module.start_runner(
        local_stack.state_dir,
        {"THUMBNAILER_LOCAL_FAULTS": json.dumps(FAULTS)},
    )
    return keys


def test_dry_run_counts_and_changes_nothing(
    local_stack: Stack, old_objects: dict[str, str]
) -> None:
    before = local_stack.keys(local_stack.destination)
    report = _backfill(local_stack, "--prefix", "old/", "--dry-run")
    assert report["todo"] == len(old_objects)
    assert report["estimate"]["total_usd"] > 0
    assert local_stack.keys(local_stack.destination) == before
    assert local_stack.depth(local_stack.info.queue_url) == 0


def test_backfill_direct_then_queue_then_nothing_left(
    local_stack: Stack, old_objects: dict[str, str]
) -> None:
    direct = [k for k, mode in old_objects.items() if mode == "direct"]
    queued = [k for k, mode in old_objects.items() if mode == "queue"]

    report = _backfill(local_stack, "--prefix", "old/direct", "--concurrency", "4")
    assert report["created"] == len(direct)
    assert report["failed"] == []
    existing = local_stack.keys(local_stack.destination)
    assert all(local_stack.has_all_thumbnails(k, existing) for k in direct)
    assert not any(local_stack.has_all_thumbnails(k, existing) for k in queued)

    report = _backfill(local_stack, "--prefix", "old/", "--mode", "queue", "--rate", "20")
    assert report["queued"] == len(queued)  # the direct ones are current: skipped
    assert report["current"] == len(direct)

    def done() -> bool:
        existing = local_stack.keys(local_stack.destination)
        return all(local_stack.has_all_thumbnails(k, existing) for k in queued)

    wait_for(done, 90, "the Lambda stand-in to process the back-fill events")

    # A second run redoes nothing, and the thumbnail prefix is never a source.
    heads = {
        t: local_stack.s3.head_object(Bucket=local_stack.destination, Key=t)["ETag"]
        for k in old_objects
        for t in local_stack.thumbnails_of(k)
    }
    report = _backfill(local_stack, "--prefix", "old/")
    assert report["todo"] == 0
    assert report["created"] == 0
    assert report["current"] == len(old_objects)
    for thumb, etag in heads.items():
        assert local_stack.s3.head_object(Bucket=local_stack.destination, Key=thumb)["ETag"] == etag

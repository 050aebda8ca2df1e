"""The `sqs` trigger (S3 notification → queue) end to end."""

from __future__ import annotations

import pytest

from .conftest import Stack, image_bytes, wait_for

pytestmark = pytest.mark.e2e
TRIGGER = "sqs"


def test_sqs_trigger_makes_reports_and_deletes(trigger_stack: Stack) -> None:
    check_trigger(trigger_stack)


def check_trigger(stack: Stack) -> None:
    """Uploads get thumbnails, a broken file a marker, a deletion removes thumbnails."""
    good = {f"t/ok {i}+.jpg": image_bytes("JPEG", 700 + i) for i in range(5)}
    broken = "t/broken ü.jpg"
    for key, data in good.items():
        stack.s3.put_object(Bucket=stack.source, Key=key, Body=data)
    stack.s3.put_object(Bucket=stack.source, Key=broken, Body=b"\xff\xd8\xff garbage")

    def done() -> bool:
        existing = stack.keys(stack.destination)
        return all(stack.has_all_thumbnails(k, existing) for k in good) and (
            stack.marker_of(broken) in existing
        )

    wait_for(done, 90, f"thumbnails with the {stack.info.trigger} trigger")
    victim = next(iter(good))
    thumbs = stack.thumbnails_of(victim)
    stack.s3.delete_object(Bucket=stack.source, Key=victim)
    wait_for(
        lambda: not any(t in stack.keys(stack.destination) for t in thumbs),
        60,
        "thumbnails of the deleted source to go",
    )
    assert stack.depth(stack.info.dlq_url) == 0

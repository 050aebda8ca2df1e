"""The `direct` trigger (S3 → function): the runner plays S3's asynchronous invocation."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest
from e2e_support import Stack, check_trigger, image_bytes, wait_for

pytestmark = pytest.mark.e2e
TRIGGER = "direct"


def test_direct_trigger_makes_reports_and_deletes(trigger_stack: Stack) -> None:
    assert trigger_stack.info.queue_url is None
    check_trigger(trigger_stack)


def test_direct_trigger_sends_an_event_that_never_succeeds_to_the_dlq(
    trigger_stack: Stack,
) -> None:
    # Every S3 call on this key fails: Lambda's asynchronous retries (two) run out and the
    # on-failure destination, the module's dead-letter queue, receives the invocation record.
    key = "never-heals direct.jpg"
    trigger_stack.s3.put_object(Bucket=trigger_stack.source, Key=key, Body=image_bytes("JPEG", 9))
    wait_for(lambda: trigger_stack.depth(trigger_stack.info.dlq_url) == 1, 90, "the DLQ record")
    message = trigger_stack.sqs.receive_message(QueueUrl=trigger_stack.info.dlq_url)["Messages"][0]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    s3_record = record["requestPayload"]["Records"][0]["s3"]
    assert unquote_plus(s3_record["object"]["key"]) == key
    assert trigger_stack.thumbnails_of(key) == []

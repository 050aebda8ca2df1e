"""Every documented envelope parses to the same decoded object reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from thumbnailer.events import (
    Action,
    EventKind,
    InvalidEvent,
    Parsed,
    classify,
    decode_key,
    parse_batch_operations,
    parse_body,
    parse_eventbridge,
    parse_s3_notification,
    parse_sqs_record,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
KEY = "photos/red flower 1+1 été.jpg"
BUCKET = "amzn-s3-demo-bucket"


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text("utf-8"))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("s3-object-created-put.json", EventKind.S3),
        ("s3-object-removed-delete.json", EventKind.S3),
        ("s3-test-event.json", EventKind.TEST),
        ("eventbridge-object-created.json", EventKind.EVENTBRIDGE),
        ("eventbridge-object-deleted.json", EventKind.EVENTBRIDGE),
        ("sqs-s3-notification.json", EventKind.SQS),
        ("sqs-eventbridge.json", EventKind.SQS),
        ("batch-operations-1.0.json", EventKind.BATCH_OPERATIONS),
        ("batch-operations-2.0.json", EventKind.BATCH_OPERATIONS),
    ],
)
def test_every_fixture_is_classified(name: str, kind: EventKind) -> None:
    assert classify(load(name)) is kind


def test_unknown_shapes_are_unknown() -> None:
    assert classify({"hello": "world"}) is EventKind.UNKNOWN
    assert classify({"Records": []}) is EventKind.UNKNOWN


def test_s3_notification_key_is_decoded_once() -> None:
    (ref,) = parse_s3_notification(load("s3-object-created-put.json")).refs
    assert ref.bucket == BUCKET
    assert ref.key == KEY  # '+' → space, '%2B' → '+', UTF-8 percent-escapes → é
    assert ref.action is Action.CREATED
    assert ref.size == 1305107
    assert ref.etag == "b21b84d653bb07b05b1e6b33684dc11b"
    assert ref.event_time is not None and ref.event_time.year == 2026


def test_s3_delete_notification() -> None:
    (ref,) = parse_s3_notification(load("s3-object-removed-delete.json")).refs
    assert (ref.key, ref.action, ref.size, ref.etag) == (KEY, Action.DELETED, None, None)


def test_test_event_gives_no_references() -> None:
    expected = Parsed(ignored=("s3:TestEvent",))
    assert parse_s3_notification(load("s3-test-event.json")) == expected
    assert parse_body(json.dumps(load("s3-test-event.json"))) == expected


def test_eventbridge_keys_are_not_decoded() -> None:
    (ref,) = parse_eventbridge(load("eventbridge-object-created.json")).refs
    assert ref.key == KEY
    assert ref.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    assert ref.size == 5
    event = load("eventbridge-object-created.json")
    event["detail"]["object"]["key"] = "a+b%20c.png"
    assert parse_eventbridge(event).refs[0].key == "a+b%20c.png"


def test_eventbridge_etag_in_either_spelling() -> None:
    event = load("eventbridge-object-created.json")
    documented = parse_eventbridge(event).refs[0].etag
    assert documented
    obj = event["detail"]["object"]
    obj["eTag"] = obj.pop("etag")  # how moto's S3 spells it
    assert parse_eventbridge(event).refs[0].etag == documented


def test_eventbridge_deleted() -> None:
    (ref,) = parse_eventbridge(load("eventbridge-object-deleted.json")).refs
    assert (ref.key, ref.action) == (KEY, Action.DELETED)


def test_other_eventbridge_detail_types_are_ignored() -> None:
    event = load("eventbridge-object-created.json")
    event["detail-type"] = "Object Restore Completed"
    parsed = parse_eventbridge(event)
    assert parsed.refs == ()
    assert parsed.ignored == (
        "EventBridge 'Object Restore Completed' from 'aws.s3' is not an S3 object event",
    )


@pytest.mark.parametrize("name", ["sqs-s3-notification.json", "sqs-eventbridge.json"])
def test_sqs_bodies_give_the_same_reference(name: str) -> None:
    (record,) = load(name)["Records"]
    (ref,) = parse_sqs_record(record).refs
    assert (ref.bucket, ref.key, ref.action) == (BUCKET, KEY, Action.CREATED)


def test_sns_wrapped_s3_notification_in_sqs() -> None:
    wrapped = {"Type": "Notification", "Message": json.dumps(load("s3-object-created-put.json"))}
    (ref,) = parse_body(json.dumps(wrapped)).refs
    assert ref.key == KEY


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"some": "thing"}', '{"Records": 5}'])
def test_invalid_bodies_raise_invalid_event(body: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_body(body)
    assert info.value.kind == "invalid_event"
    assert info.value.permanent


def test_record_without_object_is_invalid() -> None:
    event = load("s3-object-created-put.json")
    del event["Records"][0]["s3"]["object"]
    with pytest.raises(InvalidEvent):
        parse_s3_notification(event)


def test_non_object_events_are_ignored() -> None:
    event = load("s3-object-created-put.json")
    event["Records"][0]["eventName"] = "ObjectRestore:Completed"
    parsed = parse_s3_notification(event)
    assert parsed.refs == ()
    assert parsed.ignored == (
        "S3 event 'ObjectRestore:Completed' neither creates nor removes an object",
    )


@pytest.mark.parametrize("name", ["batch-operations-1.0.json", "batch-operations-2.0.json"])
def test_batch_operations_both_schemas(name: str) -> None:
    invocation = parse_batch_operations(load(name))
    assert invocation.schema_version == name.split("-")[-1].removesuffix(".json")
    assert invocation.job_id == "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"
    (task,) = invocation.tasks
    assert task.task_id == "dGFza2lkZ29lc2hlcmUK"
    assert (task.ref.bucket, task.ref.key) == (BUCKET, KEY)


def test_batch_operations_unknown_schema_refuses_every_task() -> None:
    event = load("batch-operations-1.0.json")
    event["invocationSchemaVersion"] = "3.0"
    invocation = parse_batch_operations(event)
    assert invocation.schema_version == "3.0"  # the answer repeats it
    (task,) = invocation.tasks
    assert task.ref is None and task.error is not None
    assert task.error.message == "S3 Batch Operations schema '3.0' is not 1.0 or 2.0"


def test_decode_key_examples() -> None:
    assert decode_key("red+flower.jpg") == "red flower.jpg"
    assert decode_key("c%2B%2B.png") == "c++.png"
    assert decode_key("%E6%97%A5%E6%9C%AC.jpg") == "日本.jpg"

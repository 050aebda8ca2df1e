"""Malformed envelopes: each gives its own InvalidEvent (or is ignored, said why), never a crash."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from thumbnailer.events import (
    EventKind,
    InvalidEvent,
    classify,
    decode_key,
    parse_batch_operations,
    parse_body,
    parse_eventbridge,
    parse_s3_notification,
    parse_sqs_record,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"

Mutation = Callable[[dict[str, Any]], object]


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text("utf-8"))


def s3_object(event: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = event["Records"][0]["s3"]["object"]
    return obj


def eb_object(event: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = event["detail"]["object"]
    return obj


def mutated(name: str, mutate: Mutation) -> dict[str, Any]:
    event = copy.deepcopy(load(name))
    mutate(event)
    return event


def sqs_record(body: str) -> dict[str, Any]:
    record: dict[str, Any] = load("sqs-s3-notification.json")["Records"][0]
    record["body"] = body
    return record


S3_DEFECTS: dict[str, Mutation] = {
    "key null": lambda e: s3_object(e).update(key=None),
    "key number": lambda e: s3_object(e).update(key=123),
    "key object": lambda e: s3_object(e).update(key={"a": 1}),
    "key empty": lambda e: s3_object(e).update(key=""),
    "key missing": lambda e: s3_object(e).pop("key"),
    "key not UTF-8 escapes": lambda e: s3_object(e).update(key="caf%E9.jpg"),
    "key lone surrogate": lambda e: s3_object(e).update(key="a\ud800.jpg"),
    "key over 1024 bytes": lambda e: s3_object(e).update(key="k" * 1025),
    "bucket name null": lambda e: e["Records"][0]["s3"]["bucket"].update(name=None),
    "bucket not an object": lambda e: e["Records"][0]["s3"].update(bucket="b"),
    "version id a number": lambda e: s3_object(e).update(versionId=7),
    "etag a list": lambda e: s3_object(e).update(eTag=["x"]),
    "eventName a number": lambda e: e["Records"][0].update(eventName=5),
    "record a string": lambda e: e["Records"].append("junk"),
    "s3 a list": lambda e: e["Records"][0].update(s3=[]),
}


@pytest.mark.parametrize("defect", sorted(S3_DEFECTS))
def test_malformed_s3_notifications_are_invalid(defect: str) -> None:
    event = mutated("s3-object-created-put.json", S3_DEFECTS[defect])
    with pytest.raises(InvalidEvent):
        parse_s3_notification(event)
    with pytest.raises(InvalidEvent):  # the same inside SQS: still this record's own error
        parse_sqs_record(sqs_record(json.dumps(event)))


EB_DEFECTS: dict[str, Mutation] = {
    "key null": lambda e: eb_object(e).update(key=None),
    "key number": lambda e: eb_object(e).update(key=123),
    "key object": lambda e: eb_object(e).update(key={}),
    "key empty": lambda e: eb_object(e).update(key=""),
    "bucket name a number": lambda e: e["detail"]["bucket"].update(name=5),
    "detail a string": lambda e: e.update(detail="{}"),
    "detail null": lambda e: e.update(detail=None),
    "version id an object": lambda e: eb_object(e).update({"version-id": {}}),
    "etag a number": lambda e: eb_object(e).update(etag=5),
}


@pytest.mark.parametrize("defect", sorted(EB_DEFECTS))
def test_malformed_eventbridge_events_are_invalid(defect: str) -> None:
    event = mutated("eventbridge-object-created.json", EB_DEFECTS[defect])
    with pytest.raises(InvalidEvent) as info:
        parse_eventbridge(event)
    assert info.value.kind == "invalid_event"


def test_messages_say_what_is_wrong() -> None:
    event = mutated("eventbridge-object-created.json", EB_DEFECTS["key number"])
    with pytest.raises(InvalidEvent) as info:
        parse_eventbridge(event)
    assert info.value.message == (
        "EventBridge S3 event object: 'key' is a number (123), not a non-empty string"
    )
    event = mutated("s3-object-created-put.json", S3_DEFECTS["key missing"])
    with pytest.raises(InvalidEvent) as info:
        parse_s3_notification(event)
    assert info.value.message == "S3 notification record object has no 'key'"


POISON_RECORDS: dict[str, object] = {
    "deeply nested body": sqs_record("[" * 100_000 + "]" * 100_000),
    "no body": {"messageId": "m", "eventSource": "aws:sqs"},
    "body a number": {"messageId": "m", "body": 5},
    "record a string": "junk",
    "record null": None,
    "SNS Message an object": sqs_record(json.dumps({"Type": "Notification", "Message": {}})),
    "SNS inside SNS": sqs_record(
        json.dumps({"Type": "Notification", "Message": json.dumps({"Type": "Notification"})})
    ),
}


@pytest.mark.parametrize("name", sorted(POISON_RECORDS))
def test_poison_sqs_records_are_invalid_events(name: str) -> None:
    with pytest.raises(InvalidEvent):
        parse_sqs_record(POISON_RECORDS[name])


@pytest.mark.parametrize(
    "size", ["Infinity", "-Infinity", "NaN", "1e999", "1.5", "-1", "true", '"lots"', '"²"', "[]"]
)
def test_a_size_that_is_no_byte_count_is_left_to_a_head(size: str) -> None:
    body = json.dumps(load("s3-object-created-put.json")).replace(
        '"size": 1305107', f'"size": {size}'
    )
    (ref,) = parse_body(body).refs
    assert ref.size is None  # the pipeline asks S3 with a HEAD


def test_sizes_s3_writes_are_read() -> None:
    for size, expected in ((0, 0), (5, 5), ("42", 42)):
        event = mutated("s3-object-created-put.json", lambda e, v=size: s3_object(e).update(size=v))
        assert parse_s3_notification(event).refs[0].size == expected


def test_empty_etag_and_version_mean_absent() -> None:
    # What the back-fill builder writes for an object whose ETag it does not know.
    event = mutated(
        "s3-object-created-put.json", lambda e: s3_object(e).update(eTag="", versionId="")
    )
    (ref,) = parse_s3_notification(event).refs
    assert (ref.etag, ref.version_id) == (None, None)


@pytest.mark.parametrize("etag", ["x" * 5000, "not an etag", "caf\u00e9", "a\nb"])
def test_an_etag_no_object_could_have_is_left_to_a_head(etag: str) -> None:
    # It would otherwise be copied into every thumbnail's and marker's metadata (S3: 2 KB).
    event = mutated("s3-object-created-put.json", lambda e: s3_object(e).update(eTag=etag))
    (ref,) = parse_s3_notification(event).refs
    assert ref.etag is None


def test_etags_s3_writes_are_kept() -> None:
    for etag in ("0123456789abcdef0123456789abcdef", "d41d8cd98f00b204e9800998ecf8427e-12"):
        event = mutated("s3-object-created-put.json", lambda e, v=etag: s3_object(e).update(eTag=v))
        assert parse_s3_notification(event).refs[0].etag == etag


def test_a_bucket_name_longer_than_s3_allows_is_invalid() -> None:
    event = mutated(
        "s3-object-created-put.json",
        lambda e: e["Records"][0]["s3"]["bucket"].update(name="b" * 256),
    )
    with pytest.raises(InvalidEvent, match="256-character bucket name"):
        parse_s3_notification(event)


def test_strict_key_decoding() -> None:
    assert decode_key("caf%C3%A9.jpg") == "café.jpg"
    assert decode_key("100%.jpg") == "100%.jpg"  # not an escape: kept as it is
    with pytest.raises(InvalidEvent, match="not UTF-8"):
        decode_key("caf%E9.jpg")


IGNORED = {
    "restore": (
        "s3-object-created-put.json",
        lambda e: e["Records"][0].update(eventName="ObjectRestore:Completed"),
    ),
    "lower-case event name": (
        "s3-object-created-put.json",
        lambda e: e["Records"][0].update(eventName="objectcreated:Put"),
    ),
    "another source": ("eventbridge-object-created.json", lambda e: e.update(source="my.app")),
    "another detail type": (
        "eventbridge-object-created.json",
        lambda e: e.update({"detail-type": "Object Tags Added"}),
    ),
    "detail type not a string": (
        "eventbridge-object-created.json",
        lambda e: e.update({"detail-type": ["Object Created"]}),
    ),
}


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_understood_events_that_name_no_object_say_why(name: str) -> None:
    fixture, mutate = IGNORED[name]
    parsed = parse_sqs_record(sqs_record(json.dumps(mutated(fixture, mutate))))
    assert parsed.refs == ()
    (reason,) = parsed.ignored
    assert reason


@pytest.mark.parametrize("event", [None, [], [{"Records": []}], "hello", 42, 1.5, True, {}])
def test_anything_that_is_not_an_object_is_unknown(event: object) -> None:
    assert classify(event) is EventKind.UNKNOWN


def batch(version: str, mutate: Mutation) -> dict[str, Any]:
    return mutated(f"batch-operations-{version}.json", mutate)


@pytest.mark.parametrize(
    ("version", "mutate", "message"),
    [
        ("2.0", lambda e: e["tasks"][0].pop("s3Key"), "has no 's3Key'"),
        ("2.0", lambda e: e["tasks"][0].update(s3Key=5), "'s3Key' is a number (5)"),
        ("2.0", lambda e: e["tasks"][0].update(s3Key=""), "'s3Key' is empty"),
        ("1.0", lambda e: e["tasks"][0].update(s3BucketArn=5), "'s3BucketArn' is a number (5)"),
        ("1.0", lambda e: e["tasks"][0].update(s3BucketArn="bucket"), "is not an S3 bucket ARN"),
    ],
)
def test_a_malformed_task_is_answered_with_its_error(
    version: str, mutate: Mutation, message: str
) -> None:
    invocation = parse_batch_operations(batch(version, mutate))
    (task,) = invocation.tasks
    assert task.task_id == "dGFza2lkZ29lc2hlcmUK"
    assert task.ref is None and task.error is not None
    assert message in task.error.message


def test_a_task_without_task_id_cannot_be_answered() -> None:
    def add_broken(event: dict[str, Any]) -> None:
        good = event["tasks"][0]
        event["tasks"] = [{k: v for k, v in good.items() if k != "taskId"}, "junk", good]

    invocation = parse_batch_operations(batch("2.0", add_broken))
    assert [t.task_id for t in invocation.tasks] == ["dGFza2lkZ29lc2hlcmUK"]
    assert len(invocation.unanswerable) == 2


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("invocationId"),
        lambda e: e.update(invocationId=None),
        lambda e: e.update(tasks={"taskId": "x"}),
    ],
)
def test_an_invocation_that_cannot_be_answered_raises(mutate: Mutation) -> None:
    event = batch("2.0", mutate)
    assert classify(event) is EventKind.BATCH_OPERATIONS
    with pytest.raises(InvalidEvent):
        parse_batch_operations(event)


def test_a_parser_defect_is_internal_not_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    from thumbnailer.errors import InternalError
    from thumbnailer.events import parse

    def defect(*args: object) -> str:
        raise ZeroDivisionError("a defect")

    monkeypatch.setattr(parse, "_bucket_of", defect)
    # Retried (TemporaryFailure), not answered as if the task were malformed.
    (task,) = parse_batch_operations(batch("2.0", lambda e: None)).tasks
    assert isinstance(task.error, InternalError)
    assert "ZeroDivisionError: a defect" in task.error.message
    monkeypatch.setattr(parse, "_notification_action", defect)
    with pytest.raises(InternalError):
        parse_s3_notification(load("s3-object-created-put.json"))

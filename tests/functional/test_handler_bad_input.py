"""Bad input, against moto: a clear, classified answer for it and nothing else disturbed.

What is checked is what an operator sees: the batch response, the log lines, the EMF metrics,
the failure markers and the alerts.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import (
    DST,
    SRC,
    Stack,
    batch_event,
    eventbridge_event,
    load,
    metric_counts,
    s3_event,
    sqs_event,
)
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from thumbnailer.errors import InternalError, TransientError

CREATED = "s3-object-created-put.json"
EB_CREATED = "eventbridge-object-created.json"


def failures(stack: Stack) -> list[dict[str, Any]]:
    return [line for line in stack.log_lines() if line.get("outcome") == "failed"]


def markers(stack: Stack) -> list[str]:
    listing = stack.s3.list_objects_v2(Bucket=DST, Prefix="failed/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def raw_key_event(raw_key: str) -> dict[str, Any]:
    """An S3 notification whose key field is exactly ``raw_key`` (not encoded again)."""
    event = s3_event(CREATED, "placeholder.jpg", etag="e", size=10)
    event["Records"][0]["s3"]["object"]["key"] = raw_key
    return event


def eb_key_event(key: object) -> dict[str, Any]:
    event = eventbridge_event(EB_CREATED, "placeholder.jpg", etag="e", size=10)
    event["detail"]["object"]["key"] = key
    return event


class TestPoisonMessages:
    def test_one_poison_message_never_fails_its_batch(
        self, stack: Stack, capsys: pytest.CaptureFixture[str]
    ) -> None:
        good = [s3_event(CREATED, name, **stack.upload(name)) for name in ("a.jpg", "b.jpg")]
        infinite = json.dumps(s3_event(CREATED, "inf.jpg", **stack.upload("inf.jpg")))
        infinite = infinite.replace('"size": ', '"size": Infinity, "was": ')
        event = sqs_event(good[0], infinite, "[" * 100_000 + "]" * 100_000, "{}", good[1])
        event["Records"].insert(3, {**event["Records"][3]})
        del event["Records"][3]["body"]
        event["Records"][3]["messageId"] = "message-no-body"
        event["Records"].append("junk")  # not even an object: no messageId to hand back
        capsys.readouterr()

        result = stack.app().handle(event)

        # An exception escaping here (OverflowError, RecursionError, KeyError) would make
        # Lambda re-drive the whole batch, good messages included, into the dead-letter queue.
        assert result == {"batchItemFailures": []}
        assert stack.thumbnails() == [
            f"thumbnails/{stem}_{size}.jpg"
            for stem in ("a", "b", "inf")
            for size in ("128x128", "64x64")
        ]  # a size of Infinity is no size: a HEAD told the truth
        invalid = {line.get("message_id"): line["message"] for line in failures(stack)}
        assert invalid == {
            "message-2": "event ignored: message body is JSON nested too deeply to be an event",
            "message-no-body": "event ignored: SQS record has no 'body'",
            "message-3": "event ignored: message body is neither an S3 notification nor an "
            "EventBridge event",
            None: "event ignored: SQS record without a messageId: it can be neither processed "
            "nor handed back",
        }
        assert all(line["kind"] == "invalid_event" for line in failures(stack))
        counts = metric_counts(capsys.readouterr().out)
        assert counts["Failures:invalid_event"] == 4
        assert counts["ObjectsCreated"] == 3


class TestParserDefects:
    """An exception the parser's checks did not foresee is its defect, not the message's."""

    @pytest.fixture
    def broken_s3_parser(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from thumbnailer.events import parse

        def defect(event_name: str) -> None:
            raise ZeroDivisionError("a defect in reading eventName")

        monkeypatch.setattr(parse, "_notification_action", defect)  # S3 notifications only

    @pytest.mark.usefixtures("broken_s3_parser")
    def test_a_message_the_parser_fails_on_goes_back_to_the_queue_alone(
        self, stack: Stack, capsys: pytest.CaptureFixture[str]
    ) -> None:
        good = eventbridge_event(EB_CREATED, "a.jpg", **stack.upload("a.jpg"))
        capsys.readouterr()
        result = stack.app().handle(sqs_event(s3_event(CREATED, "b.jpg", etag="e", size=1), good))
        # Acknowledged as invalid, a parser regression would silently drop every message;
        # handed back, it reaches the dead-letter queue and its alarm.
        assert result == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
        assert stack.thumbnails() == ["thumbnails/a_128x128.jpg", "thumbnails/a_64x64.jpg"]
        (line,) = failures(stack)
        assert (line["kind"], line["message_id"]) == ("internal", "message-0")
        assert "ZeroDivisionError: a defect in reading eventName" in line["message"]
        assert "Traceback" in line["exception"] and "defect" in line["exception"]
        assert metric_counts(capsys.readouterr().out)["Failures:internal"] == 1
        assert markers(stack) == []

    @pytest.mark.usefixtures("broken_s3_parser")
    def test_a_direct_event_the_parser_fails_on_raises_for_a_retry(self, stack: Stack) -> None:
        with pytest.raises(InternalError):
            stack.app().handle(s3_event(CREATED, "b.jpg", etag="e", size=1))


def test_a_message_given_twice_is_handed_back_once(stack: Stack) -> None:
    body = s3_event(CREATED, "gone.jpg", etag="e", size=1)
    event = sqs_event(body, body)
    event["Records"][1]["messageId"] = "message-0"
    app = stack.app()
    app.pipeline.store.head = raising_throttle  # type: ignore[method-assign]
    app.pipeline.store.get = raising_throttle  # type: ignore[method-assign]
    assert app.handle(event) == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}


def raising_throttle(*args: object, **kwargs: object) -> None:
    raise TransientError("S3 is throttling (SlowDown)")


class TestNamesThatNoObjectHas:
    @pytest.mark.parametrize(
        ("event", "message"),
        [
            (eb_key_event(None), "EventBridge S3 event object: 'key' is null"),
            (eb_key_event(123), "EventBridge S3 event object: 'key' is a number (123)"),
            (eb_key_event({}), "EventBridge S3 event object: 'key' is an object ({})"),
            (eb_key_event(""), "EventBridge S3 event object: 'key' is empty"),
            (raw_key_event(""), "S3 notification record object: 'key' is empty"),
            (raw_key_event("caf%E9.jpg"), "key 'caf%E9.jpg' has percent-escapes that are not"),
        ],
    )
    def test_are_invalid_events_not_object_failures(
        self, stack: Stack, capsys: pytest.CaptureFixture[str], event: Any, message: str
    ) -> None:
        capsys.readouterr()
        result = stack.app().handle(sqs_event(event))
        # Not `internal` (retried until dead-lettered) nor an object failure with a marker
        # failed/.json and an alert naming nothing: the message is bad, not an object.
        assert result == {"batchItemFailures": []}
        (line,) = failures(stack)
        assert (line["kind"], line["message_id"]) == ("invalid_event", "message-0")
        assert line["message"].startswith("event ignored: " + message)
        assert metric_counts(capsys.readouterr().out)["Failures:invalid_event"] == 1
        assert markers(stack) == []
        assert stack.messages(stack.topic_queue_url) == []

    def test_direct_eventbridge_with_a_null_key_is_answered(self, stack: Stack) -> None:
        result = stack.app().handle(eb_key_event(None))  # answered: raising means retries
        assert result == {
            "status": "invalid",
            "kind": "invalid_event",
            "message": "EventBridge S3 event object: 'key' is null, not a non-empty string",
        }


class TestUnknownShapes:
    @pytest.mark.parametrize("event", [[], [{"Records": []}], None, "hello", 42, {}, {"foo": 1}])
    def test_direct_payloads_of_no_known_shape(
        self, stack: Stack, capsys: pytest.CaptureFixture[str], event: object
    ) -> None:
        capsys.readouterr()
        result = stack.app().handle(event)
        assert (result["status"], result["kind"]) == ("invalid", "invalid_event")
        assert result["message"].startswith("unrecognised event (")
        (line,) = stack.log_lines()
        assert (line["level"], line["kind"]) == ("ERROR", "invalid_event")
        assert metric_counts(capsys.readouterr().out) == {
            "ThumbnailsCreated": 0,
            "ObjectsCreated": 0,
            "Skipped": 0,
            "Failures:invalid_event": 1,
        }

    def test_counted_alike_directly_and_inside_sqs(
        self, stack: Stack, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        stack.app().handle({"foo": 1})
        direct = metric_counts(capsys.readouterr().out)
        stack.app().handle(sqs_event({"foo": 1}))
        assert metric_counts(capsys.readouterr().out) == direct


def restore(event: dict[str, Any]) -> dict[str, Any]:
    event["Records"][0]["eventName"] = "ObjectRestore:Completed"
    return event


NOTHING_TO_DO = {
    "s3:TestEvent": lambda: load("s3-test-event.json"),
    "restore completed": lambda: restore(s3_event(CREATED, "a.jpg")),
    "another source": lambda: {**eventbridge_event(EB_CREATED, "a.jpg"), "source": "my.app"},
    "another detail type": lambda: {
        **eventbridge_event(EB_CREATED, "a.jpg"),
        "detail-type": "Object Tags Added",
    },
}


class TestNothingToDo:
    @pytest.mark.parametrize("via", ["direct", "sqs"])
    @pytest.mark.parametrize("name", sorted(NOTHING_TO_DO))
    def test_is_logged_and_counted_as_skipped(
        self, stack: Stack, capsys: pytest.CaptureFixture[str], name: str, via: str
    ) -> None:
        event = NOTHING_TO_DO[name]()
        capsys.readouterr()
        result = stack.app().handle(sqs_event(event) if via == "sqs" else event)
        # Never acknowledged unseen: one log line and a metric, directly or inside SQS.
        if via == "sqs":
            assert result == {"batchItemFailures": []}
        else:
            assert (result["status"], result["processed"]) == ("skipped", 0)
        (line,) = stack.log_lines()
        assert (line["level"], line["outcome"]) == ("INFO", "skipped")
        assert line["message"] == "skipped: " + line["reason"]
        assert metric_counts(capsys.readouterr().out)["Skipped"] == 1
        assert stack.renderer.calls == 0


class TestBatchOperations:
    @pytest.mark.parametrize(
        ("version", "change", "text"),
        [
            ("2.0", {"s3Key": None}, "'s3Key' is null"),
            ("2.0", {"s3Key": 5}, "'s3Key' is a number (5)"),
            ("2.0", {"s3Key": ""}, "'s3Key' is empty"),
            ("1.0", {"s3BucketArn": 5}, "'s3BucketArn' is a number (5)"),
        ],
    )
    def test_a_malformed_task_is_answered_permanent_failure(
        self,
        stack: Stack,
        capsys: pytest.CaptureFixture[str],
        version: str,
        change: dict[str, Any],
        text: str,
    ) -> None:
        stack.upload("ok.jpg")
        event = batch_event(version, "ok.jpg", "bad.jpg")
        event["tasks"][1].update(change)
        capsys.readouterr()
        result = stack.app().handle(event)  # one bad task leaves the others answered
        assert result["invocationId"] == event["invocationId"]
        assert result["invocationSchemaVersion"] == version
        ok, bad = result["results"]
        assert (ok["taskId"], ok["resultCode"]) == ("task-0", "Succeeded")
        assert (bad["taskId"], bad["resultCode"]) == ("task-1", "PermanentFailure")
        assert bad["resultString"].startswith("invalid_event: S3 Batch Operations task 'task-1'")
        assert text in bad["resultString"]
        (line,) = failures(stack)
        assert (line["kind"], line["task_id"]) == ("invalid_event", "task-1")
        assert metric_counts(capsys.readouterr().out)["Failures:invalid_event"] == 1

    def test_an_unknown_schema_refuses_every_task(self, stack: Stack) -> None:
        event = batch_event("2.0", "a.jpg", "b.jpg")
        event["invocationSchemaVersion"] = "3.0"
        result = stack.app().handle(event)
        assert result["invocationSchemaVersion"] == "3.0"
        assert [r["resultCode"] for r in result["results"]] == ["PermanentFailure"] * 2
        assert result["results"][0]["resultString"] == (
            "invalid_event: S3 Batch Operations schema '3.0' is not 1.0 or 2.0"
        )
        assert stack.renderer.calls == 0

    def test_a_task_without_task_id_is_left_to_treat_missing_keys_as(self, stack: Stack) -> None:
        stack.upload("ok.jpg")
        event = batch_event("2.0", "lost.jpg", "ok.jpg")
        del event["tasks"][0]["taskId"]
        result = stack.app().handle(event)
        assert result["treatMissingKeysAs"] == "PermanentFailure"
        assert [(r["taskId"], r["resultCode"]) for r in result["results"]] == [
            ("task-1", "Succeeded")
        ]
        (line,) = failures(stack)
        assert (
            line["message"]
            == "event ignored: S3 Batch Operations task #0 has no taskId to answer with"
        )

    def test_an_invocation_without_an_id_is_logged_and_counted(
        self, stack: Stack, capsys: pytest.CaptureFixture[str]
    ) -> None:
        event = batch_event("2.0", "a.jpg")
        del event["invocationId"]
        capsys.readouterr()
        result = stack.app().handle(event)
        assert (result["status"], result["kind"]) == ("invalid", "invalid_event")
        assert failures(stack)[0]["message"] == (
            "event ignored: S3 Batch Operations invocation has no 'invocationId'"
        )
        assert metric_counts(capsys.readouterr().out)["Failures:invalid_event"] == 1


class ShrinkingContext:
    """A Lambda context whose remaining time is read from a script, call by call."""

    aws_request_id = "req-time"

    def __init__(self, *remaining: int) -> None:
        self.remaining = list(remaining)
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return self.remaining.pop(0) if self.remaining else 0


class TestTimeBetweenObjects:
    def test_a_message_of_many_records_is_handed_back_when_time_runs_short(
        self, stack: Stack, capsys: pytest.CaptureFixture[str]
    ) -> None:
        names = [f"many/{i}.jpg" for i in range(5)]
        records = [s3_event(CREATED, n, **stack.upload(n))["Records"][0] for n in names]
        later = s3_event(CREATED, "later.jpg", **stack.upload("later.jpg"))
        event = sqs_event({"Records": records}, later)
        context = ShrinkingContext(60_000, 60_000, 900)
        capsys.readouterr()

        result = stack.app().handle(event, context)

        # Time is checked between the objects of one message, not only between messages:
        # the third check finds 0.9 s left, so the rest of message 0 and all of message 1
        # come back to SQS.
        assert result == {
            "batchItemFailures": [{"itemIdentifier": "message-0"}, {"itemIdentifier": "message-1"}]
        }
        assert stack.renderer.calls == 3
        assert context.calls == 3  # once short, the time is not asked again
        assert metric_counts(capsys.readouterr().out)["Deferred"] == 2

        # Redelivered with time to spare: what was done costs HEADs, the rest is made.
        result = stack.app().handle(event, ShrinkingContext(*[60_000] * 10))
        assert result == {"batchItemFailures": []}
        assert stack.renderer.calls == 6
        assert len(stack.thumbnails()) == 12


class TestAlerts:
    def test_a_key_with_a_line_break_still_alerts(self, stack: Stack) -> None:
        key = "scans/Q3\nreport v2.jpg"
        obj = stack.upload(key, b"not an image")
        assert quote_plus(key) == "scans%2FQ3%0Areport+v2.jpg"  # how S3 sends it
        result = stack.app().handle(sqs_event(s3_event(CREATED, key, **obj)))
        assert result == {"batchItemFailures": []}

        # SNS refuses a subject with a line break: before, the publish was refused and the
        # alert lost. Now the subject is clean and the body keeps the exact key, escaped.
        (notification,) = stack.messages(stack.topic_queue_url)
        assert notification["Subject"] == "Thumbnail failed (unsupported): Q3?report v2.jpg"
        assert f'"s3://{SRC}/scans/Q3\\nreport v2.jpg"' in notification["Message"]
        (email,) = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        assert email.subject == notification["Subject"]
        marker = stack.s3.get_object(Bucket=DST, Key=f"failed/{key}.json")
        assert json.loads(marker["Body"].read())["source"]["key"] == key


class S3Limits:
    """S3's key and metadata limits, which moto does not enforce, put on the function's client."""

    def __init__(self, stack: Stack) -> None:
        self.calls: list[tuple[str, str, int]] = []  # operation, key, metadata bytes
        stack.s3.meta.events.register("before-parameter-build.s3", self.check)

    def check(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        key = params.get("Key", "")
        # S3: "the sum of the number of bytes in the UTF-8 encoding of each key and value"
        metadata = params.get("Metadata") or {}
        size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
        self.calls.append((model.name, key, size))
        if len(key.encode()) > 1024:
            self.refuse("KeyTooLongError", model.name)
        if size > 2048:
            self.refuse("MetadataTooLarge", model.name)

    @staticmethod
    def refuse(code: str, operation: str) -> None:
        error = {
            "Error": {"Code": code, "Message": code},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        raise ClientError(error, operation)  # type: ignore[arg-type]

    def count(self, operation: str) -> int:
        return sum(1 for name, _, _ in self.calls if name == operation)


class TestLongKeys:
    def test_a_long_non_ascii_name_gets_thumbnails(self, stack: Stack) -> None:
        key = "写真/2026/" + "家族旅行の思い出" * 30 + ".jpg"  # 735 bytes; 2,205 encoded
        obj = stack.upload(key)
        limits = S3Limits(stack)
        app = stack.app()
        event = sqs_event(s3_event(CREATED, key, **obj))

        # source-key alone would be over S3's 2 KB of metadata, and every PUT refused.
        assert app.handle(event) == {"batchItemFailures": []}
        assert len(stack.thumbnails()) == 2
        assert all(size <= 2000 for name, _, size in limits.calls if name == "PutObject")
        head = stack.s3.head_object(Bucket=DST, Key=stack.thumbnails()[0])["Metadata"]
        assert "source-key" not in head and len(head["source-key-sha256"]) == 64

        assert app.handle(event) == {"batchItemFailures": []}  # redelivered
        assert stack.renderer.calls == 1
        assert stack.log_lines()[-1]["reason"] == "thumbnails are current"

        stack.s3.delete_object(Bucket=SRC, Key=key)
        app.handle(sqs_event(s3_event("s3-object-removed-delete.json", key)))
        assert stack.thumbnails() == []  # deletion sync still knows them as this source's

    def test_a_source_whose_thumbnail_key_is_too_long_is_refused_once(self, stack: Stack) -> None:
        key = "a/" + "x" * 1004 + ".jpg"  # 1010 bytes: a valid S3 key
        obj = stack.upload(key)
        limits = S3Limits(stack)
        app = stack.app()
        event = sqs_event(s3_event(CREATED, key, **obj))

        assert app.handle(event) == app.handle(event) == {"batchItemFailures": []}
        first, second = failures(stack)
        assert first["kind"] == second["kind"] == "rejected"
        assert "its thumbnail key would be 1029 bytes, over S3's limit of 1024" in first["error"]
        assert limits.count("GetObject") == 0 and stack.renderer.calls == 0
        assert markers(stack) == [f"failed/{key}.json"]
        (notification,) = stack.messages(stack.topic_queue_url)  # the redelivery stayed quiet
        assert notification["Subject"].startswith("Thumbnail failed (rejected): xxx")
        assert len(notification["Subject"]) == 99

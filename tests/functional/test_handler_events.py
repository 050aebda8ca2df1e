"""The handler fed every documented event shape, against moto."""

from __future__ import annotations

import builtins
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lambda_helpers import (
    DST,
    RECIPIENT,
    SENDER,
    SRC,
    Stack,
    batch_event,
    eventbridge_event,
    jpeg,
    load,
    metric_counts,
    s3_event,
    sqs_event,
)
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from thumbnailer import aws_lambda
from thumbnailer.errors import ConfigError, TransientError

KEY = "2026/red flower 1+1 été.jpg"
THUMBS = [
    "thumbnails/2026/red flower 1+1 été_128x128.jpg",
    "thumbnails/2026/red flower 1+1 été_64x64.jpg",
]


def sent_emails() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


class TestShapes:
    def test_s3_notification_direct(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        result = stack.app().handle(s3_event("s3-object-created-put.json", KEY, **obj))
        assert (result["created"], result["failed"]) == (1, 0)
        assert stack.thumbnails() == THUMBS
        head = stack.s3.head_object(Bucket=DST, Key=THUMBS[0])
        assert head["ContentType"] == "image/jpeg"
        assert head["CacheControl"] == "public, max-age=31536000, immutable"
        assert head["Metadata"]["source-etag"] == obj["etag"]

    @pytest.mark.parametrize("shape", ["s3", "sqs-s3", "eventbridge", "sqs-eventbridge", "batch"])
    @pytest.mark.parametrize(
        "key", ["plain.jpg", "with space.jpg", "c++ notes.jpg", "a%20b.jpg", "日本/写真.jpg"]
    )
    def test_keys_with_spaces_plus_and_unicode(self, stack: Stack, key: str, shape: str) -> None:
        obj = stack.upload(key)
        event = {
            "s3": lambda: s3_event("s3-object-created-put.json", key, **obj),
            "sqs-s3": lambda: sqs_event(s3_event("s3-object-created-put.json", key, **obj)),
            "eventbridge": lambda: eventbridge_event("eventbridge-object-created.json", key, **obj),
            "sqs-eventbridge": lambda: sqs_event(
                eventbridge_event("eventbridge-object-created.json", key, **obj)
            ),
            "batch": lambda: batch_event("2.0", key),
        }[shape]()
        result = stack.app().handle(event)
        assert result.get("batchItemFailures", []) == []
        assert result.get("failed", 0) == 0
        assert stack.renderer.calls == 1
        stem = key.rsplit(".", 1)[0]
        assert stack.thumbnails() == [
            f"thumbnails/{stem}_128x128.jpg",
            f"thumbnails/{stem}_64x64.jpg",
        ]

    def test_sqs_wrapping_s3_notification(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        body = s3_event("s3-object-created-put.json", KEY, **obj)
        assert stack.app().handle(sqs_event(body)) == {"batchItemFailures": []}
        assert stack.thumbnails() == THUMBS

    def test_sqs_wrapping_eventbridge(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        body = eventbridge_event("eventbridge-object-created.json", KEY, **obj)
        assert stack.app().handle(sqs_event(body)) == {"batchItemFailures": []}
        assert stack.thumbnails() == THUMBS

    def test_eventbridge_direct_created_then_deleted(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        app = stack.app()
        assert (
            app.handle(eventbridge_event("eventbridge-object-created.json", KEY, **obj))["created"]
            == 1
        )
        stack.s3.delete_object(Bucket=SRC, Key=KEY)
        result = app.handle(eventbridge_event("eventbridge-object-deleted.json", KEY))
        assert result["deleted"] == 1
        assert stack.thumbnails() == []

    def test_s3_delete_notification_deletes_thumbnails(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        app = stack.app()
        app.handle(s3_event("s3-object-created-put.json", KEY, **obj))
        stack.s3.delete_object(Bucket=SRC, Key=KEY)
        result = app.handle(s3_event("s3-object-removed-delete.json", KEY))
        assert result["deleted"] == 1
        assert stack.thumbnails() == []

    def test_sqs_wrapping_eventbridge_deleted(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        app = stack.app()
        app.handle(sqs_event(eventbridge_event("eventbridge-object-created.json", KEY, **obj)))
        stack.s3.delete_object(Bucket=SRC, Key=KEY)
        body = eventbridge_event("eventbridge-object-deleted.json", KEY)
        assert app.handle(sqs_event(body)) == {"batchItemFailures": []}
        assert stack.thumbnails() == []

    def test_versioned_source_records_its_version(self, stack: Stack) -> None:
        stack.s3.put_bucket_versioning(Bucket=SRC, VersioningConfiguration={"Status": "Enabled"})
        obj = stack.upload(KEY)
        version = stack.s3.head_object(Bucket=SRC, Key=KEY)["VersionId"]
        stack.app().handle(s3_event("s3-object-created-put.json", KEY, **obj))
        head = stack.s3.head_object(Bucket=DST, Key=THUMBS[0])
        assert head["Metadata"]["source-version"] == version

    def test_s3_test_event_is_skipped(self, stack: Stack) -> None:
        result = stack.app().handle(load("s3-test-event.json"))
        assert result == {"status": "skipped", "reason": "s3:TestEvent", "processed": 0}
        assert stack.renderer.calls == 0

    def test_test_event_inside_sqs_is_acknowledged(self, stack: Stack) -> None:
        assert stack.app().handle(sqs_event(load("s3-test-event.json"))) == {
            "batchItemFailures": []
        }

    def test_unknown_event_is_an_invalid_event(self, stack: Stack) -> None:
        result = stack.app().handle({"hello": "world"})
        assert (result["status"], result["kind"]) == ("invalid", "invalid_event")


class TestIdempotency:
    def test_duplicate_delivery_does_no_render(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        app = stack.app()
        event = sqs_event(s3_event("s3-object-created-put.json", KEY, **obj))
        app.handle(event)
        before = {k: stack.s3.head_object(Bucket=DST, Key=k)["LastModified"] for k in THUMBS}
        assert stack.renderer.calls == 1
        assert app.handle(event) == {"batchItemFailures": []}
        assert stack.renderer.calls == 1  # the second delivery rendered nothing
        after = {k: stack.s3.head_object(Bucket=DST, Key=k)["LastModified"] for k in THUMBS}
        assert before == after
        skipped = [line for line in stack.log_lines() if line.get("outcome") == "skipped"]
        assert skipped[-1]["reason"] == "thumbnails are current"

    def test_newer_source_version_replaces(self, stack: Stack) -> None:
        app = stack.app()
        first = stack.upload(KEY)
        app.handle(s3_event("s3-object-created-put.json", KEY, **first))
        second = stack.upload(KEY, jpeg((100, 300), "orange"))
        assert second["etag"] != first["etag"]
        app.handle(s3_event("s3-object-created-put.json", KEY, **second))
        assert stack.renderer.calls == 2
        head = stack.s3.head_object(Bucket=DST, Key=THUMBS[0])
        assert head["Metadata"]["source-etag"] == second["etag"]


class TestFailures:
    def test_partial_batch_reports_only_transient_failures(self, stack: Stack) -> None:
        good = stack.upload("good.jpg")
        bad = stack.upload("broken.jpg", b"this is not an image at all")
        slow = stack.upload("slow.jpg")
        stack.failing["slow.jpg"] = "SlowDown"
        event = sqs_event(
            s3_event("s3-object-created-put.json", "good.jpg", **good),
            s3_event("s3-object-created-put.json", "broken.jpg", **bad),
            s3_event("s3-object-created-put.json", "slow.jpg", **slow),
            "not json",
        )
        result = stack.app().handle(event)
        # Only the throttled record comes back; the broken file and the junk message are
        # permanent: reported once and acknowledged.
        assert result == {"batchItemFailures": [{"itemIdentifier": "message-2"}]}
        assert stack.thumbnails() == ["thumbnails/good_128x128.jpg", "thumbnails/good_64x64.jpg"]

    def test_records_are_handed_back_when_time_runs_out(self, stack: Stack) -> None:
        bodies = []
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            bodies.append(s3_event("s3-object-created-put.json", name, **stack.upload(name)))

        class Context:
            aws_request_id = "req-t"

            def __init__(self) -> None:
                self.remaining = [60_000, 60_000]

            def get_remaining_time_in_millis(self) -> int:
                return self.remaining.pop(0)

        context = Context()
        assert stack.app().handle(sqs_event(*bodies), context) == {"batchItemFailures": []}
        assert stack.renderer.calls == 3  # plenty of time: nothing deferred

        bodies = [
            s3_event("s3-object-created-put.json", name, **stack.upload(name, jpeg(color="red")))
            for name in ("a.jpg", "b.jpg", "c.jpg")
        ]
        context.remaining = [900, 900]  # under the 1 s floor from the start
        result = stack.app().handle(sqs_event(*bodies), context)
        # The first record is always processed; the rest come back for another invocation.
        assert result == {
            "batchItemFailures": [{"itemIdentifier": "message-1"}, {"itemIdentifier": "message-2"}]
        }
        assert stack.renderer.calls == 4

    def test_all_transient_batch_reports_every_record(self, stack: Stack) -> None:
        obj = stack.upload("slow.jpg")
        stack.failing["slow.jpg"] = "ServiceUnavailable"
        body = s3_event("s3-object-created-put.json", "slow.jpg", **obj)
        result = stack.app().handle(sqs_event(body, body))
        assert result == {
            "batchItemFailures": [{"itemIdentifier": "message-0"}, {"itemIdentifier": "message-1"}]
        }

    def test_permanent_failure_marker_sns_and_email(self, stack: Stack) -> None:
        bad = stack.upload("uploads/broken.jpg", b"GIF89a-truncated")
        stack.app().handle(
            sqs_event(s3_event("s3-object-created-put.json", "uploads/broken.jpg", **bad)),
            type("Context", (), {"aws_request_id": "req-123"})(),
        )
        marker = json.loads(
            stack.s3.get_object(Bucket=DST, Key="failed/uploads/broken.jpg.json")["Body"].read()
        )
        assert marker["source"] == {
            "bucket": SRC,
            "key": "uploads/broken.jpg",
            "version_id": None,
            "etag": bad["etag"],
        }
        assert marker["kind"] in {"corrupt", "unsupported"}
        assert marker["message"]
        assert marker["request_id"] == "req-123"
        assert marker["time"].endswith("+00:00")

        (notification,) = stack.messages(stack.topic_queue_url)
        assert notification["Subject"] == f"Thumbnail failed ({marker['kind']}): broken.jpg"
        assert f"s3://{SRC}/uploads/broken.jpg" in notification["Message"]
        assert "failed/uploads/broken.jpg.json" in notification["Message"]
        assert notification["MessageAttributes"]["kind"]["Value"] == marker["kind"]

        (email,) = sent_emails()
        assert email.source == SENDER
        assert email.destinations["ToAddresses"] == [RECIPIENT]
        assert email.subject == notification["Subject"]
        assert "will not be retried" in email.body

        (event,) = stack.messages(stack.bus_queue_url)
        assert event["source"] == "thumbnailer"
        assert event["detail-type"] == "Thumbnail Failed"
        detail = event["detail"]
        assert detail["source"] == {
            "bucket": SRC,
            "key": "uploads/broken.jpg",
            "version_id": None,
            "etag": bad["etag"],
        }
        assert (detail["kind"], detail["message"]) == (marker["kind"], marker["message"])
        assert detail["failure_marker"] == f"s3://{DST}/failed/uploads/broken.jpg.json"
        assert detail["request_id"] == "req-123"
        timings = detail["timings"]
        assert set(timings) == {"get_ms", "render_ms", "put_ms", "total_ms"}
        assert timings["total_ms"] >= timings["get_ms"] > 0  # it was read, then refused
        assert timings["put_ms"] == 0

    def test_an_empty_object_is_a_permanent_failure(
        self, stack: Stack, capsys: pytest.CaptureFixture[str]
    ) -> None:
        empty = stack.upload("uploads/empty.jpg", b"")
        assert empty["size"] == 0
        capsys.readouterr()
        result = stack.app().handle(
            sqs_event(s3_event("s3-object-created-put.json", "uploads/empty.jpg", **empty))
        )
        assert result == {"batchItemFailures": []}  # acknowledged: a retry cannot fill it
        assert metric_counts(capsys.readouterr().out)["Failures:empty"] == 1
        (line,) = [x for x in stack.log_lines() if x.get("outcome") == "failed"]
        assert (line["kind"], line["retryable"], line["level"]) == ("empty", False, "ERROR")
        assert stack.thumbnails() == []
        marker = json.loads(
            stack.s3.get_object(Bucket=DST, Key="failed/uploads/empty.jpg.json")["Body"].read()
        )
        assert (marker["kind"], marker["source"]["etag"]) == ("empty", empty["etag"])
        (notification,) = stack.messages(stack.topic_queue_url)
        assert notification["Subject"] == "Thumbnail failed (empty): empty.jpg"

    def test_duplicate_delivery_of_a_broken_file_notifies_once(self, stack: Stack) -> None:
        bad = stack.upload("broken.jpg", b"not an image")
        app = stack.app()
        event = sqs_event(s3_event("s3-object-created-put.json", "broken.jpg", **bad))
        assert app.handle(event) == app.handle(event) == {"batchItemFailures": []}
        assert len(stack.messages(stack.topic_queue_url)) == 1
        assert len(sent_emails()) == 1

    def test_created_event_on_the_bus(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        stack.app().handle(s3_event("s3-object-created-put.json", KEY, **obj))
        (event,) = stack.messages(stack.bus_queue_url)
        assert event["source"] == "thumbnailer"
        assert event["detail-type"] == "Thumbnail Created"
        detail = event["detail"]
        assert detail["source"]["key"] == KEY
        assert sorted(t["key"] for t in detail["thumbnails"]) == THUMBS
        assert set(detail["timings"]) == {"get_ms", "render_ms", "put_ms", "total_ms"}

    def test_broken_reporting_never_breaks_the_handler(self, stack: Stack) -> None:
        bad = stack.upload("broken.jpg", b"nope")
        app = stack.app(
            SNS_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:missing",
            EVENT_BUS_NAME="missing-bus",
        )
        result = app.handle(sqs_event(s3_event("s3-object-created-put.json", "broken.jpg", **bad)))
        assert result == {"batchItemFailures": []}
        assert stack.s3.head_object(Bucket=DST, Key="failed/broken.jpg.json")

    def test_direct_invocation_raises_on_transient_failure(self, stack: Stack) -> None:
        obj = stack.upload("slow.jpg")
        stack.failing["slow.jpg"] = "SlowDown"
        with pytest.raises(TransientError) as info:
            stack.app().handle(s3_event("s3-object-created-put.json", "slow.jpg", **obj))
        assert "slow.jpg" in info.value.message

    def test_direct_invocation_returns_on_permanent_failure(self, stack: Stack) -> None:
        obj = stack.upload("denied.jpg")
        stack.failing["denied.jpg"] = "AccessDenied"
        result = stack.app().handle(s3_event("s3-object-created-put.json", "denied.jpg", **obj))
        assert result["failed"] == 1
        assert result["outcomes"][0]["kind"] == "access_denied"


class TestGuards:
    def test_thumbnail_events_are_never_processed(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        stack.app().handle(s3_event("s3-object-created-put.json", KEY, **obj))
        before = {k: stack.s3.head_object(Bucket=DST, Key=k)["ETag"] for k in THUMBS}
        # A trigger misconfigured on the destination bucket, with no source bucket and no
        # exclude prefix to stop it: the thumbnail prefix alone keeps the function from
        # reading its own output.
        app = stack.app(SOURCE_BUCKET="")
        calls = stack.s3_calls()
        result = app.handle(s3_event("s3-object-created-put.json", THUMBS[0], bucket=DST))
        assert result["skipped"] == 1
        assert result["outcomes"][0]["reason"] == "under the thumbnail prefix"
        assert calls.calls == []  # not even a HEAD, and nothing written
        assert stack.renderer.calls == 1
        assert {k: stack.s3.head_object(Bucket=DST, Key=k)["ETag"] for k in THUMBS} == before

    def test_filters_skip_without_reading(
        self, stack: Stack, capsys: pytest.CaptureFixture[str]
    ) -> None:
        obj = stack.upload("notes.TXT")
        app = stack.app(INCLUDE_SUFFIXES=".jpg,.png")
        calls = stack.s3_calls()
        capsys.readouterr()
        result = app.handle(s3_event("s3-object-created-put.json", "notes.TXT", **obj))
        assert result["outcomes"][0]["reason"] == "suffix not included"
        assert stack.renderer.calls == 0
        assert calls.calls == []
        counts = metric_counts(capsys.readouterr().out)
        assert counts["Skipped"] == 1
        assert counts["ObjectsCreated"] == 0


class TestSizeLimit:
    @pytest.mark.parametrize("shape", ["batch-1.0", "batch-2.0", "eventbridge", "sqs-eventbridge"])
    def test_an_event_without_a_size_is_refused_from_a_head(self, stack: Stack, shape: str) -> None:
        obj = stack.upload("big.jpg", jpeg((640, 480), "teal"))
        assert obj["size"] > 1000
        app = stack.app(MAX_INPUT_BYTES="1000")
        without_size = eventbridge_event("eventbridge-object-created.json", "big.jpg", **obj)
        del without_size["detail"]["object"]["size"]  # no size stated, as in no Batch task
        event = {
            "batch-1.0": lambda: batch_event("1.0", "big.jpg"),
            "batch-2.0": lambda: batch_event("2.0", "big.jpg"),
            "eventbridge": lambda: without_size,
            "sqs-eventbridge": lambda: sqs_event(without_size),
        }[shape]()
        calls = stack.s3_calls()
        result = app.handle(event)

        assert ("HeadObject", "big.jpg") in calls.calls  # the size came from a HEAD
        assert calls.count("GetObject") == 0  # and the object was never downloaded
        assert stack.renderer.calls == 0
        if shape.startswith("batch"):
            (answer,) = result["results"]
            assert answer["resultCode"] == "PermanentFailure"
            assert answer["resultString"].startswith("too_large: ")
        elif shape == "eventbridge":
            assert (result["failed"], result["outcomes"][0]["kind"]) == (1, "too_large")
        else:
            assert result == {"batchItemFailures": []}
        marker = json.loads(
            stack.s3.get_object(Bucket=DST, Key="failed/big.jpg.json")["Body"].read()
        )
        assert marker["kind"] == "too_large"
        assert f"{obj['size']} bytes is over the 1000-byte limit" in marker["message"]
        (notification,) = stack.messages(stack.topic_queue_url)
        assert notification["Subject"] == "Thumbnail failed (too_large): big.jpg"


class TestInMemory:
    def test_the_source_is_read_into_memory_not_into_a_temporary_file(
        self, stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        obj = stack.upload(KEY)
        app = stack.app()
        temp_root = os.path.realpath(tempfile.gettempdir())
        attempts: list[str] = []

        def refuse(what: str) -> Callable[..., Any]:
            def refused(*args: Any, **kwargs: Any) -> Any:
                attempts.append(what)
                raise PermissionError(f"{what}: no temporary files in this test")

            return refused

        for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile"):
            monkeypatch.setattr(tempfile, name, refuse(f"tempfile.{name}"))
        monkeypatch.setattr(tempfile, "TemporaryDirectory", refuse("tempfile.TemporaryDirectory"))
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
        for name in ("download_file", "download_fileobj"):
            monkeypatch.setattr(stack.s3, name, refuse(f"s3.{name}"))
        real_open = builtins.open

        def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
                path = os.path.realpath(os.fspath(file))
                if os.path.commonpath([path, temp_root]) == temp_root:
                    attempts.append(f"open({path!r}, {mode!r})")
                    raise PermissionError(f"{path}: no temporary files in this test")
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(io, "open", guarded_open)

        result = app.handle(sqs_event(s3_event("s3-object-created-put.json", KEY, **obj)))
        assert attempts == []
        assert result == {"batchItemFailures": []}
        assert stack.thumbnails() == THUMBS


class TestBatchOperations:
    @pytest.mark.parametrize("version", ["1.0", "2.0"])
    def test_result_codes(self, stack: Stack, version: str) -> None:
        stack.upload("ok.jpg")
        stack.upload("broken.jpg", b"garbage")
        stack.upload("slow.jpg")
        stack.failing["slow.jpg"] = "SlowDown"
        event = batch_event(version, "ok.jpg", "broken.jpg", "slow.jpg", "missing.jpg")
        result = stack.app().handle(event)
        assert result["invocationSchemaVersion"] == version
        assert result["invocationId"] == event["invocationId"]
        assert result["treatMissingKeysAs"] == "PermanentFailure"
        codes = {r["taskId"]: r["resultCode"] for r in result["results"]}
        assert codes == {
            "task-0": "Succeeded",
            "task-1": "PermanentFailure",
            "task-2": "TemporaryFailure",
            "task-3": "PermanentFailure",
        }
        assert "not_found" in result["results"][3]["resultString"]

    def test_second_run_skips(self, stack: Stack) -> None:
        stack.upload("ok.jpg")
        app = stack.app()
        app.handle(batch_event("2.0", "ok.jpg"))
        result = app.handle(batch_event("2.0", "ok.jpg"))
        assert result["results"][0]["resultString"] == "skipped: thumbnails are current"
        assert stack.renderer.calls == 1


class TestObservability:
    def test_one_structured_log_line_per_object(self, stack: Stack) -> None:
        obj = stack.upload(KEY)
        context = type("Context", (), {"aws_request_id": "req-9"})()
        stack.app().handle(s3_event("s3-object-created-put.json", KEY, **obj), context)
        (line,) = [x for x in stack.log_lines() if "outcome" in x]
        assert line["level"] == "INFO"
        assert (line["bucket"], line["key"], line["outcome"]) == (SRC, KEY, "created")
        assert line["request_id"] == "req-9"
        assert line["source_bytes"] == obj["size"]
        # 320x200 fits 64x64 as 64x40 and 128x128 as 128x80
        assert {(t["width"], t["height"]) for t in line["thumbnails"]} == {(64, 40), (128, 80)}
        for stage in ("get_ms", "render_ms", "put_ms", "total_ms"):
            assert line[stage] >= 0

    def test_emf_metrics(self, stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        good = stack.upload("good.jpg")
        bad = stack.upload("bad.jpg", b"junk")
        capsys.readouterr()
        stack.app().handle(
            sqs_event(
                s3_event("s3-object-created-put.json", "good.jpg", **good),
                s3_event("s3-object-created-put.json", "bad.jpg", **bad),
            )
        )
        documents = [
            json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
        ]
        main = next(d for d in documents if "ThumbnailsCreated" in d)
        assert main["ThumbnailsCreated"] == [2.0]
        assert main["Skipped"] == [0.0]
        assert len(main["Duration"]) == 2  # one per object
        failures = next(d for d in documents if "Failures" in d)
        assert failures["Failures"] == [1.0]
        assert failures["kind"] in {"corrupt", "unsupported"}
        assert failures["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ThumbnailerTest"


class TestEntryPoint:
    def test_handler_reads_settings_once_per_cold_start(
        self, stack: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("THUMBNAILER_DESTINATION_BUCKET", DST)
        monkeypatch.setenv("THUMBNAILER_SOURCE_BUCKET", SRC)
        aws_lambda.reset()
        try:
            obj = stack.upload(KEY)
            result = aws_lambda.handler(s3_event("s3-object-created-put.json", KEY, **obj), None)
            assert result["created"] == 1
            first = aws_lambda._app
            monkeypatch.setenv("THUMBNAILER_DESTINATION_BUCKET", "changed")
            aws_lambda.handler(load("s3-test-event.json"), None)
            assert aws_lambda._app is first  # not re-read within the container
        finally:
            aws_lambda.reset()

    def test_bad_settings_raise_a_clear_config_error(
        self, stack: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("THUMBNAILER_DESTINATION_BUCKET", DST)
        monkeypatch.setenv("THUMBNAILER_SIZES", "huge")
        aws_lambda.reset()
        try:
            with pytest.raises(ConfigError) as info:
                aws_lambda.handler(load("s3-test-event.json"), None)
            assert "invalid size 'huge'" in info.value.message
            assert aws_lambda._app is None
        finally:
            aws_lambda.reset()

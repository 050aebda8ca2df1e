"""Reporting: message content, channel selection, and failures that never escape."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from thumbnailer.errors import CorruptImage
from thumbnailer.events import ObjectRef
from thumbnailer.pipeline import META_MARKER, Outcome, Status, WrittenThumbnail
from thumbnailer.reporting import Reporter, failure_marker, failure_message
from thumbnailer.settings import Settings
from thumbnailer.storage import LocalStore


class RecordingClient:
    """Records calls; raises if told to."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]], error: Exception | None) -> None:
        self.calls = calls
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> dict[str, Any]:
            if self.error is not None:
                raise self.error
            self.calls.append((name, kwargs))
            return {"FailedEntryCount": 0, "Entries": [{}]}

        return call


def failed(key: str = "a/broken photo.jpg") -> Outcome:
    return Outcome(
        ObjectRef("src", key, etag="abc"),
        Status.FAILED,
        error=CorruptImage("JPEG data ends early"),
    )


def reporter(
    tmp_path: Path, error: Exception | None = None, **changes: Any
) -> tuple[Reporter, list[tuple[str, dict[str, Any]]], LocalStore]:
    values: dict[str, Any] = {
        "destination_bucket": "dst",
        "sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:t",
        "ses_sender": "from@example.com",
        "ses_recipients": ("to@example.com",),
        "event_bus_name": "bus",
    }
    values.update(changes)
    calls: list[tuple[str, dict[str, Any]]] = []
    store = LocalStore(tmp_path)
    r = Reporter(Settings(**values), store, client_factory=lambda _: RecordingClient(calls, error))
    return r, calls, store


def test_marker_document() -> None:
    doc = failure_marker(failed(), "req-1")
    assert doc["source"] == {"bucket": "src", "key": "a/broken photo.jpg", "version_id": None,
                             "etag": "abc"}  # fmt: skip
    assert (doc["kind"], doc["message"], doc["request_id"]) == (
        "corrupt",
        "JPEG data ends early",
        "req-1",
    )


def test_subject_is_short_and_human() -> None:
    subject, body = failure_message(failed(), "req-1", "s3://dst/failed/x.json")
    assert subject == "Thumbnail failed (corrupt): broken photo.jpg"
    assert "s3://src/a/broken photo.jpg" in body
    assert "Reason: corrupt: JPEG data ends early" in body
    assert "s3://dst/failed/x.json" in body
    long_subject, _ = failure_message(failed("x" * 300 + ".jpg"), "", None)
    assert len(long_subject) == 99  # SNS: "less than 100 characters long"
    assert long_subject.endswith("…")


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("scans/Q3\nreport v2.jpg", "Q3?report v2.jpg"),
        ("tab\there.jpg", "tab?here.jpg"),
        ("bell\x07\x7f\x85.jpg", "bell???.jpg"),
        ("para\u2028graph.jpg", "para?graph.jpg"),
    ],
)
def test_control_characters_never_reach_a_subject(key: str, name: str) -> None:
    subject, body = failure_message(failed(key), "req-1", f"s3://dst/failed/{key}.json")
    # SNS refuses subjects with line breaks or control characters: the alert would be lost.
    assert subject == f"Thumbnail failed (corrupt): {name}"
    assert subject.isprintable()
    # The body keeps the exact key, escaped, and every line is still one line.
    quoted = json.dumps(f"s3://src/{key}", ensure_ascii=False)
    for char in ("\x7f", "\x85", "\u2028"):
        quoted = quoted.replace(char, f"\\u{ord(char):04x}")
    assert f"No thumbnails could be made for {quoted}." in body
    assert json.loads(quoted) == f"s3://src/{key}"
    assert all(line.isprintable() for line in body.splitlines())
    assert len(body.splitlines()) == 8


def test_keys_without_control_characters_are_shown_as_they_are() -> None:
    _, body = failure_message(failed('a/"quoted" \\ 日本.jpg'), "req-1", None)
    assert 'No thumbnails could be made for s3://src/a/"quoted" \\ 日本.jpg.' in body


def test_the_email_subject_is_the_clean_one(tmp_path: Path) -> None:
    r, calls, _ = reporter(tmp_path)
    r.failed(failed("in\nbox.jpg"), "req-1")
    subjects = {
        "publish": calls[0][1]["Subject"],
        "send_email": calls[1][1]["Message"]["Subject"]["Data"],
    }
    assert subjects == dict.fromkeys(subjects, "Thumbnail failed (corrupt): in?box.jpg")


def test_every_configured_channel_is_used(tmp_path: Path) -> None:
    r, calls, store = reporter(tmp_path)
    r.failed(failed(), "req-1")
    assert [name for name, _ in calls] == ["publish", "send_email", "put_events"]
    marker = store.get("dst", "failed/a/broken photo.jpg.json")
    assert json.loads(marker.data)["kind"] == "corrupt"
    assert marker.info.metadata[META_MARKER] == "1"  # never processed as a source
    entry = calls[2][1]["Entries"][0]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "thumbnailer",
        "Thumbnail Failed",
        "bus",
    )


def test_unconfigured_channels_are_silent(tmp_path: Path) -> None:
    r, calls, store = reporter(
        tmp_path, sns_topic_arn="", ses_sender="", ses_recipients=(), event_bus_name="",
        failure_prefix="",
    )  # fmt: skip
    r.failed(failed(), "req-1")
    r.created(Outcome(ObjectRef("src", "k.jpg"), Status.CREATED), "req-1")
    assert calls == []
    assert list(store.list("dst")) == []


def test_created_event(tmp_path: Path) -> None:
    r, calls, _ = reporter(tmp_path)
    thumb = WrittenThumbnail("dst", "thumbnails/k_1x1.jpg", 1, 1, 10, "image/jpeg")
    r.created(Outcome(ObjectRef("src", "k.jpg"), Status.CREATED, thumbnails=(thumb,)), "r")
    ((name, kwargs),) = calls
    detail = json.loads(kwargs["Entries"][0]["Detail"])
    assert name == "put_events"
    assert detail["thumbnails"][0]["key"] == "thumbnails/k_1x1.jpg"


def test_channel_failures_are_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    r, _, store = reporter(tmp_path, error=RuntimeError("endpoint down"))
    with caplog.at_level(logging.WARNING):
        r.failed(failed(), "req-1")
    channels = [m for m in caplog.messages if "endpoint down" in m]
    assert len(channels) == 3  # SNS, SES and EventBridge each logged; none raised
    assert store.head("dst", "failed/a/broken photo.jpg.json")  # the marker still landed


def test_a_failure_is_reported_once_per_source_version(tmp_path: Path) -> None:
    r, calls, _ = reporter(tmp_path)
    r.failed(failed(), "req-1")
    r.failed(failed(), "req-2")  # the same event delivered again
    assert [name for name, _ in calls] == ["publish", "send_email", "put_events"]
    newer = failed()
    newer.ref = ObjectRef("src", newer.ref.key, etag="def")  # a new upload, broken again
    r.failed(newer, "req-3")
    assert len(calls) == 6


def test_without_markers_every_failure_is_reported(tmp_path: Path) -> None:
    r, calls, _ = reporter(tmp_path, failure_prefix="")
    r.failed(failed(), "req-1")
    r.failed(failed(), "req-2")
    assert len(calls) == 6

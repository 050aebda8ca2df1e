"""Every accepted envelope → :class:`ObjectRef` values.

Accepted: S3 notifications (direct, or as an SQS message body, or inside an SNS notification
in an SQS body), EventBridge ``Object Created`` / ``Object Deleted`` events (direct or as an SQS
body), ``s3:TestEvent`` (no references) and S3 Batch Operations invocations (schema 1.0/2.0).

Keys: S3 notifications and Batch Operations URL-encode keys (``red flower.jpg`` arrives as
``red+flower.jpg``, a real ``+`` as ``%2B``); EventBridge does not. :func:`decode_key` is the
one place that decodes, and it is applied only to the encoded envelopes. Powertools' data
classes decode EventBridge keys too, which would turn a real ``+`` into a space, so keys are
read raw from the wrapped dicts and never through their ``key`` properties.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import (
    EventBridgeEvent,
    S3BatchOperationEvent,
    S3Event,
    SQSRecord,
)

from thumbnailer.events.exceptions import InvalidEvent
from thumbnailer.events.types import Action, BatchInvocation, BatchTask, EventKind, ObjectRef

__all__ = [
    "classify",
    "decode_key",
    "parse_batch_operations",
    "parse_body",
    "parse_eventbridge",
    "parse_s3_notification",
    "parse_sqs_record",
]

_EVENTBRIDGE_ACTIONS = {"Object Created": Action.CREATED, "Object Deleted": Action.DELETED}


def decode_key(raw: str) -> str:
    """Decode a URL-encoded key from an S3 notification or a Batch Operations task."""
    return unquote_plus(raw, encoding="utf-8")


def classify(event: Mapping[str, Any]) -> EventKind:
    """Tell which envelope a Lambda invocation event is."""
    if "invocationSchemaVersion" in event and "tasks" in event:
        return EventKind.BATCH_OPERATIONS
    if event.get("Event") == "s3:TestEvent":
        return EventKind.TEST
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource")
        if source == "aws:sqs":
            return EventKind.SQS
        if source == "aws:s3":
            return EventKind.S3
    if "detail-type" in event and "detail" in event:
        return EventKind.EVENTBRIDGE
    return EventKind.UNKNOWN


def _etag(value: Any) -> str | None:
    return str(value).strip('"') or None if value else None


def _size(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _notification_action(event_name: str) -> Action | None:
    # Restore, replication, tagging, ACL and lifecycle-transition events change no pixels.
    if event_name.startswith(("ObjectCreated:", "s3:ObjectCreated:")):
        return Action.CREATED
    if event_name.startswith(("ObjectRemoved:", "s3:ObjectRemoved:", "LifecycleExpiration:")):
        return Action.DELETED
    return None


def parse_s3_notification(event: Mapping[str, Any]) -> list[ObjectRef]:
    """References in an S3 notification (``{"Records": [...]}``); a test event gives none."""
    if event.get("Event") == "s3:TestEvent":
        return []
    if not isinstance(event.get("Records"), list):
        raise InvalidEvent("S3 notification without a Records list")
    refs = []
    try:
        for record in S3Event(dict(event)).records:
            action = _notification_action(record.event_name)
            if action is None:
                continue
            obj = record.s3.get_object
            refs.append(
                ObjectRef(
                    bucket=record.s3.bucket.name,
                    key=decode_key(obj["key"]),
                    action=action,
                    version_id=obj.get("versionId") or None,
                    etag=_etag(obj.get("eTag")),
                    size=_size(obj.get("size")),
                    event_time=_time(record.get("eventTime")),
                )
            )
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidEvent(f"S3 notification record without {exc}") from exc
    return refs


def parse_eventbridge(event: Mapping[str, Any]) -> list[ObjectRef]:
    """The reference in an S3 EventBridge event; other detail types give none."""
    wrapped = EventBridgeEvent(dict(event))
    try:
        action = _EVENTBRIDGE_ACTIONS.get(wrapped.detail_type)
        if wrapped.source != "aws.s3" or action is None:
            return []
        detail = wrapped.detail
        obj = detail["object"]
        return [
            ObjectRef(
                bucket=detail["bucket"]["name"],
                key=obj["key"],  # EventBridge keys are not URL-encoded
                action=action,
                version_id=obj.get("version-id") or None,
                # AWS documents `etag`; some emulators send `eTag`, as S3 notifications do.
                etag=_etag(obj.get("etag", obj.get("eTag"))),
                size=_size(obj.get("size")),
                event_time=_time(wrapped.get("time")),
            )
        ]
    except (KeyError, TypeError) as exc:
        raise InvalidEvent(f"EventBridge S3 event without {exc}") from exc


def parse_body(body: str) -> list[ObjectRef]:
    """References in an SQS message body: S3 notification, EventBridge event, or SNS-wrapped."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"message body is not JSON: {body[:80]!r}") from exc
    if not isinstance(message, Mapping):
        raise InvalidEvent("message body is not a JSON object")
    if message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        return parse_body(message["Message"])  # S3 → SNS → SQS fan-out
    kind = classify(message)
    if kind in (EventKind.S3, EventKind.TEST):
        return parse_s3_notification(message)
    if kind is EventKind.EVENTBRIDGE:
        return parse_eventbridge(message)
    raise InvalidEvent("message body is neither an S3 notification nor an EventBridge event")


def parse_sqs_record(record: Mapping[str, Any]) -> list[ObjectRef]:
    """References in one SQS record of a Lambda SQS event."""
    return parse_body(SQSRecord(dict(record)).body)


def parse_batch_operations(event: Mapping[str, Any]) -> BatchInvocation:
    """An S3 Batch Operations invocation, schema 1.0 (bucket ARN) or 2.0 (bucket name)."""
    wrapped = S3BatchOperationEvent(dict(event))
    try:
        version = wrapped.invocation_schema_version
        if version not in ("1.0", "2.0"):
            raise InvalidEvent(f"S3 Batch Operations schema {version!r} is not 1.0 or 2.0")
        tasks = tuple(
            BatchTask(
                task_id=task.task_id,
                ref=ObjectRef(
                    bucket=task.s3_bucket,
                    key=decode_key(task["s3Key"]),
                    version_id=task.s3_version_id or None,
                    etag=_etag(task.get("s3Etag")),
                ),
            )
            for task in wrapped.tasks
        )
        return BatchInvocation(
            schema_version=version,
            invocation_id=wrapped.invocation_id,
            job_id=wrapped.job.get_id,
            tasks=tasks,
        )
    except (KeyError, TypeError) as exc:
        raise InvalidEvent(f"S3 Batch Operations invocation without {exc}") from exc

"""Every accepted envelope → :class:`Parsed` object references.

Accepted: S3 notifications (direct, or as an SQS message body, or inside an SNS notification
in an SQS body), EventBridge ``Object Created`` / ``Object Deleted`` events (direct or as an SQS
body), ``s3:TestEvent`` (no references) and S3 Batch Operations invocations (schema 1.0/2.0).

Keys: S3 notifications and Batch Operations URL-encode keys (``red flower.jpg`` arrives as
``red+flower.jpg``, a real ``+`` as ``%2B``); EventBridge does not. :func:`decode_key` is the
one place that decodes, and it is applied only to the encoded envelopes.

Events are untrusted input: every field is read raw from the dicts and checked for its type
(Powertools' data classes assume well-formed events, and decode EventBridge keys too, which
would turn a real ``+`` into a space). Parsing an envelope gives its references or raises
:class:`InvalidEvent` for that envelope alone, whatever the input; references always carry
non-empty keys and bucket names that S3 could hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from thumbnailer.errors import InternalError
from thumbnailer.events.exceptions import InvalidEvent
from thumbnailer.events.types import (
    Action,
    BatchInvocation,
    BatchTask,
    EventKind,
    ObjectRef,
    Parsed,
)
from thumbnailer.storage.base import MAX_KEY_BYTES

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
_BATCH_SCHEMAS = ("1.0", "2.0")
_TEST_EVENT = "s3:TestEvent"
_MISSING = object()
_SHOWN = 80  # characters of a hostile value quoted in a message
_ETAG_MAX = 64
_BUCKET_MAX = 255  # legacy us-east-1 names; 63 since 2018


def _short(value: object) -> str:
    """A bounded ``repr`` of a value from an event, for messages and logs."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _describe(value: object) -> str:
    """What an unexpected value is, in words (``null``, ``empty``, ``a number (5)``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        if not value:
            return "empty"
        return f"a string ({_short(value)})" if _is_text(value) else "text that is not UTF-8"
    kinds = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }
    return kinds.get(type(value), type(value).__name__) + f" ({_short(value)})"


def _wrong(what: str, name: str, value: object, expected: str) -> InvalidEvent:
    """The error for field ``name`` of ``what`` holding ``value`` instead of ``expected``."""
    if value is _MISSING:
        return InvalidEvent(f"{what} has no {name!r}")
    return InvalidEvent(f"{what}: {name!r} is {_describe(value)}, not {expected}")


def _is_text(value: object) -> bool:
    """True for a non-empty string that UTF-8 can encode (JSON may carry lone surrogates)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _mapping(container: Mapping[str, Any], name: str, what: str) -> Mapping[str, Any]:
    """The JSON object ``container[name]``, or :class:`InvalidEvent` naming ``what``."""
    value = container.get(name, _MISSING)
    if not isinstance(value, Mapping):
        raise _wrong(what, name, value, "an object")
    return value


def _text(container: Mapping[str, Any], name: str, what: str) -> str:
    """The required non-empty string ``container[name]``."""
    value = container.get(name, _MISSING)
    if not _is_text(value):
        raise _wrong(what, name, value, "a non-empty string")
    return str(value)


def _optional_text(container: Mapping[str, Any], name: str, what: str) -> str | None:
    """The string ``container[name]`` when present; absent, null and ``""`` give ``None``."""
    value = container.get(name)
    if value is None or value == "":
        return None
    if not _is_text(value):
        raise _wrong(what, name, value, "a string")
    return str(value)


def _bucket(container: Mapping[str, Any], name: str, what: str) -> str:
    """A bucket name from an event: a non-empty string of a length S3 allows."""
    bucket = _text(container, name, what)
    if len(bucket) > _BUCKET_MAX:
        raise InvalidEvent(f"{what}: a {len(bucket)}-character bucket name (S3 allows 255)")
    return bucket


def _key(raw: str, what: str, *, encoded: bool) -> str:
    """An object key from an event, decoded if ``encoded``; one S3 could hold, or invalid."""
    key = decode_key(raw) if encoded else raw
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidEvent(f"{what}: a {len(key.encode())}-byte key (S3 keys are 1024 at most)")
    return key


@contextmanager
def _unforeseen_is_internal(what: str) -> Iterator[None]:
    """Let :class:`InvalidEvent` through; make any other exception while reading ``what`` an
    :class:`InternalError`.

    The checks above cover every malformed shape we know of, so another exception is a defect
    of this parser, not of the event: retried, it ends in the dead-letter queue (and its
    traceback in the log) instead of being acknowledged as invalid and lost. It still fails
    only its own envelope, never a whole batch.
    """
    try:
        yield
    except (InvalidEvent, InternalError):
        raise
    except Exception as exc:
        message = f"{what} could not be read: {type(exc).__name__}: {exc}"
        raise InternalError(message[:300]) from exc


def decode_key(raw: str) -> str:
    """Decode a URL-encoded key from an S3 notification or a Batch Operations task.

    S3 encodes keys as UTF-8: escapes that do not decode as UTF-8 were not written by S3, and
    raise :class:`InvalidEvent` rather than name an object with U+FFFD in its key.
    """
    try:
        return unquote_plus(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"key {_short(raw)} has percent-escapes that are not UTF-8") from exc


def classify(event: object) -> EventKind:
    """Tell which envelope a Lambda invocation event is (any JSON value is accepted)."""
    if not isinstance(event, Mapping):
        return EventKind.UNKNOWN
    if "invocationSchemaVersion" in event and ("tasks" in event or "invocationId" in event):
        return EventKind.BATCH_OPERATIONS
    if event.get("Event") == _TEST_EVENT:
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


def _etag(value: str | None) -> str | None:
    """The ETag an event states, unquoted; one no S3 object could have means "ask S3"."""
    etag = value.strip('"') if value else ""
    # An MD5 in hex, with "-<parts>" for multipart uploads: a few dozen plain characters. A
    # forged one would otherwise travel into every thumbnail's and marker's metadata.
    plain = etag.isascii() and etag.replace("-", "").isalnum()
    return etag if etag and len(etag) <= _ETAG_MAX and plain else None


def _size(value: object) -> int | None:
    """The size an event states; anything but a whole number of bytes means "ask S3"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        try:
            return int(value)
        except ValueError:  # more digits than int() converts
            return None
    return None  # null, floats (1e999 is infinity), lists, garbage: a HEAD tells the truth


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


def _s3_ref(record: Mapping[str, Any], action: Action) -> ObjectRef:
    """The reference in one S3 notification record."""
    what = "S3 notification record"
    s3 = _mapping(record, "s3", what)
    obj = _mapping(s3, "object", what)
    return ObjectRef(
        bucket=_bucket(_mapping(s3, "bucket", what), "name", what + " bucket"),
        key=_key(_text(obj, "key", what + " object"), what, encoded=True),
        action=action,
        version_id=_optional_text(obj, "versionId", what + " object"),
        etag=_etag(_optional_text(obj, "eTag", what + " object")),
        size=_size(obj.get("size")),
        event_time=_time(record.get("eventTime")),
    )


def parse_s3_notification(event: Mapping[str, Any]) -> Parsed:
    """References in an S3 notification (``{"Records": [...]}``); a test event gives none."""
    if event.get("Event") == _TEST_EVENT:
        return Parsed(ignored=(_TEST_EVENT,))
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        raise InvalidEvent("S3 notification without a non-empty Records list")
    refs, ignored = [], []
    with _unforeseen_is_internal("S3 notification"):
        for record in records:
            if not isinstance(record, Mapping):
                raise InvalidEvent(f"S3 notification record is {_describe(record)}, not an object")
            name = _text(record, "eventName", "S3 notification record")
            action = _notification_action(name)
            if action is None:
                ignored.append(f"S3 event {_short(name)} neither creates nor removes an object")
            else:
                refs.append(_s3_ref(record, action))
    return Parsed(tuple(refs), tuple(ignored))


def parse_eventbridge(event: Mapping[str, Any]) -> Parsed:
    """The reference in an S3 EventBridge event; other sources and detail types give none."""
    source, detail_type = event.get("source"), event.get("detail-type")
    action = _EVENTBRIDGE_ACTIONS.get(detail_type) if isinstance(detail_type, str) else None
    if source != "aws.s3" or action is None:
        reason = (
            f"EventBridge {_short(detail_type)} from {_short(source)} is not an S3 object event"
        )
        return Parsed(ignored=(reason,))
    what = "EventBridge S3 event"
    with _unforeseen_is_internal(what):
        detail = _mapping(event, "detail", what)
        obj = _mapping(detail, "object", what)
        # AWS documents `etag`; some emulators send `eTag`, as S3 notifications do.
        etag_field = "etag" if obj.get("etag") is not None else "eTag"
        ref = ObjectRef(
            bucket=_bucket(_mapping(detail, "bucket", what), "name", what + " bucket"),
            key=_key(_text(obj, "key", what + " object"), what, encoded=False),
            action=action,
            version_id=_optional_text(obj, "version-id", what + " object"),
            etag=_etag(_optional_text(obj, etag_field, what + " object")),
            size=_size(obj.get("size")),
            event_time=_time(event.get("time")),
        )
    return Parsed(refs=(ref,))


def parse_body(body: str, *, unwrap_sns: bool = True) -> Parsed:
    """References in an SQS message body: S3 notification, EventBridge event, or SNS-wrapped."""
    try:
        message = json.loads(body)
    except RecursionError as exc:
        raise InvalidEvent("message body is JSON nested too deeply to be an event") from exc
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"message body is not JSON: {body[:80]!r}") from exc
    if not isinstance(message, Mapping):
        raise InvalidEvent("message body is not a JSON object")
    if unwrap_sns and message.get("Type") == "Notification":
        inner = message.get("Message")
        if not isinstance(inner, str):
            raise InvalidEvent("SNS notification without a string Message")
        return parse_body(inner, unwrap_sns=False)  # S3 → SNS → SQS fan-out, one level
    kind = classify(message)
    if kind in (EventKind.S3, EventKind.TEST):
        return parse_s3_notification(message)
    if kind is EventKind.EVENTBRIDGE:
        return parse_eventbridge(message)
    raise InvalidEvent("message body is neither an S3 notification nor an EventBridge event")


def parse_sqs_record(record: object) -> Parsed:
    """References in one SQS record of a Lambda SQS event; any defect is this record's alone."""
    with _unforeseen_is_internal("SQS message"):
        if not isinstance(record, Mapping):
            raise InvalidEvent(f"SQS record is {_describe(record)}, not an object")
        body = record.get("body", _MISSING)
        if not isinstance(body, str):
            raise _wrong("SQS record", "body", body, "a string")
        return parse_body(body)


def _bucket_of(task: Mapping[str, Any], what: str) -> str:
    """The bucket of a Batch Operations task: ``s3BucketArn`` (schema 1.0) or ``s3Bucket``."""
    if task.get("s3BucketArn") is None:
        return _bucket(task, "s3Bucket", what)
    arn = _text(task, "s3BucketArn", what)
    bucket = arn.rpartition(":::")[2]
    if not arn.startswith("arn:") or ":::" not in arn or not bucket or len(bucket) > _BUCKET_MAX:
        raise InvalidEvent(f"{what}: 's3BucketArn' {_short(arn)} is not an S3 bucket ARN")
    return bucket


def _batch_task(task: Mapping[str, Any], task_id: str, problem: str) -> BatchTask:
    """One answerable task: its object, or the reason it names none."""
    what = f"S3 Batch Operations task {_short(task_id)}"
    if problem:
        return BatchTask(task_id, error=InvalidEvent(problem))
    try:
        with _unforeseen_is_internal(what):
            ref = ObjectRef(
                bucket=_bucket_of(task, what),
                key=_key(_text(task, "s3Key", what), what, encoded=True),
                version_id=_optional_text(task, "s3VersionId", what),
                etag=_etag(_optional_text(task, "s3Etag", what)),
            )
    except (InvalidEvent, InternalError) as exc:
        return BatchTask(task_id, error=exc)
    return BatchTask(task_id, ref=ref)


def parse_batch_operations(event: Mapping[str, Any]) -> BatchInvocation:
    """An S3 Batch Operations invocation, schema 1.0 (bucket ARN) or 2.0 (bucket name).

    Every task with a taskId is answerable: a malformed one (or any task of an unknown schema)
    carries its :class:`InvalidEvent` instead of a reference. Only an invocation that cannot be
    answered at all (no invocationId, no tasks list) raises.
    """
    with _unforeseen_is_internal("S3 Batch Operations invocation"):
        invocation_id = _text(event, "invocationId", "S3 Batch Operations invocation")
        tasks = event.get("tasks", _MISSING)
        if not isinstance(tasks, list):
            raise _wrong("S3 Batch Operations invocation", "tasks", tasks, "a list")
        version = event.get("invocationSchemaVersion")
        problem = (
            ""
            if version in _BATCH_SCHEMAS
            else f"S3 Batch Operations schema {_short(version)} is not 1.0 or 2.0"
        )
        job = event.get("job")
        job_id = job.get("id") if isinstance(job, Mapping) else None
        answered, unanswerable = [], []
        for index, task in enumerate(tasks):
            task_id = task.get("taskId") if isinstance(task, Mapping) else None
            if not isinstance(task, Mapping) or not _is_text(task_id):
                unanswerable.append(
                    InvalidEvent(f"S3 Batch Operations task #{index} has no taskId to answer with")
                )
                continue
            answered.append(_batch_task(task, str(task_id), problem))
        return BatchInvocation(
            schema_version=version if isinstance(version, str) else json.dumps(version),
            invocation_id=invocation_id,
            job_id=job_id if isinstance(job_id, str) else "",
            tasks=tuple(answered),
            unanswerable=tuple(unanswerable),
        )

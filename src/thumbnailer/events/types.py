"""The typed result of parsing any event envelope: object references and batch tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from thumbnailer.errors import InternalError, InvalidEvent

__all__ = ["Action", "BatchInvocation", "BatchTask", "EventKind", "ObjectRef", "Parsed"]


class Action(StrEnum):
    """What happened to the source object."""

    CREATED = "created"
    DELETED = "deleted"


class EventKind(StrEnum):
    """The envelope a Lambda invocation arrived in."""

    SQS = "sqs"
    S3 = "s3"
    EVENTBRIDGE = "eventbridge"
    BATCH_OPERATIONS = "batch_operations"
    TEST = "s3_test"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ObjectRef:
    """One source object an event talks about; ``key`` is always decoded (the real key)."""

    bucket: str
    key: str
    action: Action = Action.CREATED
    version_id: str | None = None
    etag: str | None = None  # without the surrounding quotes S3 puts on HTTP headers
    size: int | None = None
    event_time: datetime | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Parsed:
    """What one event envelope asks for: its objects, and the records it names none in."""

    refs: tuple[ObjectRef, ...] = ()
    # One reason per record understood but not acted on (a test event, a restore, another
    # EventBridge detail type): such records are logged and counted, never dropped unseen.
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchTask:
    """One S3 Batch Operations task: the id to answer with, and its object or what is wrong."""

    task_id: str
    ref: ObjectRef | None = None
    # Set instead of ``ref`` for a task that names no object (InternalError: a parser defect).
    error: InvalidEvent | InternalError | None = None


@dataclass(frozen=True)
class BatchInvocation:
    """An S3 Batch Operations invocation (schema 1.0 or 2.0; others get every task refused)."""

    schema_version: str  # as received: the answer must repeat it
    invocation_id: str
    job_id: str
    tasks: tuple[BatchTask, ...]
    # Tasks without a usable taskId: no answer can name them (S3 counts them as missing keys).
    unanswerable: tuple[InvalidEvent, ...] = ()

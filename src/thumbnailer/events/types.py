"""The typed result of parsing any event envelope: object references and batch tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["Action", "BatchInvocation", "BatchTask", "EventKind", "ObjectRef"]


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
class BatchTask:
    """One S3 Batch Operations task: the id to answer with and the object it names."""

    task_id: str
    ref: ObjectRef


@dataclass(frozen=True)
class BatchInvocation:
    """An S3 Batch Operations invocation (schema 1.0 or 2.0)."""

    schema_version: str
    invocation_id: str
    job_id: str
    tasks: tuple[BatchTask, ...]

"""Event envelopes → typed object references (:class:`ObjectRef`, grouped in :class:`Parsed`)."""

from thumbnailer.events.build import s3_notification
from thumbnailer.events.exceptions import InvalidEvent
from thumbnailer.events.parse import (
    classify,
    decode_key,
    parse_batch_operations,
    parse_body,
    parse_eventbridge,
    parse_s3_notification,
    parse_sqs_record,
)
from thumbnailer.events.types import (
    Action,
    BatchInvocation,
    BatchTask,
    EventKind,
    ObjectRef,
    Parsed,
)

__all__ = [
    "Action",
    "BatchInvocation",
    "BatchTask",
    "EventKind",
    "InvalidEvent",
    "ObjectRef",
    "Parsed",
    "classify",
    "decode_key",
    "parse_batch_operations",
    "parse_body",
    "parse_eventbridge",
    "parse_s3_notification",
    "parse_sqs_record",
    "s3_notification",
]

"""Object references → the S3 event notification S3 itself would send.

The inverse of parsing, for the tools that play S3's part: back-fill's synthetic events and
the local runner's direct invocations. One builder keeps their events exactly what the handler
parses, key URL-encoded as S3 encodes it.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote_plus

from thumbnailer.events.types import Action, ObjectRef

__all__ = ["s3_notification"]

_EVENT_NAMES = {Action.CREATED: "ObjectCreated:Put", Action.DELETED: "ObjectRemoved:Delete"}


def s3_notification(ref: ObjectRef, region: str, origin: str) -> dict[str, Any]:
    """An S3 event notification for ``ref``; ``origin`` names the sender (principal, config)."""
    obj: dict[str, Any] = {
        "key": quote_plus(ref.key, safe="/"),
        "sequencer": f"{time.time_ns():016X}",
    }
    if ref.action is Action.CREATED:
        obj.update(size=ref.size or 0, eTag=ref.etag or "")
    if ref.version_id:
        obj["versionId"] = ref.version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": _EVENT_NAMES[ref.action],
                "userIdentity": {"principalId": origin},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": origin,
                    "bucket": {"name": ref.bucket, "arn": f"arn:aws:s3:::{ref.bucket}"},
                    "object": obj,
                },
            }
        ]
    }

"""Failures are never silent: failure markers, SNS, SES email and EventBridge events.

Every channel is optional and independent; a channel that fails is logged and the others still
run, so reporting can never turn a handled failure into a crash or a retry.
"""

from __future__ import annotations

import json
import logging
import threading
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from thumbnailer.pipeline import META_SOURCE_ETAG, Outcome, marker_key, thumbnail_metadata
from thumbnailer.settings import Settings
from thumbnailer.storage.base import Store

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sns import SNSClient

__all__ = [
    "EVENT_SOURCE",
    "Reporter",
    "body_text",
    "failure_marker",
    "failure_message",
    "subject_line",
]

EVENT_SOURCE = "thumbnailer"  # `source` of the EventBridge events we put
# SNS refuses a Publish whose subject has line breaks or control characters or is not "less
# than 100 characters long"; the email subject is a mail header, where they do no good either.
_SUBJECT_MAX = 99
_CONTROL = frozenset({"Cc", "Zl", "Zp"})  # C0/C1 controls, DEL, line and paragraph separators

_log = logging.getLogger(__name__)

ClientFactory = Callable[[str], Any]
_META_KIND = "failure-kind"


def _etag(outcome: Outcome) -> str:
    return outcome.source_etag or outcome.ref.etag or ""


def _kind(outcome: Outcome) -> str:
    return outcome.error.kind if outcome.error else "unknown"


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in _CONTROL


def subject_line(text: str) -> str:
    """``text`` as a subject SNS accepts: control characters replaced, at most 99 characters."""
    clean = "".join("?" if _is_control(c) else c for c in text)
    return clean if len(clean) <= _SUBJECT_MAX else clean[: _SUBJECT_MAX - 1] + "…"


def body_text(text: str) -> str:
    """``text`` for a plain-text body: as is, or JSON-escaped when it holds control characters.

    S3 keys may hold line breaks; written raw they would split a line of the message (or forge
    one). Escaped, the exact key can still be read back.
    """
    if not any(_is_control(c) for c in text):
        return text
    escaped = json.dumps(text, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if _is_control(c) else c for c in escaped)


def _default_client(service: str, settings: Settings) -> Any:
    import boto3

    from thumbnailer.storage.s3 import client_config

    return boto3.client(service, config=client_config(settings.retry_mode, settings.max_attempts))  # type: ignore[call-overload]


def failure_marker(
    outcome: Outcome, request_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The JSON document stored under the failure prefix for a permanent failure."""
    error = outcome.error
    ref = outcome.ref
    return {
        "source": {
            "bucket": ref.bucket,
            "key": ref.key,
            "version_id": ref.version_id,
            "etag": outcome.source_etag or ref.etag,
        },
        "kind": error.kind if error else "unknown",
        "message": error.message if error else "",
        "time": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "request_id": request_id,
    }


def failure_message(outcome: Outcome, request_id: str, marker_uri: str | None) -> tuple[str, str]:
    """A short human subject and body for SNS and email.

    The subject is cleaned to what SNS accepts; in the body every value from the event keeps
    its exact text, escaped when it holds control characters (see :func:`body_text`).
    """
    ref = outcome.ref
    kind = outcome.error.kind if outcome.error else "unknown"
    message = outcome.error.message if outcome.error else ""
    name = ref.key.rsplit("/", 1)[-1]
    lines = [
        f"No thumbnails could be made for {body_text(f's3://{ref.bucket}/{ref.key}')}.",
        "",
        f"Reason: {kind}: {body_text(message)}",
        f"Time: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"Request id: {request_id or '-'}",
    ]
    if marker_uri:
        lines.append(f"Failure marker: {body_text(marker_uri)}")
    lines += ["", "This object will not be retried. Upload a fixed file to try again."]
    return subject_line(f"Thumbnail failed ({kind}): {name}"), "\n".join(lines)


class Reporter:
    """Reports outcomes through the channels the settings turn on.

    Clients are built on first use by ``client_factory(service_name)`` (boto3 with the
    settings' retry configuration by default), so tests can inject moto or stubbed clients.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        client_factory: ClientFactory | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self._factory = client_factory or (lambda service: _default_client(service, settings))
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._log = logger or _log

    def _client(self, service: str) -> Any:
        with self._lock:  # clients are built once, even when threads report at once
            if service not in self._clients:
                self._clients[service] = self._factory(service)
            return self._clients[service]

    def _guard(self, channel: str, outcome: Outcome, action: Callable[[], None]) -> bool:
        try:
            action()
        except Exception as exc:  # a reporting channel must never break the handler
            self._log.warning(
                "reporting through %s failed for s3://%s/%s: %s: %s",
                channel,
                outcome.ref.bucket,
                outcome.ref.key,
                type(exc).__name__,
                exc,
            )
            return False
        return True

    def failed(self, outcome: Outcome, request_id: str = "") -> None:
        """Report a permanent failure once: marker, SNS, SES, EventBridge (as configured)."""
        s = self.settings
        marker_uri = None
        key = marker_key(s.failure_prefix, outcome.ref.key)
        if key is not None:
            if self._already_reported(key, outcome):
                # A redelivered event for the same broken version: tell nobody twice.
                self._log.info("failure of s3://%s/%s already reported", outcome.ref.bucket,
                               outcome.ref.key)  # fmt: skip
                return
            if self._guard(
                "failure marker", outcome, lambda: self._put_marker(key, outcome, request_id)
            ):
                marker_uri = f"s3://{s.destination_bucket}/{key}"
        subject, body = failure_message(outcome, request_id, marker_uri)
        if s.sns_topic_arn:
            self._guard("SNS", outcome, lambda: self._publish(subject, body, outcome))
        if s.ses_sender and s.ses_recipients:
            self._guard("SES", outcome, lambda: self._email(subject, body))
        if s.event_bus_name:
            detail = {
                "source": failure_marker(outcome, request_id)["source"],
                "kind": outcome.error.kind if outcome.error else "unknown",
                "message": outcome.error.message if outcome.error else "",
                "failure_marker": marker_uri,
                "request_id": request_id,
                "timings": outcome.timings.as_dict(),
            }
            self._guard("EventBridge", outcome, lambda: self._put_event("Thumbnail Failed", detail))

    def created(self, outcome: Outcome, request_id: str = "") -> None:
        """Put a ``Thumbnail Created`` event when an event bus is configured."""
        if not self.settings.event_bus_name:
            return
        ref = outcome.ref
        detail = {
            "source": {
                "bucket": ref.bucket,
                "key": ref.key,
                "version_id": ref.version_id,
                "etag": outcome.source_etag or ref.etag,
                "bytes": outcome.source_bytes,
            },
            "thumbnails": [t.as_dict() for t in outcome.thumbnails],
            "timings": outcome.timings.as_dict(),
            "request_id": request_id,
        }
        self._guard("EventBridge", outcome, lambda: self._put_event("Thumbnail Created", detail))

    # -- channels -----------------------------------------------------------------------------

    def _already_reported(self, key: str, outcome: Outcome) -> bool:
        try:
            meta = self.store.head(self.settings.destination_bucket, key).metadata
        except Exception:  # absent, or unreadable: report (a duplicate beats silence)
            return False
        return meta.get(META_SOURCE_ETAG, "") == _etag(outcome) and meta.get(_META_KIND) == _kind(
            outcome
        )

    def _put_marker(self, key: str, outcome: Outcome, request_id: str) -> None:
        document = failure_marker(outcome, request_id)
        metadata = thumbnail_metadata(
            outcome.ref,
            _etag(outcome),
            outcome.ref.version_id,
            self.settings.spec,
            extra={_META_KIND: _kind(outcome)},
        )
        self.store.put(
            self.settings.destination_bucket,
            key,
            json.dumps(document, indent=2, ensure_ascii=False).encode(),
            content_type="application/json",
            # Marked like thumbnails so the recursion guard recognises it in any bucket.
            metadata=metadata,
        )

    def _publish(self, subject: str, body: str, outcome: Outcome) -> None:
        sns: SNSClient = self._client("sns")
        kind = outcome.error.kind if outcome.error else "unknown"
        sns.publish(
            TopicArn=self.settings.sns_topic_arn,
            Subject=subject,
            Message=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )

    def _email(self, subject: str, body: str) -> None:
        ses: SESClient = self._client("ses")
        ses.send_email(
            Source=self.settings.ses_sender,
            Destination={"ToAddresses": list(self.settings.ses_recipients)},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
            },
        )

    def _put_event(self, detail_type: str, detail: dict[str, Any]) -> None:
        events: EventBridgeClient = self._client("events")
        response = events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                    "EventBusName": self.settings.event_bus_name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise RuntimeError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")

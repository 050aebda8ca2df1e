"""The Lambda entry point: ``thumbnailer.aws_lambda.handler``.

Accepts SQS batches (bodies: S3 notifications or EventBridge events), S3 notifications and
EventBridge events delivered directly, ``s3:TestEvent`` and S3 Batch Operations invocations.

How failures travel back:

* SQS: only records with a transient failure are listed in ``batchItemFailures``; SQS
  retries them and, after the receive limit, dead-letters them. Permanent failures are
  reported once (marker, SNS, email) and acknowledged.
* Direct S3 / EventBridge (asynchronous invocation): a transient failure raises, so Lambda's
  async retries and on-failure destination apply; otherwise a summary is returned.
* S3 Batch Operations: one result per task, ``Succeeded`` / ``TemporaryFailure`` /
  ``PermanentFailure``.

Settings are read once per cold start. Invalid settings raise
:class:`~thumbnailer.errors.ConfigError` on every invocation (logged with the reason), so
messages stay in the queue, the function's error alarm fires, and nothing is acknowledged.

Importing this module loads Powertools and the settings, not boto3 nor any image decoder:
clients are built on the first invocation, decoders on the first render.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from thumbnailer.errors import ConfigError, ThumbnailerError, TransientError
from thumbnailer.events import (
    EventKind,
    InvalidEvent,
    ObjectRef,
    classify,
    parse_batch_operations,
    parse_eventbridge,
    parse_s3_notification,
    parse_sqs_record,
)
from thumbnailer.pipeline import Outcome, Pipeline, Status
from thumbnailer.settings import Settings

__all__ = ["App", "build_app", "handler", "reset"]

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Thumbnailer")
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "thumbnailer")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_BATCH_CODES = {True: "TemporaryFailure", False: "PermanentFailure"}
_RESULT_MAX = 1024  # Batch Operations copies resultString into its completion report
# An SQS record is not started when the time left is under twice the slowest record so far
# (and at least this floor): deferring it is cheap, being killed mid-batch is not.
TIME_FLOOR_MS = 1_000


def _out_of_time(context: Any, slowest_ms: float) -> bool:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return callable(remaining) and int(remaining()) < max(TIME_FLOOR_MS, 2 * slowest_ms)


class Tally(Counter[str]):
    """Metric counts of one invocation, plus the per-object durations."""

    def __init__(self) -> None:
        super().__init__()
        self.durations: list[float] = []


class App:
    """The handler's state for one container: settings, pipeline, logger, metrics."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        log: Logger | None = None,
        metrics_: Metrics | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.log = log or logger
        self.metrics = metrics_ or metrics

    # -- entry --------------------------------------------------------------------------------

    def handle(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """Process one invocation event and return the response Lambda expects for it."""
        request_id = str(getattr(context, "aws_request_id", "") or "")
        self.log.append_keys(request_id=request_id)
        counts = Tally()
        try:
            kind = classify(event)
            if kind is EventKind.SQS:
                return self._sqs(event, context, request_id, counts)
            if kind is EventKind.BATCH_OPERATIONS:
                return self._batch(event, request_id, counts)
            if kind is EventKind.TEST:
                self.log.info("s3:TestEvent received; nothing to do", extra={"event": "test"})
                counts["Skipped"] += 1
                return {"status": "skipped", "reason": "s3:TestEvent", "processed": 0}
            if kind in (EventKind.S3, EventKind.EVENTBRIDGE):
                return self._direct(event, kind, request_id, counts)
            self.log.warning("unrecognised event ignored", extra={"event_keys": sorted(event)})
            counts["Skipped"] += 1
            return {"status": "ignored", "reason": "unrecognised event"}
        finally:
            self._flush(counts)

    # -- shapes -------------------------------------------------------------------------------

    def _sqs(
        self, event: Mapping[str, Any], context: Any, request_id: str, counts: Tally
    ) -> dict[str, Any]:
        # The partial batch response is written here rather than with Powertools' batch
        # utility: that module alone costs ~30 ms of cold start (it imports asyncio), a fifth of
        # boto3's import, for a dozen lines (see docs/performance.md).
        failures = []
        slowest_ms = 0.0
        for index, record in enumerate(event["Records"]):
            message_id = str(record.get("messageId", ""))
            if index and _out_of_time(context, slowest_ms):
                # Hand the rest back now rather than be killed mid-batch by the timeout.
                failures.append({"itemIdentifier": message_id})
                counts["Deferred"] += 1
                continue
            try:
                refs = parse_sqs_record(record)
            except InvalidEvent as exc:
                # A malformed message never heals: log it and acknowledge it.
                self._invalid(exc, counts, message_id=message_id)
                continue
            started = time.perf_counter()
            if any(o.retryable for o in self._run(refs, request_id, counts)):
                failures.append({"itemIdentifier": message_id})
            slowest_ms = max(slowest_ms, (time.perf_counter() - started) * 1000)
        return {"batchItemFailures": failures}

    def _direct(
        self, event: Mapping[str, Any], kind: EventKind, request_id: str, counts: Tally
    ) -> dict[str, Any]:
        try:
            refs = (parse_s3_notification if kind is EventKind.S3 else parse_eventbridge)(event)
        except InvalidEvent as exc:
            self._invalid(exc, counts)
            return {"status": "invalid", "kind": exc.kind, "message": exc.message}
        outcomes = self._run(refs, request_id, counts)
        retry = [o for o in outcomes if o.retryable]
        if retry:
            # Raising makes Lambda retry the asynchronous invocation (then its failure
            # destination); objects already done are skipped cheaply on the retry.
            raise TransientError(
                f"{len(retry)} of {len(outcomes)} object(s) failed transiently, first: "
                f"{retry[0].ref}: {retry[0].error.message if retry[0].error else ''}"
            )
        return self._summary(outcomes, counts)

    def _batch(self, event: Mapping[str, Any], request_id: str, counts: Tally) -> dict[str, Any]:
        invocation = parse_batch_operations(event)
        results = []
        for task in invocation.tasks:
            (outcome,) = self._run([task.ref], request_id, counts)
            if outcome.status is Status.FAILED and outcome.error is not None:
                code = _BATCH_CODES[outcome.retryable]
                text = f"{outcome.error.kind}: {outcome.error.message}"
            else:
                code = "Succeeded"
                text = outcome.status.value + (f": {outcome.reason}" if outcome.reason else "")
            results.append(
                {"taskId": task.task_id, "resultCode": code, "resultString": text[:_RESULT_MAX]}
            )
        return {
            "invocationSchemaVersion": invocation.schema_version,
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": invocation.invocation_id,
            "results": results,
        }

    # -- helpers ------------------------------------------------------------------------------

    def _run(self, refs: list[ObjectRef], request_id: str, counts: Tally) -> list[Outcome]:
        outcomes = []
        for ref in refs:
            outcome = self.pipeline.process(ref, request_id=request_id)
            self._record(outcome, counts)
            outcomes.append(outcome)
        return outcomes

    def _record(self, outcome: Outcome, counts: Tally) -> None:
        record = outcome.as_log()
        if outcome.status is Status.FAILED:
            level: Callable[..., None] = self.log.warning if outcome.retryable else self.log.error
            counts[f"Failures:{outcome.error.kind if outcome.error else 'unknown'}"] += 1
        else:
            level = self.log.info
        if outcome.status is Status.CREATED:
            counts["ThumbnailsCreated"] += len(outcome.thumbnails)
            counts["ObjectsCreated"] += 1
        elif outcome.status is Status.SKIPPED:
            counts["Skipped"] += 1
        elif outcome.status is Status.DELETED:
            counts["ThumbnailsDeleted"] += len(outcome.deleted)
        counts.durations.append(round(outcome.timings.total_ms, 1))
        level(f"{outcome.status.value} {outcome.ref}", extra=record)

    def _invalid(self, exc: ThumbnailerError, counts: Tally, **extra: Any) -> None:
        counts[f"Failures:{exc.kind}"] += 1
        self.log.error(
            "event ignored: " + exc.message,
            extra={"outcome": "failed", "kind": exc.kind, **extra},
        )

    @staticmethod
    def _summary(outcomes: list[Outcome], counts: Tally) -> dict[str, Any]:
        by_status = Counter(o.status.value for o in outcomes)
        return {
            "status": "ok",
            "processed": len(outcomes),
            **{s.value: by_status.get(s.value, 0) for s in Status},
            "outcomes": [
                {
                    "bucket": o.ref.bucket,
                    "key": o.ref.key,
                    "outcome": o.status.value,
                    **({"reason": o.reason} if o.reason else {}),
                    **({"kind": o.error.kind} if o.error else {}),
                    "thumbnails": [t.key for t in o.thumbnails],
                }
                for o in outcomes
            ],
        }

    def _flush(self, counts: Tally) -> None:
        """Emit this invocation's CloudWatch EMF metrics (one JSON document per group)."""
        m = self.metrics
        m.add_metric(
            name="ThumbnailsCreated", unit=MetricUnit.Count, value=counts["ThumbnailsCreated"]
        )
        m.add_metric(name="ObjectsCreated", unit=MetricUnit.Count, value=counts["ObjectsCreated"])
        m.add_metric(name="Skipped", unit=MetricUnit.Count, value=counts["Skipped"])
        if counts["Deferred"]:
            m.add_metric(name="Deferred", unit=MetricUnit.Count, value=counts["Deferred"])
        if counts["ThumbnailsDeleted"]:
            m.add_metric(
                name="ThumbnailsDeleted", unit=MetricUnit.Count, value=counts["ThumbnailsDeleted"]
            )
        for duration in counts.durations:
            m.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=duration)
        m.flush_metrics()
        # Failures get their own documents: the `kind` dimension must not tag the others.
        for name, count in sorted(counts.items()):
            if name.startswith("Failures:"):
                with single_metric(
                    name="Failures",
                    unit=MetricUnit.Count,
                    value=count,
                    namespace=m.namespace or NAMESPACE,
                    default_dimensions={"service": SERVICE},
                ) as metric:
                    metric.add_dimension(name="kind", value=name[9:])


_app: App | None = None


def build_app(environ: Mapping[str, str] | None = None) -> App:
    """Build the production app from environment variables: S3 store, reporter, pipeline."""
    from thumbnailer.reporting import Reporter
    from thumbnailer.storage.s3 import S3Store, client_config

    settings = Settings.from_env(environ)
    store = S3Store(config=client_config(settings.retry_mode, settings.max_attempts))
    reporter = Reporter(settings, store)
    return App(Pipeline(settings, store, reporter=reporter))


def reset() -> None:
    """Forget the cached app (tests; a new cold start re-reads the environment)."""
    global _app
    _app = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    global _app
    if _app is None:
        started = time.perf_counter()
        try:
            _app = build_app()
        except ConfigError as exc:
            logger.error(
                "invalid settings: " + exc.message,
                extra={"outcome": "config_error", "kind": exc.kind},
            )
            raise
        logger.debug(
            "cold start", extra={"init_ms": round((time.perf_counter() - started) * 1000, 1)}
        )
    return _app.handle(event, context)

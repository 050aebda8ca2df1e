"""The Lambda entry point: ``thumbnailer.aws_lambda.handler``.

Accepts SQS batches (bodies: S3 notifications or EventBridge events), S3 notifications and
EventBridge events delivered directly, ``s3:TestEvent`` and S3 Batch Operations invocations.

How failures travel back:

* SQS: only records with a transient failure, or not finished when time ran short, are listed
  in ``batchItemFailures``; SQS retries them and, after the receive limit, dead-letters them.
  Permanent failures are reported once (marker, SNS, email) and acknowledged.
* Direct S3 / EventBridge (asynchronous invocation): a transient failure raises, so Lambda's
  async retries and on-failure destination apply; otherwise a summary is returned.
* S3 Batch Operations: one result per task, ``Succeeded`` / ``TemporaryFailure`` /
  ``PermanentFailure``.
* Bad input (an unknown shape, a malformed record or task) is ``invalid_event``: logged,
  counted and acknowledged, never raised; one bad SQS record never fails its batch.

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

from thumbnailer.errors import ConfigError, InternalError, ThumbnailerError, TransientError
from thumbnailer.events import (
    BatchTask,
    EventKind,
    InvalidEvent,
    ObjectRef,
    Parsed,
    classify,
    parse_batch_operations,
    parse_eventbridge,
    parse_s3_notification,
    parse_sqs_record,
)
from thumbnailer.pipeline import Outcome, Pipeline, Status
from thumbnailer.settings import LOG_LEVELS, Settings

__all__ = ["App", "build_app", "handler", "reset"]

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Thumbnailer")
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "thumbnailer")

# A bad level is reported by Settings at cold start, with the other settings; until then INFO,
# rather than Powertools' ValueError out of the import.
_LEVEL = os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO").strip().upper()
logger = Logger(service=SERVICE, level=_LEVEL if _LEVEL in LOG_LEVELS else "INFO")
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_BATCH_CODES = {True: "TemporaryFailure", False: "PermanentFailure"}
_RESULT_MAX = 1024  # Batch Operations copies resultString into its completion report
# An object is not started when the time left is under twice the slowest object so far (and
# at least this floor): handing its SQS message back is cheap, being killed mid-write is not.
TIME_FLOOR_MS = 1_000
_NO_MESSAGE_ID = "SQS record without a messageId: it can be neither processed nor handed back"


class TimeBudget:
    """Whether one more object may start in this invocation (the first always may)."""

    def __init__(self, context: Any) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._remaining: Callable[[], Any] | None = remaining if callable(remaining) else None
        self._slowest_ms = 0.0
        self._started = False
        self.exhausted = False

    def allows_another(self) -> bool:
        """False once the time left is too short; it only shrinks, so it stays False."""
        if not self.exhausted and self._started and self._remaining is not None:
            self.exhausted = int(self._remaining()) < max(TIME_FLOOR_MS, 2 * self._slowest_ms)
        return not self.exhausted

    def spent(self, started: float) -> None:
        """Account for one object that began at ``started`` (a ``perf_counter`` value)."""
        self._started = True
        self._slowest_ms = max(self._slowest_ms, (time.perf_counter() - started) * 1000)


def _message_id(record: object) -> str | None:
    """The SQS message id of a record, when it has a usable one."""
    value = record.get("messageId") if isinstance(record, Mapping) else None
    return value if isinstance(value, str) and value else None


def _shape(event: object) -> str:
    """A short description of an unrecognised event, for its log line."""
    if isinstance(event, Mapping):
        keys = sorted(str(k) for k in event)[:11]
        if not keys:
            return "an empty object"
        return "an object with keys " + ", ".join(keys[:10]) + (", …" if len(keys) > 10 else "")
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return "null" if event is None else f"{names.get(type(event), 'a value')}, not an object"


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

    def handle(self, event: object, context: Any = None) -> dict[str, Any]:
        """Process one invocation event and return the response Lambda expects for it.

        The event's content never makes this raise: what cannot be used is logged, counted and
        answered. Only a transient failure of a direct invocation raises, so Lambda retries it.
        """
        request_id = str(getattr(context, "aws_request_id", "") or "")
        self.log.append_keys(request_id=request_id)
        counts = Tally()
        try:
            kind = classify(event)
            if kind is EventKind.UNKNOWN or not isinstance(event, Mapping):
                return self._unrecognised(event, counts)
            if kind is EventKind.SQS:
                return self._sqs(event, TimeBudget(context), request_id, counts)
            if kind is EventKind.BATCH_OPERATIONS:
                return self._batch(event, request_id, counts)
            return self._direct(event, kind, request_id, counts)
        finally:
            self._flush(counts)

    # -- shapes -------------------------------------------------------------------------------

    def _sqs(
        self, event: Mapping[str, Any], budget: TimeBudget, request_id: str, counts: Tally
    ) -> dict[str, Any]:
        # The partial batch response is written here rather than with Powertools' batch
        # utility: it imports asyncio and added ~30 ms of cold start when measured, for a
        # dozen lines (see docs/performance.md).
        failures = []
        for record in event["Records"]:
            message_id = _message_id(record)
            if message_id is None:
                # Lambda fails the whole batch on an empty itemIdentifier: never hand one back.
                self._invalid(InvalidEvent(_NO_MESSAGE_ID), counts)
            elif not self._sqs_record(record, message_id, budget, request_id, counts) and (
                {"itemIdentifier": message_id} not in failures  # a record given twice: once
            ):
                failures.append({"itemIdentifier": message_id})
        return {"batchItemFailures": failures}

    def _sqs_record(
        self, record: object, message_id: str, budget: TimeBudget, request_id: str, counts: Tally
    ) -> bool:
        """Process one SQS message; False when it must come back (transient failure, no time)."""
        if budget.exhausted:
            counts["Deferred"] += 1
            return False
        try:
            parsed = parse_sqs_record(record)
        except InvalidEvent as exc:
            # A malformed message never heals: log it and acknowledge it.
            self._invalid(exc, counts, message_id=message_id)
            return True
        except InternalError as exc:
            # A defect of the parser, not of the message: back to the queue, then the DLQ.
            self._internal(exc, counts, message_id=message_id)
            return False
        self._ignored(parsed, counts, message_id=message_id)
        outcomes = self._run(parsed.refs, request_id, counts, budget)
        if len(outcomes) < len(parsed.refs):
            # Out of time mid-message: all of it comes back; what is done is skipped cheaply.
            counts["Deferred"] += 1
            return False
        return not any(o.retryable for o in outcomes)

    def _direct(
        self, event: Mapping[str, Any], kind: EventKind, request_id: str, counts: Tally
    ) -> dict[str, Any]:
        parse = parse_eventbridge if kind is EventKind.EVENTBRIDGE else parse_s3_notification
        try:
            parsed = parse(event)
        except InvalidEvent as exc:
            return self._answer_invalid(exc, counts)
        except InternalError as exc:
            self._internal(exc, counts)
            raise  # Lambda retries the asynchronous invocation, then its on-failure destination
        self._ignored(parsed, counts)
        if not parsed.refs:
            return {"status": "skipped", "reason": "; ".join(parsed.ignored), "processed": 0}
        outcomes = self._run(parsed.refs, request_id, counts)
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
        try:
            invocation = parse_batch_operations(event)
        except InvalidEvent as exc:
            # Without an invocationId or a task list there is nothing to answer with.
            return self._answer_invalid(exc, counts)
        except InternalError as exc:
            self._internal(exc, counts)
            raise  # the job counts the invocation as failed; its tasks can be retried
        for error in invocation.unanswerable:
            self._invalid(error, counts, invocation_id=invocation.invocation_id)
        return {
            "invocationSchemaVersion": invocation.schema_version,
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": invocation.invocation_id,
            "results": [self._batch_result(task, request_id, counts) for task in invocation.tasks],
        }

    def _batch_result(self, task: BatchTask, request_id: str, counts: Tally) -> dict[str, str]:
        """The answer to one Batch Operations task."""
        if task.ref is None:
            error = task.error or InvalidEvent("task names no object")
            if isinstance(error, InternalError):
                self._internal(error, counts, task_id=task.task_id)
            else:
                self._invalid(error, counts, task_id=task.task_id)
            code, text = _BATCH_CODES[not error.permanent], f"{error.kind}: {error.message}"
        else:
            (outcome,) = self._run((task.ref,), request_id, counts)
            if outcome.status is Status.FAILED and outcome.error is not None:
                code = _BATCH_CODES[outcome.retryable]
                text = f"{outcome.error.kind}: {outcome.error.message}"
            else:
                code = "Succeeded"
                text = outcome.status.value + (f": {outcome.reason}" if outcome.reason else "")
        return {"taskId": task.task_id, "resultCode": code, "resultString": text[:_RESULT_MAX]}

    def _unrecognised(self, event: object, counts: Tally) -> dict[str, Any]:
        """Answer an event of no known shape: invalid_event, as the same body inside SQS is."""
        error = InvalidEvent(
            f"unrecognised event ({_shape(event)}): not SQS, S3, EventBridge or Batch Operations"
        )
        return self._answer_invalid(error, counts)

    def _answer_invalid(self, exc: InvalidEvent, counts: Tally) -> dict[str, Any]:
        """Log and count an invocation that cannot be used, and the answer that says why."""
        self._invalid(exc, counts)
        return {"status": "invalid", "kind": exc.kind, "message": exc.message}

    # -- helpers ------------------------------------------------------------------------------

    def _run(
        self,
        refs: tuple[ObjectRef, ...],
        request_id: str,
        counts: Tally,
        budget: TimeBudget | None = None,
    ) -> list[Outcome]:
        """Process ``refs`` in order; with a ``budget``, stop before one there is no time for."""
        outcomes = []
        for ref in refs:
            if budget is not None and not budget.allows_another():
                break
            started = time.perf_counter()
            outcome = self.pipeline.process(ref, request_id=request_id)
            self._record(outcome, counts)
            outcomes.append(outcome)
            if budget is not None:
                budget.spent(started)
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

    def _internal(self, exc: InternalError, counts: Tally, **extra: Any) -> None:
        """Log (with the traceback of its cause) and count a defect met while reading an event."""
        counts[f"Failures:{exc.kind}"] += 1
        self.log.error(
            "event not read: " + exc.message,
            exc_info=exc.__cause__ or exc,
            extra={"outcome": "failed", "kind": exc.kind, **extra},
        )

    def _invalid(self, exc: ThumbnailerError, counts: Tally, **extra: Any) -> None:
        """Log and count an event (or record, or task) that cannot be used."""
        counts[f"Failures:{exc.kind}"] += 1
        self.log.error(
            "event ignored: " + exc.message,
            extra={"outcome": "failed", "kind": exc.kind, **extra},
        )

    def _ignored(self, parsed: Parsed, counts: Tally, **extra: Any) -> None:
        """Log (one line) and count the records of an envelope that name nothing to act on."""
        if not parsed.ignored:
            return
        counts["Skipped"] += len(parsed.ignored)
        more = len(parsed.ignored) - 1
        self.log.info(
            "skipped: " + parsed.ignored[0] + (f" (and {more} more record(s))" if more else ""),
            extra={"outcome": "skipped", "reason": parsed.ignored[0], **extra},
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
    logger.setLevel(settings.log_level)
    store = S3Store(config=client_config(settings.retry_mode, settings.max_attempts))
    reporter = Reporter(settings, store)
    return App(Pipeline(settings, store, reporter=reporter))


def reset() -> None:
    """Forget the cached app (tests; a new cold start re-reads the environment)."""
    global _app
    _app = None


def handler(event: Any, context: Any) -> dict[str, Any]:
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

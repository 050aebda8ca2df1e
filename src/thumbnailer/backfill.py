"""Back-fill: thumbnails for objects that were in the bucket before the trigger existed.

Bounded and loop-proof by construction:

* it refuses a bucket that is not the function's source bucket (the function would skip
  every object there), lists the source bucket once (under ``prefix``, at most ``limit``
  candidates) and never follows what it writes: keys the pipeline would skip (the thumbnail
  and failure prefixes, filters) are dropped before anything else, and counted by reason, so
  the thumbnail prefix is never touched;
* objects whose thumbnails are current (same ETag and spec fingerprint, the pipeline's own
  :meth:`~thumbnailer.pipeline.Pipeline.is_current`) are skipped, and so are objects whose
  failure was already reported for the same ETag: a re-run redoes nothing that was done;
* ``direct`` renders here through :meth:`Pipeline.process` with ``concurrency`` threads;
  ``queue`` sends one synthetic S3 notification per object to the deployed queue, at most
  ``rate`` messages a second, so the Lambda fleet does the work at a pace you choose. An
  object queued by an earlier run and not yet processed is queued again (the function makes
  its thumbnails once and finds them current the second time); the messages the queue
  already held are counted in the report;
* ``dry_run`` only counts, and estimates what the Lambda work would cost.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from thumbnailer.errors import ConfigError, ObjectNotFound, ThumbnailerError
from thumbnailer.events import ObjectRef, s3_notification
from thumbnailer.pipeline import META_SOURCE_ETAG, Pipeline, Status

__all__ = [
    "BackfillOptions",
    "BackfillReport",
    "CostModel",
    "Progress",
    "estimate_cost",
    "run_backfill",
]

Mode = Literal["direct", "queue"]


@dataclass(frozen=True)
class CostModel:
    """Prices and assumptions of the dry-run estimate (us-east-1 list prices, 2025)."""

    ms_per_object: float = 300.0
    memory_mb: int = 1024
    architecture: str = "arm64"
    request_price: float = 0.20 / 1_000_000
    gb_second_price: dict[str, float] = field(
        default_factory=lambda: {"arm64": 0.0000133334, "x86_64": 0.0000166667}
    )
    s3_get_price: float = 0.0004 / 1000
    s3_put_price: float = 0.005 / 1000
    sqs_price: float = 0.40 / 1_000_000


def estimate_cost(objects: int, sizes: int, model: CostModel | None = None) -> dict[str, float]:
    """Estimated USD of processing ``objects`` sources into ``sizes`` thumbnails each."""
    m = model or CostModel()
    gb_seconds = objects * (m.ms_per_object / 1000) * (m.memory_mb / 1024)
    lambda_cost = objects * m.request_price + gb_seconds * m.gb_second_price[m.architecture]
    # One GET and one HEAD per size per source, one PUT per thumbnail.
    s3_cost = objects * ((1 + sizes) * m.s3_get_price + sizes * m.s3_put_price)
    return {
        "gb_seconds": round(gb_seconds, 3),
        "lambda_usd": round(lambda_cost, 4),
        "s3_usd": round(s3_cost, 4),
        "total_usd": round(lambda_cost + s3_cost, 4),
    }


@dataclass(frozen=True)
class BackfillOptions:
    """What to back-fill and how."""

    bucket: str
    prefix: str = ""
    mode: Mode = "direct"
    concurrency: int = 4
    dry_run: bool = False
    limit: int | None = None
    queue_url: str | None = None
    rate: float = 50.0  # messages per second in queue mode
    cost: CostModel = field(default_factory=CostModel)

    def __post_init__(self) -> None:
        if self.mode not in ("direct", "queue"):
            raise ConfigError(f"mode {self.mode!r}: expected direct or queue")
        if not 1 <= self.concurrency <= 256:
            raise ConfigError(f"concurrency {self.concurrency}: must be 1..256")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit {self.limit}: must be at least 1")
        if self.rate <= 0:
            raise ConfigError("rate must be positive")
        if self.mode == "queue" and not self.queue_url and not self.dry_run:
            raise ConfigError("--mode queue needs the queue URL (--queue-url)")


@dataclass
class BackfillReport:
    """What a back-fill run found and did."""

    listed: int = 0
    ignored: int = 0  # keys the pipeline never processes (thumbnail prefix, filters)
    ignored_by_reason: dict[str, int] = field(default_factory=dict)  # skip_reason -> count
    current: int = 0  # thumbnails already current
    already_failed: int = 0  # failure already reported for this ETag
    todo: int = 0
    created: int = 0
    queued: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # key, kind, message
    retryable: int = 0
    queue_backlog: int | None = None  # messages the queue held before this run (queue mode)
    seconds: float = 0.0
    dry_run: bool = False
    estimate: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        data = dict(self.__dict__)
        data["ignored_by_reason"] = dict(self.ignored_by_reason)
        data["failed"] = [{"key": k, "kind": kind, "message": m} for k, kind, m in self.failed]
        return data


class Progress:
    """A one-line progress bar on a terminal (or nothing, when not a terminal)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.done = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items done and redraw."""
        with self._lock:
            self.done += count
            if not self.enabled:
                return
            width = 30
            filled = int(width * self.done / self.total)
            rate = self.done / max(time.monotonic() - self.started, 1e-6)
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} {rate:.1f}/s"
            )
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _already_failed(pipeline: Pipeline, ref: ObjectRef) -> bool:
    marker = pipeline.failure_marker_key(ref.key)
    if marker is None or not ref.etag:
        return False
    try:
        info = pipeline.store.head(pipeline.settings.destination_bucket, marker)
    except ObjectNotFound:
        return False
    return info.metadata.get(META_SOURCE_ETAG) == ref.etag


def _candidates(
    pipeline: Pipeline, options: BackfillOptions, report: BackfillReport
) -> Iterator[ObjectRef]:
    for info in pipeline.store.list(options.bucket, options.prefix):
        report.listed += 1
        ref = ObjectRef(bucket=info.bucket, key=info.key, etag=info.etag, size=info.size)
        reason = pipeline.skip_reason(ref)
        if reason is not None:
            report.ignored += 1
            report.ignored_by_reason[reason] = report.ignored_by_reason.get(reason, 0) + 1
            continue
        yield ref


def _check_bucket(pipeline: Pipeline, bucket: str) -> None:
    """Refuse a bucket the function never processes: nothing there would get thumbnails."""
    source = pipeline.settings.source_bucket
    if source and bucket != source:
        raise ConfigError(
            f"bucket {bucket!r} is not the function's source bucket {source!r} "
            "(THUMBNAILER_SOURCE_BUCKET): the function skips every object of another bucket, "
            f"so none would get thumbnails; back-fill --bucket {source}"
        )


def _check(pipeline: Pipeline, ref: ObjectRef) -> str:
    """``current``, ``failed`` (already reported) or ``todo``."""
    if pipeline.is_current(ref):
        return "current"
    if _already_failed(pipeline, ref):
        return "failed"
    return "todo"


def _run_pool(
    items: list[ObjectRef],
    concurrency: int,
    work: Callable[[ObjectRef], Any],
    done: Callable[[ObjectRef, Future[Any]], None],
) -> None:
    # Bounded submission: never more than 2 x concurrency futures in memory.
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: dict[Future[Any], ObjectRef] = {}
        iterator = iter(items)
        while True:
            while len(pending) < concurrency * 2:
                ref = next(iterator, None)
                if ref is None:
                    break
                pending[pool.submit(work, ref)] = ref
            if not pending:
                return
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                done(pending.pop(future), future)


def run_backfill(
    pipeline: Pipeline,
    options: BackfillOptions,
    *,
    sqs_client: Any = None,
    region: str = "us-east-1",
    progress_stream: TextIO | None = None,
) -> BackfillReport:
    """Back-fill ``options.bucket``; see the module docstring. Returns the summary.

    :class:`ConfigError` when the bucket is not the function's source bucket.
    """
    _check_bucket(pipeline, options.bucket)
    started = time.monotonic()
    report = BackfillReport(dry_run=options.dry_run)
    refs: list[ObjectRef] = []
    for ref in _candidates(pipeline, options, report):
        refs.append(ref)
        if options.limit is not None and len(refs) >= options.limit:
            break

    todo: list[ObjectRef] = []
    checking = Progress(len(refs), "checking", progress_stream)

    def checked(ref: ObjectRef, future: Future[Any]) -> None:
        checking.advance()
        try:
            verdict = future.result()
        except ThumbnailerError as exc:
            report.failed.append((ref.key, exc.kind, exc.message))
            return
        if verdict == "current":
            report.current += 1
        elif verdict == "failed":
            report.already_failed += 1
        else:
            todo.append(ref)

    _run_pool(refs, options.concurrency, lambda r: _check(pipeline, r), checked)
    checking.close()
    todo.sort(key=lambda r: r.key)
    report.todo = len(todo)
    if options.dry_run:
        report.estimate = estimate_cost(len(todo), len(pipeline.settings.spec.sizes), options.cost)
    elif options.mode == "direct":
        _direct(pipeline, options, todo, report, progress_stream)
    else:
        _queue(options, todo, report, sqs_client, region, progress_stream)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _direct(
    pipeline: Pipeline,
    options: BackfillOptions,
    todo: list[ObjectRef],
    report: BackfillReport,
    stream: TextIO | None,
) -> None:
    bar = Progress(len(todo), "rendering", stream)
    lock = threading.Lock()

    def done(ref: ObjectRef, future: Future[Any]) -> None:
        outcome = future.result()  # process() never raises for a failing object
        with lock:
            bar.advance()
            if outcome.status is Status.CREATED:
                report.created += 1
            elif outcome.status is Status.FAILED and outcome.error is not None:
                report.failed.append((ref.key, outcome.error.kind, outcome.error.message))
                report.retryable += outcome.retryable
            elif outcome.status is Status.SKIPPED:
                report.current += 1

    _run_pool(todo, options.concurrency, lambda r: pipeline.process(r, request_id="backfill"), done)
    bar.close()


def _queue(
    options: BackfillOptions,
    todo: list[ObjectRef],
    report: BackfillReport,
    sqs_client: Any,
    region: str,
    stream: TextIO | None,
) -> None:
    if sqs_client is None:
        import boto3

        sqs_client = boto3.client("sqs", region_name=region)
    report.queue_backlog = _backlog(sqs_client, options.queue_url)
    bar = Progress(len(todo), "queueing", stream)
    interval = 10 / options.rate  # one batch of 10 per interval
    next_send = time.monotonic()
    for start in range(0, len(todo), 10):
        batch = todo[start : start + 10]
        delay = next_send - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        next_send = max(next_send, time.monotonic()) + interval * len(batch) / 10
        entries = [
            {
                "Id": str(i),
                "MessageBody": json.dumps(s3_notification(ref, region, "thumbnailer-backfill")),
            }
            for i, ref in enumerate(batch)
        ]
        try:
            reply = sqs_client.send_message_batch(QueueUrl=options.queue_url, Entries=entries)
        except Exception as exc:
            for ref in batch:
                report.failed.append((ref.key, "transient", f"send failed: {exc}"))
            report.retryable += len(batch)
            bar.advance(len(batch))
            continue
        for failure in reply.get("Failed", []):
            ref = batch[int(failure["Id"])]
            report.failed.append((ref.key, "transient", str(failure.get("Message", ""))))
            report.retryable += 1
        report.queued += len(batch) - len(reply.get("Failed", []))
        bar.advance(len(batch))
    bar.close()


def _backlog(sqs_client: Any, queue_url: str | None) -> int | None:
    """Messages waiting or in flight in the queue; ``None`` when it cannot be read."""
    try:
        attrs = sqs_client.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
        )
    except Exception:  # a role allowed to send but not to read attributes: say nothing
        return None

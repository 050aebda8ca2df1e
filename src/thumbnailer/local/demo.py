"""The full demo: local stack up, sample uploads, results, an HTML gallery, stack down."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thumbnailer.errors import TransientError
from thumbnailer.local.gallery import GalleryEntry, write_gallery
from thumbnailer.local.state import StackInfo, read_json

if TYPE_CHECKING:
    from thumbnailer.pipeline import Pipeline

__all__ = ["run_demo"]

KEY_PREFIX = "demo/"


@dataclass
class _Result:
    name: str
    key: str
    uploaded: float
    thumbnails: dict[str, float] = field(default_factory=dict)  # key -> seconds after upload
    failure: dict[str, Any] | None = None
    failure_seen: float | None = None


def _subscribe(info: StackInfo, sqs: Any, sns: Any) -> str | None:
    """An SQS queue subscribed to the alert topic, so the demo can show what was sent."""
    topic = info.outputs.get("topic_arn")
    if not topic:
        return None
    url = str(sqs.create_queue(QueueName="thumbnailer-demo-notifications")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def _notifications(sqs: Any, url: str | None) -> list[dict[str, Any]]:
    if not url:
        return []
    found: list[dict[str, Any]] = []
    while True:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = reply.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            try:
                envelope = json.loads(message["Body"])
            except ValueError:
                envelope = {"Message": message["Body"]}
            found.append(envelope if isinstance(envelope, dict) else {})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def run_demo(out: Path, state_dir: Path, trigger: str, keep: bool, timeout: float) -> int:
    """Run the demo; return 0 when every valid sample got its thumbnails."""
    import boto3

    from thumbnailer.cli.demo import _samples, print_table
    from thumbnailer.local import stack
    from thumbnailer.pipeline import Pipeline
    from thumbnailer.settings import Settings
    from thumbnailer.storage.s3 import S3Store

    started_here = not read_json(state_dir / "stack.json")
    if started_here:
        print("bringing the local stack up (moto server, terraform apply, artifact build)...")
        stack.up(stack.UpOptions(state_dir=state_dir, trigger=trigger))
    info = StackInfo.load(state_dir)
    try:
        kwargs = info.client_kwargs()
        s3 = boto3.client("s3", **kwargs)  # type: ignore[call-overload]
        sqs = boto3.client("sqs", **kwargs)  # type: ignore[call-overload]
        sns = boto3.client("sns", **kwargs)  # type: ignore[call-overload]
        settings = Settings.from_env(info.environment)
        pipeline = Pipeline(settings, S3Store(s3))
        notify_url = _subscribe(info, sqs, sns)
        samples = _samples()
        out.mkdir(parents=True, exist_ok=True)
        results: list[_Result] = []
        print(f"uploading {len(samples)} samples to s3://{info.source_bucket}/{KEY_PREFIX}")
        for name, data in samples:
            (out / "sources").mkdir(exist_ok=True)
            (out / "sources" / name).write_bytes(data)
            key = KEY_PREFIX + name
            s3.put_object(Bucket=info.source_bucket, Key=key, Body=data)
            results.append(_Result(name, key, time.monotonic()))
        _wait(results, pipeline, s3, info, timeout)
        notifications = _notifications(sqs, notify_url)
        rows, entries = _collect(results, pipeline, s3, info, out, notifications)
        print()
        print_table(("source", "thumbnails (or failure)", "upload → thumbnail"), rows)
        if notifications:
            print("\nSNS notifications received:")
            for note in notifications:
                print(f"  subject: {note.get('Subject', '')}")
                for line in str(note.get("Message", "")).splitlines()[:3]:
                    print(f"    {line}")
        index = write_gallery(out, entries, title=f"thumbnailer demo ({info.trigger} trigger)")
        print(f"\ngallery: {index.resolve()}")
        missing = [r.name for r in results if not r.thumbnails and r.failure is None]
        if missing:
            print(f"no result within {timeout:.0f} s for: {', '.join(missing)}")
            print(f"see `thumbnailer local status --state-dir {state_dir}` and its logs")
        return 1 if missing else 0
    finally:
        if keep or not started_here:
            print(
                f"stack left running; stop it with `thumbnailer local down --state-dir {state_dir}`"
            )
        else:
            for line in stack.down(state_dir):
                print(line)


def _wait(
    results: list[_Result], pipeline: Pipeline, s3: Any, info: StackInfo, timeout: float
) -> None:
    sizes = len(pipeline.settings.spec.sizes)
    deadline = time.monotonic() + timeout
    pending = list(results)
    while pending and time.monotonic() < deadline:
        for result in list(pending):
            for key in pipeline.destination_keys(result.key):
                if key in result.thumbnails:
                    continue
                try:
                    s3.head_object(Bucket=info.destination_bucket, Key=key)
                except Exception:  # not there yet
                    continue
                result.thumbnails[key] = time.monotonic() - result.uploaded
            marker = pipeline.failure_marker_key(result.key)
            if marker and result.failure is None:
                try:
                    body = s3.get_object(Bucket=info.destination_bucket, Key=marker)["Body"].read()
                    result.failure = json.loads(body)
                    result.failure_seen = time.monotonic() - result.uploaded
                except Exception:  # no marker (yet)
                    pass
            if len(result.thumbnails) >= sizes or result.failure is not None:
                pending.remove(result)
        time.sleep(0.2)
    if pending and len(pending) == len(results):
        raise TransientError(
            f"no thumbnails appeared within {timeout:.0f} s; is the runner running? "
            f"(see {info.function_dir}/../../runner.log)"
        )


def _collect(
    results: list[_Result],
    pipeline: Any,
    s3: Any,
    info: StackInfo,
    out: Path,
    notifications: list[dict[str, Any]],
) -> tuple[list[tuple[str, str, str]], list[GalleryEntry]]:
    from PIL import Image

    rows: list[tuple[str, str, str]] = []
    entries: list[GalleryEntry] = []
    for result in results:
        source = out / "sources" / result.name
        if result.failure is not None:
            kind = result.failure.get("kind", "?")
            message = str(result.failure.get("message", ""))
            subjects = [
                str(n.get("Subject", ""))
                for n in notifications
                if result.name in str(n.get("Subject", ""))
            ]
            note = f"SNS: {subjects[0]}" if subjects else "no SNS notification seen"
            seen = f"{result.failure_seen:.1f} s" if result.failure_seen else ""
            told = "SNS notification sent" if subjects else "no SNS notification seen"
            rows.append((result.name, f"FAILED {kind} ({told})", seen))
            entries.append(
                GalleryEntry(
                    result.name,
                    source,
                    [],
                    error=f"{kind}: {message}",
                    note=note,
                )
            )
            continue
        made: list[tuple[Path, str]] = []
        labels: list[str] = []
        for key in sorted(result.thumbnails):
            data = s3.get_object(Bucket=info.destination_bucket, Key=key)["Body"].read()
            path = out / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            with Image.open(path) as image:
                label = f"{image.width}x{image.height} {image.format}"
            made.append((path, label))
            labels.append(label)
        slowest = max(result.thumbnails.values(), default=0.0)
        rows.append(
            (result.name, ", ".join(labels) or "(none yet)", f"{slowest:.1f} s" if labels else "")
        )
        entries.append(GalleryEntry(result.name, source, made))
    return rows, entries

"""Helpers for the handler tests: a moto stack and the documented sample events, rewritten."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics
from PIL import Image

from thumbnailer.aws_lambda import App
from thumbnailer.pipeline import Pipeline
from thumbnailer.render import render
from thumbnailer.render.spec import Thumbnail, ThumbnailSpec
from thumbnailer.reporting import Reporter
from thumbnailer.settings import Settings
from thumbnailer.storage import S3Store

EVENTS = Path(__file__).resolve().parents[1] / "events"
REGION = "us-east-1"
SRC, DST = "photos-src", "photos-thumbs"
SENDER, RECIPIENT = "thumbnailer@example.com", "ops@example.com"


def jpeg(size: tuple[int, int] = (320, 200), color: str = "navy") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text("utf-8"))


class CountingRenderer:
    """The real renderer, counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes, spec: ThumbnailSpec) -> list[Thumbnail]:
        self.calls += 1
        return render(data, spec)


@dataclass
class Stack:
    """Clients and helpers for one test."""

    s3: Any
    sqs: Any
    topic_arn: str
    topic_queue_url: str
    bus_queue_url: str
    failing: dict[str, str] = field(default_factory=dict)  # key → S3 error code to inject
    renderer: CountingRenderer = field(default_factory=CountingRenderer)
    log_buffer: io.StringIO = field(default_factory=io.StringIO)

    def upload(self, key: str, data: bytes | None = None) -> dict[str, Any]:
        body = data if data is not None else jpeg()
        self.s3.put_object(Bucket=SRC, Key=key, Body=body, ContentType="image/jpeg")
        head = self.s3.head_object(Bucket=SRC, Key=key)
        return {"size": head["ContentLength"], "etag": head["ETag"].strip('"')}

    def thumbnails(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=DST, Prefix="thumbnails/")
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def app(self, **env: str) -> App:
        values = {
            "THUMBNAILER_SOURCE_BUCKET": SRC,
            "THUMBNAILER_DESTINATION_BUCKET": DST,
            "THUMBNAILER_SIZES": "64x64,128x128",
            "THUMBNAILER_SNS_TOPIC_ARN": self.topic_arn,
            "THUMBNAILER_SES_SENDER": SENDER,
            "THUMBNAILER_SES_RECIPIENTS": RECIPIENT,
            "THUMBNAILER_EVENT_BUS_NAME": "thumbnails",
            **{f"THUMBNAILER_{k.upper()}": v for k, v in env.items()},
        }
        settings = Settings.from_env(values)
        store = S3Store(self.s3)
        reporter = Reporter(
            settings, store, client_factory=lambda name: boto3.client(name, region_name=REGION)
        )
        log = Logger(
            service=f"test-{uuid.uuid4().hex[:8]}",
            logger_handler=logging.StreamHandler(self.log_buffer),
        )
        return App(
            Pipeline(settings, store, renderer=self.renderer, reporter=reporter),
            log=log,
            metrics_=Metrics(namespace="ThumbnailerTest", service="thumbnailer"),
        )

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_buffer.getvalue().splitlines() if line]

    def s3_calls(self) -> S3Calls:
        """Count the S3 requests made from now on, by operation."""
        return S3Calls(self.s3)

    def messages(self, queue_url: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return out
            for message in got["Messages"]:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


class S3Calls:
    """The S3 operations the function's client is asked for (injected failures included)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, str]] = []  # operation, key
        # before-parameter-build runs for every call, before any hook can answer in its place.
        client.meta.events.register("before-parameter-build.s3", self._seen)

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, str(params.get("Key", ""))))

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


def metric_counts(out: str) -> dict[str, float]:
    """The EMF counts printed by one invocation: ``{"Skipped": 1.0, "Failures:kind": 2.0}``."""
    counts: dict[str, float] = {}
    for line in out.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            name = metric["Name"]
            if name == "Duration":
                continue
            value = document[name]
            total = sum(value) if isinstance(value, list) else value
            label = f"Failures:{document['kind']}" if name == "Failures" else name
            counts[label] = counts.get(label, 0.0) + total
    return counts


# -- events, rewritten from the documented samples ---------------------------------------------


def s3_record(name: str, key: str, bucket: str = SRC, **obj: Any) -> dict[str, Any]:
    event = load(name)
    record = copy.deepcopy(event["Records"][0])
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["s3"]["object"]["key"] = quote_plus(key)  # S3 URL-encodes keys in notifications
    if "etag" in obj:
        record["s3"]["object"]["eTag"] = obj["etag"]
    if "size" in obj:
        record["s3"]["object"]["size"] = obj["size"]
    return record


def s3_event(name: str, key: str, **obj: Any) -> dict[str, Any]:
    return {"Records": [s3_record(name, key, **obj)]}


def eventbridge_event(name: str, key: str, bucket: str = SRC, **obj: Any) -> dict[str, Any]:
    event = load(name)
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key  # EventBridge does not encode keys
    if "etag" in obj:
        event["detail"]["object"]["etag"] = obj["etag"]
    if "size" in obj:
        event["detail"]["object"]["size"] = obj["size"]
    return event


def sqs_event(*bodies: Any) -> dict[str, Any]:
    template = load("sqs-s3-notification.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"message-{i}"
        record["receiptHandle"] = f"handle-{i}"
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        record["md5OfBody"] = hashlib.md5(record["body"].encode()).hexdigest()  # as SQS sends it
        records.append(record)
    return {"Records": records}


def batch_event(version: str, *keys: str, bucket: str = SRC) -> dict[str, Any]:
    event = load(f"batch-operations-{version}.json")
    template = event["tasks"][0]
    tasks = []
    for i, key in enumerate(keys):
        task = dict(template, taskId=f"task-{i}", s3Key=quote_plus(key))
        if version == "1.0":
            task["s3BucketArn"] = f"arn:aws:s3:::{bucket}"
        else:
            task["s3Bucket"] = bucket
        tasks.append(task)
    event["tasks"] = tasks
    return event


Factory = Callable[..., dict[str, Any]]

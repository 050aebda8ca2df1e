"""The local stack, brought up once per test session (and per trigger mode), then down.

The stack is the real thing the user gets from ``thumbnailer local up``: a moto server on
127.0.0.1, ``terraform apply`` of ``infra/examples/local``, the artifact built for this Python,
and the detached runner. Short function and visibility timeouts keep redelivery tests quick.
Fault rules (read only by the runner's workers) hit keys containing ``slow-``, ``flaky-`` or
``never-heals`` and nothing else.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from thumbnailer.local import stack
from thumbnailer.local.state import StackInfo, alive, read_json
from thumbnailer.pipeline import Pipeline
from thumbnailer.settings import Settings
from thumbnailer.storage.s3 import S3Store

FUNCTION_TIMEOUT = 3  # seconds; the queue's visibility timeout is 6x + the batch window
MAX_RECEIVE_COUNT = 3
FAULTS = [
    {"match": "slow-", "operations": ["GetObject"], "delay": 0.5},
    {"match": "flaky-", "rate": 0.2, "seed": 7},
    {"match": "never-heals", "rate": 1.0},
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@dataclass
class Stack:
    """A running local stack and clients for it."""

    state_dir: Path
    info: StackInfo
    s3: Any
    sqs: Any
    sns: Any
    pipeline: Pipeline
    notifications_url: str

    @property
    def source(self) -> str:
        return self.info.source_bucket

    @property
    def destination(self) -> str:
        return self.info.destination_bucket

    def keys(self, bucket: str, prefix: str = "") -> dict[str, Any]:
        found: dict[str, Any] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = obj
        return found

    def thumbnails_of(self, key: str, existing: dict[str, Any] | None = None) -> list[str]:
        existing = existing if existing is not None else self.keys(self.destination)
        return [k for k in self.pipeline.destination_keys(key) if k in existing]

    def has_all_thumbnails(self, key: str, existing: dict[str, Any]) -> bool:
        return len(self.thumbnails_of(key, existing)) == len(self.pipeline.settings.spec.sizes)

    def marker_of(self, key: str) -> str:
        marker = self.pipeline.failure_marker_key(key)
        assert marker is not None
        return marker

    def depth(self, url: str | None) -> int:
        assert url
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def notifications(self) -> list[dict[str, Any]]:
        """Drain the queue subscribed to the alert topic."""
        found: list[dict[str, Any]] = []
        while True:
            reply = self.sqs.receive_message(
                QueueUrl=self.notifications_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = reply.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.notifications_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def stats(self) -> dict[str, Any]:
        return read_json(self.state_dir / "stats.json")


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def image_bytes(
    fmt: str, seed: int, size: tuple[int, int] = (160, 120), alpha: bool = False
) -> bytes:
    mode = "RGBA" if alpha else "RGB"
    colour = (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256) + (
        (seed % 200 + 20,) if alpha else ()
    )
    image = Image.new(mode, size, colour)
    image.putpixel((seed % size[0], seed % size[1]), (255, 255, 255) + ((255,) if alpha else ()))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _bring_up(tmp: Path, trigger: str) -> Iterator[Stack]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    state_dir = tmp / f"stack-{trigger}"
    options = stack.UpOptions(
        state_dir=state_dir,
        trigger=trigger,
        variables={
            "name": f"e2e-{trigger}",
            "timeout": FUNCTION_TIMEOUT,
            "time_budget_seconds": FUNCTION_TIMEOUT - 1,
            "max_receive_count": MAX_RECEIVE_COUNT,
            "batch_window_seconds": 1,
        },
        runner_env={"THUMBNAILER_LOCAL_FAULTS": json.dumps(FAULTS)},
    )
    info = stack.up(options)
    try:
        kwargs = info.client_kwargs()
        s3 = boto3.client("s3", **kwargs)
        sqs = boto3.client("sqs", **kwargs)
        sns = boto3.client("sns", **kwargs)
        url = sqs.create_queue(QueueName=f"e2e-{trigger}-notifications")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=info.outputs["topic_arn"],
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        pipeline = Pipeline(Settings.from_env(info.environment), S3Store(s3))
        yield Stack(state_dir, info, s3, sqs, sns, pipeline, url)
    finally:
        runner_pid = int(read_json(state_dir / "runner.json").get("pid", 0) or 0)
        emulator_pid = int(read_json(state_dir / "emulator.json").get("pid", 0) or 0)
        stack.down(state_dir)
        # Nothing the stack started may outlive `down`.
        assert not [pid for pid in (runner_pid, emulator_pid) if pid and alive(pid)]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The eventbridge stack (the module's default trigger)."""
    yield from _bring_up(tmp_path_factory.mktemp("e2e"), "eventbridge")


@pytest.fixture(scope="module")
def trigger_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack with the trigger named by the test module's ``TRIGGER``."""
    yield from _bring_up(tmp_path_factory.mktemp("e2e"), request.module.TRIGGER)

"""Helpers shared by the end-to-end tests: the running stack, waiting, test images."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from thumbnailer.local.state import StackInfo, read_json
from thumbnailer.pipeline import Pipeline

FUNCTION_TIMEOUT = 6  # seconds; the queue's visibility timeout is 6x + the batch window
# The module's default: a record deferred for lack of time also spends a receive.
MAX_RECEIVE_COUNT = 5
FAULTS = [
    {"match": "slow-", "operations": ["GetObject"], "delay": 0.5},
    {"match": "flaky-", "rate": 0.1},
    {"match": "never-heals", "rate": 1.0},
]


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


def check_trigger(stack: Stack) -> None:
    """Uploads get thumbnails, a broken file a marker, a deletion removes thumbnails."""
    good = {f"t/ok {i}+.jpg": image_bytes("JPEG", 700 + i) for i in range(5)}
    broken = "t/broken ü.jpg"
    for key, data in good.items():
        stack.s3.put_object(Bucket=stack.source, Key=key, Body=data)
    stack.s3.put_object(Bucket=stack.source, Key=broken, Body=b"\xff\xd8\xff garbage")

    def done() -> bool:
        existing = stack.keys(stack.destination)
        return all(stack.has_all_thumbnails(k, existing) for k in good) and (
            stack.marker_of(broken) in existing
        )

    wait_for(done, 90, f"thumbnails with the {stack.info.trigger} trigger")
    victim = next(iter(good))
    thumbs = stack.thumbnails_of(victim)
    stack.s3.delete_object(Bucket=stack.source, Key=victim)
    wait_for(
        lambda: not any(t in stack.keys(stack.destination) for t in thumbs),
        60,
        "thumbnails of the deleted source to go",
    )
    assert stack.depth(stack.info.dlq_url) == 0


def processes_naming(folder: Path) -> dict[int, str]:
    """Live processes whose command line names ``folder``: pid -> command line."""
    needle = str(folder.resolve()).encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if needle in cmdline and state != "Z":
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found

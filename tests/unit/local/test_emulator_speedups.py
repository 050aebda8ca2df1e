"""The emulator's speed-ups: moto answers exactly as before, without the per-request walks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import backends
from moto.sqs.models import SQSBackend

from thumbnailer.local.emulator import MotoServer, speed_up_moto

Originals = tuple[Callable[..., Any], Callable[..., Any]]


@pytest.fixture
def originals() -> Iterator[Originals]:
    """Apply the speed-ups in this process; hand back moto's own functions, restore them after."""
    saved = (
        backends.list_of_moto_modules,
        SQSBackend.is_message_valid_based_on_retention_period,
    )
    speed_up_moto()
    yield saved
    backends.list_of_moto_modules, SQSBackend.is_message_valid_based_on_retention_period = saved


def test_module_list_is_the_same(originals: Originals) -> None:
    original_modules, _ = originals
    assert set(backends.list_of_moto_modules()) == set(original_modules())
    assert "s3" in backends.list_of_moto_modules()


def test_retention_check_gives_moto_s_answer(originals: Originals) -> None:
    _, original_check = originals
    backend = SQSBackend("us-east-1", "123456789012")
    queue = backend.create_queue("retained", MessageRetentionPeriod="60")
    backend.send_message(queue.name, "fresh")
    backend.send_message(queue.name, "old")
    fresh, old = queue._messages
    old.sent_timestamp -= 61_000  # sent 61 s ago, retained for 60 s
    for message, expected in ((fresh, True), (old, False)):
        assert original_check(backend, queue.name, message) is expected
        assert backend.is_message_valid_based_on_retention_period(queue.name, message) is expected


def test_the_server_child_serves_sqs_with_the_speed_ups() -> None:
    with MotoServer() as server:
        cmdline = Path(f"/proc/{server.pid}/cmdline")
        if cmdline.exists():
            assert b"thumbnailer.local.emulator" in cmdline.read_bytes()
        sqs = boto3.client("sqs", **server.client_kwargs())
        url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
        for start in range(0, 30, 10):
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)],
            )
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert len(received) == 10
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "20"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "10"

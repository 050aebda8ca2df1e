"""The local stack, brought up once per test session (and per trigger mode), then down.

The stack is the real thing the user gets from ``thumbnailer local up``: a moto server on
127.0.0.1, ``terraform apply`` of ``infra/examples/local``, the artifact built for this Python,
and the detached runner. Short function and visibility timeouts keep redelivery tests quick.
Fault rules (read only by the runner's workers) hit keys containing ``slow-``, ``flaky-`` or
``never-heals`` and nothing else.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from e2e_support import FAULTS, FUNCTION_TIMEOUT, MAX_RECEIVE_COUNT, Stack

from thumbnailer.local import stack
from thumbnailer.local.state import alive, read_json
from thumbnailer.pipeline import Pipeline
from thumbnailer.settings import Settings
from thumbnailer.storage.s3 import S3Store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


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

"""The runner's Lambda stand-in: worker processes, timeouts, and the event source mapping rules."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from thumbnailer.local.runner import Runner, Worker, WorkerFailed
from thumbnailer.local.state import CREDENTIALS, StackInfo

# A stand-in handler module: behaviour chosen by the message bodies it receives.
FAKE_HANDLER = """
import os, sys, time

def handler(event, context):
    failures = []
    for record in event.get("Records", []):
        body = record.get("body", "")
        if body == "crash":
            os._exit(3)
        if body == "raise":
            raise RuntimeError("boom")
        if body.startswith("sleep"):
            time.sleep(float(body.split()[1]))
        if body == "fail":
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures, "pid": os.getpid(),
            "remaining": context.get_remaining_time_in_millis(),
            "region": os.environ.get("AWS_REGION"), "path": sys.path[:3]}
"""


@pytest.fixture
def artifact(tmp_path: Path) -> StackInfo:
    task = tmp_path / "task"
    task.mkdir()
    (task / "fake_handler.py").write_text(FAKE_HANDLER)
    for name in ("opt", "runtime"):
        (tmp_path / name).mkdir()
    return StackInfo(
        endpoint="http://127.0.0.1:1",
        region="eu-west-3",
        trigger="sqs",
        outputs={},
        function_dir=str(task),
        layer_dir=str(tmp_path / "opt"),
        runtime_dir=str(tmp_path / "runtime"),
    )


def _worker(info: StackInfo, tmp_path: Path) -> Worker:
    env = {"_HANDLER": "fake_handler.handler", "AWS_REGION": info.region, "PATH": "/usr/bin"}
    return Worker(info, env, tmp_path / "worker.log")


def _event(*bodies: str) -> dict[str, Any]:
    return {"Records": [{"messageId": str(i), "body": b} for i, b in enumerate(bodies)]}


def test_worker_runs_the_handler_from_the_artifact_and_stays_warm(
    artifact: StackInfo, tmp_path: Path
) -> None:
    worker = _worker(artifact, tmp_path)
    try:
        first, cold = worker.invoke(_event("ok"), timeout=5)
        second, warm_cold = worker.invoke(_event("ok"), timeout=5)
    finally:
        worker.kill()
    assert cold and not warm_cold
    assert first["ok"] and first["result"]["pid"] == second["result"]["pid"]
    assert first["result"]["region"] == "eu-west-3"
    # Only the artifact's folders are importable, in Lambda's order.
    assert first["result"]["path"] == [
        artifact.function_dir,
        artifact.layer_dir,
        artifact.runtime_dir,
    ]
    assert 0 < first["result"]["remaining"] <= 5000


def test_worker_is_killed_when_an_invocation_overruns_the_timeout(
    artifact: StackInfo, tmp_path: Path
) -> None:
    worker = _worker(artifact, tmp_path)
    worker.invoke(_event("ok"), timeout=5)
    pid = worker.pid
    assert pid
    started = time.monotonic()
    with pytest.raises(WorkerFailed, match="timed out"):
        worker.invoke(_event("sleep 30"), timeout=1)
    assert time.monotonic() - started < 5
    assert worker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # The next invocation is a cold start in a fresh process.
    reply, cold = worker.invoke(_event("ok"), timeout=5)
    worker.kill()
    assert cold and reply["result"]["pid"] != pid


def test_a_crashing_or_raising_handler_is_reported(artifact: StackInfo, tmp_path: Path) -> None:
    worker = _worker(artifact, tmp_path)
    try:
        reply, _ = worker.invoke(_event("raise"), timeout=5)
        assert reply == {"ok": False, "error": "RuntimeError: boom"}
        with pytest.raises(WorkerFailed, match="exited"):
            worker.invoke(_event("crash"), timeout=5)
    finally:
        worker.kill()
    assert "RuntimeError: boom" in (tmp_path / "worker.log").read_text()


def test_worker_reports_a_handler_that_cannot_be_imported(
    artifact: StackInfo, tmp_path: Path
) -> None:
    worker = Worker(artifact, {"_HANDLER": "missing_module.handler"}, tmp_path / "w.log")
    with pytest.raises(WorkerFailed, match="failed to import"):
        worker.invoke(_event("ok"), timeout=5)


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client_kwargs(endpoint: str) -> dict[str, str]:
    return {"endpoint_url": endpoint, "region_name": "us-east-1", **CREDENTIALS}


def _runner(artifact: StackInfo, tmp_path: Path, endpoint: str, outputs: dict[str, Any]) -> Runner:
    """A runner for a stack on ``endpoint`` with these outputs, running the fake handler."""
    state = tmp_path / "state"
    StackInfo(
        endpoint=endpoint,
        region="us-east-1",
        trigger="sqs",
        outputs=outputs,
        function_dir=artifact.function_dir,
        layer_dir=artifact.layer_dir,
        runtime_dir=artifact.runtime_dir,
    ).save(state)
    return Runner(state, concurrency=1)


def test_runner_deletes_only_the_messages_that_did_not_fail(
    artifact: StackInfo, tmp_path: Path, moto_endpoint: str
) -> None:
    kwargs = _client_kwargs(moto_endpoint)
    sqs = boto3.client("sqs", **kwargs)
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    queue = sqs.create_queue(
        QueueName="q", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive}
    )["QueueUrl"]
    for body in ("ok", "fail", "ok"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    runner = _runner(
        artifact,
        tmp_path,
        moto_endpoint,
        {
            "source_bucket": "s",
            "destination_bucket": "d",
            "queue_url": queue,
            "dlq_url": dlq,
            "function_timeout": 5,
            "batch_size": 10,
            "batch_window_seconds": 1,
        },
    )
    runner.worker_env = lambda: {"_HANDLER": "fake_handler.handler", "PATH": "/usr/bin"}  # type: ignore[method-assign]
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            attrs = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
            if attrs["ApproximateNumberOfMessages"] == "1":
                break
            time.sleep(0.2)
    finally:
        runner.stop.set()
        thread.join(timeout=20)
    # The two good messages were deleted after the first batch; the failing one was never
    # deleted by the runner, and the queue's redrive policy moved it to the DLQ.
    assert runner.stats.messages_deleted == 2
    assert runner.stats.messages_failed >= 2
    dead = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [m["Body"] for m in dead] == ["fail"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_runner_stands_in_for_cloudwatch_on_the_alarms_it_can_observe(
    artifact: StackInfo, tmp_path: Path, moto_endpoint: str
) -> None:
    kwargs = _client_kwargs(moto_endpoint)
    sqs, sns = boto3.client("sqs", **kwargs), boto3.client("sns", **kwargs)
    cloudwatch = boto3.client("cloudwatch", **kwargs)
    dlq = sqs.create_queue(QueueName="fn-dlq")["QueueUrl"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    common = {
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "Statistic": "Sum",
        "AlarmActions": [topic],
        "OKActions": [topic],
    }
    for name, namespace, metric, dims in (
        ("fn-errors", "AWS/Lambda", "Errors", {"FunctionName": "fn"}),
        ("fn-throttles", "AWS/Lambda", "Throttles", {"FunctionName": "fn"}),
        ("fn-dlq", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "fn-dlq"}),
        ("fn-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": "fn"}),
    ):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            **common,
        )
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    runner = _runner(
        artifact, tmp_path, moto_endpoint, {"dlq_url": dlq, "function_arn": function_arn}
    )

    def states() -> dict[str, str]:
        alarms = cloudwatch.describe_alarms()["MetricAlarms"]
        return {a["AlarmName"]: a["StateValue"] for a in alarms}

    def subjects() -> list[str]:
        found = []
        for message in sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            found.append(json.loads(message["Body"])["Subject"])
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
        return sorted(found)

    subjects()  # the subscription's confirmation, if any
    cloudwatch.set_alarm_state(AlarmName="fn-age", StateValue="ALARM", StateReason="set by hand")
    runner.evaluate_alarms()
    healthy = {"fn-errors": "OK", "fn-throttles": "OK", "fn-dlq": "OK"}
    assert states() == {**healthy, "fn-age": "ALARM"}  # age: not observable, left alone
    assert subjects() == []

    runner.error_times.append(time.time())  # a function error (a crash or a timeout)
    sqs.send_message(QueueUrl=dlq, MessageBody="dead")
    runner.evaluate_alarms()
    assert states()["fn-errors"] == states()["fn-dlq"] == "ALARM"
    assert subjects() == ['ALARM: "fn-dlq" in us-east-1', 'ALARM: "fn-errors" in us-east-1']
    runner.evaluate_alarms()
    assert subjects() == []  # no change, no news

    runner.error_times.clear()  # the error has left the alarm's period
    runner.evaluate_alarms()
    assert states()["fn-errors"] == "OK"
    assert subjects() == ['OK: "fn-errors" in us-east-1']

"""The local runner: plays Lambda's part for a stack applied to the emulator.

moto stores the function Terraform creates but cannot run its code (that needs Docker), so
the runner does what AWS would:

* ``eventbridge`` and ``sqs`` triggers — the event source mapping: long-polls the module's
  queue, gathers up to ``batch_size`` messages within ``batch_window_seconds``, invokes the
  handler with an SQS event and deletes only the messages not listed in
  ``batchItemFailures``. A function error or timeout deletes nothing; the messages come back
  after the queue's visibility timeout and the queue's own redrive policy moves them to the
  dead-letter queue after ``maxReceiveCount`` receives (moto applies the redrive on receive).
* ``direct`` trigger — S3's asynchronous invocation: moto's S3 builds the notification for
  the function but would run the function in Docker; the emulator queues it instead (see
  ``emulator.queue_lambda_invocations``). The runner's pollers take each queued invocation
  and invoke the handler with S3's event as moto built it, retrying a failed invocation twice
  (Lambda's default) and then sending Lambda's on-failure record to the dead-letter queue.

Each invocation runs in a worker process started from the *built artifact* (see
``_bootstrap.py``): a fresh process on a cold start, reused while warm, killed when an
invocation overruns the function's timeout. The runner also stands in for CloudWatch, which
moto stores alarms for but never evaluates: the function's errors and throttles alarms and
the dead-letter-queue alarm are evaluated from what the runner sees, and a change into
``ALARM`` (or back to ``OK``) is published to the alarm's SNS actions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thumbnailer.errors import ThumbnailerError
from thumbnailer.local.emulator import INVOCATIONS_QUEUE
from thumbnailer.local.state import StackInfo, process_record, write_json

__all__ = ["Runner", "Worker", "WorkerFailed", "main"]

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
HANDLER = "thumbnailer.aws_lambda.handler"
_LAST_ERRORS = 20


class WorkerFailed(ThumbnailerError):
    """The worker process crashed, failed to start, or overran the function timeout."""

    kind = "worker"
    permanent = False


@dataclass
class Stats:
    """Counters shown by ``thumbnailer local status``; saved to ``stats.json``."""

    started: float = field(default_factory=time.time)
    invocations: int = 0
    function_errors: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    messages_failed: int = 0
    on_failure_sent: int = 0
    alarms_raised: int = 0
    busy: int = 0
    last_errors: deque[str] = field(default_factory=lambda: deque(maxlen=_LAST_ERRORS))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        data = dict(self.__dict__)
        data["last_errors"] = list(self.last_errors)
        return data


class Worker:
    """One Lambda execution environment: a process running the handler from the artifact."""

    def __init__(self, info: StackInfo, env: dict[str, str], log: Path) -> None:
        self.info = info
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    @property
    def pid(self) -> int | None:
        """Pid of the running worker process."""
        return self.process.pid if self.process and self.process.poll() is None else None

    def _start(self, timeout: float) -> float:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-P",
                    str(BOOTSTRAP),
                    self.info.function_dir,
                    self.info.layer_dir,
                    self.info.runtime_dir,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self.env,
                cwd=self.info.function_dir,
            )
        self._buffer = b""
        # Lambda gives init up to 10 s on its own clock; the local interpreter gets more slack.
        hello = self._read(max(timeout, 30.0))
        if not hello.get("ready"):
            self.kill()
            raise WorkerFailed(f"the handler failed to import: {hello.get('error', '')[-500:]}")
        return float(hello.get("init_ms", 0.0))

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerFailed(f"Task timed out after {timeout:.2f} seconds")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    code = self.process.wait()
                    _close(self.process)
                    self.process = None
                    raise WorkerFailed(f"the worker process exited (code {code}) mid-invocation")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        value = json.loads(line)
        return value if isinstance(value, dict) else {}

    def invoke(self, event: dict[str, Any], timeout: float) -> tuple[dict[str, Any], bool]:
        """Run the handler on ``event``; return (reply, cold start)."""
        cold = self.pid is None
        if cold:
            self._start(timeout)
        assert self.process is not None and self.process.stdin is not None
        request = json.dumps({"event": event, "timeout": timeout}).encode() + b"\n"
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
        except OSError as exc:
            self.kill()
            raise WorkerFailed(f"the worker process is gone: {exc}") from exc
        return self._read(timeout), cold

    def kill(self) -> None:
        """Kill the worker (a timed-out Lambda environment is discarded, not reused)."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        _close(process)


def _close(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


_COMPARE: dict[str, Any] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


def _function_name(arn: str) -> str:
    """``name`` from ``arn:aws:lambda:region:account:function:name[:qualifier]`` (or a name)."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn


class Runner:
    """Polls the stack's trigger and invokes workers until stopped."""

    def __init__(self, state_dir: Path, concurrency: int | None = None) -> None:
        import boto3

        self.state_dir = state_dir
        self.info = StackInfo.load(state_dir)
        self.concurrency = max(1, concurrency or self.info.concurrency)
        kwargs = self.info.client_kwargs()
        self.sqs = boto3.client("sqs", **kwargs)  # type: ignore[call-overload]
        self.s3 = boto3.client("s3", **kwargs)  # type: ignore[call-overload]
        self.cloudwatch = boto3.client("cloudwatch", **kwargs)  # type: ignore[call-overload]
        self.sns = boto3.client("sns", **kwargs)  # type: ignore[call-overload]
        self.stats = Stats()
        self.lock = threading.Lock()
        self.save_lock = threading.Lock()
        self.stop = threading.Event()
        out = self.info.outputs
        self.timeout = float(out.get("function_timeout") or 10)
        self.batch_size = int(out.get("batch_size") or 10)
        self.window = float(out.get("batch_window_seconds") or 0)
        self.queue_arn = str(out.get("queue_arn") or "")
        self.invocations_url: str | None = None
        # When each function error happened, for the Errors alarm's period.
        self.error_times: deque[float] = deque(maxlen=10_000)
        self.workers: list[Worker] = []

    # -- environment of the function ---------------------------------------------------
    def worker_env(self) -> dict[str, str]:
        """The function's environment plus what the Lambda runtime and the emulator add."""
        out = self.info.outputs
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "_HANDLER": HANDLER,
            "AWS_REGION": self.info.region,
            "AWS_DEFAULT_REGION": self.info.region,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": self.info.endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": str(out.get("function_name") or "thumbnailer"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(out.get("function_memory_size") or 1024),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(self.timeout)),
            "AWS_LAMBDA_LOG_GROUP_NAME": str(out.get("log_group_name") or ""),
            "AWS_EXECUTION_ENV": "AWS_Lambda_local-runner",
            "LAMBDA_TASK_ROOT": self.info.function_dir,
            "THUMBNAILER_LOCAL_FUNCTION_ARN": str(out.get("function_arn") or ""),
            **self.info.environment,
        }
        faults = os.environ.get("THUMBNAILER_LOCAL_FAULTS", "")
        if faults:
            env["THUMBNAILER_LOCAL_FAULTS"] = faults
        return env

    # -- bookkeeping ---------------------------------------------------------------------
    def error(self, text: str) -> None:
        """Record an error for ``status`` and the runner log."""
        line = f"{time.strftime('%H:%M:%S')} {text}"
        print(line, flush=True)
        with self.lock:
            self.stats.last_errors.append(line[:500])

    def save(self) -> None:
        """Write ``stats.json`` and the worker pids."""
        with self.save_lock:
            with self.lock:
                data = self.stats.as_dict()
            data["pid"] = os.getpid()
            data["worker_pids"] = [w.pid for w in self.workers if w.pid]
            data["ready"] = True
            write_json(self.state_dir / "stats.json", data)

    def invoke(self, worker: Worker, event: dict[str, Any]) -> dict[str, Any] | None:
        """Invoke and account; ``None`` on a function error or timeout."""
        with self.lock:
            self.stats.invocations += 1
            self.stats.busy += 1
        self.save()
        try:
            reply, cold = worker.invoke(event, self.timeout)
        except WorkerFailed as exc:
            with self.lock:
                self.stats.timeouts += "timed out" in exc.message
                self.stats.function_errors += "timed out" not in exc.message
                self.error_times.append(time.time())  # Lambda's Errors counts timeouts too
            self.error(f"invocation failed: {exc.message}")
            return None
        finally:
            with self.lock:
                self.stats.busy -= 1
        with self.lock:
            self.stats.cold_starts += cold
        if not reply.get("ok"):
            with self.lock:
                self.stats.function_errors += 1
                self.error_times.append(time.time())
            self.error(f"function error: {reply.get('error')}")
            return None
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    # -- event source mapping ------------------------------------------------------------
    def collect_batch(self) -> list[dict[str, Any]]:
        """Long-poll for a first message, then fill the batch until size or window."""
        url = self.info.queue_url
        assert url is not None
        messages: list[dict[str, Any]] = []
        first = time.monotonic()
        while len(messages) < self.batch_size and not self.stop.is_set():
            waited = time.monotonic() - first
            if messages and waited >= self.window:
                break
            # Short long-polls so `down` is answered promptly.
            wait = 1 if not messages else min(1, max(0, int(self.window - waited)))
            reply = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
            )
            got = reply.get("Messages", [])
            if not messages:
                first = time.monotonic()
            messages += got
            if not got and (not messages or wait == 0):
                break
        return messages

    def poll_queue(self, worker: Worker) -> None:
        """One poller of the event source mapping (Lambda runs several in parallel)."""
        url = self.info.queue_url
        assert url is not None
        while not self.stop.is_set():
            try:
                messages = self.collect_batch()
            except Exception as exc:  # the emulator going away must not kill the poller
                self.error(f"receive failed: {exc}")
                self.stop.wait(1)
                continue
            if not messages:
                continue
            with self.lock:
                self.stats.messages_received += len(messages)
            event = {
                "Records": [_sqs_record(m, self.queue_arn, self.info.region) for m in messages]
            }
            result = self.invoke(worker, event)
            if result is None:
                continue  # nothing deleted: the batch comes back after the visibility timeout
            failed = {
                str(item.get("itemIdentifier"))
                for item in result.get("batchItemFailures", [])
                if isinstance(item, dict)
            }
            done = [m for m in messages if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                chunk = done[start : start + 10]
                try:
                    self.sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(chunk)
                        ],
                    )
                except Exception as exc:
                    self.error(f"delete failed: {exc}")
            with self.lock:
                self.stats.messages_deleted += len(done)
                self.stats.messages_failed += len(failed)
            self.save()

    # -- direct (S3 asynchronous invocation) ---------------------------------------------
    def open_invocations(self) -> str:
        """The emulator's queue of S3's invocations of the function (created if missing).

        Its visibility timeout outlasts Lambda's three attempts, so an invocation in flight is
        never handed to a second poller; one the runner dies holding comes back.
        """
        hold = 3 * (self.timeout + 2) + 30
        try:
            url: str = self.sqs.create_queue(
                QueueName=INVOCATIONS_QUEUE, Attributes={"VisibilityTimeout": str(int(hold))}
            )["QueueUrl"]
        except Exception:  # exists with other attributes (a runner restarted): reuse it
            url = self.sqs.get_queue_url(QueueName=INVOCATIONS_QUEUE)["QueueUrl"]
        return url

    def poll_invocations(self, worker: Worker) -> None:
        """Invoke the function for each S3 notification the emulator queued for it."""
        assert self.invocations_url is not None
        ours = _function_name(str(self.info.outputs.get("function_arn") or ""))
        while not self.stop.is_set():
            try:
                reply = self.sqs.receive_message(
                    QueueUrl=self.invocations_url, MaxNumberOfMessages=1, WaitTimeSeconds=1
                )
            except Exception as exc:  # the emulator going away must not kill the poller
                self.error(f"receive failed: {exc}")
                self.stop.wait(1)
                continue
            for message in reply.get("Messages", []):
                try:
                    invocation = json.loads(message["Body"])
                except ValueError:
                    invocation = {}
                payload = invocation.get("Payload")
                target = _function_name(str(invocation.get("FunctionArn", "")))
                if target == ours and isinstance(payload, dict):
                    self.deliver_async(worker, payload)
                else:
                    self.error(f"invocation for another function ignored: {target or '?'}")
                try:
                    self.sqs.delete_message(
                        QueueUrl=self.invocations_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                except Exception as exc:
                    self.error(f"delete failed: {exc}")

    def deliver_async(self, worker: Worker, event: dict[str, Any]) -> None:
        """Lambda's asynchronous invocation: two retries, then the on-failure destination."""
        attempts = 3
        for attempt in range(1, attempts + 1):
            if self.invoke(worker, event) is not None:
                return
            if attempt < attempts and self.stop.wait(min(2.0, self.timeout)):
                return
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{self.info.outputs.get('function_arn')}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        }
        try:
            self.sqs.send_message(QueueUrl=self.info.dlq_url, MessageBody=json.dumps(record))
        except Exception as exc:
            self.error(f"on-failure destination failed: {exc}")
            return
        with self.lock:
            self.stats.on_failure_sent += 1

    # -- CloudWatch stand-in -------------------------------------------------------------
    def metric(self, alarm: dict[str, Any]) -> float | None:
        """The value of an alarm's metric over its period, as the runner sees it.

        ``None`` for a metric the runner cannot observe (the oldest message's age): that
        alarm is left in the state moto gave it.
        """
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        namespace, name = alarm.get("Namespace"), alarm.get("MetricName")
        function = _function_name(str(self.info.outputs.get("function_arn") or ""))
        if namespace == "AWS/Lambda" and dims.get("FunctionName") == function:
            if name == "Errors":
                since = time.time() - float(alarm.get("Period") or 300)
                with self.lock:
                    return float(sum(1 for t in self.error_times if t >= since))
            if name == "Throttles":
                return 0.0  # the runner queues work; it never refuses an invocation
        dlq_name = (self.info.dlq_url or "").rsplit("/", 1)[-1]
        if (
            namespace == "AWS/SQS"
            and name == "ApproximateNumberOfMessagesVisible"
            and dims.get("QueueName") == dlq_name
        ):
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=self.info.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return float(attrs.get("ApproximateNumberOfMessages", "0"))
        return None

    def evaluate_alarms(self) -> None:
        """Stand in for CloudWatch: evaluate the stack's alarms and notify their actions.

        moto stores alarms but never evaluates them. Each alarm whose metric the runner can
        observe (:meth:`metric`) is compared with its threshold; a change of state is set on
        the alarm and, into ``ALARM`` or back to ``OK`` from it, CloudWatch's notification is
        published to the alarm's actions.
        """
        try:
            alarms = self.cloudwatch.describe_alarms().get("MetricAlarms", [])
        except Exception as exc:
            self.error(f"alarm check failed: {exc}")
            return
        for alarm in alarms:
            try:
                value = self.metric(alarm)
            except Exception as exc:
                self.error(f"alarm check failed: {exc}")
                continue
            if value is None:
                continue
            compare = _COMPARE.get(str(alarm.get("ComparisonOperator")))
            if compare is None:
                continue
            state = "ALARM" if compare(value, float(alarm.get("Threshold", 0))) else "OK"
            previous = alarm.get("StateValue")
            if previous == state:
                continue
            reason = f"Threshold Crossed: {alarm.get('MetricName')} = {value:g}"
            try:
                self.cloudwatch.set_alarm_state(
                    AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason
                )
                if state == "OK" and previous != "ALARM":
                    continue  # leaving INSUFFICIENT_DATA at start-up is not news
                self.notify(alarm, state, reason)
            except Exception as exc:  # the emulator going away must not stop the runner
                self.error(f"alarm update failed: {exc}")

    def notify(self, alarm: dict[str, Any], state: str, reason: str) -> None:
        """Publish CloudWatch's alarm notification to the actions for ``state``."""
        message = {
            "AlarmName": alarm["AlarmName"],
            "AlarmDescription": alarm.get("AlarmDescription", ""),
            "NewStateValue": state,
            "NewStateReason": reason,
            "StateChangeTime": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
            "Region": self.info.region,
            "Trigger": {
                "MetricName": alarm.get("MetricName"),
                "Namespace": alarm.get("Namespace"),
                "Dimensions": alarm.get("Dimensions", []),
            },
        }
        actions = alarm.get("AlarmActions" if state == "ALARM" else "OKActions", [])
        for arn in actions:
            self.sns.publish(
                TopicArn=arn,
                Subject=f'{state}: "{alarm["AlarmName"]}" in {self.info.region}'[:100],
                Message=json.dumps(message),
            )
        if state == "ALARM":
            with self.lock:
                self.stats.alarms_raised += 1

    # -- main loop -----------------------------------------------------------------------
    def run(self) -> None:
        """Start the pollers and block until :attr:`stop` is set."""
        env = self.worker_env()
        trigger = self.info.trigger
        self.workers = [
            Worker(self.info, env, self.state_dir / "worker.log") for _ in range(self.concurrency)
        ]
        if trigger == "direct":
            self.invocations_url = self.open_invocations()
        target = self.poll_invocations if trigger == "direct" else self.poll_queue
        threads = [
            threading.Thread(target=self._guard, args=(target, w), daemon=True)
            for w in self.workers
        ]
        for thread in threads:
            thread.start()
        self.save()
        while not self.stop.wait(2.0):
            self.evaluate_alarms()
            self.save()
        for thread in threads:
            thread.join(timeout=self.timeout + 5)
        for worker in self.workers:
            worker.kill()
        self.save()

    def _guard(self, target: Any, worker: Worker) -> None:
        while not self.stop.is_set():
            try:
                target(worker)
            except Exception as exc:  # keep the stack alive; report and restart the loop
                self.error(f"poller crashed: {type(exc).__name__}: {exc}")
                self.stop.wait(1)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the detached runner process (``python -m thumbnailer.local.runner``)."""
    parser = argparse.ArgumentParser(prog="thumbnailer-local-runner")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=0)
    args = parser.parse_args(argv)
    runner = Runner(args.state_dir, args.concurrency or None)

    def stop(signum: int, frame: object) -> None:
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_json(args.state_dir / "runner.json", process_record(os.getpid()))
    print(f"runner up: trigger={runner.info.trigger} concurrency={runner.concurrency}", flush=True)
    runner.run()
    print("runner stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

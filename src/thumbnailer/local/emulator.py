"""A moto server on 127.0.0.1: start it on a free or given port, wait until it answers, stop it.

The server runs as a child process (``python -m thumbnailer.local.emulator``, which starts
moto's own server) so it can outlive the caller (``detach=True``, for ``thumbnailer local up``)
and be stopped later from its state folder (:func:`stop_detached`), or be used as a context
manager in tests. A server with a state folder names it on its command line
(``--state-dir DIR``), so that the pid recorded there is signalled only while it still is that
server: pids are reused.

Before serving, the child closes three gaps between moto and AWS that the module runs into
(:func:`close_moto_gaps`), queues S3's invocations of a function for the local runner instead
of failing them without Docker (:func:`queue_lambda_invocations`), and removes two costs moto
pays on every request that grow with the emulator's state rather than with the request
(:func:`speed_up_moto`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from thumbnailer.errors import ConfigError, TransientError
from thumbnailer.local.state import CREDENTIALS, alive, is_ours

__all__ = [
    "DEFAULT_REGION",
    "HOST",
    "INVOCATIONS_QUEUE",
    "MotoServer",
    "close_moto_gaps",
    "free_port",
    "queue_lambda_invocations",
    "recorded_server",
    "serve",
    "speed_up_moto",
    "stop_detached",
]

HOST = "127.0.0.1"  # never bind a wider interface: the emulator accepts any credentials
DEFAULT_REGION = "us-east-1"
STATE_FILE = "emulator.json"
# Where the emulator queues S3's invocations of a function (see queue_lambda_invocations).
INVOCATIONS_QUEUE = "thumbnailer-local-invocations"


def free_port(host: str = HOST) -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(endpoint: str) -> bool:
    # moto's dashboard page: static, cheap, and 200 whatever the server holds (its data.json
    # answers 500 once a Lambda function exists, because describing one asks for Docker).
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _port_taken(port: int) -> bool:
    # Whether something listens on the port (the server binds with SO_REUSEADDR too, so a
    # port left in TIME_WAIT by an earlier server does not count).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def _names_of(state_dir: Path) -> tuple[str, str]:
    # What the command line of the server of `state_dir` holds (see MotoServer.start).
    return (__name__, str(state_dir.resolve()))


def recorded_server(state_dir: Path) -> dict[str, Any] | None:
    """The record (pid, endpoint, port) of the server started from ``state_dir``, if it runs.

    ``None`` when there is no record, or when the recorded pid is no longer that server.
    """
    state = _read_state(state_dir)
    if state is None or not is_ours(int(state["pid"]), names=_names_of(state_dir)):
        return None
    return state


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((state_dir / STATE_FILE).read_text())
        int(state["pid"])
        str(state["endpoint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if isinstance(state, dict) else None


@dataclass
class MotoServer:
    """A moto server process bound to 127.0.0.1.

    ``state_dir`` (optional) receives the server log and ``emulator.json`` (pid, endpoint),
    which :func:`stop_detached` reads.
    """

    port: int = 0
    state_dir: Path | None = None
    startup_timeout: float = 30.0
    _process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``; valid once started."""
        if not self.port:
            raise ConfigError("the emulator has not been started")
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the server, or ``None`` when not running."""
        return self._process.pid if self._process else None

    def client_kwargs(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Keyword arguments for ``boto3.client(...)`` against this server."""
        return {"endpoint_url": self.endpoint, "region_name": region, **CREDENTIALS}

    def start(self, *, detach: bool = False) -> str:
        """Start the server, wait until it answers, and return its endpoint URL.

        With ``detach``, the server gets its own session so it survives the caller, and keeps
        running after this object is garbage-collected; stop it with :func:`stop_detached`.
        """
        if self._process is not None:
            return self.endpoint
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port}: expected 1..65535 (or 0 for a free one)")
        self.port = self.port or free_port()
        if _answers(self.endpoint):
            raise ConfigError(
                f"port {self.port} on {HOST} is already in use by another server "
                "(a moto server answers there: another local stack?)"
            )
        if _port_taken(self.port):
            raise ConfigError(f"port {self.port} on {HOST} is already in use")
        log: IO[bytes] | None = None
        command = [sys.executable, "-m", __name__, "-H", HOST, "-p", str(self.port)]
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            log = (self.state_dir / "emulator.log").open("ab")
            command[3:3] = ["--state-dir", _names_of(self.state_dir)[1]]
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log if log is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=detach,
            )
        except OSError as exc:
            raise ConfigError(f"cannot start the moto server: {exc}") from exc
        finally:
            if log is not None:
                log.close()
        try:
            self._wait_until_it_answers()
        except BaseException:
            self.stop()  # interrupted or failed: never leave a half-started server behind
            raise
        return self.endpoint

    def _wait_until_it_answers(self) -> None:
        assert self._process is not None
        if self.state_dir is not None:
            # Recorded before the wait, so that whoever finds the folder can stop the server.
            state = {"pid": self._process.pid, "endpoint": self.endpoint, "port": self.port}
            (self.state_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
        deadline = time.monotonic() + self.startup_timeout
        while not _answers(self.endpoint):
            code = self._process.poll()
            if code is not None:
                where = f"; see {self.state_dir / 'emulator.log'}" if self.state_dir else ""
                raise ConfigError(f"the moto server exited with code {code} while starting{where}")
            if time.monotonic() > deadline:
                raise TransientError(
                    f"the moto server did not answer within {self.startup_timeout}s"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``) and forget it.

        ``emulator.json`` is removed only while it describes this server: another one may have
        been recorded in the same folder since.
        """
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self.state_dir is not None:
            state = _read_state(self.state_dir)
            if state is not None and int(state["pid"]) == process.pid:
                (self.state_dir / STATE_FILE).unlink(missing_ok=True)

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def stop_detached(state_dir: Path, timeout: float = 10.0) -> bool:
    """Stop a server started with ``detach=True`` from its state folder.

    Returns ``True`` if a running server was stopped, ``False`` if there was none. The
    recorded pid is signalled only while its command line still names this module and this
    state folder (pids are reused); a stale record is removed.
    """
    state_file = state_dir / STATE_FILE
    state = _read_state(state_dir)
    if state is None:
        return False
    pid = int(state["pid"])
    if recorded_server(state_dir) is None:
        state_file.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    state_file.unlink(missing_ok=True)
    return True


def speed_up_moto() -> None:
    """Make moto's per-request cost independent of the queue depth and of moto's package size.

    Two things moto 5 does on every request, found by profiling the server under the end-to-end
    benchmark (a backlog of 2,000 queued messages):

    * SQS ``ReceiveMessage`` checks each message it returns against the queue's retention
      period by computing *all* queue attributes, three of which count the queue's messages
      one by one: a receive of 10 costs 30 walks of the whole backlog. The check needs one
      attribute; it is read directly.
    * Every request is routed by asking whether its host names a moto module, which lists
      moto's package folder (a ``listdir`` and ~190 ``isdir`` calls). The folder does not
      change while the server runs; it is listed once.

    Both replacements give the same answers as the code they replace.
    """
    from moto import backends
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, SQSBackend

    modules = frozenset(backends.list_of_moto_modules())

    def list_of_moto_modules() -> frozenset[str]:
        return modules

    def is_message_valid_based_on_retention_period(
        self: SQSBackend, queue_name: str, message: Message
    ) -> bool:
        queue = self.get_queue(queue_name)
        # moto sets queue attributes with setattr and types `sent_timestamp` by its initial
        # None: both are unknown to the type checker, and both are set on a queued message.
        retention_period = int(queue.message_retention_period)  # type: ignore[attr-defined]
        sent_at = message.sent_timestamp / 1000  # type: ignore[operator]
        return bool(retention_period + sent_at > unix_time())

    backends.list_of_moto_modules = list_of_moto_modules
    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )


def close_moto_gaps() -> None:
    """Close three gaps between moto 5 and AWS that the module's real Terraform runs into.

    * SQS: moto stores a queue's ``RedriveAllowPolicy`` but never returns it, so the AWS
      provider would wait forever for it to read back; it is returned like SQS does.
    * S3: moto evaluates bucket policies without their conditions, so the module's TLS-only
      statement (Deny when ``aws:SecureTransport`` is false) would deny every object read and
      write over the emulator's plain HTTP. The emulator stands in for an HTTPS endpoint on
      the loopback: statements conditioned only on ``aws:SecureTransport`` are left out of
      the evaluation. The stored policy is returned unchanged.
    * S3: in a bucket whose versioning is suspended, deleting a version of a key removes the
      whole key, and moto disposes of each of its versions; a delete marker has no
      ``dispose``, so the request fails with a 500, and Terraform's ``force_destroy``, which
      empties the bucket and tries again until it is empty, never ends. A delete marker
      holds no data: disposing of it does nothing.
    """
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket, FakeDeleteMarker
    from moto.sqs.models import Queue

    if "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES.append("RedriveAllowPolicy")
        Queue.redrive_allow_policy = None  # type: ignore[attr-defined]

    def secure_transport_only(statement: dict[str, Any]) -> bool:
        condition = statement.get("Condition") or {}
        keys = [key.lower() for test in condition.values() for key in test]
        return bool(keys) and all(key == "aws:securetransport" for key in keys)

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = [s for s in statements if not secure_transport_only(s)]
        policy = IAMPolicy(json.dumps({**document, "Statement": kept}))
        return policy.is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]

    if not hasattr(FakeDeleteMarker, "dispose"):

        def dispose(self: FakeDeleteMarker, garbage: bool = False) -> None:
            return None

        FakeDeleteMarker.dispose = dispose  # type: ignore[attr-defined]


def queue_lambda_invocations() -> None:
    """Queue S3's invocations of a function instead of running them in Docker.

    moto's S3 invokes a function named in a bucket's notification configuration by running its
    code in a container, which needs Docker; without it the invocation fails silently. When a
    queue named :data:`INVOCATIONS_QUEUE` exists in the function's account and region, each
    such invocation becomes a message there instead — ``{"FunctionArn": ..., "Payload": <the
    S3 event as moto built it>}`` — for the local runner to invoke the way Lambda invokes
    asynchronously. Without that queue moto behaves as before.
    """
    from moto.s3 import notifications
    from moto.sqs.models import sqs_backends

    original = notifications._invoke_awslambda

    def invoke(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        if INVOCATIONS_QUEUE not in backend.queues:
            original(account_id, event_body, fn_arn, region_name)
            return
        body = json.dumps({"FunctionArn": fn_arn, "Payload": event_body})
        backend.send_message(INVOCATIONS_QUEUE, body)

    notifications._invoke_awslambda = invoke


def serve(argv: Sequence[str] | None = None) -> None:
    """Run moto's server (``-H HOST -p PORT``, as ``moto.server``) closer to AWS and faster.

    :func:`close_moto_gaps`, :func:`queue_lambda_invocations` and :func:`speed_up_moto` are
    applied in the server process first. ``--state-dir DIR`` only names the state folder the
    server belongs to on its command line (see :func:`stop_detached`); moto never sees it.
    """
    args = list(argv) if argv is not None else sys.argv[1:]
    if "--state-dir" in args:
        at = args.index("--state-dir")
        del args[at : at + 2]
    close_moto_gaps()
    queue_lambda_invocations()
    speed_up_moto()
    from moto.server import main as moto_main

    moto_main(args)


if __name__ == "__main__":
    serve()

"""Worker process of the local runner: plays the Lambda runtime for the built artifact.

Run as a script with an isolated interpreter (``python -I -S -P _bootstrap.py TASK OPT
RUNTIME``) so that only the unzipped function (``/var/task``), the layer (``/opt/python``)
and a small stand-in for the runtime's own boto3 are importable, in Lambda's order. It reads
one JSON request per line on stdin and answers one JSON line on a private descriptor; the
handler's own prints and logs go to stderr (the worker log), as CloudWatch would get them.

Standard library only until the paths are set: this file must not import thumbnailer.
"""

import json
import os
import random
import sys
import time
import traceback
import uuid
from typing import Any


class _Context:
    """The subset of Lambda's context object the handler and Powertools read."""

    def __init__(self, deadline: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "thumbnailer")
        self.function_version = "$LATEST"
        self.invoked_function_arn = os.environ.get("THUMBNAILER_LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: object) -> object:
        yield self._body


def _install_faults(spec_text: str) -> None:
    """Test hook: fail or slow down S3 calls, per HTTP attempt (so botocore retries see it).

    ``THUMBNAILER_LOCAL_FAULTS`` is a JSON rule or list of rules: ``match`` (substring the
    request URL must contain; "" for all), ``operations`` (S3 operation names; empty for all),
    ``rate`` (share of matching attempts answered ``503 SlowDown``), ``delay`` (seconds to
    sleep first, to keep a batch in flight). Each worker process draws its own faults, so a
    fresh environment does not replay the faults that failed the last one. Only this local
    worker reads it; the function deployed to AWS never does.
    """
    import botocore.awsrequest
    import botocore.session

    loaded = json.loads(spec_text)
    rules = loaded if isinstance(loaded, list) else [loaded]
    rngs = [random.Random() for _ in rules]
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
        b"<Message>injected fault</Message></Error>"
    )

    def before_send(**kwargs: Any) -> Any:
        request, event_name = kwargs.get("request"), str(kwargs.get("event_name", ""))
        operation = event_name.rsplit(".", 1)[-1]
        url = str(getattr(request, "url", ""))
        for rule, rng in zip(rules, rngs, strict=True):
            operations = rule.get("operations") or []
            if operations and operation not in operations:
                continue
            if rule.get("match", "") not in url:
                continue
            if rule.get("delay"):
                time.sleep(float(rule["delay"]))
            if rng.random() < float(rule.get("rate", 0.0)):
                sys.stderr.write(f"injected fault: {operation} {url}\n")
                return botocore.awsrequest.AWSResponse(url, 503, {}, _Raw(body))  # type: ignore[arg-type]
        return None

    original_init = botocore.session.Session.__init__

    def init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.register("before-send.s3", before_send)

    botocore.session.Session.__init__ = init  # type: ignore[method-assign]


def main() -> None:
    task, opt, runtime = sys.argv[1:4]
    sys.path[:0] = [task, opt, runtime]
    # Private answer channel; fd 1 becomes stderr so handler prints land in the log.
    answer = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    faults = os.environ.get("THUMBNAILER_LOCAL_FAULTS", "")
    if faults:
        _install_faults(faults)
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    started = time.perf_counter()
    try:
        module = __import__(module_name, fromlist=[function_name])
        handler = getattr(module, function_name)
    except Exception:
        answer.write(json.dumps({"ready": False, "error": traceback.format_exc()}) + "\n")
        return
    init_ms = (time.perf_counter() - started) * 1000
    answer.write(json.dumps({"ready": True, "init_ms": init_ms}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = _Context(time.time() + float(request["timeout"]))
        try:
            result = handler(request["event"], context)
            reply = {"ok": True, "result": result}
        except Exception as exc:
            sys.stderr.write(traceback.format_exc())
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        answer.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()

"""``thumbnailer local up | status | down``: the local stack (:mod:`thumbnailer.local.stack`)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from thumbnailer.local.state import DEFAULT_STATE_DIR, process_record, write_json

__all__ = ["register"]


def _port(text: str) -> int:
    """A TCP port, 0..65535 (0: a free one); anything else is a usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: expected 1..65535 (0: a free one)")
    return port


def _state_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"Folder of the stack's state, logs and processes (default: ./{DEFAULT_STATE_DIR}).",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``local`` command and its ``up``, ``status`` and ``down`` subcommands."""
    parser = subparsers.add_parser(
        "local",
        help="Run the whole stack on 127.0.0.1: moto server, Terraform, the built function.",
        description=__doc__,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    up = actions.add_parser(
        "up",
        help="Start the stack and return once it is ready (on a stack that is up but whose "
        "runner is not running: start the runner again).",
    )
    _state_dir_option(up)
    up.add_argument(
        "--port", type=_port, default=0, help="Emulator port, 1..65535 (default: a free one)."
    )
    up.add_argument(
        "--trigger",
        choices=("eventbridge", "sqs", "direct"),
        default="eventbridge",
        help="How uploads reach the function (default: eventbridge).",
    )
    up.add_argument(
        "--concurrency", type=int, default=2, help="Parallel queue pollers (default: 2)."
    )
    up.add_argument(
        "--foreground",
        action="store_true",
        help="Run the runner in this terminal and stop everything on Ctrl-C.",
    )
    up.set_defaults(handler=_up)

    status = actions.add_parser("status", help="Queue depths, thumbnails made, failures.")
    _state_dir_option(status)
    status.add_argument("--json", action="store_true", help="Print JSON (for scripts).")
    status.set_defaults(handler=_status)

    down = actions.add_parser("down", help="Stop every process the stack started.")
    _state_dir_option(down)
    down.add_argument(
        "--destroy", action="store_true", help="Run `terraform destroy` before stopping."
    )
    down.set_defaults(handler=_down)


def _up(args: argparse.Namespace) -> int:
    from thumbnailer.local import stack

    info = stack.up(
        stack.UpOptions(
            state_dir=args.state_dir,
            port=args.port,
            trigger=args.trigger,
            concurrency=args.concurrency,
            start_runner=not args.foreground,
        )
    )
    state = args.state_dir
    print(f"local stack up ({info.trigger} trigger), state in {state}")
    print(f"  endpoint            {info.endpoint}  (region {info.region}, credentials test/test)")
    print(f"  source bucket       {info.source_bucket}")
    print(f"  thumbnails bucket   {info.destination_bucket}")
    if info.queue_url:
        print(f"  queue               {info.queue_url}")
    print(f"  dead-letter queue   {info.dlq_url}")
    print("\nupload with the AWS CLI:")
    print(
        f"  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url {info.endpoint} "
        f"--region {info.region} s3 cp photo.jpg s3://{info.source_bucket}/"
    )
    print("or with thumbnailer:")
    print(f"  thumbnailer upload photo.jpg --state-dir {state}")
    print(
        f"then: thumbnailer local status --state-dir {state};  "
        f"thumbnailer local down --state-dir {state}"
    )
    if not args.foreground:
        return 0
    from thumbnailer.local.runner import Runner

    runner = Runner(args.state_dir.resolve())

    def stop(signum: int, frame: object) -> None:
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_json(
        args.state_dir.resolve() / "runner.json", process_record(os.getpid(), foreground=True)
    )
    print("runner in the foreground; Ctrl-C stops the stack", flush=True)
    try:
        runner.run()
    finally:
        for line in stack.down(args.state_dir):
            print(line)
    return 0


def _status(args: argparse.Namespace) -> int:
    from thumbnailer.local import stack

    report = stack.status(args.state_dir)
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
        return 0
    _print_status(report)
    return 0


def _depth(value: dict[str, int] | None) -> str:
    if value is None:
        return "-"
    return f"{value['visible']} waiting, {value['in_flight']} in flight"


def _print_status(report: dict[str, Any]) -> None:
    runner = report["runner"]
    print(f"endpoint          {report['endpoint']} ({report['trigger']} trigger)")
    print(f"runner            {'running' if report['runner_running'] else 'NOT running'}")
    print(f"queue             {_depth(report['queue_depth'])}")
    print(f"dead-letter queue {_depth(report['dlq_depth'])}")
    print(f"thumbnails        {report['thumbnails']}")
    print(f"failures          {report['failure_count']}")
    for failure in report["failures"][-10:]:
        source = failure.get("source")
        source = source.get("key") if isinstance(source, dict) else failure["marker"]
        print(f"  {source}: {failure.get('kind', '?')}: {failure.get('message', '')}")
    if runner:
        print(
            f"invocations       {runner.get('invocations', 0)} "
            f"({runner.get('cold_starts', 0)} cold, {runner.get('function_errors', 0)} errors, "
            f"{runner.get('timeouts', 0)} timeouts)"
        )
    if report["last_errors"]:
        print("last errors:")
        for line in report["last_errors"][-5:]:
            print(f"  {line}")
    for line in report.get("advice", []):
        print(line)


def _down(args: argparse.Namespace) -> int:
    from thumbnailer.local import stack

    done = stack.down(args.state_dir, destroy=args.destroy)
    for line in done or ["nothing was running"]:
        print(line)
    return 0

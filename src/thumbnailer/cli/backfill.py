"""``thumbnailer backfill``: thumbnails for objects uploaded before the trigger existed.

The settings (sizes, prefixes, destination bucket...) must be the deployed function's, so that
"current" means the same thing here as in Lambda. They are read, in this order, from the
function's configuration (``--function-name``), from the local stack (``--local``), or from
the ``THUMBNAILER_*`` environment variables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from thumbnailer.errors import ConfigError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``backfill`` command."""
    parser = subparsers.add_parser(
        "backfill",
        help="Make thumbnails for objects that are already in the bucket.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bucket", required=True, help="Source bucket.")
    parser.add_argument("--prefix", default="", help="Only keys under this prefix.")
    parser.add_argument(
        "--mode",
        choices=("direct", "queue"),
        default="direct",
        help="direct: render here; queue: send events to the deployed queue (default: direct).",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="Parallel checks and renders (default: 4)."
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="Only count, and estimate the Lambda cost."
    )
    parser.add_argument("--limit", type=int, default=None, help="At most N source objects.")
    parser.add_argument(
        "--queue-url",
        help="Queue of the deployed stack (--mode queue; found from --function-name if omitted).",
    )
    parser.add_argument(
        "--rate", type=float, default=50.0, help="Messages per second in queue mode (default: 50)."
    )
    parser.add_argument("--function-name", help="Read the settings from this Lambda function.")
    parser.add_argument(
        "--local",
        nargs="?",
        const=Path(".thumbnailer") / "local",
        type=Path,
        metavar="STATE_DIR",
        help="Use the local stack's endpoint, settings and queue (default ./.thumbnailer/local).",
    )
    parser.add_argument("--endpoint-url", help="S3/SQS API endpoint (an emulator).")
    parser.add_argument(
        "--ms-per-object",
        type=float,
        default=300.0,
        help="Assumed Lambda time per object for the estimate (default: 300).",
    )
    parser.add_argument(
        "--memory", type=int, default=1024, help="Function memory in MB for the estimate."
    )
    parser.add_argument(
        "--arch", choices=("arm64", "x86_64"), default="arm64", help="For the estimate."
    )
    parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")
    parser.set_defaults(handler=_handle)


def _environment(args: argparse.Namespace) -> tuple[dict[str, str], str | None, str]:
    """(THUMBNAILER_* settings, queue URL, region)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if args.local is not None:
        from thumbnailer.local.state import CREDENTIALS, StackInfo

        info = StackInfo.load(args.local)
        # Every client built below (store, reporter, SQS) talks to the emulator.
        os.environ["AWS_ENDPOINT_URL"] = info.endpoint
        os.environ.setdefault("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
        os.environ["AWS_DEFAULT_REGION"] = info.region
        queue_url = args.queue_url or info.queue_url
        if args.mode == "queue" and not queue_url and not args.dry_run:
            raise ConfigError(
                f"the local stack in {args.local} uses the {info.trigger} trigger: S3 invokes "
                "the function directly and there is no queue to send to; use --mode direct "
                "(renders here), or a stack brought up with --trigger eventbridge or sqs"
            )
        return info.environment, queue_url, info.region
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if args.function_name:
        import boto3

        client = boto3.client("lambda", region_name=region)
        try:
            config = client.get_function_configuration(FunctionName=args.function_name)
        except Exception as exc:
            raise ConfigError(f"cannot read function {args.function_name!r}: {exc}") from exc
        variables = config.get("Environment", {}).get("Variables", {})
        queue_url = args.queue_url
        if queue_url is None and args.mode == "queue":
            queue_url = _queue_of(client, args.function_name, region)
            if queue_url is None and not args.dry_run:
                raise ConfigError(
                    f"function {args.function_name!r} reads no SQS queue (its trigger is "
                    "direct?): pass the queue with --queue-url, or use --mode direct"
                )
        return dict(variables), queue_url, region
    env = {k: v for k, v in os.environ.items() if k.startswith("THUMBNAILER_")}
    return env, args.queue_url, region


def _queue_of(lambda_client: Any, function_name: str, region: str) -> str | None:
    """The SQS queue the function's event source mapping reads (the module's buffer queue)."""
    import boto3

    try:
        mappings = lambda_client.list_event_source_mappings(FunctionName=function_name)
        arns = [
            m["EventSourceArn"]
            for m in mappings.get("EventSourceMappings", [])
            if str(m.get("EventSourceArn", "")).startswith("arn:aws:sqs:")
        ]
        if not arns:
            return None
        _, _, _, _, account, name = arns[0].split(":", 5)
        sqs = boto3.client("sqs", region_name=region)
        url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    except Exception as exc:
        raise ConfigError(f"cannot find the queue of {function_name!r}: {exc}") from exc
    return url


def _handle(args: argparse.Namespace) -> int:
    from thumbnailer.backfill import BackfillOptions, CostModel, run_backfill
    from thumbnailer.pipeline import Pipeline
    from thumbnailer.reporting import Reporter
    from thumbnailer.settings import Settings
    from thumbnailer.storage.s3 import S3Store, client_config

    env, queue_url, region = _environment(args)
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    settings = Settings.from_env(env)
    options = BackfillOptions(
        bucket=args.bucket,
        prefix=args.prefix,
        mode=args.mode,
        concurrency=args.concurrency,
        dry_run=args.dry_run,
        limit=args.limit,
        queue_url=queue_url,
        rate=args.rate,
        cost=CostModel(
            ms_per_object=args.ms_per_object, memory_mb=args.memory, architecture=args.arch
        ),
    )
    store = S3Store(config=client_config(settings.retry_mode, settings.max_attempts))
    pipeline = Pipeline(settings, store, reporter=Reporter(settings, store))
    report = run_backfill(pipeline, options, region=region)
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        print()
    else:
        _print(report.as_dict(), args.mode)
    return 1 if report.failed and not args.dry_run else 0


def _print(report: dict[str, Any], mode: str) -> None:
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(report["ignored_by_reason"].items()))
    ignored = f"{report['ignored']} never processed" + (f": {reasons}" if reasons else "")
    print(f"listed      {report['listed']} objects ({ignored})")
    print(f"current     {report['current']} already have current thumbnails")
    print(f"reported    {report['already_failed']} failed before (same ETag), not retried")
    print(f"to do       {report['todo']}")
    if report["dry_run"]:
        est = report["estimate"]
        print(
            f"dry run: nothing changed. Estimated cost of {report['todo']} objects: "
            f"${est['total_usd']:.4f} (Lambda ${est['lambda_usd']:.4f} for "
            f"{est['gb_seconds']} GB-s, S3 requests ${est['s3_usd']:.4f})"
        )
        return
    if mode == "direct":
        print(f"created     {report['created']}")
    else:
        print(f"queued      {report['queued']}")
    print(f"failed      {len(report['failed'])} ({report['retryable']} worth retrying)")
    for failure in report["failed"][:20]:
        print(f"  {failure['key']}: {failure['kind']}: {failure['message']}")
    if mode == "direct":
        print(f"in {report['seconds']:.1f} s; run again to resume: nothing done is redone")
        return
    backlog = report.get("queue_backlog")
    if backlog:
        print(
            f"note: the queue already held {backlog} messages; an object still waiting there "
            "was queued again"
        )
    print(
        f"in {report['seconds']:.1f} s; the function works through the queue. To resume, run "
        "again once it has drained: objects done are skipped, but one still waiting in the "
        "queue is queued again (the duplicate costs the function a HEAD per thumbnail)"
    )

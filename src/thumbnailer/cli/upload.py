"""``thumbnailer upload FILE...``: put files into the local stack's source bucket."""

from __future__ import annotations

import argparse
import mimetypes
from pathlib import Path

from thumbnailer.errors import ConfigError
from thumbnailer.local.state import DEFAULT_STATE_DIR, StackInfo

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``upload`` command."""
    parser = subparsers.add_parser(
        "upload",
        help="Upload files to the local stack's source bucket.",
        description=__doc__,
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--key-prefix", default="", help="Prefix of the keys (e.g. photos/).")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"State folder of the local stack (default: ./{DEFAULT_STATE_DIR}).",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from thumbnailer.storage.s3 import map_error

    info = StackInfo.load(args.state_dir)
    s3 = boto3.client("s3", **info.client_kwargs())  # type: ignore[call-overload]
    for path in args.files:
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
    for path in args.files:
        key = f"{args.key_prefix}{path.name}"
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            s3.put_object(
                Bucket=info.source_bucket, Key=key, Body=path.read_bytes(), ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise map_error(exc, f"s3://{info.source_bucket}/{key}") from exc
        print(f"s3://{info.source_bucket}/{key}")
    return 0

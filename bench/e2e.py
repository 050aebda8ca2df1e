"""End-to-end benchmark on the local stack (``make bench-e2e``): not a test.

Brings the local stack up (eventbridge trigger, the real Terraform, the built artifact, the
runner), uploads N generated photos (default 2,000) from 16 threads, and watches the function's
log for each object's result line (written once its thumbnails are stored), then checks every
thumbnail with one listing of the thumbnails bucket. Reports objects per second (first upload to
last thumbnail), p50/p95 of the time from an object's upload to its thumbnails being stored, and
how many were lost (not all thumbnails listed at the end). Then brings the stack down.

The log is read rather than the bucket listed while the stack works: a listing of thousands of
keys costs the emulator, which serves every request of the stack from one process, more CPU
than the requests of several objects.

    python bench/e2e.py [--objects 2000] [--concurrency 2] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from PIL import Image, ImageDraw, ImageFilter

from thumbnailer.local import stack
from thumbnailer.pipeline import Pipeline
from thumbnailer.settings import Settings
from thumbnailer.storage.s3 import S3Store


def photo(seed: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A noisy photo-like JPEG: shapes, blur and noise, so decoding is real work."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randrange(40, 400)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    image = image.filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise(size, 24).convert("RGB")
    image = Image.blend(image, noise, 0.15)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


class ResultLog:
    """Follows the function's log (``worker.log``) for the result line of each source key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def done(self) -> list[tuple[str, float]]:
        """``(key, time.time())`` of each result line since the last call: thumbnails made or found
        current. The time is the line's own timestamp, taken after the thumbnails were stored."""
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                chunk = log.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
        self.offset += end
        keys = []
        for line in chunk[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # not a result line (tracebacks, runtime messages)
            if not isinstance(record, dict):
                continue
            outcome, reason = record.get("outcome"), record.get("reason")
            if outcome == "created" or (
                outcome == "skipped" and reason == "thumbnails are current"
            ):
                keys.append((str(record.get("key")), _epoch(record.get("timestamp"))))
        return keys


def _epoch(stamp: object) -> float:
    """Seconds since the epoch of a Powertools log timestamp (now, if it cannot be read)."""
    try:
        return datetime.strptime(str(stamp), "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
    except ValueError:
        return time.time()


def listed(s3: Any, bucket: str, owner: dict[str, str]) -> dict[str, int]:
    """Thumbnails listed per source key."""
    counts: dict[str, int] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix="thumbnails/bench/"):
        for obj in page.get("Contents", []):
            source = owner.get(obj["Key"])
            if source is not None:
                counts[source] = counts.get(source, 0) + 1
    return counts


def machine() -> str:
    """CPU count, memory and Python, as the docs record them."""
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    total = next((line.split()[1] for line in memory.splitlines() if line.startswith("Mem:")), "?")
    python = platform.python_version()
    return f"{os.cpu_count()} CPUs, {total} RAM, Python {python}, {platform.machine()}"


def main() -> int:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2, help="Runner pollers.")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--photo", default="1600x1200", help="Size of the generated photos, WxH (default 2 MP)."
    )
    args = parser.parse_args()

    width, height = (int(side) for side in args.photo.lower().split("x"))
    variants = [
        photo(seed, (width, height)) for seed in range(20)
    ]  # distinct bytes per key come from a suffix
    state_dir = Path(tempfile.mkdtemp(prefix="thumbnailer-bench-"))
    print(f"machine: {machine()}", flush=True)
    print("bringing the local stack up ...", flush=True)
    info = stack.up(stack.UpOptions(state_dir=state_dir, concurrency=args.concurrency))
    try:
        s3 = boto3.client("s3", **info.client_kwargs())  # type: ignore[call-overload]
        pipeline = Pipeline(Settings.from_env(info.environment), S3Store(s3))
        sizes = len(pipeline.settings.spec.sizes)
        keys = [f"bench/{i:05d} photo.jpg" for i in range(args.objects)]
        uploaded: dict[str, float] = {}
        seen: dict[str, float] = {}

        def put(index: int) -> None:
            # A per-object trailer keeps every ETag distinct (JPEG decoders ignore it).
            body = variants[index % len(variants)] + index.to_bytes(4, "big")
            s3.put_object(Bucket=info.source_bucket, Key=keys[index], Body=body)
            uploaded[keys[index]] = time.monotonic()

        owner = {k: src for src in keys for k in pipeline.destination_keys(src)}
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(put, range(args.objects)))
        upload_seconds = time.monotonic() - started
        print(f"uploaded {args.objects} objects in {upload_seconds:.1f} s", flush=True)
        deadline = time.monotonic() + args.timeout
        results = ResultLog(state_dir / "worker.log")
        pending = set(keys)
        to_monotonic = time.monotonic() - time.time()
        while pending and time.monotonic() < deadline:
            for key, stored in results.done():
                if key in pending:
                    pending.discard(key)
                    seen[key] = stored + to_monotonic
            print(f"\r{len(seen)}/{args.objects} done", end="", flush=True)
            time.sleep(0.25)
        print()
        # The log says the function stored them; the bucket must agree.
        counts = listed(s3, info.destination_bucket, owner)
        seen = {k: t for k, t in seen.items() if counts.get(k, 0) >= sizes}
        finished = max(seen.values(), default=started)
        latencies = sorted(seen[k] - uploaded[k] for k in seen)
        lost = args.objects - len(seen)
        rate = len(seen) / max(finished - started, 1e-9)
        p50 = statistics.median(latencies) if latencies else float("nan")
        p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
        print(f"objects:           {args.objects} {args.photo} JPEGs ({sizes} thumbnails each)")
        print(f"throughput:        {rate:.1f} objects/s (first upload to last thumbnail)")
        print(f"upload→thumbnails: p50 {p50:.2f} s, p95 {p95:.2f} s (stored, then listed)")
        print(f"lost:              {lost}")
        print(f"runner pollers:    {args.concurrency}; machine: {machine()}")
        return 0 if lost == 0 else 1
    finally:
        if args.keep:
            print(f"stack kept: thumbnailer local down --state-dir {state_dir}")
        else:
            stack.down(state_dir)


if __name__ == "__main__":
    sys.exit(main())

"""End-to-end benchmark on the local stack (``make bench-e2e``): not a test.

Brings the local stack up (eventbridge trigger, the real Terraform, the built artifact, the
runner), uploads N generated photos (default 2,000) from 16 threads, and watches the
thumbnails bucket. Reports objects per second (first upload to last thumbnail), p50/p95 of
the time from an object's upload to all of its thumbnails being listed, and how many were lost
(no thumbnails within the timeout). Then brings the stack down.

    python bench/e2e.py [--objects 2000] [--concurrency 2] [--keep]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
        counts: dict[str, int] = {}

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
        while len(seen) < args.objects and time.monotonic() < deadline:
            now = time.monotonic()
            paginator = s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(
                Bucket=info.destination_bucket, Prefix="thumbnails/bench/"
            ):
                for obj in page.get("Contents", []):
                    source = owner.get(obj["Key"])
                    if source is None or source in seen:
                        continue
                    counts[source] = counts.get(source, 0) + 1
                    if counts[source] >= sizes:
                        seen[source] = now
            counts.clear()
            print(f"\r{len(seen)}/{args.objects} done", end="", flush=True)
            # Listing thousands of keys costs the emulator CPU the runner needs: poll gently.
            time.sleep(1.0)
        print()
        finished = max(seen.values(), default=started)
        latencies = sorted(seen[k] - uploaded[k] for k in seen)
        lost = args.objects - len(seen)
        rate = len(seen) / max(finished - started, 1e-9)
        p50 = statistics.median(latencies) if latencies else float("nan")
        p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
        print(f"objects:           {args.objects} {args.photo} JPEGs ({sizes} thumbnails each)")
        print(f"throughput:        {rate:.1f} objects/s (first upload to last thumbnail)")
        print(f"upload→thumbnails: p50 {p50:.2f} s, p95 {p95:.2f} s")
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

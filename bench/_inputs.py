"""Deterministic, noisy "photographic" benchmark inputs, cached under ``.cache/bench/``.

A photo is not a flat gradient: it has smooth light, hard-edged objects, soft shadows and
sensor noise, and the noise is what makes the entropy decoder (and so the decode time) real.
Each input is built from a seeded ``random.Random`` with Pillow alone, then encoded once and
cached; the cache key carries a generator version, so changing the recipe regenerates.

Run as a script it generates what is missing and prints the manifest as JSON (the harness
runs it in a child process, so that its own memory stays small).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import struct
import sys
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

GENERATOR_VERSION = 3
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"

# Side of the embedded HEIC preview: what phones store (e.g. 320x240) and larger than 128 px.
HEIC_PREVIEW_SIDE = 320
HEVC_MAX_PICTURE = 35_651_584  # luma samples of one picture at HEVC's highest level
AVIF_QUALITY = 70  # like the HEIC inputs: what phones and exporters use for photos
NOISE_AMPLITUDE = 14  # ± levels of the triangular per-channel noise (sigma ~6)


@dataclass(frozen=True)
class InputKind:
    """One benchmark input: what it is and how it is encoded."""

    name: str  # short id, used in tables and file names
    label: str  # what a reader sees
    fmt: str  # jpeg, png, webp, heic, avif
    width: int
    height: int
    mode: str = "RGB"  # RGB, RGBA, or RGB16 (16 bits per sample PNG)
    progressive: bool = False
    preview: bool = True  # HEIC: embeds a 320 px preview, as phones do
    bits: int = 8  # HEIC: bits per sample (10: from 16-bit samples, as HDR phones store)
    chroma: int = 420  # HEIC: chroma subsampling (444: full-resolution colour)

    @property
    def megapixels(self) -> float:
        """Pixel count in millions."""
        return self.width * self.height / 1e6


@dataclass(frozen=True)
class BenchInput:
    """A generated input file on disk, with the tiny warm-up file of the same kind."""

    kind: InputKind
    path: Path
    warmup_path: Path
    size_bytes: int


def kinds(quick: bool = False) -> list[InputKind]:
    """The inputs of a full run, or tiny versions of them for a smoke run."""
    full = [
        InputKind("jpeg12", "JPEG 12 MP", "jpeg", 4000, 3000),
        InputKind("jpeg24", "JPEG 24 MP", "jpeg", 6000, 4000),
        InputKind("jpeg12p", "progressive JPEG 12 MP", "jpeg", 4000, 3000, progressive=True),
        InputKind("png12", "PNG 12 MP", "png", 4000, 3000),
        InputKind("png12a", "RGBA PNG 12 MP", "png", 4000, 3000, mode="RGBA"),
        InputKind("webp12", "WebP 12 MP", "webp", 4000, 3000),
        InputKind("heic12", "HEIC 12 MP", "heic", 4000, 3000),
        # Without a preview (an export, an edit): the engine must fall back to the full decode.
        InputKind("heic12np", "HEIC 12 MP, no preview", "heic", 4000, 3000, preview=False),
        InputKind("png12x16", "16-bit PNG 12 MP", "png", 4000, 3000, mode="RGB16"),
        # At the default pixel limit (50 MP): "any accepted input" must stay under 256 MB.
        InputKind("webp50", "WebP 50 MP (limit)", "webp", 8160, 6120),
        # Lossy with an alpha plane (a cut-out): libwebp's rescaler would average the colour
        # under invisible pixels into the edges, so the engine shrinks these itself.
        InputKind("webp12a", "RGBA WebP 12 MP", "webp", 4000, 3000, mode="RGBA"),
        InputKind("webp50a", "RGBA WebP 50 MP (limit)", "webp", 8160, 6120, mode="RGBA"),
        InputKind("png50a", "RGBA PNG 50 MP (limit)", "png", 8160, 6120, mode="RGBA"),
        InputKind("avif12", "AVIF 12 MP", "avif", 4000, 3000),
        InputKind("avif50", "AVIF 50 MP (limit)", "avif", 8160, 6120),
        # Alpha is a second AV1 picture in the file: decoded after the colour, then joined.
        InputKind("avif50a", "RGBA AVIF 50 MP (limit)", "avif", 8160, 6120, mode="RGBA"),
        # HEVC has no scaled decoding: without a preview this is the whole picture, decoded.
        InputKind("heic50np", "HEIC 50 MP, no preview (limit)", "heic", 8160, 6120, preview=False),
        # libheif decodes these at 5 to 9 bytes per pixel: the engine decodes a tile at a time.
        InputKind(
            "heic50np10",
            "10-bit HEIC 50 MP, no preview (limit)",
            "heic",
            8160,
            6120,
            preview=False,
            bits=10,
        ),
        InputKind(
            "heic50np444",
            "4:4:4 HEIC 50 MP, no preview (limit)",
            "heic",
            8160,
            6120,
            preview=False,
            chroma=444,
        ),
        # A cut-out: its alpha is an auxiliary monochrome picture; pillow-heif writes it and
        # the colour as single pictures, even at 50 MP. Both are held whole while decoding.
        InputKind(
            "heic50npa",
            "RGBA HEIC 50 MP, no preview (limit)",
            "heic",
            8160,
            6120,
            mode="RGBA",
            preview=False,
        ),
    ]
    if not quick:
        return full
    return [_resized(k, k.width // 10, k.height // 10, "tiny") for k in full]


def _resized(kind: InputKind, width: int, height: int, tag: str) -> InputKind:
    label = kind.label.split(" (")[0]
    for mp in ("12 MP", "24 MP", "50 MP"):
        label = label.replace(mp, "")
    label = f"{label.strip().rstrip(',')} ({tag})".replace(" ,", ",")
    return replace(kind, name=f"{kind.name}_{tag}", label=label, width=width, height=height)


def _seed(kind: InputKind) -> int:
    # The recipe, not the name, decides the pixels: the same size gives the same photo.
    return zlib.crc32(f"{kind.width}x{kind.height}:{kind.mode}".encode())


def photo(width: int, height: int, seed: int, alpha: bool = False) -> Image.Image:
    """A deterministic noisy photographic RGB (or RGBA) image."""
    rng = random.Random(seed)
    # Smooth light: a coarse random colour field upscaled bicubically, like sky and walls.
    coarse = Image.frombytes("RGB", (6, 4), rng.randbytes(6 * 4 * 3))
    img = coarse.resize((width, height), Image.Resampling.BICUBIC)
    # Objects: hard-edged shapes, some softened, at every scale.
    scale = max(width, height)
    layer = Image.new("RGB", (width, height))
    mask = Image.new("L", (width, height), 0)
    draw_layer = ImageDraw.Draw(layer)
    draw_mask = ImageDraw.Draw(mask)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        r = int(scale * rng.uniform(0.01, 0.18))
        colour = tuple(rng.randrange(256) for _ in range(3))
        shade = rng.randrange(120, 256)
        box = (x - r, y - r, x + r, y + int(r * rng.uniform(0.4, 1.6)))
        if rng.random() < 0.5:
            draw_layer.ellipse(box, fill=colour)
            draw_mask.ellipse(box, fill=shade)
        else:
            points = [(x + rng.randint(-r, r), y + rng.randint(-r, r)) for _ in range(5)]
            draw_layer.polygon(points, fill=colour)
            draw_mask.polygon(points, fill=shade)
    # Fine detail (foliage, text, fabric): many small strokes.
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        length = int(scale * rng.uniform(0.002, 0.03))
        end = (x + rng.randint(-length, length), y + rng.randint(-length, length))
        draw_layer.line([(x, y), end], fill=tuple(rng.randrange(256) for _ in range(3)))
        draw_mask.line([(x, y), end], fill=255, width=max(1, scale // 1500))
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, scale // 2000)))
    img = Image.composite(layer, img, mask)
    img = ImageChops.add(img, _noise(width, height, rng), scale=1.0, offset=-NOISE_AMPLITUDE)
    if not alpha:
        return img
    # A cut-out: an opaque subject with soft edges on a fully transparent background.
    cut = Image.new("L", (width, height), 0)
    ImageDraw.Draw(cut).ellipse(
        (width // 8, height // 10, width * 7 // 8, height * 9 // 10), fill=255
    )
    cut = cut.filter(ImageFilter.GaussianBlur(max(1, scale // 200)))
    # Like real cut-outs, fully transparent pixels carry no colour (and compress well).
    img = Image.composite(img, Image.new("RGB", img.size), cut.point([0] + [255] * 255))
    img.putalpha(cut)
    return img


def _noise(width: int, height: int, rng: random.Random) -> Image.Image:
    """Triangular per-channel noise in 0..2*NOISE_AMPLITUDE (the sum of two uniforms)."""
    half = [v * NOISE_AMPLITUDE // 255 for v in range(256)] * 3
    a = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3)).point(half)
    b = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3)).point(half)
    return ImageChops.add(a, b)


def encode(kind: InputKind, img: Image.Image, seed: int) -> bytes:
    """Encode ``img`` as ``kind`` says: camera-like quality settings."""
    out = io.BytesIO()
    if kind.fmt == "jpeg":
        img.save(out, "JPEG", quality=90, progressive=kind.progressive, optimize=kind.progressive)
    elif kind.fmt == "png" and kind.mode == "RGB16":
        return _png16(img, random.Random(seed + 16))
    elif kind.fmt == "png":
        img.save(out, "PNG")
    elif kind.fmt == "webp":
        img.save(out, "WEBP", quality=90)
    elif kind.fmt == "avif":
        # libaom at Pillow's default speed (6): about 20 s for 50 MP, once, then cached.
        img.save(out, "AVIF", quality=AVIF_QUALITY)
    elif kind.fmt == "heic":
        import pillow_heif

        previews = [HEIC_PREVIEW_SIDE] if kind.preview else []
        # One HEVC picture may hold at most 35.6 MP (level 6.2); larger photos are stored as a
        # grid of 512 px tiles, as phones store every photo. pillow-heif leaves a picture with
        # alpha whole, whatever its size.
        tiles = 512 if kind.width * kind.height > HEVC_MAX_PICTURE else 0
        if kind.bits == 8:
            heif = pillow_heif.from_pillow(img)
        else:  # the 8-bit photo as 16-bit samples; the encoder stores kind.bits of them
            raw = img.tobytes()
            wide = bytearray(2 * len(raw))
            wide[0::2] = wide[1::2] = raw
            heif = pillow_heif.from_bytes(mode="RGB;16", size=img.size, data=bytes(wide))
        heif.save(out, quality=70, thumbnails=previews, tile_size=tiles, chroma=kind.chroma)
    else:  # pragma: no cover - a typo in kinds()
        raise ValueError(f"unknown format {kind.fmt}")
    return out.getvalue()


def _png16(img: Image.Image, rng: random.Random) -> bytes:
    """A 16-bit RGB PNG: the 8-bit picture in the high bytes, real noise in the low bytes.

    Pillow cannot write 16-bit colour PNGs, so the chunks are written here.
    """
    width, height = img.size
    row = width * 6
    samples = bytearray(row * height)
    samples[0::2] = img.tobytes()
    samples[1::2] = rng.randbytes(width * height * 3)
    raw = bytearray()
    for y in range(height):
        raw += b"\x00"  # filter type None; zlib still finds the structure
        raw += samples[y * row : (y + 1) * row]

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + chunk(b"IEND", b"")
    )


def _path(kind: InputKind) -> Path:
    ext = {"jpeg": "jpg"}.get(kind.fmt, kind.fmt)
    return CACHE / f"v{GENERATOR_VERSION}-{kind.name}-{kind.width}x{kind.height}.{ext}"


def _ensure(kind: InputKind) -> Path:
    path = _path(kind)
    if not path.exists():
        seed = _seed(kind)
        img = photo(kind.width, kind.height, seed, alpha=kind.mode == "RGBA")
        data = encode(kind, img, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # never leave a half-written input behind
    return path


def ensure_inputs(quick: bool = False) -> list[BenchInput]:
    """Generate the inputs that are not cached yet; return all of them."""
    result = []
    for kind in kinds(quick):
        # Large enough to be shrunk for a 128 px box, so the warm-up also loads what the
        # shrink-on-load paths import (PyAV for AVIF and HEIC): that is cold start.
        warm = _resized(kind, 320, 240, "warmup")
        path = _ensure(kind)
        result.append(BenchInput(kind, path, _ensure(warm), path.stat().st_size))
    return result


def main(argv: list[str] | None = None) -> int:
    """Generate the inputs and print the manifest as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs for a smoke run")
    args = parser.parse_args(argv)
    manifest = [
        {**asdict(i), "path": str(i.path), "warmup_path": str(i.warmup_path)}
        for i in ensure_inputs(args.quick)
    ]
    json.dump(manifest, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

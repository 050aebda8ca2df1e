"""Faster paths under study for PNG, WebP and HEIC, measured beside the engine.

Plain Pillow decodes every pixel of a PNG or WebP (no scaled decoding: 36 MB for a 12 MP RGB
PNG, more for WebP, which it decodes through RGBA), and pillow-heif decodes the whole HEVC
primary image. The candidates, each a 128 px JPEG q85 like the other contenders:

- ``pillow_best``: Pillow used well: ``thumbnail()`` straight on the opened image (``draft``
  for JPEG, ``reduce`` before the resampling filter), then convert and save.
- ``draft_gap3`` / ``draft_gap15`` (JPEG): the engine's JPEG path without its colour and
  orientation steps: ``draft`` to 2x the box, LANCZOS to the box with Pillow's
  ``reducing_gap`` at 3.0 (LANCZOS over the whole draft) or 1.5 (``reduce(2)`` first), encode.
- ``vips_pillow``: libvips decodes with shrink-on-load and streams (``thumbnail_source``,
  one thread), hands the small sRGB image to Pillow, which encodes: the shape libvips would
  have behind the engine's interface (Pillow keeps the encoders and the output rules).
- ``vips_shrink``: the exact shape of a libvips ``Source.decode(target)`` in the engine: an
  explicit loader (``pngload_source`` / ``webpload_source``, never libvips' own sniffing),
  sequential access, libwebp's scaled decoding (``scale=``) or a streaming block ``shrink``
  (premultiplied when there is alpha) to the smallest size no smaller than the engine's
  target (2x the box), then Pillow: LANCZOS to the box and JPEG, as the engine does.
- ``vips_hshrink``: ``vips_shrink`` with the block shrink split as ``shrinkh`` then
  ``shrinkv``: libvips' ``shrink`` averages rows first and buffers ``factor`` full-width rows
  (in float when premultiplied), narrowing each row first buffers far less.
- ``heif_preview``: the smallest embedded HEIF thumbnail at least as large as the box, whose
  aspect ratio matches the primary image's, decoded by pillow-heif and resized by Pillow;
  a full decode when there is none.
"""

from __future__ import annotations

import io
import math
from typing import Any

from _contenders import BOX, QUALITY, Contender, Run, _import_pyvips, register

PREVIEW_ASPECT_TOLERANCE = 0.01  # relative; previews are sometimes rounded by a pixel


def _pillow_best() -> Run:
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()

    def run(data: bytes) -> tuple[int, int]:
        with Image.open(io.BytesIO(data)) as im:
            im.thumbnail((BOX, BOX))  # draft() for JPEG, reduce() then BICUBIC for the rest
            out = im.convert("RGB")
        out.save(io.BytesIO(), "JPEG", quality=QUALITY)
        return out.size

    return run


def _vips_pillow() -> Run:
    from PIL import Image

    pyvips = _import_pyvips()

    def run(data: bytes) -> tuple[int, int]:
        img = pyvips.Image.thumbnail_source(pyvips.Source.new_from_memory(data), BOX, height=BOX)
        if img.format != "uchar":
            img = img.colourspace("srgb")  # 16-bit to 8-bit, scaled
        mode = {3: "RGB", 4: "RGBA", 1: "L", 2: "LA"}[img.bands]
        small = Image.frombuffer(mode, (img.width, img.height), img.write_to_memory())
        if small.mode in ("RGBA", "LA"):
            flat = Image.new("RGB", small.size, (255, 255, 255))
            flat.paste(small, mask=small.getchannel("A"))
            small = flat
        small.convert("RGB").save(io.BytesIO(), "JPEG", quality=QUALITY)
        return small.size

    return run


def _draft_resize(reducing_gap: float) -> Run:
    """JPEG the engine's way, bare: ``draft`` to 2x the box, LANCZOS to the box, encode."""
    from PIL import Image

    def run(data: bytes) -> tuple[int, int]:
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", _target(*im.size))
            im.load()
            small = im.resize(_fit(im.size), Image.Resampling.LANCZOS, reducing_gap=reducing_gap)
        small.save(io.BytesIO(), "JPEG", quality=QUALITY)
        return small.size

    return run


def _target(width: int, height: int, gap: float = 2.0) -> tuple[int, int]:
    """What the engine asks a decoder for: ``gap`` times the box, in the source's shape."""
    factor = min(BOX / width, BOX / height) * gap
    if factor >= 1:
        return width, height
    return max(1, math.ceil(width * factor)), max(1, math.ceil(height * factor))


def vips_decode(pyvips: Any, data: bytes, fmt: str, rows_first: bool = True) -> Any:
    """Decode PNG or WebP with libvips to the smallest size no smaller than the target.

    ``shrink()`` averages rows first (``shrinkv``), buffering ``factor`` full-width rows;
    with ``rows_first=False`` each row is narrowed first (``shrinkh``), so the rows it
    buffers are ``factor`` times narrower. Same averages (bit-identical in the premultiplied
    float path, within one level where it rounds to 8 bits between the two steps).
    """
    # The *_source loaders read the caller's bytes in place; the *_buffer ones copy them
    # (+23 MiB of peak RSS on the 12 MP PNG).
    load = pyvips.Image.pngload_source if fmt == "png" else pyvips.Image.webpload_source
    img = load(pyvips.Source.new_from_memory(data), access="sequential", fail_on="error")
    target = _target(img.width, img.height)
    if fmt == "webp":
        scale = max(target[0] / img.width, target[1] / img.height)
        if scale < 1:  # libwebp scales while it decodes: no full-size pixels at all
            source = pyvips.Source.new_from_memory(data)
            img = load(source, access="sequential", fail_on="error", scale=scale)
    if img.format != "uchar":
        img = img.colourspace("srgb" if img.bands >= 3 else "b-w")  # 16-bit: scaled to 8
    shrink = min(img.width // target[0], img.height // target[1])
    if shrink > 1:
        alpha = img.hasalpha()
        if alpha:
            img = img.premultiply()
        img = img.shrink(shrink, shrink) if rows_first else img.shrinkh(shrink).shrinkv(shrink)
        if alpha:
            img = img.unpremultiply().cast("uchar")
    return img


def _vips_shrink(rows_first: bool = True) -> Run:
    from PIL import Image

    pyvips = _import_pyvips()
    pyvips.cache_set_max(0)  # nothing kept between inputs

    def run(data: bytes) -> tuple[int, int]:
        fmt = "png" if data[:4] == b"\x89PNG" else "webp"
        img = vips_decode(pyvips, data, fmt, rows_first)
        mode = {3: "RGB", 4: "RGBA", 1: "L", 2: "LA"}[img.bands]
        decoded = Image.frombuffer(mode, (img.width, img.height), img.write_to_memory())
        small = decoded.resize(_fit(decoded.size), Image.Resampling.LANCZOS)
        if small.mode in ("RGBA", "LA"):
            flat = Image.new("RGB", small.size, (255, 255, 255))
            flat.paste(small, mask=small.getchannel("A"))
            small = flat
        small.convert("RGB").save(io.BytesIO(), "JPEG", quality=QUALITY)
        return small.size

    return run


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(BOX / size[0], BOX / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _heif_preview() -> Run:
    import pillow_heif
    from PIL import Image

    def run(data: bytes) -> tuple[int, int]:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        primary = heif[heif.primary_index]
        width, height = primary.size
        best = None
        previews: list[int] = list(primary.info.get("thumbnails") or [])  # type: ignore[arg-type]
        for index in range(len(previews)):
            thumb = primary.get_thumbnail(index)
            tw, th = thumb.size
            big_enough = tw >= min(BOX, width) and th >= min(BOX, height)
            same_shape = abs(tw / th - width / height) <= PREVIEW_ASPECT_TOLERANCE * width / height
            if big_enough and same_shape and (best is None or tw < best.size[0]):
                best = thumb
        im = (best or primary).to_pillow()
        im.thumbnail((BOX, BOX), Image.Resampling.LANCZOS)
        im.convert("RGB").save(io.BytesIO(), "JPEG", quality=QUALITY)
        return im.size

    return run


for _c in [
    Contender(
        "pillow_best",
        "Pillow thumbnail()",
        frozenset({"jpeg", "png", "webp", "heic", "avif"}),
        _pillow_best,
        candidate=True,
    ),
    Contender(
        "draft_gap3",
        "draft + LANCZOS, reducing_gap 3.0",
        frozenset({"jpeg"}),
        lambda: _draft_resize(3.0),
        candidate=True,
    ),
    Contender(
        "draft_gap15",
        "draft + LANCZOS, reducing_gap 1.5",
        frozenset({"jpeg"}),
        lambda: _draft_resize(1.5),
        candidate=True,
    ),
    Contender(
        "vips_pillow",
        "libvips decode, Pillow encode",
        frozenset({"jpeg", "png", "webp"}),
        _vips_pillow,
        candidate=True,
    ),
    Contender(
        "vips_shrink",
        "libvips Source.decode(target) + Pillow",
        frozenset({"png", "webp"}),
        _vips_shrink,
        candidate=True,
    ),
    Contender(
        "vips_hshrink",
        "vips_shrink, narrowing each row first",
        frozenset({"png"}),
        lambda: _vips_shrink(rows_first=False),
        candidate=True,
    ),
    Contender(
        "heif_preview",
        "HEIF embedded preview",
        frozenset({"heic"}),
        _heif_preview,
        candidate=True,
    ),
]:
    register(_c)

"""Deterministic sample inputs generated in code, for tests, the demo and benchmarks.

Every call returns the same bytes for the same arguments; no binary files are committed.
The HEIC and video samples need the optional decoders' libraries (pillow-heif, PyAV).
"""

from __future__ import annotations

import random
from io import BytesIO

from PIL import Image, ImageDraw, ImageFilter

__all__ = [
    "cmyk_jpeg",
    "gradient_16bit_png",
    "heic",
    "one_page_pdf",
    "photo",
    "photo_jpeg",
    "rotated_phone_jpeg",
    "sample_inputs",
    "short_video",
    "transparent_png",
]


def _noise(size: tuple[int, int], seed: int) -> Image.Image:
    """Grey noise from a seeded generator (Pillow's own noise is not reproducible)."""
    rng = random.Random(seed)
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """A noisy, photographic-looking RGB image: smooth gradients, blotches, shapes and grain.

    It compresses like a photo (unlike flat test patterns), which matters for benchmarks.
    """
    small = (max(2, width // 16), max(2, height // 16))
    channels = [
        _noise(small, seed + band).filter(ImageFilter.GaussianBlur(2)).resize((width, height))
        for band in range(3)
    ]
    base = Image.merge("RGB", channels)
    horizon = Image.linear_gradient("L").resize((width, height))
    sky = Image.merge("RGB", (horizon, horizon, Image.new("L", (width, height), 230)))
    image = Image.blend(base, sky, 0.45)
    draw = ImageDraw.Draw(image)
    rng = random.Random(seed)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(max(2, min(width, height) // 12), max(3, min(width, height) // 4))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1))
    grain = Image.merge("RGB", [_noise((width, height), seed + 10 + b) for b in range(3)])
    return Image.blend(image, grain, 0.08)


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo_jpeg(width: int = 1200, height: int = 800, *, seed: int = 1, quality: int = 90) -> bytes:
    """A photographic JPEG of the given size."""
    return _save(photo(width, height, seed), "JPEG", quality=quality)


def rotated_phone_jpeg(width: int = 800, height: int = 600) -> bytes:
    """A phone-style JPEG stored sideways with EXIF Orientation 6 (display: portrait).

    Shown upright it is ``height`` wide and ``width`` tall, with a red band at the top.
    """
    upright = photo(height, width, seed=3)
    ImageDraw.Draw(upright).rectangle((0, 0, height, width // 8), fill=(220, 20, 20))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 undoes this
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Thumbnailer Phone"  # Make: proves metadata is dropped from the output
    return _save(stored, "JPEG", quality=88, exif=exif.tobytes())


def transparent_png(width: int = 400, height: int = 300) -> bytes:
    """An RGBA PNG: an opaque red disc with a soft edge on a fully transparent background."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 6, height // 6, width * 5 // 6, height * 5 // 6), fill=(220, 30, 30))
    return _save(image, "PNG")


def webp(width: int = 640, height: int = 480) -> bytes:
    """A lossy photographic WebP."""
    return _save(photo(width, height, seed=5), "WEBP", quality=80)


def animated_gif(width: int = 160, height: int = 120) -> bytes:
    """A three-frame animated GIF with a transparent background; frame 1 has a blue square."""
    frames = []
    for index, colour in enumerate(((30, 30, 220), (30, 220, 30), (220, 30, 30))):
        frame = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        offset = index * 20
        ImageDraw.Draw(frame).rectangle(
            (20 + offset, 20, width // 2 + offset, height - 20), fill=colour
        )
        frames.append(frame)
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)


def cmyk_jpeg(width: int = 400, height: int = 300) -> bytes:
    """A CMYK JPEG (Pillow writes Adobe-style markers) without a colour profile."""
    return _save(photo(width, height, seed=7).convert("CMYK"), "JPEG", quality=90)


def gradient_16bit_png(width: int = 256, height: int = 64) -> bytes:
    """A 16-bit grey PNG, black to white left to right (Pillow mode ``I;16``)."""
    ramp = Image.linear_gradient("L").rotate(90).resize((width, height))
    # Spread the 8-bit ramp over the full 16-bit range.
    wide = ramp.convert("I").point(lambda v: v * 257)
    return _save(wide.convert("I;16"), "PNG")


def heic(width: int = 640, height: int = 480) -> bytes:
    """A HEIC photo (needs pillow-heif)."""
    import pillow_heif

    heif_file = pillow_heif.from_pillow(photo(width, height, seed=9))
    buffer = BytesIO()
    heif_file.save(buffer, quality=80)
    return buffer.getvalue()


def one_page_pdf(more_drawing: bytes = b"") -> bytes:
    """A one-page A6 PDF written by hand: a title bar, a square and some text.

    ``more_drawing`` (PDF content operators) is drawn after them.
    """
    content = (
        b"0.85 0.1 0.1 rg 0 380 298 40 re f\n"
        b"0.1 0.3 0.8 rg 60 120 180 180 re f\n"
        b"BT /F1 24 Tf 0 0 0 rg 30 60 Td (Thumbnailer) Tj ET\n"
    ) + more_drawing
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 298 420] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def short_video(width: int = 320, height: int = 240, frames: int = 24, fps: int = 24) -> bytes:
    """A one-second MP4 (H.264 when PyAV has it, else MPEG-4 Part 2); needs PyAV.

    The first frames are black (a fade-in), later ones a moving coloured picture.
    """
    import av

    buffer = BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            # Small keyframe interval so a seek lands near the asked-for moment.
            stream.options = {"g": "6", "preset": "ultrafast", "threads": "1"}
        picture = photo(width, height, seed=11)
        for index in range(frames):
            black = index < 3
            image = Image.new("RGB", (width, height)) if black else picture.rotate(index * 2)
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def broken_jpeg() -> bytes:
    """A JPEG cut off in the middle of its image data."""
    data = photo_jpeg(320, 240, seed=13)
    return data[: len(data) // 2]


def sample_inputs() -> list[tuple[str, bytes]]:
    """One small input per interesting case, as ``(file name, bytes)``; stems are unique."""
    return [
        ("photo.jpg", photo_jpeg()),
        ("transparent.png", transparent_png()),
        ("landscape.webp", webp()),
        ("animated.gif", animated_gif()),
        ("phone-rotated.jpg", rotated_phone_jpeg()),
        ("cmyk.jpg", cmyk_jpeg()),
        ("gradient-16bit.png", gradient_16bit_png()),
        ("camera.heic", heic()),
        ("document.pdf", one_page_pdf()),
        ("clip.mp4", short_video()),
        ("broken.jpg", broken_jpeg()),
    ]

"""HEIC, PDF and video inputs, and the promise that their libraries load only when needed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from io import BytesIO

import pytest
from imaging_helpers import close, open_thumbnail, record_decoded_sizes, rgb_at
from PIL import Image, ImageChops, ImageDraw, ImageStat

from thumbnailer import (
    CorruptImage,
    RenderTimeout,
    TooLarge,
    UnsupportedFormat,
    render,
    samples,
)
from thumbnailer.render.spec import Limits, OutputFormat, Size, ThumbnailSpec


def test_importing_and_rendering_a_jpeg_loads_no_optional_decoder() -> None:
    code = textwrap.dedent(
        """
        import sys
        import thumbnailer
        assert "PIL.Image" not in sys.modules, "importing thumbnailer must stay light"
        from thumbnailer import samples, render
        data = samples.photo_jpeg(64, 48)
        render(data)
        loaded = sorted(m for m in ("pillow_heif", "pypdfium2", "av", "pyvips") if m in sys.modules)
        print(",".join(loaded) or "none")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "none"


def test_heic_renders_with_its_colours() -> None:
    import pillow_heif

    upright = Image.new("RGB", (400, 300), (200, 30, 30))
    heif_file = pillow_heif.from_pillow(upright)
    buffer = BytesIO()
    heif_file.save(buffer, quality=90)
    image = open_thumbnail(render(buffer.getvalue())[0])
    assert image.size == (128, 96)
    assert close(rgb_at(image, (60, 50)), (200, 30, 30), 16)


def test_heic_rotation_is_applied() -> None:
    import pillow_heif

    upright = Image.new("RGB", (300, 200), (128, 128, 128))
    ImageDraw.Draw(upright).rectangle((0, 0, 149, 99), fill=(220, 20, 20))  # red top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; pillow-heif turns this into the HEIF rotation
    heif_file = pillow_heif.from_pillow(upright.transpose(Image.Transpose.ROTATE_90))
    buffer = BytesIO()
    heif_file.save(buffer, quality=90, exif=exif.tobytes())
    image = open_thumbnail(render(buffer.getvalue())[0])
    assert image.size == (128, 85)
    assert close(rgb_at(image, (10, 10)), (220, 20, 20), 40)
    assert close(rgb_at(image, (120, 80)), (128, 128, 128), 40)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_large_heic_matches_a_full_decode(mode: str) -> None:
    import pillow_heif

    ramp = Image.linear_gradient("L").resize((1024, 768))
    source = Image.merge(
        "RGB", (ramp, ramp.rotate(90).resize(ramp.size), ramp.point(lambda v: 255 - v))
    )
    ImageDraw.Draw(source).ellipse((300, 200, 700, 600), fill=(230, 40, 40))
    source = source.convert(mode)
    if mode == "RGBA":
        source.putalpha(Image.linear_gradient("L").resize(source.size))
    heif_file = pillow_heif.from_pillow(source)
    buffer = BytesIO()
    heif_file.save(buffer, quality=95)
    data = buffer.getvalue()
    full = pillow_heif.open_heif(data).to_pillow()
    expected = full.resize((128, 96), Image.Resampling.LANCZOS)
    spec = ThumbnailSpec(format=OutputFormat.PNG)
    actual = open_thumbnail(render(data, spec)[0])
    assert actual.size == expected.size
    assert actual.mode == mode
    difference = ImageChops.difference(actual, expected)
    assert max(ImageStat.Stat(difference).mean) < 2


def test_heic_sample_renders() -> None:
    thumbnail = render(samples.heic())[0]
    assert (thumbnail.width, thumbnail.height) == (128, 96)


def test_heic_uses_a_stored_preview_when_it_is_large_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pillow_heif

    from thumbnailer.render import _heif

    heif_file = pillow_heif.from_pillow(Image.new("RGB", (1200, 900), (30, 30, 200)))
    buffer = BytesIO()
    heif_file.save(buffer, quality=80, thumbnails=[320])
    decoded = record_decoded_sizes(monkeypatch, _heif.HeifSource)
    image = open_thumbnail(render(buffer.getvalue())[0])
    assert image.size == (128, 96)
    assert close(rgb_at(image, (60, 50)), (30, 30, 200), 16)
    assert decoded == [(320, 240)]  # the preview, not the 1200 px primary image


def test_a_preview_claiming_no_height_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    import pillow_heif

    heif_file = pillow_heif.from_pillow(Image.new("RGB", (1200, 900), (30, 30, 200)))
    buffer = BytesIO()
    heif_file.save(buffer, quality=80, thumbnails=[320])
    real = pillow_heif.HeifImage.get_thumbnail

    def damaged(self: pillow_heif.HeifImage, index: int) -> object:
        preview = real(self, index)
        return type("Preview", (), {"size": (preview.size[0], 0), "to_pillow": preview.to_pillow})

    monkeypatch.setattr(pillow_heif.HeifImage, "get_thumbnail", damaged)
    image = open_thumbnail(render(buffer.getvalue())[0])  # from the primary image
    assert image.size == (128, 96)
    assert close(rgb_at(image, (60, 50)), (30, 30, 200), 16)


def test_pdf_first_page_renders_at_thumbnail_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    from thumbnailer.render import _pdf

    rendered = record_decoded_sizes(monkeypatch, _pdf.PdfSource)
    thumbnail = render(samples.one_page_pdf())[0]
    image = open_thumbnail(thumbnail)
    assert image.size == (91, 128)  # A6 portrait
    assert close(rgb_at(image, (45, 3)), (217, 26, 26), 30)  # the red title bar at the top
    assert close(rgb_at(image, (2, 120)), (255, 255, 255), 10)  # white paper
    assert rendered and max(rendered[0]) <= 2 * 128 + 2  # not rendered at full size


def _crowded_pdf() -> bytes:
    """Five thousand full-page fills: PDFium asks whether to pause every hundred or so."""
    return samples.one_page_pdf(
        b"".join(b"0.%d g 0 0 298 420 re f\n" % (i % 10) for i in range(5000))
    )


def test_listing_a_crowded_pdf_page_respects_the_time_budget() -> None:
    from thumbnailer.render import _decode, _pdf
    from thumbnailer.render._deadline import Deadline

    source = _pdf.PdfSource(_crowded_pdf(), _decode.PixelBudget(50_000_000), Deadline(0))
    try:
        with pytest.raises(RenderTimeout, match="reading the PDF page's images"):
            source.decode((182, 256))
    finally:
        source.close()


def test_a_slow_pdf_page_stops_rendering_when_the_time_budget_is_spent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from thumbnailer.render import _decode, _pdf
    from thumbnailer.render._deadline import Deadline

    slow = _crowded_pdf()
    deadline = Deadline(3600)
    source = _pdf.PdfSource(slow, _decode.PixelBudget(50_000_000), deadline)
    check_images = source._check_images

    def budget_spent_as_rendering_starts() -> None:
        check_images()
        deadline.end = time.monotonic()

    monkeypatch.setattr(source, "_check_images", budget_spent_as_rendering_starts)
    try:
        with pytest.raises(RenderTimeout, match="rendering the PDF page"):
            source.decode((182, 256))
    finally:
        source.close()
    # PDFium is left in order: the same page renders in full without a budget.
    image = open_thumbnail(render(slow)[0])
    assert image.size == (91, 128)
    assert close(rgb_at(image, (45, 64)), (230, 230, 230), 10)  # the last fill: 0.9 grey


def _pdf_with_image(width: int, height: int) -> bytes:
    """An A6 page showing one JPEG image of ``width`` x ``height`` pixels."""
    import pypdfium2

    jpeg = BytesIO()
    Image.new("L", (width, height), 90).save(jpeg, "JPEG")
    jpeg.seek(0)
    document = pypdfium2.PdfDocument.new()
    page = document.new_page(298, 420)
    picture = pypdfium2.PdfImage.new(document)
    picture.load_jpeg(jpeg, inline=True)
    picture.set_matrix(pypdfium2.PdfMatrix().scale(298, 420))
    page.insert_obj(picture)
    page.gen_content()
    out = BytesIO()
    document.save(out)
    return out.getvalue()


def test_an_image_inside_a_pdf_counts_against_the_pixel_limit() -> None:
    limits = ThumbnailSpec(limits=Limits(max_input_pixels=1_000_000))
    grey = open_thumbnail(render(_pdf_with_image(900, 1000), limits)[0])
    assert close(rgb_at(grey, (45, 64)), (90, 90, 90), 10)
    # The page renders to far fewer pixels, but PDFium would decode the image in full.
    with pytest.raises(TooLarge, match="image inside the PDF page is 2000x2000"):
        render(_pdf_with_image(2000, 2000), limits)


def test_an_encrypted_or_broken_pdf_is_corrupt() -> None:
    with pytest.raises(CorruptImage, match="PDF"):
        render(samples.one_page_pdf()[:120])


def test_video_gives_a_frame_that_is_not_black() -> None:
    image = open_thumbnail(render(samples.short_video())[0])
    assert image.size == (128, 96)
    assert max(image.convert("L").getextrema()) > 100  # type: ignore[arg-type]


def test_video_frames_count_against_the_pixel_limit() -> None:
    data = samples.short_video(320, 240)
    with pytest.raises(TooLarge, match="video frame"):
        render(data, ThumbnailSpec(limits=Limits(max_input_pixels=320 * 240 - 1)))


@pytest.mark.parametrize(("rotation", "size"), [(0, (128, 77)), (-90, (77, 128)), (90, (77, 128))])
def test_phone_video_rotation_is_applied(rotation: int, size: tuple[int, int]) -> None:
    import av

    stored = Image.new("RGB", (160, 96), (128, 128, 128))
    ImageDraw.Draw(stored).rectangle((0, 0, 39, 95), fill=(220, 20, 20))  # red band at the left
    buffer = BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.options = {"g": "5", "preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(rotation)  # counterclockwise degrees, as phones store it
        for _ in range(10):
            for packet in stream.encode(av.VideoFrame.from_image(stored)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    image = open_thumbnail(render(buffer.getvalue())[0])
    assert image.size == size
    width, height = size
    # Turned 90 degrees clockwise (-90) the band is on top; counterclockwise, at the bottom.
    red_at = {0: (5, height // 2), -90: (width // 2, 5), 90: (width // 2, height - 5)}[rotation]
    assert close(rgb_at(image, red_at), (220, 20, 20), 40)


def test_webm_video_renders() -> None:
    import av

    buffer = BytesIO()
    with av.open(buffer, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for _ in range(10):
            frame = av.VideoFrame.from_image(Image.new("RGB", (96, 64), (30, 200, 30)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    thumbnails = render(buffer.getvalue(), ThumbnailSpec(sizes=(Size(48, 48),)))
    image = open_thumbnail(thumbnails[0])
    assert image.size == (48, 32)
    assert close(rgb_at(image, (24, 16)), (30, 200, 30), 30)


def test_an_audio_only_file_is_unsupported() -> None:
    import av

    buffer = BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000, layout="mono")
        for index in range(4):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.planes[0].update(bytes(4096))
            frame.sample_rate, frame.pts = 8000, index * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(UnsupportedFormat, match="no video"):
        render(buffer.getvalue())


def test_a_video_stream_of_an_unknown_codec_is_unsupported() -> None:
    video = samples.short_video()
    entry = video.rindex(b"avc1")  # the sample entry naming the stream's codec
    with pytest.raises(UnsupportedFormat, match="codec cannot be decoded"):
        render(video[:entry] + b"zzzz" + video[entry + 4 :])


def test_a_video_header_declaring_an_absurd_table_is_corrupt_not_too_large() -> None:
    video = samples.short_video()
    table = video.index(b"stts")  # time-to-sample: version and flags, then the entry count
    damaged = video[: table + 8] + b"\xff\xff\xff\xff" + video[table + 12 :]
    with pytest.raises(CorruptImage, match="video file is damaged"):
        render(damaged)


def test_rendering_from_many_threads_gives_the_same_bytes() -> None:
    # Backfill renders on a thread pool: PDFium needs a lock, warnings handling must not leak.
    from concurrent.futures import ThreadPoolExecutor

    inputs = [
        samples.one_page_pdf(),
        samples.transparent_png(),
        samples.photo_jpeg(300, 200),
        samples.webp(300, 200),
        samples.heic(200, 150),
    ] * 6
    expected = [render(data)[0].data for data in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        actual = list(pool.map(lambda data: render(data)[0].data, inputs))
    assert actual == expected


def test_the_time_budget_bounds_the_search_for_a_video_frame() -> None:
    import time

    from thumbnailer.errors import RenderTimeout
    from thumbnailer.render._deadline import Deadline
    from thumbnailer.render._decode import PixelBudget
    from thumbnailer.render._video import VideoSource

    spent = Deadline(0.0)
    time.sleep(0.01)
    source = VideoSource(samples.short_video(), PixelBudget(10**8), spent)
    try:
        # Checked per packet while looking for a frame, not only once the frame is decoded.
        with pytest.raises(RenderTimeout, match="decoding the video") as caught:
            source.decode((128, 96))
        assert caught.value.kind == "timeout"
    finally:
        source.close()

"""The first page of a PDF through pypdfium2 (imported only when a PDF arrives)."""

from __future__ import annotations

import math
import threading

import pypdfium2
import pypdfium2.raw as pdfium_c
from PIL import Image

from thumbnailer.errors import CorruptImage, TooLarge
from thumbnailer.render._deadline import Deadline
from thumbnailer.render._decode import PixelBudget

__all__ = ["PdfSource"]

# PDFium is not thread-safe and pypdfium2 adds no lock: every call into it holds this one
# (backfill renders from several threads).
_PDFIUM = threading.RLock()

# A page's "natural" pixel size: 144 dpi, i.e. 2 pixels per PDF point (1/72 in).
NATURAL_SCALE = 2.0


class PdfSource:
    """Renders page 1 only, at the smallest scale the thumbnails need (never at full size)."""

    def __init__(self, data: bytes, budget: PixelBudget, deadline: Deadline | None = None) -> None:
        with _PDFIUM:
            self._open(data)
        self.budget = budget
        self.deadline = deadline or Deadline(None)

    def _open(self, data: bytes) -> None:
        try:
            self.document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise CorruptImage("the PDF is encrypted with a password") from exc
            raise CorruptImage(f"the PDF cannot be opened: {exc}") from exc
        try:
            if len(self.document) < 1:
                raise CorruptImage("the PDF has no pages")
            self.page = self.document[0]
            points_w, points_h = self.page.get_size()
            if not (points_w > 0 and points_h > 0):
                raise CorruptImage("the first page of the PDF has no size")
            self._points = (float(points_w), float(points_h))
        except BaseException:
            # Close here, under the lock: left to the garbage collector, PDFium would be
            # called from whichever thread happens to collect it.
            self.document.close()
            raise

    @property
    def size(self) -> tuple[int, int]:
        return (
            max(1, round(self._points[0] * NATURAL_SCALE)),
            max(1, round(self._points[1] * NATURAL_SCALE)),
        )

    def orientation(self) -> int:
        return 1  # pdfium applies the page's /Rotate

    def decode(self, target: tuple[int, int] | None) -> Image.Image:
        scale = NATURAL_SCALE
        if target is not None:
            scale = max(target[0] / self._points[0], target[1] / self._points[1])
        width = math.ceil(self._points[0] * scale)
        height = math.ceil(self._points[1] * scale)
        self.budget.spend(width, height, "the rendered PDF page")
        with _PDFIUM:
            self._check_images()
            bitmap = self._render(scale, width, height)
            try:
                image: Image.Image = bitmap.to_pil().convert("RGB")
            finally:
                bitmap.close()
        image.info = {}
        return image

    def _check_images(self) -> None:
        """Refuse a page holding an image over the pixel limit, before PDFium decodes it.

        Whatever the page's scale, rendering decodes each image at its full size: one huge
        image (a few hundred KB of compressed zeros can declare 40000x40000) would need its
        whole raster in memory. Each image counts on its own: the limit bounds one raster.
        """
        for count, page_object in enumerate(self.page.get_objects()):
            if count % 1024 == 0:  # about 3 ms of objects
                self.deadline.check("reading the PDF page's images")
            if page_object.type != pdfium_c.FPDF_PAGEOBJ_IMAGE:
                continue
            width, height = page_object.get_px_size()
            if width * height > self.budget.limit:
                raise TooLarge(
                    f"an image inside the PDF page is {width}x{height} = {width * height:,} "
                    f"pixels; the limit is {self.budget.limit:,} pixels per image"
                )

    def _render(self, scale: float, width: int, height: int) -> pypdfium2.PdfBitmap:
        """Page 1 on white paper, as a viewer shows it, rendered within the time budget.

        PDFium's progressive rendering asks a pause callback every hundred page objects or
        so: it pauses once the budget is spent, and the render is abandoned there instead of
        running on through a page built to be slow.
        """
        bitmap = pypdfium2.PdfBitmap.new_native(width, height, pdfium_c.FPDFBitmap_BGR)
        bitmap.fill_rect((255, 255, 255, 255), 0, 0, width, height)
        pause = pdfium_c.IFSDK_PAUSE(version=1)
        pause.NeedToPauseNow = type(pause.NeedToPauseNow)(lambda _: self.deadline.expired())
        try:
            status = pdfium_c.FPDF_RenderPageBitmap_Start(
                bitmap, self.page, 0, 0, width, height, 0, pdfium_c.FPDF_ANNOT, pause
            )
            while status == pdfium_c.FPDF_RENDER_TOBECONTINUED:
                self.deadline.check("rendering the PDF page")
                status = pdfium_c.FPDF_RenderPage_Continue(self.page, pause)
            if status != pdfium_c.FPDF_RENDER_DONE:
                raise CorruptImage("the first page of the PDF cannot be rendered")
        except BaseException:
            bitmap.close()
            raise
        finally:
            pdfium_c.FPDF_RenderPage_Close(self.page)
        return bitmap

    def close(self) -> None:
        with _PDFIUM:
            self.page.close()
            self.document.close()

"""The pure rendering core: bytes in, thumbnails out; no AWS, no files, no events."""

from thumbnailer.render.spec import Fit, Limits, OutputFormat, Size, Thumbnail, ThumbnailSpec

__all__ = ["Fit", "Limits", "OutputFormat", "Size", "Thumbnail", "ThumbnailSpec", "render"]

# render() is defined by the engine module and re-exported here.
from thumbnailer.render._engine import render

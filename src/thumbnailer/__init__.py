"""thumbnailer: event-driven thumbnails for AWS, from one pure rendering core."""

from thumbnailer.errors import (
    ConfigError,
    CorruptImage,
    EmptyInput,
    LocalFileError,
    RenderTimeout,
    ThumbnailerError,
    TooLarge,
    UnsupportedFormat,
)
from thumbnailer.render import Fit, Limits, OutputFormat, Size, Thumbnail, ThumbnailSpec, render

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "CorruptImage",
    "EmptyInput",
    "Fit",
    "Limits",
    "LocalFileError",
    "OutputFormat",
    "RenderTimeout",
    "Size",
    "Thumbnail",
    "ThumbnailSpec",
    "ThumbnailerError",
    "TooLarge",
    "UnsupportedFormat",
    "__version__",
    "render",
]

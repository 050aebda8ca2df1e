"""The one typed, validated settings object of the function, built once per cold start.

Every setting has exactly one environment variable, listed in :data:`VARIABLES` with its
default and description; the settings table in docs/lambda.md (``thumbnailer._docs``) and the
Terraform module's ``environment`` block are generated from / checked against this list.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from thumbnailer.errors import ConfigError
from thumbnailer.render.spec import (
    Fit,
    Limits,
    OutputFormat,
    Size,
    ThumbnailSpec,
    parse_color,
)

__all__ = [
    "LOG_LEVELS",
    "POWERTOOLS_VARIABLES",
    "TEMPLATE_FIELDS",
    "VARIABLES",
    "Settings",
    "Variable",
]

# Fields of THUMBNAILER_KEY_TEMPLATE, for source key "photos/cat 1.jpg":
# prefix "thumbnails/", key "photos/cat 1.jpg", stem "photos/cat 1", dir "photos/",
# name "cat 1", width/height of the box, ext "jpg".
TEMPLATE_FIELDS = ("prefix", "key", "stem", "dir", "name", "width", "height", "ext")

RetryMode = Literal["standard", "adaptive"]
_E = TypeVar("_E", Fit, OutputFormat)


@dataclass(frozen=True)
class Variable:
    """One documented environment variable."""

    name: str
    default: str
    description: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "THUMBNAILER_SOURCE_BUCKET",
        "",
        "Source bucket name; events for other buckets are skipped (empty: any bucket).",
    ),
    Variable(
        "THUMBNAILER_DESTINATION_BUCKET", "", "Bucket the thumbnails are written to (required)."
    ),
    Variable(
        "THUMBNAILER_SIZES", "128x128", "Comma-separated boxes, `WxH`, e.g. `128x128,512x512`."
    ),
    Variable(
        "THUMBNAILER_FIT",
        "fit",
        "`fit` (inside the box, no upscaling), `cover` (centre crop) or `pad` (letterbox).",
    ),
    Variable(
        "THUMBNAILER_FORMAT",
        "auto",
        "`auto` (JPEG, or PNG with transparency), `jpeg`, `png`, `webp` or `avif` (refused at "
        "cold start when the layer's Pillow has no AVIF encoder).",
    ),
    Variable("THUMBNAILER_QUALITY", "85", "Encoder quality 1..100 (JPEG, WebP, AVIF)."),
    Variable(
        "THUMBNAILER_BACKGROUND",
        "#ffffff",
        "Colour transparency is flattened onto for JPEG, and the `pad` colour.",
    ),
    Variable(
        "THUMBNAILER_MAX_INPUT_BYTES",
        "104857600",
        "Largest source object accepted, in bytes; checked before download.",
    ),
    Variable(
        "THUMBNAILER_MAX_INPUT_PIXELS",
        "50000000",
        "Most pixels decoded per source, over all frames; checked from the header.",
    ),
    Variable(
        "THUMBNAILER_TIME_BUDGET_SECONDS", "30", "Render time budget per object; `0` disables it."
    ),
    Variable(
        "THUMBNAILER_PREFIX",
        "thumbnails/",
        "Key prefix of every thumbnail; objects under it are never processed.",
    ),
    Variable(
        "THUMBNAILER_KEY_TEMPLATE",
        "{prefix}{stem}_{width}x{height}.{ext}",
        "Destination key template; fields: `prefix`, `key`, `stem`, `dir`, `name`, `width`, "
        "`height`, `ext` (see Destination keys in docs/lambda.md).",
    ),
    Variable(
        "THUMBNAILER_CACHE_CONTROL",
        "public, max-age=31536000, immutable",
        "`Cache-Control` of every thumbnail (empty: none).",
    ),
    Variable(
        "THUMBNAILER_INCLUDE_PREFIXES", "", "Comma-separated key prefixes to process (empty: all)."
    ),
    Variable("THUMBNAILER_EXCLUDE_PREFIXES", "", "Comma-separated key prefixes to skip."),
    Variable(
        "THUMBNAILER_INCLUDE_SUFFIXES",
        "",
        "Comma-separated key suffixes to process, case-insensitive (empty: all).",
    ),
    Variable(
        "THUMBNAILER_EXCLUDE_SUFFIXES",
        "",
        "Comma-separated key suffixes to skip, case-insensitive.",
    ),
    Variable(
        "THUMBNAILER_DELETE_SYNC",
        "true",
        "Delete a source's thumbnails when the source is deleted.",
    ),
    Variable(
        "THUMBNAILER_FAILURE_PREFIX",
        "failed/",
        "Key prefix of failure markers in the destination bucket (empty: none).",
    ),
    Variable(
        "THUMBNAILER_SNS_TOPIC_ARN", "", "SNS topic told of permanent failures (empty: none)."
    ),
    Variable(
        "THUMBNAILER_SES_SENDER", "", "SES sender address for failure emails (empty: no email)."
    ),
    Variable("THUMBNAILER_SES_RECIPIENTS", "", "Comma-separated recipients of failure emails."),
    Variable(
        "THUMBNAILER_EVENT_BUS_NAME",
        "",
        "EventBridge bus for `Thumbnail Created` / `Thumbnail Failed` events (empty: none).",
    ),
    Variable(
        "THUMBNAILER_RETRY_MODE",
        "standard",
        "botocore retry mode for AWS calls: `standard` or `adaptive`.",
    ),
    Variable("THUMBNAILER_MAX_ATTEMPTS", "3", "botocore attempts per AWS call, 1..10."),
)

# Read by aws-lambda-powertools, which logs and emits the metrics; documented in the same table.
POWERTOOLS_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "POWERTOOLS_SERVICE_NAME",
        "thumbnailer",
        "`service` of every log line and dimension of every metric.",
    ),
    Variable("POWERTOOLS_METRICS_NAMESPACE", "Thumbnailer", "CloudWatch namespace of the metrics."),
    Variable("POWERTOOLS_LOG_LEVEL", "INFO", "Log level: `DEBUG`, `INFO`, `WARNING` or `ERROR`."),
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_DEFAULTS = {v.name: v.default for v in VARIABLES}


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={text!r}: expected true or false")


def _int(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(f"{name}={text!r}: expected an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value}: must be {low}..{high}")
    return value


def _choice(name: str, text: str, enum: type[_E]) -> _E:
    try:
        return enum(text.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ConfigError(f"{name}={text!r}: expected one of {allowed}") from None


@dataclass(frozen=True)
class Settings:
    """Validated configuration of the thumbnail function."""

    destination_bucket: str
    source_bucket: str = ""
    spec: ThumbnailSpec = field(default_factory=ThumbnailSpec)
    prefix: str = "thumbnails/"
    key_template: str = _DEFAULTS["THUMBNAILER_KEY_TEMPLATE"]
    cache_control: str = _DEFAULTS["THUMBNAILER_CACHE_CONTROL"]
    include_prefixes: tuple[str, ...] = ()
    exclude_prefixes: tuple[str, ...] = ()
    include_suffixes: tuple[str, ...] = ()
    exclude_suffixes: tuple[str, ...] = ()
    delete_sync: bool = True
    failure_prefix: str = "failed/"
    sns_topic_arn: str = ""
    ses_sender: str = ""
    ses_recipients: tuple[str, ...] = ()
    event_bus_name: str = ""
    retry_mode: RetryMode = "standard"
    max_attempts: int = 3
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not self.destination_bucket:
            raise ConfigError("THUMBNAILER_DESTINATION_BUCKET is required")
        if not self.prefix.strip("/"):
            raise ConfigError(
                "THUMBNAILER_PREFIX must not be empty: it separates thumbnails from sources"
            )
        if not self.prefix.endswith("/"):
            object.__setattr__(self, "prefix", self.prefix + "/")
        if self.failure_prefix and not self.failure_prefix.endswith("/"):
            object.__setattr__(self, "failure_prefix", self.failure_prefix + "/")
        self._check_template()
        if self.ses_sender and not self.ses_recipients:
            raise ConfigError(
                "THUMBNAILER_SES_SENDER is set but THUMBNAILER_SES_RECIPIENTS is empty"
            )
        self._check_loop()
        self._check_encoder()

    def _check_encoder(self) -> None:
        # Said at cold start, not as every object's failure. Only AVIF is an optional part of
        # Pillow; asking about it loads Pillow, which the other formats leave to the first render.
        fmt = self.spec.format
        if fmt is OutputFormat.AVIF:
            from thumbnailer.render import can_encode

            if not can_encode(fmt):
                raise ConfigError(
                    "THUMBNAILER_FORMAT=avif: this build cannot write AVIF thumbnails (its "
                    "Pillow has no AVIF encoder); choose another format or rebuild the layer"
                )

    def _check_loop(self) -> None:
        if not self.source_bucket or self.source_bucket != self.destination_bucket:
            return
        # Writing into the bucket we read from is safe only when the trigger can never see what
        # we write: each written prefix is outside every include prefix, or excluded.
        for written in filter(None, (self.prefix, self.failure_prefix)):
            seen = not self.include_prefixes or any(
                p.startswith(written) or written.startswith(p) for p in self.include_prefixes
            )
            if seen and not any(written.startswith(p) for p in self.exclude_prefixes):
                raise ConfigError(
                    f"source and destination bucket are both {self.source_bucket!r} and objects "
                    f"written under {written!r} would trigger the function again: add "
                    f"{written!r} to THUMBNAILER_EXCLUDE_PREFIXES or use another bucket"
                )

    def _check_template(self) -> None:
        template = self.key_template
        if not template.startswith("{prefix}"):
            raise ConfigError(
                "THUMBNAILER_KEY_TEMPLATE must start with {prefix} so thumbnails are never "
                "re-processed"
            )
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        except ValueError as exc:
            raise ConfigError(f"THUMBNAILER_KEY_TEMPLATE={template!r}: {exc}") from exc
        unknown = fields - set(TEMPLATE_FIELDS)
        if unknown:
            raise ConfigError(
                f"THUMBNAILER_KEY_TEMPLATE={template!r}: unknown field(s) "
                f"{', '.join(sorted(unknown))}; allowed: {', '.join(TEMPLATE_FIELDS)}"
            )
        if not fields & {"stem", "key", "name"}:
            raise ConfigError("THUMBNAILER_KEY_TEMPLATE must contain {stem}, {key} or {name}")
        # Sizes must be told apart, or several sizes would overwrite one key.
        boxes = {
            (b.width if "width" in fields else 0, b.height if "height" in fields else 0)
            for b in self.spec.sizes
        }
        if len(boxes) != len(self.spec.sizes):
            raise ConfigError(
                "THUMBNAILER_KEY_TEMPLATE must tell the sizes apart: add {width} and/or "
                "{height} so every size of THUMBNAILER_SIZES gets its own key"
            )
        # What parsing cannot tell (a positional field, an unknown conversion, a format spec
        # its field's type lacks, such as {key:05d}): filled in once here, it fails now rather
        # than on every object.
        box = self.spec.sizes[0]
        try:
            template.format(
                prefix=self.prefix,
                key="photos/a.jpg",
                stem="photos/a",
                dir="photos/",
                name="a",
                width=box.width,
                height=box.height,
                ext="jpg",
            )
        except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
            raise ConfigError(
                f"THUMBNAILER_KEY_TEMPLATE={template!r} cannot be filled in: {exc}"
            ) from exc

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name, _DEFAULTS[name])

        def number(name: str, low: int, high: int) -> int:
            return _int(name, get(name), low, high)

        budget = float(number("THUMBNAILER_TIME_BUDGET_SECONDS", 0, 900))
        level_text = env.get("POWERTOOLS_LOG_LEVEL", "INFO")
        log_level = level_text.strip().upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(
                f"POWERTOOLS_LOG_LEVEL={level_text!r}: expected one of {', '.join(LOG_LEVELS)}"
            )
        sizes = tuple(Size.parse(s) for s in _split(get("THUMBNAILER_SIZES")))
        retry_mode = get("THUMBNAILER_RETRY_MODE").strip().lower()
        if retry_mode not in ("standard", "adaptive"):
            raise ConfigError(
                f"THUMBNAILER_RETRY_MODE={retry_mode!r}: expected standard or adaptive"
            )
        spec = ThumbnailSpec(
            sizes=sizes,
            fit=_choice("THUMBNAILER_FIT", get("THUMBNAILER_FIT"), Fit),
            format=_choice("THUMBNAILER_FORMAT", get("THUMBNAILER_FORMAT"), OutputFormat),
            quality=number("THUMBNAILER_QUALITY", 1, 100),
            background=parse_color(get("THUMBNAILER_BACKGROUND")),
            limits=Limits(
                max_input_bytes=number("THUMBNAILER_MAX_INPUT_BYTES", 1, 10 * 1024**3),
                max_input_pixels=number("THUMBNAILER_MAX_INPUT_PIXELS", 1, 1_000_000_000),
                time_budget_seconds=budget or None,
            ),
        )
        return cls(
            destination_bucket=get("THUMBNAILER_DESTINATION_BUCKET").strip(),
            source_bucket=get("THUMBNAILER_SOURCE_BUCKET").strip(),
            spec=spec,
            prefix=get("THUMBNAILER_PREFIX").strip(),
            key_template=get("THUMBNAILER_KEY_TEMPLATE").strip(),
            cache_control=get("THUMBNAILER_CACHE_CONTROL").strip(),
            include_prefixes=_split(get("THUMBNAILER_INCLUDE_PREFIXES")),
            exclude_prefixes=_split(get("THUMBNAILER_EXCLUDE_PREFIXES")),
            include_suffixes=tuple(s.lower() for s in _split(get("THUMBNAILER_INCLUDE_SUFFIXES"))),
            exclude_suffixes=tuple(s.lower() for s in _split(get("THUMBNAILER_EXCLUDE_SUFFIXES"))),
            delete_sync=_bool("THUMBNAILER_DELETE_SYNC", get("THUMBNAILER_DELETE_SYNC")),
            failure_prefix=get("THUMBNAILER_FAILURE_PREFIX").strip(),
            sns_topic_arn=get("THUMBNAILER_SNS_TOPIC_ARN").strip(),
            ses_sender=get("THUMBNAILER_SES_SENDER").strip(),
            ses_recipients=_split(get("THUMBNAILER_SES_RECIPIENTS")),
            event_bus_name=get("THUMBNAILER_EVENT_BUS_NAME").strip(),
            retry_mode=retry_mode,  # type: ignore[arg-type]  # checked above
            max_attempts=number("THUMBNAILER_MAX_ATTEMPTS", 1, 10),
            log_level=log_level,
        )

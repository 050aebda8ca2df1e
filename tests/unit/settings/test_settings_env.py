"""Settings from environment variables: defaults, validation messages, the loop guard."""

from __future__ import annotations

import pytest

from thumbnailer.errors import ConfigError
from thumbnailer.render.spec import Fit, OutputFormat, Size
from thumbnailer.settings import VARIABLES, Settings

BASE = {"THUMBNAILER_DESTINATION_BUCKET": "thumbs"}


def env(**values: str) -> dict[str, str]:
    return {**BASE, **{f"THUMBNAILER_{k.upper()}": v for k, v in values.items()}}


def test_defaults() -> None:
    s = Settings.from_env(BASE)
    assert s.destination_bucket == "thumbs"
    assert s.spec.sizes == (Size(128, 128),)
    assert s.spec.fit is Fit.FIT and s.spec.format is OutputFormat.AUTO
    assert s.prefix == "thumbnails/" and s.failure_prefix == "failed/"
    assert s.delete_sync is True
    assert s.retry_mode == "standard" and s.max_attempts == 3


def test_every_variable_is_read() -> None:
    values = {
        "SOURCE_BUCKET": "src",
        "SIZES": "64x64, 512x256",
        "FIT": "COVER",
        "FORMAT": "webp",
        "QUALITY": "70",
        "BACKGROUND": "#000000",
        "MAX_INPUT_BYTES": "1000",
        "MAX_INPUT_PIXELS": "2000",
        "TIME_BUDGET_SECONDS": "0",
        "PREFIX": "t",
        "KEY_TEMPLATE": "{prefix}{dir}{width}/{name}.{ext}",
        "CACHE_CONTROL": "no-cache",
        "INCLUDE_PREFIXES": "a/,b/",
        "EXCLUDE_PREFIXES": "a/private/",
        "INCLUDE_SUFFIXES": ".JPG,.png",
        "EXCLUDE_SUFFIXES": ".GIF",
        "DELETE_SYNC": "off",
        "FAILURE_PREFIX": "errors",
        "SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
        "SES_SENDER": "a@example.com",
        "SES_RECIPIENTS": "b@example.com, c@example.com",
        "EVENT_BUS_NAME": "bus",
        "RETRY_MODE": "Adaptive",
        "MAX_ATTEMPTS": "5",
    }
    assert {f"THUMBNAILER_{k}" for k in values} | set(BASE) == {v.name for v in VARIABLES}
    s = Settings.from_env(env(**values))
    assert s.source_bucket == "src"
    assert s.spec.sizes == (Size(64, 64), Size(512, 256))
    assert (s.spec.fit, s.spec.format, s.spec.quality) == (Fit.COVER, OutputFormat.WEBP, 70)
    assert s.spec.background == (0, 0, 0)
    assert s.spec.limits.max_input_bytes == 1000
    assert s.spec.limits.max_input_pixels == 2000
    assert s.spec.limits.time_budget_seconds is None
    assert s.prefix == "t/" and s.failure_prefix == "errors/"
    assert s.key_template == "{prefix}{dir}{width}/{name}.{ext}"
    assert s.cache_control == "no-cache"
    assert s.include_prefixes == ("a/", "b/") and s.exclude_prefixes == ("a/private/",)
    assert s.include_suffixes == (".jpg", ".png") and s.exclude_suffixes == (".gif",)
    assert s.delete_sync is False
    assert s.ses_recipients == ("b@example.com", "c@example.com")
    assert (s.event_bus_name, s.retry_mode, s.max_attempts) == ("bus", "adaptive", 5)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"DESTINATION_BUCKET": ""}, "THUMBNAILER_DESTINATION_BUCKET is required"),
        ({"SIZES": "128"}, "invalid size"),
        ({"SIZES": "0x10"}, "sides must be"),
        ({"FIT": "stretch"}, "THUMBNAILER_FIT='stretch': expected one of fit, cover, pad"),
        ({"QUALITY": "high"}, "THUMBNAILER_QUALITY='high': expected an integer"),
        ({"QUALITY": "101"}, "THUMBNAILER_QUALITY=101: must be 1..100"),
        ({"DELETE_SYNC": "maybe"}, "expected true or false"),
        ({"RETRY_MODE": "legacy"}, "expected standard or adaptive"),
        ({"MAX_ATTEMPTS": "0"}, "THUMBNAILER_MAX_ATTEMPTS=0"),
        ({"PREFIX": "/"}, "THUMBNAILER_PREFIX must not be empty"),
        ({"SES_SENDER": "a@example.com"}, "THUMBNAILER_SES_RECIPIENTS is empty"),
        ({"KEY_TEMPLATE": "{stem}.{ext}"}, "must start with {prefix}"),
        ({"KEY_TEMPLATE": "{prefix}{width}.{ext}"}, "must contain {stem}, {key} or {name}"),
        ({"KEY_TEMPLATE": "{prefix}{stem}{color}.{ext}"}, "unknown field(s) color"),
        ({"KEY_TEMPLATE": "{prefix}{stem.{ext}"}, "THUMBNAILER_KEY_TEMPLATE="),
        # Parsed fine, but no object's key could be made from them.
        ({"KEY_TEMPLATE": "{prefix}{stem}{}.{ext}"}, "cannot be filled in"),
        ({"KEY_TEMPLATE": "{prefix}{stem!x}.{ext}"}, "cannot be filled in"),
        ({"KEY_TEMPLATE": "{prefix}{stem:05d}.{ext}"}, "cannot be filled in"),
        (
            {"SIZES": "64x64,128x128", "KEY_TEMPLATE": "{prefix}{stem}.{ext}"},
            "must tell the sizes apart",
        ),
        ({"BACKGROUND": "pink"}, "invalid colour"),
    ],
)
def test_bad_values_have_clear_messages(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env(**values))
    assert message in info.value.message
    assert info.value.kind == "config"


def test_log_level_is_checked_with_the_other_settings() -> None:
    assert Settings.from_env(BASE).log_level == "INFO"
    assert Settings.from_env({**BASE, "POWERTOOLS_LOG_LEVEL": " debug"}).log_level == "DEBUG"
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**BASE, "POWERTOOLS_LOG_LEVEL": "verbose"})
    assert info.value.message == (
        "POWERTOOLS_LOG_LEVEL='verbose': expected one of DEBUG, INFO, WARNING, ERROR"
    )


class TestLoopGuard:
    """Source = destination bucket is refused unless the trigger cannot see what we write."""

    def test_same_bucket_without_separation_is_refused(self) -> None:
        with pytest.raises(ConfigError) as info:
            Settings.from_env(env(SOURCE_BUCKET="thumbs"))
        assert "trigger the function again" in info.value.message
        assert "'thumbnails/'" in info.value.message

    def test_same_bucket_with_excluded_prefixes_is_accepted(self) -> None:
        s = Settings.from_env(env(SOURCE_BUCKET="thumbs", EXCLUDE_PREFIXES="thumbnails/,failed/"))
        assert s.source_bucket == s.destination_bucket

    def test_failure_prefix_counts_too(self) -> None:
        with pytest.raises(ConfigError) as info:
            Settings.from_env(env(SOURCE_BUCKET="thumbs", EXCLUDE_PREFIXES="thumbnails/"))
        assert "'failed/'" in info.value.message
        # No failure markers: the thumbnail prefix alone separates.
        Settings.from_env(
            env(SOURCE_BUCKET="thumbs", EXCLUDE_PREFIXES="thumbnails/", FAILURE_PREFIX="")
        )

    def test_include_prefixes_outside_the_written_ones_separate(self) -> None:
        s = Settings.from_env(env(SOURCE_BUCKET="thumbs", INCLUDE_PREFIXES="uploads/"))
        assert s.include_prefixes == ("uploads/",)

    def test_include_prefix_containing_the_thumbnails_is_refused(self) -> None:
        with pytest.raises(ConfigError):
            Settings.from_env(
                env(SOURCE_BUCKET="thumbs", INCLUDE_PREFIXES="media/", PREFIX="media/thumbs/")
            )

    def test_different_buckets_need_no_separation(self) -> None:
        assert Settings.from_env(env(SOURCE_BUCKET="photos")).source_bucket == "photos"


def test_avif_without_an_encoder_is_refused_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    Image.init()
    assert Settings.from_env(env(format="avif")).spec.format is OutputFormat.AVIF
    monkeypatch.delitem(Image.SAVE, "AVIF")  # as in a Pillow built without libavif
    monkeypatch.setattr(Image, "init", lambda: None)
    with pytest.raises(ConfigError, match="THUMBNAILER_FORMAT=avif: this build cannot write"):
        Settings.from_env(env(format="avif"))

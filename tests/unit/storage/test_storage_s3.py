"""S3Store against moto, and botocore failures mapped to our error kinds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    EndpointConnectionError,
    IncompleteReadError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.stub import Stubber
from moto import mock_aws

from thumbnailer.errors import (
    AccessDenied,
    ConfigError,
    ObjectNotFound,
    Rejected,
    ThumbnailerError,
    TransientError,
)
from thumbnailer.storage import S3Store, client_config, map_error

REGION = "us-east-1"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="bucket")
        yield client


def test_round_trip_with_metadata(s3: Any) -> None:
    store = S3Store(s3)
    etag = store.put(
        "bucket",
        "thumbs/été 1+1.jpg",
        b"jpeg-bytes",
        content_type="image/jpeg",
        cache_control="public, max-age=60",
        metadata={"source-key": "x%20y"},
    )
    head = s3.head_object(Bucket="bucket", Key="thumbs/été 1+1.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["CacheControl"] == "public, max-age=60"
    got = store.get("bucket", "thumbs/été 1+1.jpg")
    assert got.data == b"jpeg-bytes"
    assert got.info.etag == etag and '"' not in etag
    assert got.info.metadata == {"source-key": "x%20y"}
    assert store.head("bucket", "thumbs/été 1+1.jpg").size == len(b"jpeg-bytes")


def test_missing_object_and_bucket(s3: Any) -> None:
    store = S3Store(s3)
    with pytest.raises(ObjectNotFound) as info:
        store.get("bucket", "nope.jpg")
    assert isinstance(info.value.__cause__, Exception)  # the botocore error is chained
    with pytest.raises(ObjectNotFound):
        store.head("bucket", "nope.jpg")
    with pytest.raises(ObjectNotFound):
        store.get("no-such-bucket", "k.jpg")


def test_delete_absent_is_fine_and_list_pages(s3: Any) -> None:
    store = S3Store(s3)
    store.delete("bucket", "absent.jpg")
    for i in range(5):
        store.put("bucket", f"p/{i}.jpg", b"x", content_type="image/jpeg")
    store.put("bucket", "q/0.jpg", b"x", content_type="image/jpeg")
    assert [o.key for o in store.list("bucket", "p/")] == [f"p/{i}.jpg" for i in range(5)]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, ObjectNotFound),
        ("404", 404, ObjectNotFound),
        ("AccessDenied", 403, AccessDenied),
        ("403", 403, AccessDenied),
        ("SlowDown", 503, TransientError),
        ("Throttling", 400, TransientError),
        ("InternalError", 500, TransientError),
        ("ServiceUnavailable", 503, TransientError),
        ("InvalidRequest", 400, Rejected),
        ("KeyTooLongError", 400, Rejected),
        ("MetadataTooLarge", 400, Rejected),
        ("InvalidArgument", 400, Rejected),
    ],
)
def test_client_errors_are_mapped(code: str, status: int, expected: type[Exception]) -> None:
    client = boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=client_config("standard", 1),
    )
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "get_object", service_error_code=code, http_status_code=status, service_message=code
        )
        with pytest.raises(expected) as info:
            S3Store(client).get("bucket", "k.jpg")
    assert type(info.value) is expected
    assert info.value.__cause__ is not None
    assert "s3://bucket/k.jpg" in info.value.message


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="https://s3.example"),
        ReadTimeoutError(endpoint_url="https://s3.example"),
    ],
)
def test_connection_problems_are_transient(s3: Any, exc: Exception) -> None:
    def fail(**_: Any) -> None:
        raise exc

    s3.meta.events.register("before-send.s3.GetObject", fail)
    with pytest.raises(TransientError) as info:
        S3Store(s3).get("bucket", "k.jpg")
    assert info.value.__cause__ is exc
    assert not info.value.permanent


def test_body_cut_short_is_transient(s3: Any) -> None:
    s3.put_object(Bucket="bucket", Key="k.jpg", Body=b"x" * 10)

    def cut(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        class Short:
            def read(self) -> bytes:
                raise IncompleteReadError(actual_bytes=3, expected_bytes=10)

        parsed["Body"] = Short()

    s3.meta.events.register("after-call.s3.GetObject", cut)
    with pytest.raises(TransientError):
        S3Store(s3).get("bucket", "k.jpg")


def test_our_own_mistakes_are_permanent() -> None:
    error = map_error(ParamValidationError(report="Key is required"), "s3://b/")
    assert error.permanent and type(error) is Rejected
    assert type(map_error(NoRegionError(), "s3://b/k")) is ConfigError


@pytest.mark.parametrize(
    "exc",
    [
        ParamValidationError(report="x"),
        NoRegionError(),
        EndpointConnectionError(endpoint_url="https://s3.example"),
    ],
)
def test_every_error_has_a_documented_kind(exc: Exception) -> None:
    assert type(map_error(exc, "s3://b/k")) is not ThumbnailerError  # the bare kind "error"


def test_retry_settings_reach_the_client() -> None:
    config = client_config("adaptive", 7)
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 7}


def test_default_client_is_built_lazily_once() -> None:
    with mock_aws():
        store = S3Store(config=client_config())
        assert store._client is None
        assert store.client is store.client

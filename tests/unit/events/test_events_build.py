"""Synthetic S3 notifications parse back to the reference they were built from."""

from __future__ import annotations

import pytest

from thumbnailer.events import Action, ObjectRef, parse_s3_notification, s3_notification

KEYS = ["a b+c/ü.jpg", "photos/100% real.png", "plain.jpg"]


@pytest.mark.parametrize("key", KEYS)
def test_created_round_trips(key: str) -> None:
    ref = ObjectRef("src", key, Action.CREATED, version_id="v1", etag="abc", size=3)
    event = s3_notification(ref, "eu-west-1", "thumbnailer-backfill")
    (parsed,) = parse_s3_notification(event).refs
    assert (parsed.bucket, parsed.key, parsed.action) == ("src", key, Action.CREATED)
    assert (parsed.version_id, parsed.etag, parsed.size) == ("v1", "abc", 3)
    record = event["Records"][0]
    assert record["awsRegion"] == "eu-west-1"
    assert record["userIdentity"]["principalId"] == "thumbnailer-backfill"


def test_key_is_encoded_as_s3_encodes_it() -> None:
    event = s3_notification(ObjectRef("b", "a b+c/ü.jpg"), "us-east-1", "x")
    assert event["Records"][0]["s3"]["object"]["key"] == "a+b%2Bc/%C3%BC.jpg"


def test_deleted_carries_no_size_or_etag() -> None:
    event = s3_notification(ObjectRef("b", "k.jpg", Action.DELETED), "us-east-1", "x")
    record = event["Records"][0]
    assert record["eventName"] == "ObjectRemoved:Delete"
    assert "eTag" not in record["s3"]["object"] and "size" not in record["s3"]["object"]
    (parsed,) = parse_s3_notification(event).refs
    assert parsed.action is Action.DELETED

"""The sample events stay what tests/events/README.md says they are."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parents[2] / "events"
ENVELOPES = {
    "sqs-s3-notification.json": "s3-object-created-put.json",
    "sqs-eventbridge.json": "eventbridge-object-created.json",
}


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text("utf-8"))


@pytest.mark.parametrize(("envelope", "direct"), sorted(ENVELOPES.items()))
def test_an_sqs_envelope_carries_its_direct_event(envelope: str, direct: str) -> None:
    (record,) = load(envelope)["Records"]
    assert record["body"] == json.dumps(load(direct))


@pytest.mark.parametrize("envelope", sorted(ENVELOPES))
def test_md5_of_body_is_that_of_the_body(envelope: str) -> None:
    # SQS sends the MD5 of the body it delivers; a stale one would not be a real message.
    (record,) = load(envelope)["Records"]
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()


@pytest.mark.parametrize("envelope", sorted(ENVELOPES))
def test_an_sqs_envelope_is_in_the_region_of_its_event(envelope: str) -> None:
    (record,) = load(envelope)["Records"]
    body = json.loads(record["body"])
    region = body["Records"][0]["awsRegion"] if "Records" in body else body["region"]
    assert record["awsRegion"] == region
    assert record["eventSourceARN"].split(":")[3] == region


def test_every_fixture_is_described_in_the_readme() -> None:
    readme = (EVENTS / "README.md").read_text("utf-8")
    for path in sorted(EVENTS.glob("*.json")):
        assert f"`{path.name}`" in readme, path.name

"""The emulator closes two gaps with AWS that the module's Terraform runs into."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from thumbnailer.local.emulator import MotoServer


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[Any, Any]]:
    with MotoServer() as server:
        kwargs: dict[str, Any] = {
            "endpoint_url": server.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        yield boto3.client("s3", **kwargs), boto3.client("sqs", **kwargs)


def _deny(bucket: str, condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_a_tls_only_bucket_policy_does_not_deny_the_loopback(clients: tuple[Any, Any]) -> None:
    s3, _ = clients
    s3.create_bucket(Bucket="tls-only")
    policy = json.dumps(_deny("tls-only", {"Bool": {"aws:SecureTransport": "false"}}))
    s3.put_bucket_policy(Bucket="tls-only", Policy=policy)
    s3.put_object(Bucket="tls-only", Key="a.jpg", Body=b"x")
    assert s3.get_object(Bucket="tls-only", Key="a.jpg")["Body"].read() == b"x"
    # The policy reads back as written.
    assert json.loads(s3.get_bucket_policy(Bucket="tls-only")["Policy"]) == json.loads(policy)


def test_other_deny_statements_still_deny(clients: tuple[Any, Any]) -> None:
    s3, _ = clients
    s3.create_bucket(Bucket="locked")
    s3.put_bucket_policy(Bucket="locked", Policy=json.dumps(_deny("locked", None)))
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="locked", Key="a.jpg", Body=b"x")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_queue_returns_its_redrive_allow_policy(clients: tuple[Any, Any]) -> None:
    _, sqs = clients
    allow = json.dumps({"redrivePermission": "allowAll"})
    url = sqs.create_queue(QueueName="dlq", Attributes={"RedriveAllowPolicy": allow})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedriveAllowPolicy"]) == json.loads(allow)

"""The emulator closes the gaps with AWS that the module's Terraform runs into."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from thumbnailer.local.emulator import INVOCATIONS_QUEUE, MotoServer


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[Any, Any]]:
    with MotoServer() as server:
        kwargs = server.client_kwargs()
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


def test_s3_invocations_of_a_function_are_queued_for_the_runner(clients: tuple[Any, Any]) -> None:
    s3, sqs = clients
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:thumbs"
    s3.create_bucket(Bucket="direct")
    s3.put_bucket_notification_configuration(
        Bucket="direct",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    s3.put_object(Bucket="direct", Key="before the queue.jpg", Body=b"x")  # moto as is: lost
    url = sqs.create_queue(QueueName=INVOCATIONS_QUEUE)["QueueUrl"]
    s3.put_object(Bucket="direct", Key="a b+c.jpg", Body=b"x")
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    invocation = json.loads(message["Body"])
    assert invocation["FunctionArn"] == function_arn
    (record,) = invocation["Payload"]["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == "direct"
    assert record["s3"]["object"]["key"] == "a+b%2Bc.jpg"  # URL-encoded, as S3 sends it


def test_a_bucket_with_delete_markers_empties_after_versioning_is_suspended(
    clients: tuple[Any, Any],
) -> None:
    # What Terraform's force_destroy does to a versioned bucket whose versioning resource it
    # has just destroyed: list every version and delete marker, delete them all, then the bucket.
    s3, _ = clients
    s3.create_bucket(Bucket="suspended")
    s3.put_object(Bucket="suspended", Key="early.zip", Body=b"x")  # before versioning: "null"
    s3.put_bucket_versioning(Bucket="suspended", VersioningConfiguration={"Status": "Enabled"})
    s3.delete_object(Bucket="suspended", Key="early.zip")  # leaves a delete marker on top
    s3.put_bucket_versioning(Bucket="suspended", VersioningConfiguration={"Status": "Suspended"})
    listed = s3.list_object_versions(Bucket="suspended")
    entries = listed.get("Versions", []) + listed.get("DeleteMarkers", [])
    assert len(entries) == 2
    objects = [{"Key": entry["Key"], "VersionId": entry["VersionId"]} for entry in entries]
    answer = s3.delete_objects(Bucket="suspended", Delete={"Objects": objects})
    assert not answer.get("Errors")
    assert not s3.list_object_versions(Bucket="suspended").get("Versions")
    s3.delete_bucket(Bucket="suspended")

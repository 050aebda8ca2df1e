"""The handler against moto: buckets, topic, email, bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from lambda_helpers import DST, REGION, SENDER, SRC, Stack
from moto import mock_aws


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        for bucket in (SRC, DST):
            s3.create_bucket(Bucket=bucket)
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        topic_arn = sns.create_topic(Name="thumbnailer-alerts")["TopicArn"]
        topic_queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        topic_queue_arn = sqs.get_queue_attributes(
            QueueUrl=topic_queue, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=topic_queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        events.create_event_bus(Name="thumbnails")
        bus_queue = sqs.create_queue(QueueName="bus-inbox")["QueueUrl"]
        bus_queue_arn = sqs.get_queue_attributes(QueueUrl=bus_queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="all",
            EventBusName="thumbnails",
            EventPattern=json.dumps({"source": ["thumbnailer"]}),
        )
        events.put_targets(
            Rule="all", EventBusName="thumbnails", Targets=[{"Id": "q", "Arn": bus_queue_arn}]
        )
        stack = Stack(s3, sqs, topic_arn, topic_queue, bus_queue)

        def inject(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            # before-call sees the serialized request: the key is at the end of its path.
            path = unquote(params.get("url_path", "").split("?")[0])
            code = next((c for k, c in stack.failing.items() if path.endswith("/" + k)), None)
            if code is None:
                return None
            status = 503 if code in ("SlowDown", "ServiceUnavailable") else 403
            parsed = {
                "Error": {"Code": code, "Message": f"injected {code}"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return AWSResponse("https://s3.injected", status, {}, None), parsed

        s3.meta.events.register("before-call.s3.GetObject", inject)
        yield stack

"""``infra/examples/complete`` (every feature on) applied as written, against a moto server.

The example is the user's file, untouched; a Terraform override file next to it points its
provider at the emulator, as ``infra/examples/local`` does by hand.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from thumbnailer.errors import TerraformError
from thumbnailer.local.emulator import MotoServer
from thumbnailer.local.terraform import Terraform, stage_infra

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
SERVICES = (
    "cloudwatch",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "ses",
    "sns",
    "sqs",
    "sts",
)


def _override(endpoint: str, region: str = "us-east-1") -> str:
    endpoints = "\n".join(f'    {name} = "{endpoint}"' for name in SERVICES)
    return f"""
provider "aws" {{
  region                      = "{region}"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}
"""


@pytest.fixture(scope="module")
def complete(
    tmp_path_factory: pytest.TempPathFactory, terraform_bin: str
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Apply the complete example; yield (outputs, boto3 client arguments); destroy after."""
    work = tmp_path_factory.mktemp("complete")
    staged = stage_infra(ROOT / "infra", work / "infra")
    example = staged / "examples" / "complete"
    stub = work / "stub.zip"
    with zipfile.ZipFile(stub, "w") as archive:
        archive.writestr("thumbnailer/__init__.py", "")
    # Its log (one line per request) goes with a failed destroy: what Terraform waited on.
    server = MotoServer(state_dir=work / "emulator")
    server.start()
    try:
        (example / "emulator_override.tf").write_text(_override(server.endpoint))
        tf = Terraform(
            working_dir=example,
            data_dir=work / "data",
            state_file=work / "terraform.tfstate",
            cache_dir=ROOT / ".cache" / "terraform",
        )
        variables = {
            "source_bucket": "complete-uploads",
            "destination_bucket": "complete-thumbnails",
            "alert_emails": ["ops@example.com"],
            "ses_sender": "thumbnailer@example.com",
            "function_zip": str(stub),
            "layer_zip": str(stub),
        }
        tf.init()
        tf.apply(variables=variables, parallelism=20)
        kwargs: dict[str, Any] = server.client_kwargs()
        yield tf.output(), kwargs
        # Well inside the test's own timeout, so that a destroy stuck on a resource fails
        # with Terraform's last output (which resource it waits on) rather than without it.
        try:
            tf.destroy(variables=variables, parallelism=20, timeout=420)
        except TerraformError as exc:
            requests = (work / "emulator" / "emulator.log").read_text(errors="replace")
            tail = "\n".join(requests.splitlines()[-40:])
            raise AssertionError(f"{exc}\n\nthe emulator's last requests:\n{tail}") from exc
        s3 = boto3.client("s3", **kwargs)
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == []
    finally:
        server.stop()


def test_every_feature_applies(complete: tuple[dict[str, Any], dict[str, Any]]) -> None:
    outputs, kwargs = complete
    environment = outputs["function_environment"]
    assert environment["THUMBNAILER_SIZES"] == "128x128,512x512,1024x1024"
    assert environment["THUMBNAILER_EVENT_BUS_NAME"] == "thumbnailer-complete"
    assert environment["THUMBNAILER_SES_SENDER"] == "thumbnailer@example.com"

    key_arn = boto3.client("kms", **kwargs).list_keys()["Keys"][0]["KeyArn"]
    s3 = boto3.client("s3", **kwargs)
    buckets = [outputs["source_bucket"], outputs["destination_bucket"], outputs["artifacts_bucket"]]
    for bucket in buckets:
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        default = rule["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        assert (default["SSEAlgorithm"], default["KMSMasterKeyID"]) == ("aws:kms", key_arn)
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    # The zips went in after the bucket's configuration: stored with its key, as versions.
    artifacts = s3.list_objects_v2(Bucket=outputs["artifacts_bucket"])["Contents"]
    assert len(artifacts) == 2
    for item in artifacts:
        head = s3.head_object(Bucket=outputs["artifacts_bucket"], Key=item["Key"])
        encryption = (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"))
        assert encryption == ("aws:kms", key_arn), item["Key"]
        assert head.get("VersionId", "null") != "null"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=outputs["destination_bucket"])["Rules"]
    assert {r["ID"] for r in rules} >= {"expire-failure-markers", "expire-noncurrent-versions"}

    sqs = boto3.client("sqs", **kwargs)
    for url in (outputs["queue_url"], outputs["dlq_url"]):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["KmsMasterKeyId"] == key_arn
    sns = boto3.client("sns", **kwargs)
    attributes = sns.get_topic_attributes(TopicArn=outputs["topic_arn"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == key_arn
    # Each of alert_emails subscribed to the alert topic (each confirms by email).
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=outputs["topic_arn"])
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]] == [
        ("email", "ops@example.com")
    ]

    function = boto3.client("lambda", **kwargs).get_function(FunctionName=outputs["function_name"])[
        "Configuration"
    ]
    assert function["KMSKeyArn"] == key_arn
    assert (function["MemorySize"], function["Timeout"]) == (1536, 90)
    assert function["TracingConfig"]["Mode"] == "Active"

    role = outputs["batch_operations_role_arn"].rsplit("/", 1)[-1]
    trust = boto3.client("iam", **kwargs).get_role(RoleName=role)["Role"]
    principals = json.dumps(trust["AssumeRolePolicyDocument"])
    assert "batchoperations.s3.amazonaws.com" in principals


def _role_policy(kwargs: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    """The role's one inline policy, by statement id."""
    iam = boto3.client("iam", **kwargs)
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    return {s["Sid"]: s for s in document["Statement"]}


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else sorted(action)


def test_active_tracing_lets_the_function_send_traces(
    complete: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Lambda refuses CreateFunction with tracing Active when the role cannot send segments
    # (moto does not check, so the policy itself is asserted).
    outputs, kwargs = complete
    statements = _role_policy(kwargs, f"{outputs['function_name']}-function")
    traces = statements["WriteTraces"]
    assert _actions(traces) == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    assert traces["Resource"] == "*"  # X-Ray has no resource-level permissions


def test_batch_operations_role_may_use_the_key(
    complete: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Manifests and reports live in the SSE-KMS destination bucket.
    outputs, kwargs = complete
    key_arn = boto3.client("kms", **kwargs).list_keys()["Keys"][0]["KeyArn"]
    role = outputs["batch_operations_role_arn"].rsplit("/", 1)[-1]
    statements = _role_policy(kwargs, role)
    assert _actions(statements["UseKey"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statements["UseKey"]["Resource"] == key_arn


@pytest.mark.parametrize(
    ("region", "partition", "logs"),
    [
        ("cn-north-1", "aws-cn", "logs.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "logs.us-gov-west-1.amazonaws.com"),
    ],
)
def test_key_policy_names_the_partition_and_its_principals(
    tmp_path: Path,
    terraform_bin: str,
    moto_server: MotoServer,
    region: str,
    partition: str,
    logs: str,
) -> None:
    # Planned in another partition (the emulator answers for any region): the key policy must
    # name that partition's ARNs and service principals, never the commercial ones.
    staged = stage_infra(ROOT / "infra", tmp_path / "infra")
    example = staged / "examples" / "complete"
    (example / "emulator_override.tf").write_text(_override(moto_server.endpoint, region))
    stub = tmp_path / "stub.zip"
    with zipfile.ZipFile(stub, "w") as archive:
        archive.writestr("thumbnailer/__init__.py", "")
    tf = Terraform(
        working_dir=example,
        data_dir=tmp_path / "data",
        state_file=tmp_path / "terraform.tfstate",
        cache_dir=ROOT / ".cache" / "terraform",
    )
    tf.init()
    variables = {
        "source_bucket": "complete-uploads",
        "destination_bucket": "complete-thumbnails",
        "alert_emails": '["ops@example.com"]',
        "ses_sender": "thumbnailer@example.com",
        "function_zip": str(stub),
        "layer_zip": str(stub),
    }
    plan = tmp_path / "plan.bin"
    tf.run(
        "plan",
        "-no-color",
        "-input=false",
        f"-state={tf.state_file}",
        f"-out={plan}",
        *(f"-var={name}={value}" for name, value in variables.items()),
    )
    shown = json.loads(tf.run("show", "-no-color", "-json", str(plan)))
    (document,) = [
        r["values"]["json"]
        for r in shown["prior_state"]["values"]["root_module"]["resources"]
        if r["address"] == "data.aws_iam_policy_document.key"
    ]
    statements = {s["Sid"]: s for s in json.loads(document)["Statement"]}
    root = statements["AccountAdministers"]["Principal"]["AWS"]
    assert root.startswith(f"arn:{partition}:iam::"), root
    services = statements["ServicesEncrypt"]["Principal"]["Service"]
    assert logs in services
    assert statements["AlarmsPublish"]["Principal"]["Service"].startswith("cloudwatch.")
    assert "arn:aws:" not in document

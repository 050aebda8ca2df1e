"""The Terraform module: formatted, valid, and wired as intended when applied to a moto server.

The apply tests use ``infra/examples/local`` (the complete module with endpoint overrides),
once per trigger mode, in parallel, each against its own moto server on 127.0.0.1, then
destroy it.
"""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from thumbnailer.errors import ConfigError
from thumbnailer.local.emulator import MotoServer
from thumbnailer.local.terraform import Terraform, TerraformError, stage_infra
from thumbnailer.settings import POWERTOOLS_VARIABLES, VARIABLES, Settings

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
EXAMPLES = sorted(p.name for p in (INFRA / "examples").iterdir() if p.is_dir())
TRIGGERS = ("eventbridge", "sqs", "direct")
CACHE = ROOT / ".cache" / "terraform"


def test_terraform_fmt(terraform_bin: str) -> None:
    result = subprocess.run(
        [terraform_bin, "fmt", "-check", "-recursive", "-diff", str(INFRA)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_provider_is_pinned_to_the_tested_major_version() -> None:
    # The module and every example accept the same provider versions: 5.x from 5.30 on.
    for versions in [INFRA / "modules" / "thumbnailer" / "versions.tf"] + [
        INFRA / "examples" / example / "versions.tf" for example in EXAMPLES
    ]:
        assert 'version = ">= 5.30, < 6.0"' in versions.read_text(), versions


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, terraform_bin: str) -> Path:
    return stage_infra(INFRA, tmp_path_factory.mktemp("infra") / "infra")


def _terraform(staged: Path, example: str, work: Path) -> Terraform:
    return Terraform(
        working_dir=staged / "examples" / example,
        data_dir=work / "data",
        state_file=work / "terraform.tfstate",
        cache_dir=CACHE,
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_validates(example: str, staged: Path, tmp_path: Path) -> None:
    tf = _terraform(staged, example, tmp_path)
    tf.run("init", "-no-color", "-input=false", "-backend=false")
    tf.validate()


def test_basic_example_plans_the_seed_design(tmp_path: Path, moto_server: MotoServer) -> None:
    # The example as a user runs it: its terraform.tfvars.example copied to terraform.tfvars,
    # its provider pointed at the emulator by an override file.
    example = INFRA / "examples" / "basic"
    tfvars = (example / "terraform.tfvars.example").read_text()
    values = dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', tfvars, re.M))
    assert set(values) == {"source_bucket", "destination_bucket"}
    staged = stage_infra(INFRA, tmp_path / "infra") / "examples" / "basic"
    (staged / "terraform.tfvars").write_text(tfvars)
    (staged / "emulator_override.tf").write_text(_provider(moto_server.endpoint))
    tf = _terraform(staged.parent.parent, "basic", tmp_path)
    tf.init()
    stub = _stub_zip(tmp_path / "stub.zip")
    shown = _plan_json(tf, tmp_path, f"-var=function_zip={stub}", f"-var=layer_zip={stub}")

    call = shown["configuration"]["root_module"]["module_calls"]["thumbnailer"]["expressions"]
    assert call["sizes"]["constant_value"] == ["128x128"]
    assert call["prefix"]["constant_value"] == "thumbnails/"
    assert call["trigger"]["constant_value"] == "direct"
    changes = {
        c["address"].removeprefix("module.thumbnailer."): c for c in shown["resource_changes"]
    }
    buckets = {
        address: change["change"]["after"].get("bucket")
        for address, change in changes.items()
        if address.startswith("aws_s3_bucket.this[")
    }
    assert buckets == {
        'aws_s3_bucket.this["source"]': values["source_bucket"],
        'aws_s3_bucket.this["destination"]': values["destination_bucket"],
        'aws_s3_bucket.this["artifacts"]': None,  # a generated name
    }
    # S3 invokes the function: no queue, asynchronous retries, the DLQ as on-failure target.
    assert not [a for a in changes if a.startswith(("aws_sqs_queue.this", "aws_lambda_event"))]
    invoke = changes["aws_lambda_function_event_invoke_config.direct[0]"]["change"]["after"]
    assert invoke["maximum_retry_attempts"] == 2
    notification = changes["aws_s3_bucket_notification.this[0]"]["change"]["after"]
    assert notification["bucket"] == values["source_bucket"]
    assert notification["queue"] == [] and notification["eventbridge"] is False
    (target,) = notification["lambda_function"]
    assert sorted(target["events"]) == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    policy = changes["data.aws_iam_policy_document.function"]["change"]["after"]
    (thumbnails,) = [s for s in policy["statement"] if s["sid"] == "WriteThumbnails"]
    assert thumbnails["resources"] == [f"arn:aws:s3:::{values['destination_bucket']}/thumbnails/*"]


def test_zips_wait_for_the_artifacts_bucket_settings(staged: Path, tmp_path: Path) -> None:
    # Uploaded after the bucket's encryption and versioning exist (so stored with its KMS key,
    # as versions), destroyed before them (no delete marker left for force_destroy): the
    # order is in the dependency graph, whichever way the calls happen to race.
    tf = _terraform(staged, "complete", tmp_path)
    tf.run("init", "-no-color", "-input=false", "-backend=false")
    edges: dict[str, set[str]] = {}
    for line in tf.run("graph").splitlines():
        if " -> " in line:
            source, target = (part.strip().strip(";").strip('"') for part in line.split(" -> "))
            edges.setdefault(source, set()).add(target)

    def after(node: str) -> set[str]:
        seen, todo = set(), [node]
        while todo:
            for target in edges.get(todo.pop(), set()) - seen:
                seen.add(target)
                todo.append(target)
        return seen

    settings = ("ownership_controls", "public_access_block", "versioning")
    settings += ("server_side_encryption_configuration",)
    for artifact in ("function", "layer"):
        needed = after(f"module.thumbnailer.aws_s3_object.{artifact}")
        for setting in settings:
            assert f"module.thumbnailer.aws_s3_bucket_{setting}.this" in needed, (artifact, setting)


# The services the module calls, pointed at a moto server when a root is planned or applied.
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


def _provider(endpoint: str | None) -> str:
    """An AWS provider with test credentials: offline, or with every service at ``endpoint``."""
    if endpoint is None:
        # Enough for plans that never read a data source (targeted at the validation).
        settings = "skip_requesting_account_id = true"
    else:
        endpoints = "\n".join(f'    {name} = "{endpoint}"' for name in SERVICES)
        settings = f"s3_use_path_style = true\n  endpoints {{\n{endpoints}\n  }}"
    return f"""
provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  {settings}
}}
"""


def _root(work: Path, body: str, endpoint: str | None = None) -> Terraform:
    """A root module in ``work/root``: a provider (offline, or at ``endpoint``) and ``body``.

    ``f.zip`` beside it is a stub artifact; ``MODULE`` in ``body`` is the staged module's path.
    """
    root = work / "root"
    root.mkdir()
    (root / "main.tf").write_text(f"{_provider(endpoint)}\n{body}\n")
    with zipfile.ZipFile(root / "f.zip", "w") as archive:
        archive.writestr("thumbnailer/__init__.py", "")
    return Terraform(
        working_dir=root,
        data_dir=work / "data",
        state_file=work / "s.tfstate",
        cache_dir=CACHE,
    )


def _module(staged: Path, arguments: str, label: str = "t") -> str:
    """A module block (``module.<label>``) of the staged module: stub artifact, ``arguments``."""
    return f"""
module "{label}" {{
  source       = "{staged / "modules" / "thumbnailer"}"
  function_zip = "f.zip"
  layer_zip    = "f.zip"
  {arguments}
}}
"""


def _plan_module(staged: Path, tmp_path: Path, arguments: str) -> TerraformError:
    """Plan the module with ``arguments`` offline and return the error it must raise."""
    tf = _root(tmp_path, _module(staged, arguments))
    tf.init()
    with pytest.raises(TerraformError) as caught:
        tf.run(
            "plan",
            "-no-color",
            "-input=false",
            "-refresh=false",
            "-target=module.t.terraform_data.validation",
        )
    return caught.value


def _plan_json(tf: Terraform, work: Path, *args: str) -> dict[str, Any]:
    """Plan ``tf`` in full (its provider at a moto server) and return ``terraform show -json``."""
    plan = work / "plan.bin"
    tf.run("plan", "-no-color", "-input=false", f"-state={tf.state_file}", f"-out={plan}", *args)
    shown: dict[str, Any] = json.loads(tf.run("show", "-no-color", "-json", str(plan)))
    return shown


def _planned_resources(tf: Terraform, work: Path) -> list[dict[str, Any]]:
    """Plan ``tf`` in full (its provider at a moto server) and return the module's resources."""
    shown = _plan_json(tf, work)
    resources: list[dict[str, Any]] = []
    todo = [shown["planned_values"]["root_module"]]
    while todo:
        module = todo.pop()
        resources += module.get("resources", [])
        todo += module.get("child_modules", [])
    return resources


# Every name the module derives from `name`, with the service's limit on it.
NAME_LIMITS: dict[str, dict[str, int]] = {
    "aws_iam_role": {"name": 64},
    "aws_iam_role_policy": {"name": 128},
    "aws_lambda_function": {"function_name": 64},
    "aws_lambda_layer_version": {"layer_name": 140},
    "aws_sqs_queue": {"name": 80},
    "aws_sns_topic": {"name": 256},
    "aws_cloudwatch_event_rule": {"name": 64},
    "aws_cloudwatch_event_bus": {"name": 256},
    "aws_cloudwatch_log_group": {"name": 512},
    "aws_cloudwatch_metric_alarm": {"alarm_name": 255},
    # A generated name: the prefix plus 26 characters must stay within 63.
    "aws_s3_bucket": {"bucket": 63, "bucket_prefix": 37},
}


def test_the_longest_name_fits_every_derived_name(
    staged: Path, tmp_path: Path, moto_server: MotoServer
) -> None:
    # 48 characters is the documented maximum of `name`; every resource that has a name is
    # planned (the Batch Operations role, the rule, the alarms, the artifacts bucket).
    name = "n" * 48
    arguments = f"""name                         = "{name}"
  source_bucket                = "photos-in"
  destination_bucket           = "photos-out"
  create_batch_operations_role = true
  create_event_bus             = true
  event_bus_name               = "{name}-events"
"""
    tf = _root(tmp_path, _module(staged, arguments), moto_server.endpoint)
    tf.init()
    checked: set[str] = set()
    for resource in _planned_resources(tf, tmp_path):
        values = resource.get("values", {})
        assert "name" not in values or resource["type"] in NAME_LIMITS, resource["type"]
        for attribute, limit in NAME_LIMITS.get(resource["type"], {}).items():
            value = values.get(attribute)
            if isinstance(value, str):
                assert len(value) <= limit, (resource["address"], value)
                checked.add(resource["type"])
    assert checked == set(NAME_LIMITS)


# Variants planned together (one root, one plan against a moto server): what a default apply
# never shows.
VARIANTS = {
    # Deletions are left alone: no delete permission, no deletion events.
    "nodelete_sqs": 'trigger = "sqs"\n  delete_sync = false',
    "nodelete_eventbridge": 'trigger = "eventbridge"\n  delete_sync = false',
    # Thumbnails go to a bucket that exists: the module creates none for them.
    "existing_destination": "create_destination_bucket = false",
}


@pytest.fixture(scope="module")
def variants(staged: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``terraform show -json`` of one plan holding a module instance per variant."""
    work = tmp_path_factory.mktemp("variants")
    body = "".join(
        _module(
            staged,
            f'name = "{label}"\n  source_bucket = "{label.replace("_", "-")}-in"\n'
            f'  destination_bucket = "{label.replace("_", "-")}-out"\n  {arguments}',
            label,
        )
        for label, arguments in VARIANTS.items()
    )
    # The function's settings (its environment as a whole is unknown until the topic exists).
    body += "".join(
        f'output "{label}" {{\n  value = module.{label}.function_environment\n}}\n'
        for label in VARIANTS
    )
    with MotoServer() as server:
        tf = _root(work, body, server.endpoint)
        tf.init()
        return _plan_json(tf, work)


def _planned(shown: dict[str, Any], address: str) -> dict[str, Any]:
    """The planned values of ``address`` (a data source read at apply time included).

    Values known only after apply are absent.
    """
    for change in shown["resource_changes"]:
        if change["address"] == address:
            after: dict[str, Any] = change["change"]["after"]
            return after
    # A data source read during the plan is in the prior state instead.
    todo = [shown.get("prior_state", {}).get("values", {}).get("root_module", {})]
    while todo:
        module = todo.pop()
        for resource in module.get("resources", []):
            if resource["address"] == address:
                values: dict[str, Any] = resource["values"]
                return values
        todo += module.get("child_modules", [])
    raise AssertionError(f"{address} is not in the plan")


def _planned_statements(shown: dict[str, Any], label: str) -> dict[str, dict[str, Any]]:
    """The function policy's statements as planned, by sid."""
    document = _planned(shown, f"module.{label}.data.aws_iam_policy_document.function")
    return {s["sid"]: s for s in document["statement"]}


@pytest.mark.parametrize("label", ["nodelete_sqs", "nodelete_eventbridge"])
def test_delete_sync_off_neither_deletes_nor_hears_deletions(
    variants: dict[str, Any], label: str
) -> None:
    statements = _planned_statements(variants, label)
    actions = {a for s in statements.values() for a in s["actions"]}
    assert "s3:DeleteObject" not in actions
    for sid in ("WriteThumbnails", "WriteFailureMarkers"):
        assert sorted(statements[sid]["actions"]) == ["s3:GetObject", "s3:PutObject"], sid
    assert variants["output_changes"][label]["after"]["THUMBNAILER_DELETE_SYNC"] == "false"
    notification = _planned(variants, f"module.{label}.aws_s3_bucket_notification.this[0]")
    if label == "nodelete_sqs":
        (queue,) = notification["queue"]
        assert queue["events"] == ["s3:ObjectCreated:*"]
    else:
        assert notification["eventbridge"] is True
        rule = _planned(variants, f"module.{label}.aws_cloudwatch_event_rule.s3[0]")
        pattern = json.loads(rule["event_pattern"])
        assert pattern["detail-type"] == ["Object Created"]
    assert "Removed" not in json.dumps(notification)
    assert "Deleted" not in json.dumps(notification)


def test_existing_destination_bucket_is_used_not_created(variants: dict[str, Any]) -> None:
    label, bucket = "existing_destination", "existing-destination-out"
    created = {
        c["address"]: c["change"]["after"]
        for c in variants["resource_changes"]
        if c["address"].startswith(f"module.{label}.aws_s3_bucket")
    }
    # Only the source and artifacts buckets, and their settings; nothing on the existing one.
    assert {a.split("[")[0] for a in created} >= {f"module.{label}.aws_s3_bucket.this"}
    assert all('["destination"]' not in address for address in created), sorted(created)
    assert all(values.get("bucket") != bucket for values in created.values())
    assert _planned(variants, f'module.{label}.aws_s3_bucket.this["source"]')["bucket"] == (
        "existing-destination-in"
    )
    # The function writes there, and may.
    environment = variants["output_changes"][label]["after"]
    assert environment["THUMBNAILER_DESTINATION_BUCKET"] == bucket
    statements = _planned_statements(variants, label)
    assert statements["WriteThumbnails"]["resources"] == [f"arn:aws:s3:::{bucket}/thumbnails/*"]
    assert statements["WriteFailureMarkers"]["resources"] == [f"arn:aws:s3:::{bucket}/failed/*"]
    assert statements["ListThumbnails"]["resources"] == [f"arn:aws:s3:::{bucket}"]


def test_same_bucket_without_separating_prefix_fails_at_plan(staged: Path, tmp_path: Path) -> None:
    """The loop guard is a plan-time error, before anything is created."""
    error = _plan_module(
        staged, tmp_path, 'source_bucket = "photos-bucket"\n  destination_bucket = "photos-bucket"'
    )
    assert "include_prefixes" in error.message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('sizes = ["128x128", "0x5"]', "sizes must be"),
        ('sizes = ["128x128", "128x128"]', "sizes must not repeat"),
        # Refused by the function at cold start, so refused at plan time.
        ('sizes = ["128x128", "0128x128"]', "sizes must not repeat"),
        ('key_template = "{prefix}{size}/{key}"', "key_template may use only the fields"),
        ('key_template = "{prefix}{key"', "key_template has a brace"),
        # str.format could not fill these in: the function would refuse to start.
        ('key_template = "{prefix}{key:05d}"', "key_template has a format spec"),
        ('key_template = "{prefix}{key}_{width:s}"', "key_template has a format spec"),
        ('key_template = "{prefix}{key} "', "key_template must not start or end with whitespace"),
        (
            'sizes = ["128x128", "512x512"]\n  key_template = "{prefix}{key}"',
            "must tell the sizes apart",
        ),
        ("max_attempts = 2.5", "max_attempts must be an integer"),
        ("max_input_bytes = 1048576.5", "max_input_bytes must be an integer"),
        ("max_input_pixels = 2.5", "max_input_pixels must be an integer"),
        # S3 refuses notifications whose prefixes overlap ("ambiguously defined").
        (
            'trigger = "sqs"\n  include_prefixes = ["photos/", "photos/raw/"]',
            "include_prefixes overlap",
        ),
        ('trigger = "direct"\n  include_prefixes = ["a/", "a/"]', "include_prefixes overlap"),
        ('include_prefixes = ["a/,b/"]', "include_prefixes must be non-empty, without commas"),
        ('exclude_suffixes = [""]', "exclude_suffixes must be non-empty"),
        # A record handed back for lack of time spends a receive.
        ("max_receive_count = 4", "max_receive_count must be an integer 5..1000"),
        (
            "maximum_concurrency = 50\n  reserved_concurrency = 10",
            "maximum_concurrency (50) must not exceed reserved_concurrency (10)",
        ),
        ('format = "gif"', "format must be"),
        (
            'ses_sender = "thumbnailer@example.com"\n'
            '  ses_recipients = ["ops@example.com", "ops at example.com"]',
            "ses_recipients must be email addresses",
        ),
        # The function reads them as one comma-separated list.
        (
            'ses_sender = "thumbnailer@example.com"\n'
            '  ses_recipients = ["a@example.com,b@example.com"]',
            "ses_recipients must be email addresses",
        ),
        # The function strips them; the IAM policy would grant the unstripped prefix.
        ('prefix = " thumbnails/"', "prefix must be a non-empty key prefix"),
        ('failure_prefix = " failed/"', "failure_prefix must be empty or a key prefix"),
        # Amazon Linux 2's glibc is older than the layer's wheels need.
        ('runtime = "python3.11"', "runtime must be python3.12 or python3.13"),
        ("memory_size = 64", "memory_size must be"),
        ("timeout = 901", "timeout must be"),
        ("timeout = 20", "time_budget_seconds (30) must be below timeout"),
        # An alias ARN in an IAM statement authorises nothing on the key behind it.
        (
            'kms_key_arn = "arn:aws:kms:us-east-1:123456789012:alias/thumbnails"',
            "aliases are not accepted",
        ),
        ('kms_key_arn = "1234abcd-12ab-34cd-56ef-1234567890ab"', "kms_key_arn must be a key ARN"),
        ('event_bus_name = "arn:aws:events:us-east-1:123456789012:rule/x"', "event_bus_name must"),
        (
            "create_event_bus = true\n"
            '  event_bus_name = "arn:aws:events:us-east-1:123456789012:event-bus/x"',
            "create_event_bus needs event_bus_name, as a name",
        ),
    ],
)
def test_invalid_settings_fail_at_plan(
    staged: Path, tmp_path: Path, arguments: str, message: str
) -> None:
    buckets = 'source_bucket = "photos-in"\n  destination_bucket = "photos-out"\n  '
    error = _plan_module(staged, tmp_path, buckets + arguments)
    assert message in error.message


VALID_SETTINGS = [
    # EventBridge patterns may overlap: only S3 notifications refuse it.
    'trigger = "eventbridge"\n  include_prefixes = ["photos/", "photos/raw/"]',
    'trigger = "sqs"\n  include_prefixes = ["photos/", "photosraw/", "raw/"]',
    "maximum_concurrency = 10\n  reserved_concurrency = 10",
    "maximum_concurrency = 10",
    'ses_sender = "thumbnailer@example.com"\n  ses_recipients = ["ops@example.com"]',
    # One bucket for sources and thumbnails: the trigger fires only under include_prefixes
    # disjoint from prefix (thumbnails/) and failure_prefix (failed/).
    'source_bucket = "photos"\n  destination_bucket = "photos"\n  include_prefixes = ["uploads/"]',
    'source_bucket = "photos"\n  destination_bucket = "photos"\n  trigger = "sqs"\n'
    '  include_prefixes = ["uploads/", "thumbnails-in/"]',
    'source_bucket = "photos"\n  destination_bucket = "photos"\n  trigger = "direct"\n'
    '  include_prefixes = ["uploads/"]\n  prefix = "derived/thumbs/"\n  failure_prefix = ""',
]


def test_valid_settings_pass_the_plan(staged: Path, tmp_path: Path) -> None:
    # Planned together, one module block each: a plan per case would cost a Terraform start.
    buckets = 'source_bucket = "photos-in"\n  destination_bucket = "photos-out"\n  '
    blocks = {
        f"valid{i}": _module(
            staged, ("" if "source_bucket" in arguments else buckets) + arguments, f"valid{i}"
        )
        for i, arguments in enumerate(VALID_SETTINGS)
    }
    tf = _root(tmp_path, "")
    (tmp_path / "root" / "modules.tf").write_text("".join(blocks.values()))
    tf.init()
    verdicts = _plan_verdicts(tf, blocks)
    refused = [VALID_SETTINGS[int(label[5:])] for label, ok in verdicts.items() if not ok]
    assert refused == []


# (key_template, sizes, max_attempts, max_input_bytes, max_input_pixels), each accepted or
# refused alike by the module's validation and by Settings.from_env.
TEMPLATE = "{prefix}{stem}_{width}x{height}.{ext}"
AGREED: list[tuple[str, list[str], float, float, float]] = [
    (TEMPLATE, ["128x128", "512x512"], 3, 104857600, 50000000),
    ("{prefix}{size}/{key}", ["128x128"], 3, 1024, 1000),
    ("{prefix}{key}", ["128x128"], 1, 1, 1),
    ("{prefix}{key}", ["128x128", "512x512"], 3, 1024, 1000),
    ("{prefix}{key}_{width}", ["128x128", "128x256"], 3, 1024, 1000),
    ("{prefix}{key}_{width}", ["128x128", "256x128"], 3, 1024, 1000),
    ("{prefix}{name}{{x}}_{height}.{ext}", ["128x128", "512x512"], 10, 1024, 1000),
    ("{prefix}{key!r}_{width:05d}x{height}", ["128x128", "512x512"], 3, 1024, 1000),
    ("{prefix}{key", ["128x128"], 3, 1024, 1000),
    ("{prefix}{key}}", ["128x128"], 3, 1024, 1000),
    ("{prefix}{{key}}", ["128x128"], 3, 1024, 1000),
    ("{prefix}{key.upper}", ["128x128"], 3, 1024, 1000),
    ("{prefix}{dir}{ext}", ["128x128"], 3, 1024, 1000),
    ("thumbs/{prefix}{key}", ["128x128"], 3, 1024, 1000),
    (TEMPLATE, ["128x128", "0128x128"], 3, 1024, 1000),
    (TEMPLATE, ["128x128", "128x0128"], 3, 1024, 1000),
    (TEMPLATE, ["0128x0256"], 3, 1024, 1000),
    (TEMPLATE, ["128x128"], 2.5, 1024, 1000),
    (TEMPLATE, ["128x128"], 11, 1024, 1000),
    (TEMPLATE, ["128x128"], 3, 1024.5, 1000),
    (TEMPLATE, ["128x128"], 3, 1024, 2.5),
    ("{prefix}{key}{}", ["128x128"], 3, 1024, 1000),  # a positional field
    ("{prefix}{key!x}", ["128x128"], 3, 1024, 1000),  # an unknown conversion
    # Format specs: the function fills the template in once, with strings for every field
    # but width and height (integers), and strings for any field after a conversion.
    *[
        (f"{{prefix}}{{stem}}_{{width}}x{{height}}{spec}", ["128x128", "512x512"], 3, 1024, 1000)
        for spec in (
            "{key:05d}",
            "{key:x}",
            "{key:%}",
            "{key:+}",
            "{key:#}",
            "{key:=20}",
            "{key:,}",
            "{key:z}",
            "{key:.}",
            "{key:05}",
            "{key:*^20.8s}",
            "{name:.40}",
            "{ext:<5}",
            "{width:05d}",
            "{width:+,}",
            "{width:#_x}",
            "{width:,x}",
            "{width:.2f}",
            "{width:z.1%}",
            "{width:zd}",
            "{width:.2}",
            "{width:s}",
            "{height:=+8}",
            "{height:c}",
            "{height:+c}",
            "{height:,n}",
            "{width!r:05d}",
            "{width!s:>8}",
            "{width!a:.2}",
            "{key!r:x<30}",
        )
    ],
]


def _number(value: float) -> str:
    """A number as Terraform's tostring() writes it."""
    return str(int(value)) if value == int(value) else str(value)


def _accepted_by_settings(
    template: str, sizes: list[str], attempts: float, size: float, pixels: float
) -> bool:
    environment = {
        "THUMBNAILER_SOURCE_BUCKET": "photos-in",
        "THUMBNAILER_DESTINATION_BUCKET": "photos-out",
        "THUMBNAILER_KEY_TEMPLATE": template,
        "THUMBNAILER_SIZES": ",".join(sizes),
        "THUMBNAILER_MAX_ATTEMPTS": _number(attempts),
        "THUMBNAILER_MAX_INPUT_BYTES": _number(size),
        "THUMBNAILER_MAX_INPUT_PIXELS": _number(pixels),
    }
    try:
        Settings.from_env(environment)
    except ConfigError:
        return False
    return True


def _hcl(value: str | float | list[str]) -> str:
    """``value`` as an HCL literal (a string's ``${`` and ``%{`` kept literal)."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def _plan_verdicts(tf: Terraform, blocks: dict[str, str]) -> dict[str, bool]:
    """Whether the plan accepts each module block (by label), the blocks planned together.

    The blocks go to ``modules.tf`` in ``tf``'s root, initialised with all of them. Terraform
    validates every module's variables before it plans anything: while some are refused, each
    error names its module block, and the rest are planned again without them. Once the
    variables pass, every module's validation resource is planned, its preconditions checked:
    accepted are the modules it plans to create.
    """
    verdicts: dict[str, bool] = {}
    pending = dict(blocks)
    while pending:
        (tf.working_dir / "modules.tf").write_text("".join(pending.values()))
        command = [tf.binary, f"-chdir={tf.working_dir}", "plan", "-json", "-no-color"]
        command += ["-input=false", "-refresh=false", "-lock=false"]
        command += [f"-target=module.{label}.terraform_data.validation" for label in pending]
        result = subprocess.run(
            command, env=tf.env(), capture_output=True, text=True, timeout=600, check=False
        )
        events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        errors = [
            e["diagnostic"]
            for e in events
            if e.get("type") == "diagnostic" and e["diagnostic"]["severity"] == "error"
        ]
        assert (result.returncode == 0) == (not errors), result.stderr or result.stdout[-2000:]
        named = {
            (d.get("snippet") or {}).get("context", "").removeprefix("module ").strip('"')
            for d in errors
        } & set(pending)
        if named:
            for label in named:
                verdicts[label] = False
                del pending[label]
            continue
        planned = {
            e["change"]["resource"]["module"].removeprefix("module.")
            for e in events
            if e.get("type") == "planned_change"
        }
        # Nothing but preconditions may stop a module once its variables pass.
        assert {d["summary"] for d in errors} <= {"Resource precondition failed"}, errors
        assert len(errors) >= len(set(pending) - planned), errors
        verdicts.update({label: label in planned for label in pending})
        break
    return verdicts


def test_plan_accepts_exactly_what_the_function_accepts(staged: Path, tmp_path: Path) -> None:
    # Every value the plan lets through must also start the function: one it refuses at cold
    # start leaves every message to fail until the dead-letter queue. And the plan refuses
    # nothing the function would take. Every case is a module block of one root, planned
    # together (a plan per case would cost a Terraform start each).
    names = ("key_template", "sizes", "max_attempts", "max_input_bytes", "max_input_pixels")
    blocks = {
        f"case{i}": _module(
            staged,
            'source_bucket = "photos-in"\n  destination_bucket = "photos-out"\n  '
            + "\n  ".join(f"{n} = {_hcl(v)}" for n, v in zip(names, case, strict=True)),
            f"case{i}",
        )
        for i, case in enumerate(AGREED)
    }
    tf = _root(tmp_path, "")
    (tmp_path / "root" / "modules.tf").write_text("".join(blocks.values()))
    tf.init()
    verdicts = _plan_verdicts(tf, blocks)
    planned = [verdicts[f"case{i}"] for i in range(len(AGREED))]
    disagree = [
        (case, accepted)
        for case, accepted in zip(AGREED, planned, strict=True)
        if accepted != _accepted_by_settings(*case)
    ]
    assert disagree == [], "(case, accepted by the plan) where Settings.from_env decides otherwise"
    assert any(planned) and not all(planned)


################################################################################
# Apply to moto, per trigger mode
################################################################################


@dataclass
class Applied:
    trigger: str
    endpoint: str
    outputs: dict[str, Any]
    error: BaseException | None = None
    variables: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


def _stub_zip(path: Path) -> Path:
    # The wiring does not depend on the code (moto never runs it); the real artifact is proven
    # by test_package.py.
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("thumbnailer/__init__.py", "")
    return path


# Applied with every trigger: the trigger itself fires only under these prefixes.
INCLUDE_PREFIXES = ["photos/", "raw/"]
# A level other than the default for two of the stacks: the module passes it on.
LOG_LEVELS = {"eventbridge": "INFO", "sqs": "DEBUG", "direct": "WARNING"}


@pytest.fixture(scope="module")
def applied(staged: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Applied]]:
    """Apply the local example once per trigger mode (in parallel), destroy afterwards."""
    work = tmp_path_factory.mktemp("apply")
    stub = _stub_zip(work / "stub.zip")
    servers = {t: MotoServer() for t in TRIGGERS}
    stacks: dict[str, tuple[Terraform, dict[str, Any]]] = {}
    for trigger, server in servers.items():
        server.start()
        tf = _terraform(staged, "local", work / trigger)
        variables = {
            "endpoint": server.endpoint,
            "trigger": trigger,
            "name": f"tt-{trigger}",
            "function_zip": str(stub),
            "layer_zip": str(stub),
            "include_prefixes": INCLUDE_PREFIXES,
            "include_suffixes": [".jpg", ".png"],
            "batch_window_seconds": 2,
            "log_level": LOG_LEVELS[trigger],
            # The module's default path (zips deployed through the bucket it creates) for two
            # triggers, the upload in the API call for the third.
            "create_artifacts_bucket": trigger != "direct",
        }
        stacks[trigger] = (tf, variables)
    # One init is enough: the data directories differ but init is cheap with the mirror.
    for tf, _ in stacks.values():
        tf.init()

    def apply(trigger: str) -> Applied:
        tf, variables = stacks[trigger]
        try:
            tf.apply(variables=variables, parallelism=20)
            return Applied(trigger, servers[trigger].endpoint, tf.output(), None, variables)
        except (TerraformError, ConfigError) as exc:
            return Applied(trigger, servers[trigger].endpoint, {}, exc, variables)

    try:
        with ThreadPoolExecutor(len(TRIGGERS)) as pool:
            results = {a.trigger: a for a in pool.map(apply, TRIGGERS)}
        yield results

        # Destroy must work too (and leave nothing behind).
        def destroy(trigger: str) -> str:
            tf, variables = stacks[trigger]
            tf.destroy(variables=variables, parallelism=20)
            return trigger

        with ThreadPoolExecutor(len(TRIGGERS)) as pool:
            list(pool.map(destroy, TRIGGERS))
        for trigger in TRIGGERS:
            functions = results[trigger].client("lambda").list_functions()["Functions"]
            assert functions == [], f"{trigger}: destroy left functions behind"
            assert results[trigger].client("sqs").list_queues().get("QueueUrls", []) == []
    finally:
        for server in servers.values():
            server.stop()


def _ok(applied: dict[str, Applied], trigger: str) -> Applied:
    result = applied[trigger]
    if result.error is not None:
        raise result.error
    return result


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_function_environment_is_exactly_the_settings(
    applied: dict[str, Applied], trigger: str
) -> None:
    stack = _ok(applied, trigger)
    config = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["function_name"]
    )
    env = config["Environment"]["Variables"]
    # Every variable the function reads, and nothing else.
    assert set(env) == {v.name for v in VARIABLES} | {v.name for v in POWERTOOLS_VARIABLES}
    thumbnailer_env = {k: v for k, v in env.items() if k.startswith("THUMBNAILER_")}
    assert thumbnailer_env == stack.outputs["function_environment"]
    assert env["POWERTOOLS_SERVICE_NAME"] == stack.outputs["function_name"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Thumbnailer"
    settings = Settings.from_env(env)  # what the handler does at cold start
    assert settings.log_level == stack.variables["log_level"] == LOG_LEVELS[trigger]
    assert settings.include_prefixes == tuple(INCLUDE_PREFIXES)
    assert settings.source_bucket == stack.outputs["source_bucket"]
    assert settings.destination_bucket == stack.outputs["destination_bucket"]
    assert [str(s) for s in settings.spec.sizes] == ["128x128", "512x512"]
    assert settings.include_suffixes == (".jpg", ".png")
    assert settings.sns_topic_arn == stack.outputs["topic_arn"]
    assert settings.event_bus_name == stack.outputs["event_bus_name"]
    assert config["Handler"] == "thumbnailer.aws_lambda.handler"
    assert config["Runtime"] == "python3.12"
    assert config["Timeout"] == stack.outputs["function_timeout"]


def _policy(stack: Applied) -> dict[str, dict[str, Any]]:
    iam = stack.client("iam")
    role = f"{stack.outputs['function_name']}-function"
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert names == [role]
    document = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    return {s["Sid"]: s for s in document["Statement"]}


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else sorted(value)


def _normalized(statement: dict[str, Any]) -> dict[str, Any]:
    """A policy statement with every action, resource and condition value as a sorted list."""
    normal = dict(statement)
    for key in ("Action", "NotAction", "Resource", "NotResource"):
        if key in normal:
            normal[key] = _as_list(normal[key])
    if "Condition" in normal:
        normal["Condition"] = {
            test: {name: _as_list(values) for name, values in keys.items()}
            for test, keys in normal["Condition"].items()
        }
    return normal


def _allow(
    sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions)}
    statement["Resource"] = sorted(resources)
    if condition is not None:
        statement["Condition"] = condition
    return statement


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_iam_is_least_privilege(applied: dict[str, Applied], trigger: str) -> None:
    # Every statement in full: an action, resource or condition more than the function needs
    # fails here, whichever statement it is added to.
    stack = _ok(applied, trigger)
    statements = _policy(stack)
    account = stack.client("sts").get_caller_identity()["Account"]
    source = f"arn:aws:s3:::{stack.outputs['source_bucket']}"
    destination = f"arn:aws:s3:::{stack.outputs['destination_bucket']}"
    write = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    expected = [
        # The current version only (no GetObjectVersion), and only under the include prefixes.
        _allow("ReadSources", ["s3:GetObject"], [f"{source}/{p}*" for p in INCLUDE_PREFIXES]),
        _allow("ListSources", ["s3:ListBucket"], [source]),
        _allow("WriteThumbnails", write, [f"{destination}/thumbnails/*"]),
        _allow("WriteFailureMarkers", write, [f"{destination}/failed/*"]),
        _allow("ListThumbnails", ["s3:ListBucket"], [destination]),
        _allow(
            "WriteOwnLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [f"arn:aws:logs:us-east-1:{account}:log-group:{stack.outputs['log_group_name']}:*"],
        ),
        _allow("PublishFailures", ["sns:Publish"], [stack.outputs["topic_arn"]]),
        _allow(
            "SendFailureEmails",
            ["ses:SendEmail", "ses:SendRawEmail"],
            [
                f"arn:aws:ses:us-east-1:{account}:identity/thumbnailer@example.com",
                f"arn:aws:ses:us-east-1:{account}:identity/example.com",
            ],
            {"StringEquals": {"ses:FromAddress": ["thumbnailer@example.com"]}},
        ),
        _allow(
            "PutThumbnailEvents",
            ["events:PutEvents"],
            [f"arn:aws:events:us-east-1:{account}:event-bus/{stack.outputs['event_bus_name']}"],
        ),
    ]
    if trigger == "direct":
        # The on-failure destination of the asynchronous invocations; no queue to consume.
        expected.append(
            _allow("SendFailedInvocations", ["sqs:SendMessage"], [stack.outputs["dlq_arn"]])
        )
    else:
        consume = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        consume.append("sqs:ReceiveMessage")
        expected.append(_allow("ConsumeQueue", consume, [stack.outputs["queue_arn"]]))
    assert {sid: _normalized(s) for sid, s in statements.items()} == {s["Sid"]: s for s in expected}


def _queue_attributes(stack: Applied, url: str) -> dict[str, str]:
    response = stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    attributes: dict[str, str] = response["Attributes"]
    return attributes


def _dlq_arn(stack: Applied) -> str:
    arn = _queue_attributes(stack, stack.outputs["dlq_url"])["QueueArn"]
    assert arn == stack.outputs["dlq_arn"]
    return arn


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_dead_letter_queue_is_encrypted_and_keeps_messages_14_days(
    applied: dict[str, Applied], trigger: str
) -> None:
    stack = _ok(applied, trigger)
    attributes = _queue_attributes(stack, stack.outputs["dlq_url"])
    assert attributes["QueueArn"] == stack.outputs["dlq_arn"]
    # Without kms_key_arn: SQS-managed encryption, no KMS key.
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert "KmsMasterKeyId" not in attributes
    assert attributes["MessageRetentionPeriod"] == "1209600"


@pytest.mark.parametrize("trigger", ("eventbridge", "sqs"))
def test_queue_redrive_and_event_source_mapping(applied: dict[str, Applied], trigger: str) -> None:
    stack = _ok(applied, trigger)
    attributes = _queue_attributes(stack, stack.outputs["queue_url"])
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == _dlq_arn(stack)
    assert int(redrive["maxReceiveCount"]) == stack.outputs["max_receive_count"] == 5
    # Lambda's rule (6 x the timeout) plus the batching window a batch may wait.
    window = stack.variables["batch_window_seconds"]
    assert stack.outputs["batch_window_seconds"] == window
    assert int(attributes["VisibilityTimeout"]) == 6 * stack.outputs["function_timeout"] + window
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert "KmsMasterKeyId" not in attributes
    policy = json.loads(attributes["Policy"])
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert len(allow) == 1
    service = "events.amazonaws.com" if trigger == "eventbridge" else "s3.amazonaws.com"
    assert allow[0]["Principal"] == {"Service": service}
    source_arn = allow[0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    if trigger == "eventbridge":
        assert source_arn == stack.outputs["event_rule_arn"]
    else:
        assert source_arn == f"arn:aws:s3:::{stack.outputs['source_bucket']}"

    mappings = [
        m
        for m in stack.client("lambda").list_event_source_mappings()["EventSourceMappings"]
        if m["FunctionArn"].startswith(stack.outputs["function_arn"])
    ]
    assert len(mappings) == 1
    mapping = mappings[0]
    assert mapping["EventSourceArn"] == stack.outputs["queue_arn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == stack.outputs["batch_size"]
    assert mapping["MaximumBatchingWindowInSeconds"] == window
    # The local example leaves it disabled: moto cannot run the code, the local runner polls.
    assert mapping["State"] in {"Disabled", "Disabling"}


def test_eventbridge_rule_filters_and_delivers(applied: dict[str, Applied]) -> None:
    stack = _ok(applied, "eventbridge")
    events = stack.client("events")
    rule_name = stack.outputs["event_rule_arn"].rsplit("/", 1)[-1]
    pattern = json.loads(events.describe_rule(Name=rule_name)["EventPattern"])
    assert pattern["source"] == ["aws.s3"]
    assert sorted(pattern["detail-type"]) == ["Object Created", "Object Deleted"]
    assert pattern["detail"] == {
        "bucket": {"name": [stack.outputs["source_bucket"]]},
        "object": {"key": [{"prefix": p} for p in INCLUDE_PREFIXES]},
    }
    (target,) = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Arn"] == stack.outputs["queue_arn"]
    assert target["DeadLetterConfig"]["Arn"] == _dlq_arn(stack)
    notification = stack.client("s3").get_bucket_notification_configuration(
        Bucket=stack.outputs["source_bucket"]
    )
    assert not notification.get("QueueConfigurations")
    assert not notification.get("LambdaFunctionConfigurations")
    body = _upload_and_receive(stack, "photos/a b.jpg")
    assert body["detail-type"] == "Object Created"
    assert body["detail"]["object"]["key"] == "photos/a b.jpg"


def _upload_and_receive(stack: Applied, key: str) -> dict[str, Any]:
    """Upload to the source bucket and return the one message that reaches the queue.

    An object outside the include prefixes is uploaded first: the trigger must leave it out
    (S3 and moto deliver during the upload call, so it would be in the queue by now).
    """
    s3 = stack.client("s3")
    bucket = stack.outputs["source_bucket"]
    s3.put_object(Bucket=bucket, Key=f"elsewhere/{key}", Body=b"not an image")
    s3.put_object(Bucket=bucket, Key=key, Body=b"not an image")
    messages = stack.client("sqs").receive_message(
        QueueUrl=stack.outputs["queue_url"], WaitTimeSeconds=5, MaxNumberOfMessages=10
    )["Messages"]
    # S3 also sends an s3:TestEvent when the notification is configured.
    bodies = [json.loads(m["Body"]) for m in messages]
    bodies = [b for b in bodies if b.get("Event") != "s3:TestEvent"]
    assert len(bodies) == 1
    body: dict[str, Any] = bodies[0]
    return body


def _filter_prefix(configuration: dict[str, Any]) -> str:
    """The one key filter rule of a notification configuration: its prefix."""
    (rule,) = configuration["Filter"]["Key"]["FilterRules"]
    assert rule["Name"].lower() == "prefix"
    value: str = rule["Value"]
    return value


def test_sqs_trigger_notifies_the_queue(applied: dict[str, Applied]) -> None:
    stack = _ok(applied, "sqs")
    notification = stack.client("s3").get_bucket_notification_configuration(
        Bucket=stack.outputs["source_bucket"]
    )
    queues = notification["QueueConfigurations"]
    # One notification per include prefix (S3 takes a single prefix per configuration).
    assert sorted(_filter_prefix(q) for q in queues) == INCLUDE_PREFIXES
    for queue in queues:
        assert queue["QueueArn"] == stack.outputs["queue_arn"]
        assert sorted(queue["Events"]) == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert not notification.get("LambdaFunctionConfigurations")
    assert "EventBridgeConfiguration" not in notification
    body = _upload_and_receive(stack, "photos/a b.png")
    (record,) = body["Records"]
    assert record["eventName"].startswith("ObjectCreated:")
    # URL-encoded as S3 sends it (moto also encodes the slash, which S3 leaves alone).
    assert unquote_plus(record["s3"]["object"]["key"]) == "photos/a b.png"


def test_direct_trigger_invokes_with_retries_and_failure_destination(
    applied: dict[str, Applied],
) -> None:
    stack = _ok(applied, "direct")
    assert stack.outputs.get("queue_url") is None  # null outputs are left out
    notification = stack.client("s3").get_bucket_notification_configuration(
        Bucket=stack.outputs["source_bucket"]
    )
    targets = notification["LambdaFunctionConfigurations"]
    assert sorted(_filter_prefix(t) for t in targets) == INCLUDE_PREFIXES
    for target in targets:
        assert target["LambdaFunctionArn"] == stack.outputs["function_arn"]
        assert sorted(target["Events"]) == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert not notification.get("QueueConfigurations")
    lam = stack.client("lambda")
    config = lam.get_function_event_invoke_config(FunctionName=stack.outputs["function_name"])
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600  # direct_maximum_event_age_seconds
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == _dlq_arn(stack)
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_zips_are_deployed_through_the_artifacts_bucket_by_default(
    applied: dict[str, Applied], trigger: str
) -> None:
    stack = _ok(applied, trigger)
    bucket = stack.outputs.get("artifacts_bucket")  # a null output is left out
    s3 = stack.client("s3")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    if trigger == "direct":  # create_artifacts_bucket = false
        assert bucket is None
        assert not [n for n in names if n.startswith("artifacts-")]
        return
    # A generated, valid bucket name: nobody has to pick one, none can collide.
    assert bucket.startswith(f"artifacts-tt-{trigger}-")
    assert len(bucket) <= 63 and bucket == bucket.lower()
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert [k.split("-")[0] for k in keys] == ["thumbnailer/function", "thumbnailer/layer"]
    lam = stack.client("lambda")
    layer_arn = lam.get_function(FunctionName=stack.outputs["function_name"])["Configuration"][
        "Layers"
    ][0]["Arn"]
    # What Lambda deployed is what the bucket holds.
    stub = s3.get_object(Bucket=bucket, Key=keys[1])["Body"].read()
    name, number = layer_arn.split(":")[-2:]
    version = lam.get_layer_version(LayerName=name, VersionNumber=int(number))
    assert version["Content"]["CodeSize"] == len(stub)


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_alarms_notify_the_topic_and_buckets_are_hardened(
    applied: dict[str, Applied], trigger: str
) -> None:
    stack = _ok(applied, trigger)
    alarms = stack.client("cloudwatch").describe_alarms(AlarmNames=stack.outputs["alarm_names"])
    name = stack.outputs["function_name"]
    topic = stack.outputs["topic_arn"]

    def alarm(
        namespace: str,
        metric: str,
        dimension: tuple[str, str],
        statistic: str,
        period: int,
        periods: int,
        threshold: float,
    ) -> dict[str, Any]:
        return {
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
            "Statistic": statistic,
            "Period": period,
            "EvaluationPeriods": periods,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [topic],
            "OKActions": [topic],
        }

    function = ("FunctionName", name)
    expected = {
        f"{name}-errors": alarm("AWS/Lambda", "Errors", function, "Sum", 300, 1, 0),
        f"{name}-throttles": alarm("AWS/Lambda", "Throttles", function, "Sum", 300, 1, 0),
        # The dead-letter queue's depth, not the buffer queue's.
        f"{name}-dlq-not-empty": alarm(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            ("QueueName", f"{name}-dlq"),
            "Maximum",
            60,
            1,
            0,
        ),
    }
    if trigger != "direct":
        expected[f"{name}-oldest-message-age"] = alarm(
            "AWS/SQS", "ApproximateAgeOfOldestMessage", ("QueueName", name), "Maximum", 60, 5, 900
        )
    found = {
        a["AlarmName"]: {key: a.get(key) for key in next(iter(expected.values()))}
        for a in alarms["MetricAlarms"]
    }
    assert found == expected
    # The alert emails are subscribed (each confirms by email).
    subscriptions = stack.client("sns").list_subscriptions_by_topic(TopicArn=topic)
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]] == [
        ("email", "alerts@example.com")
    ]
    # Without kms_key_arn the topic is not encrypted: CloudWatch alarms cannot publish to a
    # topic under the AWS-managed key alias/aws/sns.
    topic = stack.client("sns").get_topic_attributes(TopicArn=stack.outputs["topic_arn"])
    assert "KmsMasterKeyId" not in topic["Attributes"]

    logs = stack.client("logs").describe_log_groups(
        logGroupNamePrefix=stack.outputs["log_group_name"]
    )
    (group,) = logs["logGroups"]
    assert group["retentionInDays"] == 30

    s3 = stack.client("s3")
    buckets = [stack.outputs[k] for k in ("source_bucket", "destination_bucket")]
    buckets += [stack.outputs["artifacts_bucket"]] if stack.outputs.get("artifacts_bucket") else []
    for bucket in buckets:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        (deny,) = policy["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
        assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


################################################################################
# Apply to moto: an existing source bucket whose notifications are someone else's
################################################################################

# A bus in another account, named by its ARN.
BUS_ARN = "arn:aws:events:us-east-1:210987654321:event-bus/shared"

EDGE = """
resource "aws_s3_bucket" "photos" {
  bucket        = "edge-photos"
  force_destroy = true
}
resource "aws_sqs_queue" "other" {
  name = "other-consumer"
}
# The bucket's notification configuration, owned by this root, not by the module.
resource "aws_s3_bucket_notification" "photos" {
  bucket = aws_s3_bucket.photos.id
  queue {
    id            = "other"
    queue_arn     = aws_sqs_queue.other.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "other/"
  }
}
output "t" {
  value = module.t
}
"""
EDGE_ARGUMENTS = f"""name                         = "edge"
  source_bucket                = aws_s3_bucket.photos.bucket
  create_source_bucket         = false
  manage_bucket_notification   = false
  destination_bucket           = "edge-thumbnails"
  bucket_force_destroy         = true
  abort_incomplete_upload_days = null
  trigger                      = "sqs"
  include_prefixes             = ["photos/", "raw/"]
  event_source_mapping_enabled = false
  create_artifacts_bucket      = false
  create_alarms                = false
  event_bus_name               = "{BUS_ARN}"
"""


@pytest.fixture(scope="module")
def edge(staged: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    """The module (sqs trigger) on an existing bucket it must leave the notifications of."""
    work = tmp_path_factory.mktemp("edge")
    with MotoServer() as server:
        tf = _root(work, EDGE + _module(staged, EDGE_ARGUMENTS), server.endpoint)
        tf.init()
        tf.apply(parallelism=20)
        yield Applied("sqs", server.endpoint, tf.output()["t"])
        tf.destroy(parallelism=20)


def test_event_bus_given_as_an_arn_is_used_as_it_is(edge: Applied) -> None:
    statements = _policy(edge)
    assert statements["PutThumbnailEvents"]["Resource"] == BUS_ARN
    # PutEvents takes the ARN as the bus name.
    assert edge.outputs["function_environment"]["THUMBNAILER_EVENT_BUS_NAME"] == BUS_ARN


def test_existing_bucket_notification_is_left_alone(edge: Applied) -> None:
    notification = edge.client("s3").get_bucket_notification_configuration(Bucket="edge-photos")
    (queue,) = notification["QueueConfigurations"]
    assert queue["Id"] == "other"
    assert not notification.get("LambdaFunctionConfigurations")
    # What the user must configure instead: one queue notification per include prefix.
    events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert edge.outputs["bucket_notification"] == {
        "eventbridge": False,
        "queues": [
            {"queue_arn": edge.outputs["queue_arn"], "events": events, "filter_prefix": prefix}
            for prefix in ("photos/", "raw/")
        ],
        "lambda_functions": [],
    }

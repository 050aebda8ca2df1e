# Every feature on: EventBridge buffer queue, several sizes in WebP, filters, deletion sync,
# alarms to email, failure emails through SES, events to a custom bus, a customer-managed
# KMS key, versioned buckets with lifecycle rules, and the S3 Batch Operations role.

provider "aws" {
  region = var.region
}

resource "aws_kms_key" "this" {
  description             = "thumbnailer: buckets, queues, topic, logs and function environment"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.key.json
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# Service principals as this partition and region spell them (CloudWatch Logs is regional,
# and some services end in amazonaws.com.cn in China).
data "aws_service_principal" "this" {
  for_each     = toset(["cloudwatch", "events", "logs", "s3"])
  service_name = each.key
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_109: the account root must administer its own key (AWS's default key policy).
  # checkov:skip=CKV_AWS_111: same: the default key policy's root statement; access is then granted by IAM.
  # checkov:skip=CKV_AWS_356: a key policy's resource is always the key itself ("*").
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    # The alarms publish to the alert topic, which this key encrypts: without this statement
    # their notifications fail. AWS documents it without a condition.
    sid       = "AlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = [data.aws_service_principal.this["cloudwatch"].name]
    }
  }

  statement {
    # Services that write encrypted data on the function's behalf: EventBridge and S3 into
    # the queues, CloudWatch Logs into the log group (its principal names the region).
    sid       = "ServicesEncrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        data.aws_service_principal.this["events"].name,
        data.aws_service_principal.this["s3"].name,
        data.aws_service_principal.this["logs"].id,
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

module "thumbnailer" {
  source = "../../modules/thumbnailer"

  name               = "thumbnailer-complete"
  source_bucket      = var.source_bucket
  destination_bucket = var.destination_bucket

  sizes            = ["128x128", "512x512", "1024x1024"]
  fit              = "cover"
  format           = "webp"
  quality          = 80
  prefix           = "thumbnails/"
  include_prefixes = ["uploads/"]
  exclude_prefixes = ["uploads/private/"]
  include_suffixes = [".jpg", ".jpeg", ".png", ".webp", ".heic", ".pdf", ".mp4"]
  delete_sync      = true

  trigger              = "eventbridge"
  batch_size           = 10
  batch_window_seconds = 2
  maximum_concurrency  = 50
  max_receive_count    = 5
  reserved_concurrency = 100

  memory_size = 1536
  timeout     = 90

  bucket_versioning                  = true
  noncurrent_version_expiration_days = 30
  failure_marker_expiration_days     = 90

  alert_emails   = var.alert_emails
  ses_sender     = var.ses_sender
  ses_recipients = var.alert_emails

  event_bus_name   = "thumbnailer-complete"
  create_event_bus = true

  kms_key_arn  = aws_kms_key.this.arn
  tracing_mode = "Active"

  create_batch_operations_role = true

  function_zip     = var.function_zip
  layer_zip        = var.layer_zip
  artifacts_bucket = var.artifacts_bucket

  tags = { Project = "thumbnailer", Environment = "example" }
}

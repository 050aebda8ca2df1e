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
data "aws_region" "current" {}

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
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    # Services that write encrypted data on the function's behalf.
    sid       = "ServicesEncrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
        "s3.amazonaws.com",
        "logs.${data.aws_region.current.name}.amazonaws.com",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
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

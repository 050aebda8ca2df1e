################################################################################
# Function role: least privilege, one inline policy, no managed policies
################################################################################

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-function"
  description        = "Role of the ${var.name} thumbnail function"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = local.tags
}

locals {
  # Objects the function reads: the sources (only under the include prefixes when set).
  source_object_arns = length(var.include_prefixes) > 0 ? [
    for p in var.include_prefixes : "${local.source_arn}/${p}*"
  ] : ["${local.source_arn}/*"]
  thumbnail_arn = "${local.destination_arn}/${var.prefix}*"
  failure_arns  = var.failure_prefix == "" ? [] : ["${local.destination_arn}/${var.failure_prefix}*"]
  ses_identity_arns = var.ses_sender == "" ? [] : [
    "arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/${var.ses_sender}",
    "arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/${split("@", var.ses_sender)[1]}",
  ]
}

data "aws_iam_policy_document" "function" {
  statement {
    # The function reads the current version (GetObject without a version id).
    sid       = "ReadSources"
    actions   = ["s3:GetObject"]
    resources = local.source_object_arns
  }

  statement {
    # Without ListBucket, S3 answers 403 instead of 404 for a source that is gone: deletion
    # sync checks the source was not uploaded again, and a vanished upload must read not_found.
    sid       = "ListSources"
    actions   = ["s3:ListBucket"]
    resources = [local.source_arn]
  }

  statement {
    # HEAD of an existing thumbnail proves a redelivery is already done.
    sid       = "WriteThumbnails"
    actions   = concat(["s3:GetObject", "s3:PutObject"], var.delete_sync ? ["s3:DeleteObject"] : [])
    resources = [local.thumbnail_arn]
  }

  dynamic "statement" {
    for_each = var.failure_prefix == "" ? [] : [1]
    content {
      # Reading its own marker keeps a failure reported once; a fixed re-upload deletes it.
      sid       = "WriteFailureMarkers"
      actions   = concat(["s3:GetObject", "s3:PutObject"], var.delete_sync ? ["s3:DeleteObject"] : [])
      resources = local.failure_arns
    }
  }

  statement {
    # Without ListBucket, S3 answers 403 instead of 404 for a thumbnail that does not exist yet.
    sid       = "ListThumbnails"
    actions   = ["s3:ListBucket"]
    resources = [local.destination_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = local.uses_queue ? [1] : []
    content {
      sid       = "ConsumeQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.this[0].arn]
    }
  }

  dynamic "statement" {
    # The on-failure destination of asynchronous (direct) invocations.
    for_each = var.trigger == "direct" ? [1] : []
    content {
      sid       = "SendFailedInvocations"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dlq.arn]
    }
  }

  dynamic "statement" {
    for_each = var.notify_failures ? [1] : []
    content {
      sid       = "PublishFailures"
      actions   = ["sns:Publish"]
      resources = [local.topic_arn]
    }
  }

  dynamic "statement" {
    for_each = var.ses_sender == "" ? [] : [1]
    content {
      sid       = "SendFailureEmails"
      actions   = ["ses:SendEmail", "ses:SendRawEmail"]
      resources = local.ses_identity_arns
      condition {
        test     = "StringEquals"
        variable = "ses:FromAddress"
        values   = [var.ses_sender]
      }
    }
  }

  dynamic "statement" {
    for_each = local.event_bus_arn == null ? [] : [local.event_bus_arn]
    content {
      sid       = "PutThumbnailEvents"
      actions   = ["events:PutEvents"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    # Active tracing: Lambda refuses to create the function unless its role may send trace
    # segments. X-Ray has no resource-level permissions, so the resource can only be "*".
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-function"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.function.json
}

################################################################################
# Optional S3 Batch Operations role (back-fill through an inventory manifest)
################################################################################

data "aws_iam_policy_document" "assume_batch_operations" {
  count = var.create_batch_operations_role ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["batchoperations.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "batch_operations" {
  count = var.create_batch_operations_role ? 1 : 0

  name               = "${var.name}-batch-ops"
  description        = "Role S3 Batch Operations assumes to back-fill thumbnails with ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.assume_batch_operations[0].json
  tags               = local.tags
}

data "aws_iam_policy_document" "batch_operations" {
  count = var.create_batch_operations_role ? 1 : 0

  statement {
    sid       = "InvokeFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn, "${aws_lambda_function.this.arn}:*"]
  }

  statement {
    sid       = "ReadManifests"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.destination_arn}/${var.batch_operations_prefix}*"]
  }

  statement {
    sid       = "WriteReports"
    actions   = ["s3:PutObject"]
    resources = ["${local.destination_arn}/${var.batch_operations_prefix}*"]
  }

  dynamic "statement" {
    # With kms_key_arn the buckets are SSE-KMS: reading a manifest needs Decrypt, writing a
    # report GenerateDataKey.
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "batch_operations" {
  count = var.create_batch_operations_role ? 1 : 0

  name   = "${var.name}-batch-ops"
  role   = aws_iam_role.batch_operations[0].id
  policy = data.aws_iam_policy_document.batch_operations[0].json
}

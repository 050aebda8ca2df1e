locals {
  # Built from names so the queue policies can be inline (a queue cannot reference itself).
  queue_arn = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${var.name}"
  dlq_arn   = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${var.name}-dlq"

  s3_events = concat(["s3:ObjectCreated:*"], var.delete_sync ? ["s3:ObjectRemoved:*"] : [])
  # One S3 notification per include prefix (S3 takes a single prefix per configuration);
  # "" means the whole bucket.
  notification_prefixes = length(var.include_prefixes) > 0 ? var.include_prefixes : [""]
  # What the bucket's notification configuration holds for the trigger (built by the module
  # unless manage_bucket_notification is false; then by the user, from the output).
  notification_targets = {
    eventbridge = var.trigger == "eventbridge"
    queues = var.trigger != "sqs" ? [] : [
      for p in local.notification_prefixes : { queue_arn = aws_sqs_queue.this[0].arn, events = local.s3_events, filter_prefix = p }
    ]
    lambda_functions = var.trigger != "direct" ? [] : [
      for p in local.notification_prefixes : { lambda_function_arn = aws_lambda_function.this.arn, events = local.s3_events, filter_prefix = p }
    ]
  }

  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = concat(["Object Created"], var.delete_sync ? ["Object Deleted"] : [])
    detail = merge(
      { bucket = { name = [var.source_bucket] } },
      length(var.include_prefixes) > 0 ? {
        object = { key = [for p in var.include_prefixes : { prefix = p }] }
      } : {}
    )
  })
}

################################################################################
# Queues (every trigger has the dead-letter queue; the buffer queue is for eventbridge/sqs)
################################################################################

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.name}-dlq"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 3600
  policy                            = data.aws_iam_policy_document.dlq.json
  tags                              = local.tags
}

resource "aws_sqs_queue" "this" {
  count = local.uses_queue ? 1 : 0

  name = var.name
  # Lambda's rule: at least 6 × the function timeout, so a batch in flight is never redelivered
  # while it is still being processed (plus the batching window it may wait).
  visibility_timeout_seconds        = 6 * var.timeout + var.batch_window_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = 20
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 3600

  # Inline rather than aws_sqs_queue_policy: one API call, no eventual-consistency wait.
  policy = data.aws_iam_policy_document.queue[0].json

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = local.tags
}

data "aws_iam_policy_document" "queue" {
  count = local.uses_queue ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.queue_arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = var.trigger == "eventbridge" ? "AllowSourceRule" : "AllowSourceBucket"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]
    principals {
      type        = "Service"
      identifiers = [var.trigger == "eventbridge" ? "events.amazonaws.com" : "s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.trigger == "eventbridge" ? aws_cloudwatch_event_rule.s3[0].arn : local.source_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.dlq_arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    # The rule's own dead-letter target: events EventBridge could not deliver to the queue.
    for_each = var.trigger == "eventbridge" ? [1] : []
    content {
      sid       = "AllowRuleDeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [local.dlq_arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.s3[0].arn]
      }
    }
  }
}

################################################################################
# S3 → trigger
################################################################################

resource "aws_cloudwatch_event_rule" "s3" {
  count = var.trigger == "eventbridge" ? 1 : 0

  # S3 publishes to the default bus only.
  name          = "${var.name}-s3"
  description   = "Uploads (and deletions) in s3://${var.source_bucket} to ${var.name}'s queue"
  event_pattern = local.event_pattern
  tags          = local.tags
}

resource "aws_cloudwatch_event_target" "queue" {
  count = var.trigger == "eventbridge" ? 1 : 0

  rule      = aws_cloudwatch_event_rule.s3[0].name
  target_id = "queue"
  arn       = aws_sqs_queue.this[0].arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

resource "aws_s3_bucket_notification" "this" {
  # One per bucket: it replaces the bucket's whole notification configuration.
  count = var.manage_bucket_notification ? 1 : 0

  bucket      = var.source_bucket
  eventbridge = var.trigger == "eventbridge"

  dynamic "queue" {
    for_each = var.trigger == "sqs" ? local.notification_prefixes : []
    content {
      id            = "${var.name}-${queue.key}"
      queue_arn     = aws_sqs_queue.this[0].arn
      events        = local.s3_events
      filter_prefix = queue.value == "" ? null : queue.value
    }
  }

  dynamic "lambda_function" {
    for_each = var.trigger == "direct" ? local.notification_prefixes : []
    content {
      id                  = "${var.name}-${lambda_function.key}"
      lambda_function_arn = aws_lambda_function.this.arn
      events              = local.s3_events
      filter_prefix       = lambda_function.value == "" ? null : lambda_function.value
    }
  }

  depends_on = [
    aws_sqs_queue.this,
    aws_lambda_permission.s3,
    aws_s3_bucket.this,
  ]
}

# The notification became optional (count): existing states keep it instead of replacing it,
# which would clear the bucket's notifications in between.
moved {
  from = aws_s3_bucket_notification.this
  to   = aws_s3_bucket_notification.this[0]
}

resource "aws_lambda_permission" "s3" {
  count = var.trigger == "direct" ? 1 : 0

  statement_id   = "AllowSourceBucket"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.source_arn
  source_account = local.account_id
}

resource "aws_lambda_event_source_mapping" "this" {
  count = local.uses_queue ? 1 : 0

  event_source_arn                   = aws_sqs_queue.this[0].arn
  function_name                      = aws_lambda_function.this.arn
  enabled                            = var.event_source_mapping_enabled
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batch_window_seconds
  # Only the failed messages of a batch are retried.
  function_response_types = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = var.maximum_concurrency == null ? [] : [var.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

################################################################################
# Outgoing events
################################################################################

resource "aws_cloudwatch_event_bus" "this" {
  count = var.create_event_bus ? 1 : 0

  name = var.event_bus_name
  tags = local.tags
}

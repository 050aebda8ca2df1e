################################################################################
# Alert topic: alarms and permanent failures
################################################################################

resource "aws_sns_topic" "this" {
  # checkov:skip=CKV_AWS_26: without kms_key_arn the topic is left unencrypted on purpose: CloudWatch alarms cannot publish to a topic under the AWS-managed key alias/aws/sns (its key policy cannot grant them kms:GenerateDataKey), so alarm emails would never arrive. With kms_key_arn the topic uses that key.
  name = "${var.name}-alerts"
  # A customer-managed key only: its key policy must let cloudwatch.amazonaws.com use it
  # (kms:Decrypt, kms:GenerateDataKey*), or the alarms' notifications fail.
  kms_master_key_id = var.kms_key_arn
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_ses_email_identity" "sender" {
  count = var.create_ses_identity && var.ses_sender != "" ? 1 : 0

  email = var.ses_sender
}

################################################################################
# Alarms
################################################################################

locals {
  alarm_actions = [aws_sns_topic.this.arn]
  function_alarms = {
    errors = {
      metric      = "Errors"
      description = "${var.name} raised errors (transient failures or bugs); see its log group."
    }
    throttles = {
      metric      = "Throttles"
      description = "${var.name} was throttled: raise reserved_concurrency or the account limit, or keep the queue's maximum_concurrency at or below reserved_concurrency (each throttled batch spends a receive)."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = var.create_alarms ? local.function_alarms : {}

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-dlq-not-empty"
  alarm_description   = "Messages reached ${aws_sqs_queue.dlq.name}: events that failed every retry. Inspect, fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  count = var.create_alarms && local.uses_queue ? 1 : 0

  alarm_name          = "${var.name}-oldest-message-age"
  alarm_description   = "The oldest message in ${aws_sqs_queue.this[0].name} waited over ${var.oldest_message_age_alarm_seconds}s: the function is falling behind or stopped."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.oldest_message_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

output "source_bucket" {
  description = "Name of the source bucket."
  value       = var.source_bucket
}

output "destination_bucket" {
  description = "Name of the destination bucket."
  value       = var.destination_bucket
}

output "artifacts_bucket" {
  description = "Bucket the function and layer zips were deployed from (null when uploaded with the API call)."
  value       = local.artifacts_in_s3 ? local.artifacts_bucket : null
}

output "created_bucket_arns" {
  description = "ARNs of the buckets the module created, by role (`source`, `destination`, `artifacts`)."
  value       = { for k, b in aws_s3_bucket.this : k => b.arn }
}

output "bucket_notification" {
  description = "What the source bucket's notification configuration must hold for the trigger: `eventbridge` (deliver to EventBridge), `queues` and `lambda_functions` (each a target ARN, its `events` and a `filter_prefix`, \"\" for the whole bucket). Configure it yourself when manage_bucket_notification is false."
  value       = local.notification_targets
  # A configuration built from it is accepted only once its targets exist and S3 may use them.
  depends_on = [aws_sqs_queue.this, aws_lambda_permission.s3]
}

output "trigger" {
  description = "The trigger mode in use."
  value       = var.trigger
}

output "queue_url" {
  description = "URL of the buffer queue (null for the direct trigger)."
  value       = try(aws_sqs_queue.this[0].url, null)
}

output "queue_arn" {
  description = "ARN of the buffer queue (null for the direct trigger)."
  value       = try(aws_sqs_queue.this[0].arn, null)
}

output "dlq_url" {
  description = "URL of the dead-letter queue (the on-failure destination for the direct trigger)."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "function_timeout" {
  description = "Timeout of the function, in seconds."
  value       = aws_lambda_function.this.timeout
}

output "function_memory_size" {
  description = "Memory of the function, in MB."
  value       = aws_lambda_function.this.memory_size
}

output "function_role_arn" {
  description = "ARN of the function's IAM role."
  value       = aws_iam_role.this.arn
}

output "function_policy_json" {
  description = "The function role's inline policy, as JSON."
  value       = data.aws_iam_policy_document.function.json
}

output "function_environment" {
  description = "The THUMBNAILER_* settings the function received (see thumbnailer.settings)."
  value       = local.function_environment
}

output "layer_arn" {
  description = "ARN of the dependencies layer version."
  value       = aws_lambda_layer_version.dependencies.arn
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping (null for the direct trigger)."
  value       = try(aws_lambda_event_source_mapping.this[0].uuid, null)
}

output "batch_size" {
  description = "Messages per invocation the event source mapping uses."
  value       = var.batch_size
}

output "batch_window_seconds" {
  description = "Batching window of the event source mapping, in seconds."
  value       = var.batch_window_seconds
}

output "max_receive_count" {
  description = "Deliveries of a message before it moves to the dead-letter queue."
  value       = var.max_receive_count
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule (eventbridge trigger only, else null)."
  value       = try(aws_cloudwatch_event_rule.s3[0].arn, null)
}

output "event_rule_pattern" {
  description = "Event pattern of the EventBridge rule, as JSON (eventbridge trigger only, else null)."
  value       = var.trigger == "eventbridge" ? local.event_pattern : null
}

output "topic_arn" {
  description = "ARN of the alert topic (alarms and permanent failures)."
  value       = aws_sns_topic.this.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.function : a.alarm_name],
    aws_cloudwatch_metric_alarm.dlq_not_empty[*].alarm_name,
    aws_cloudwatch_metric_alarm.oldest_message[*].alarm_name,
  )
}

output "event_bus_name" {
  description = "Bus that receives Thumbnail Created / Failed events (empty: none)."
  value       = local.event_bus_name
}

output "batch_operations_role_arn" {
  description = "ARN of the S3 Batch Operations role (null unless create_batch_operations_role)."
  value       = try(aws_iam_role.batch_operations[0].arn, null)
}

output "endpoint" {
  description = "The emulator URL the stack was applied to."
  value       = var.endpoint
}

output "region" {
  description = "Region of the stack."
  value       = var.region
}

output "trigger" {
  description = "Trigger mode of the stack."
  value       = module.thumbnailer.trigger
}

output "source_bucket" {
  description = "Bucket to upload sources to."
  value       = module.thumbnailer.source_bucket
}

output "destination_bucket" {
  description = "Bucket the thumbnails appear in."
  value       = module.thumbnailer.destination_bucket
}

output "artifacts_bucket" {
  description = "Bucket the zips were deployed from (null when uploaded in the API call)."
  value       = module.thumbnailer.artifacts_bucket
}

output "queue_url" {
  description = "URL of the buffer queue the runner polls (null for the direct trigger)."
  value       = module.thumbnailer.queue_url
}

output "queue_arn" {
  description = "ARN of the buffer queue (null for the direct trigger)."
  value       = module.thumbnailer.queue_arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.thumbnailer.dlq_url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = module.thumbnailer.dlq_arn
}

output "function_name" {
  description = "Name of the function."
  value       = module.thumbnailer.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = module.thumbnailer.function_arn
}

output "function_timeout" {
  description = "Timeout of the function, in seconds."
  value       = module.thumbnailer.function_timeout
}

output "function_environment" {
  description = "The THUMBNAILER_* settings the function received."
  value       = module.thumbnailer.function_environment
}

output "function_policy_json" {
  description = "The function role's inline policy, as JSON."
  value       = module.thumbnailer.function_policy_json
}

output "batch_size" {
  description = "Messages per invocation."
  value       = module.thumbnailer.batch_size
}

output "batch_window_seconds" {
  description = "Batching window, in seconds."
  value       = module.thumbnailer.batch_window_seconds
}

output "max_receive_count" {
  description = "Deliveries before the dead-letter queue."
  value       = module.thumbnailer.max_receive_count
}

output "event_source_mapping_uuid" {
  description = "UUID of the (disabled) event source mapping; null for the direct trigger."
  value       = module.thumbnailer.event_source_mapping_uuid
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule (eventbridge trigger only)."
  value       = module.thumbnailer.event_rule_arn
}

output "topic_arn" {
  description = "ARN of the alert topic."
  value       = module.thumbnailer.topic_arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value       = module.thumbnailer.alarm_names
}

output "event_bus_name" {
  description = "Bus that receives Thumbnail Created / Failed events."
  value       = module.thumbnailer.event_bus_name
}

output "log_group_name" {
  description = "Log group of the function."
  value       = module.thumbnailer.log_group_name
}

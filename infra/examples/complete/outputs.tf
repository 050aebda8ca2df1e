output "source_bucket" {
  description = "Upload images here, under uploads/."
  value       = module.thumbnailer.source_bucket
}

output "destination_bucket" {
  description = "Thumbnails appear here."
  value       = module.thumbnailer.destination_bucket
}

output "artifacts_bucket" {
  description = "Bucket the zips were deployed from."
  value       = module.thumbnailer.artifacts_bucket
}

output "queue_url" {
  description = "The buffer queue."
  value       = module.thumbnailer.queue_url
}

output "dlq_url" {
  description = "Messages that failed every retry."
  value       = module.thumbnailer.dlq_url
}

output "function_name" {
  description = "Name of the function."
  value       = module.thumbnailer.function_name
}

output "topic_arn" {
  description = "Alert topic."
  value       = module.thumbnailer.topic_arn
}

output "function_environment" {
  description = "The settings the function received."
  value       = module.thumbnailer.function_environment
}

output "batch_operations_role_arn" {
  description = "Role for S3 Batch Operations back-fill jobs."
  value       = module.thumbnailer.batch_operations_role_arn
}

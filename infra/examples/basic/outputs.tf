output "source_bucket" {
  description = "Upload images here."
  value       = module.thumbnailer.source_bucket
}

output "destination_bucket" {
  description = "Thumbnails appear here, under thumbnails/."
  value       = module.thumbnailer.destination_bucket
}

output "function_name" {
  description = "Name of the function."
  value       = module.thumbnailer.function_name
}

output "dlq_url" {
  description = "Events that failed every retry land here."
  value       = module.thumbnailer.dlq_url
}

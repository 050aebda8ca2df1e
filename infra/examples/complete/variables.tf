variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "source_bucket" {
  description = "Name of the bucket whose uploads (under uploads/) get thumbnails."
  type        = string
}

variable "destination_bucket" {
  description = "Name of the bucket the thumbnails are written to."
  type        = string
}

variable "alert_emails" {
  description = "Who hears about alarms and failures (SNS email subscriptions and SES recipients)."
  type        = list(string)
}

variable "ses_sender" {
  description = "Verified SES identity that sends failure emails."
  type        = string
}

variable "function_zip" {
  description = "Path of dist/function.zip from `thumbnailer package`."
  type        = string
  default     = "../../../dist/function.zip"
}

variable "layer_zip" {
  description = "Path of the layer zip from `thumbnailer package`."
  type        = string
  default     = "../../../dist/layer-3.12-arm64.zip"
}

variable "artifacts_bucket" {
  description = "Existing bucket the zips are deployed from; null lets the module create one."
  type        = string
  default     = null
}

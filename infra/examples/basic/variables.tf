variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "source_bucket" {
  description = "Name of the bucket whose uploads get thumbnails (created by the module)."
  type        = string
}

variable "destination_bucket" {
  description = "Name of the bucket the thumbnails are written to (created by the module)."
  type        = string
}

variable "function_zip" {
  description = "Path of dist/function.zip from `thumbnailer package`."
  type        = string
  default     = "../../../dist/function.zip"
}

variable "layer_zip" {
  description = "Path of the layer zip from `thumbnailer package` (arm64, python3.12 by default)."
  type        = string
  default     = "../../../dist/layer-3.12-arm64.zip"
}

variable "artifacts_bucket" {
  description = "Existing bucket to deploy the zips from; null lets the module create a private one."
  type        = string
  default     = null
}

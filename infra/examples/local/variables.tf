variable "endpoint" {
  description = "URL of the AWS emulator, e.g. http://127.0.0.1:5000."
  type        = string
  default     = "http://127.0.0.1:5000"

  validation {
    condition     = can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?$", var.endpoint))
    error_message = "endpoint must be a local emulator URL on 127.0.0.1 (http://127.0.0.1:PORT)."
  }
}

variable "region" {
  description = "Region the emulator pretends to be."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the stack; prefixes every resource (buckets are NAME-source and NAME-thumbnails)."
  type        = string
  default     = "thumbnailer-local"
}

variable "trigger" {
  description = "Trigger mode: eventbridge, sqs or direct."
  type        = string
  default     = "eventbridge"
}

variable "function_zip" {
  description = "Path of dist/function.zip built by `thumbnailer package`."
  type        = string
}

variable "layer_zip" {
  description = "Path of the layer zip built by `thumbnailer package`."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime the artifact was built for."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "Architecture the artifact was built for."
  type        = string
  default     = "x86_64"
}

variable "batch_size" {
  description = "Messages per invocation the runner takes from the queue."
  type        = number
  default     = 10
}

variable "batch_window_seconds" {
  description = "Seconds the runner may wait to fill a batch."
  type        = number
  default     = 1
}

variable "max_receive_count" {
  description = "Deliveries of a message before it moves to the dead-letter queue (the module's default: a record handed back for lack of time also spends one)."
  type        = number
  default     = 5
}

variable "timeout" {
  description = "Function timeout in seconds (the runner enforces it; the queue's visibility timeout is 6x)."
  type        = number
  default     = 10
}

variable "time_budget_seconds" {
  description = "Render time budget per object in seconds; below timeout."
  type        = number
  default     = 8
}

variable "sizes" {
  description = "Thumbnail boxes."
  type        = list(string)
  default     = ["128x128", "512x512"]
}

variable "format" {
  description = "Thumbnail format."
  type        = string
  default     = "auto"
}

variable "fit" {
  description = "Thumbnail fit."
  type        = string
  default     = "fit"
}

variable "include_prefixes" {
  description = "Key prefixes to process (empty: all); they also filter the trigger, so other keys never reach the queue or the function."
  type        = list(string)
  default     = []
}

variable "include_suffixes" {
  description = "Key suffixes to process (empty: all)."
  type        = list(string)
  default     = []
}

variable "create_artifacts_bucket" {
  description = "Deploy the zips through a bucket the module creates (the default, as in AWS) or upload them in the API call."
  type        = bool
  default     = true
}

variable "log_level" {
  description = "Log level of the function: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"
}

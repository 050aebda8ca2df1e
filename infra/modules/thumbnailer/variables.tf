################################################################################
# Naming and buckets
################################################################################

variable "name" {
  description = "Name of the function and prefix of every resource the module creates, 1-48 characters (the longest derived name, the `<name>-batch-ops` role, stays within IAM's 64). IAM role names are global to the account: two instances with the same name collide, even in different regions."
  type        = string
  default     = "thumbnailer"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.name))
    error_message = "name must be 1-48 characters: letters, digits, '-' or '_' (longer names would overflow role, rule and function names)."
  }
}

variable "source_bucket" {
  description = "Name of the bucket whose uploads get thumbnails."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.source_bucket)) && !can(regex("\\.\\.", var.source_bucket))
    error_message = "source_bucket must be a valid S3 bucket name (3-63 lowercase letters, digits, '.' or '-')."
  }
}

variable "destination_bucket" {
  description = "Name of the bucket the thumbnails are written to; may equal source_bucket only when include_prefixes keep the trigger away from prefix and failure_prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.destination_bucket)) && !can(regex("\\.\\.", var.destination_bucket))
    error_message = "destination_bucket must be a valid S3 bucket name (3-63 lowercase letters, digits, '.' or '-')."
  }
}

variable "create_source_bucket" {
  description = "Create the source bucket (hardened); false to use an existing bucket of that name. An existing bucket's notification configuration is replaced unless manage_bucket_notification is false."
  type        = bool
  default     = true
}

variable "manage_bucket_notification" {
  description = "Own the source bucket's notification configuration (`aws_s3_bucket_notification`): S3 holds one per bucket, so this replaces whatever the bucket had, including another instance's. false leaves it alone, and you configure what the `bucket_notification` output lists: for `eventbridge`, delivery to EventBridge turned on; for `sqs`, a queue notification to the queue; for `direct`, a Lambda notification to the function (its permission is created); each for the listed events, one per include prefix."
  type        = bool
  default     = true
  nullable    = false
}

variable "create_destination_bucket" {
  description = "Create the destination bucket (hardened); false to use an existing bucket of that name. Ignored when it is the source bucket."
  type        = bool
  default     = true
}

variable "bucket_force_destroy" {
  description = "Let `terraform destroy` delete created buckets that still hold objects."
  type        = bool
  default     = false
}

variable "bucket_versioning" {
  description = "Enable versioning on the buckets the module creates."
  type        = bool
  default     = false
}

variable "abort_incomplete_upload_days" {
  description = "Days after which incomplete multipart uploads in created buckets are aborted (null: no such lifecycle rule)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_upload_days == null || try(var.abort_incomplete_upload_days >= 1, false)
    error_message = "abort_incomplete_upload_days must be at least 1, or null."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions in created buckets expire (null: keep them). Only useful with bucket_versioning."
  type        = number
  default     = null

  validation {
    condition     = var.noncurrent_version_expiration_days == null || try(var.noncurrent_version_expiration_days >= 1, false)
    error_message = "noncurrent_version_expiration_days must be at least 1, or null."
  }
}

variable "failure_marker_expiration_days" {
  description = "Days after which failure markers in a created destination bucket expire (null: keep them)."
  type        = number
  default     = null

  validation {
    condition     = var.failure_marker_expiration_days == null || try(var.failure_marker_expiration_days >= 1, false)
    error_message = "failure_marker_expiration_days must be at least 1, or null."
  }
}

################################################################################
# Thumbnail settings (THUMBNAILER_* environment variables of the function)
################################################################################

variable "sizes" {
  description = "Boxes to render, `WxH`, each side 1..10000, no repeats (compared as numbers, as the function does: `0128x128` repeats `128x128`)."
  type        = list(string)
  default     = ["128x128"]

  validation {
    condition = length(var.sizes) > 0 && alltrue([
      for s in var.sizes : can(regex("^[0-9]+x[0-9]+$", s)) && try(alltrue([
        for side in split("x", s) : tonumber(side) >= 1 && tonumber(side) <= 10000
      ]), false)
    ])
    error_message = "sizes must be one or more WIDTHxHEIGHT boxes, e.g. [\"128x128\", \"512x512\"], each side 1..10000."
  }

  validation {
    # The function compares boxes as numbers and refuses a repeat at cold start.
    condition = length(distinct([
      for s in var.sizes : try(join("x", [for side in split("x", s) : tostring(tonumber(side))]), s)
    ])) == length(var.sizes)
    error_message = "sizes must not repeat, compared as numbers (\"0128x128\" is \"128x128\")."
  }
}

variable "fit" {
  description = "`fit` (inside the box, no upscaling), `cover` (centre crop) or `pad` (letterbox)."
  type        = string
  default     = "fit"

  validation {
    condition     = contains(["fit", "cover", "pad"], var.fit)
    error_message = "fit must be one of fit, cover, pad."
  }
}

variable "format" {
  description = "`auto` (JPEG, or PNG with transparency), `jpeg`, `png`, `webp` or `avif` (refused at cold start when the layer's Pillow has no AVIF encoder)."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "jpeg", "png", "webp", "avif"], var.format)
    error_message = "format must be one of auto, jpeg, png, webp, avif."
  }
}

variable "quality" {
  description = "Encoder quality 1..100 (JPEG, WebP, AVIF)."
  type        = number
  default     = 85

  validation {
    condition     = var.quality >= 1 && var.quality <= 100 && floor(var.quality) == var.quality
    error_message = "quality must be an integer 1..100."
  }
}

variable "background" {
  description = "Colour transparency is flattened onto for JPEG, and the `pad` colour: `#rrggbb`, `white` or `black`."
  type        = string
  default     = "#ffffff"

  validation {
    condition     = can(regex("^(#?[0-9a-fA-F]{6}|white|black)$", var.background))
    error_message = "background must be #rrggbb, white or black."
  }
}

variable "prefix" {
  description = "Key prefix of every thumbnail; objects under it are never processed."
  type        = string
  default     = "thumbnails/"

  validation {
    condition     = trimsuffix(var.prefix, "/") != "" && endswith(var.prefix, "/") && !startswith(var.prefix, "/") && trimspace(var.prefix) == var.prefix
    error_message = "prefix must be a non-empty key prefix ending in '/', without surrounding whitespace, e.g. thumbnails/."
  }
}

variable "key_template" {
  description = "Destination key template (Python `str.format`); fields: `prefix`, `key`, `stem`, `dir`, `name`, `width`, `height`, `ext`, each optionally with `!r`/`!s`/`!a` and a format spec its value takes (`width` and `height` are integers, e.g. `{width:05d}`; the other fields, and any field after `!r`/`!s`/`!a`, strings, e.g. `{name:.40}`); `{{` and `}}` are literal braces. Must start with {prefix}, contain {stem}, {key} or {name}, and tell the sizes apart ({width} and/or {height}) when there are several."
  type        = string
  default     = "{prefix}{stem}_{width}x{height}.{ext}"

  # The function's own checks (thumbnailer.settings), made at plan time: a template it refuses
  # stops every cold start. The template is read as str.format reads it, left to right:
  # `{{` and `}}` are literal braces, `{...}` a field, any other brace an error.
  validation {
    condition     = startswith(var.key_template, "{prefix}")
    error_message = "key_template must start with {prefix}, so thumbnails are never processed again."
  }

  validation {
    condition     = alltrue([for t in regexall("\\{\\{|\\}\\}|\\{[^{}]*\\}|[^{}]+|[{}]", var.key_template) : t != "{" && t != "}"])
    error_message = "key_template has a brace that opens or closes no field: write a literal { or } as {{ or }} (fields cannot nest)."
  }

  validation {
    condition = alltrue([
      for t in regexall("\\{\\{|\\}\\}|\\{[^{}]*\\}|[^{}]+|[{}]", var.key_template) :
      can(regex("^\\{(prefix|key|stem|dir|name|width|height|ext)(![rsa])?(:[^{}]*)?\\}$", t)) if can(regex("^\\{[^{}]*\\}$", t))
    ])
    error_message = "key_template may use only the fields {prefix}, {key}, {stem}, {dir}, {name}, {width}, {height} and {ext} (each optionally with !r, !s or !a and a format spec)."
  }

  validation {
    condition = length([
      for t in regexall("\\{\\{|\\}\\}|\\{[^{}]*\\}|[^{}]+|[{}]", var.key_template) : t
      if can(regex("^\\{(stem|key|name)[!:}]", t))
    ]) > 0
    error_message = "key_template must contain {stem}, {key} or {name}."
  }

  validation {
    # The function fills the template in once at cold start (str.format): a format spec the
    # field's value cannot take stops it there. width and height are integers; the other
    # fields, and any field after !r, !s or !a, are strings. Each spec is matched against
    # Python's format-spec grammar ([[fill]align][sign][z][#][0][width][grouping][.precision]
    # [type]) as str and int apply it.
    condition = alltrue([
      for t in regexall("\\{\\{|\\}\\}|\\{[^{}]*\\}|[^{}]+|[{}]", var.key_template) :
      can(regex("^\\{((prefix|key|stem|dir|name|ext)(![rsa])?|(width|height)![rsa])(:([^{}]?[<>^])?[0-9]*(\\.[0-9]+)?s?)?\\}$", t))
      || can(regex("^\\{(width|height)(:([^{}]?[<>=^])?([-+ ]?z?#?[0-9]*[,_]?(\\.[0-9]+)?[eEfFgG%]|[-+ ]?#?[0-9]*[,_]?d?|[-+ ]?#?[0-9]*_?[boxX]|[-+ ]?#?[0-9]*n|[0-9]*c))?\\}$", t))
      if can(regex("^\\{(prefix|key|stem|dir|name|width|height|ext)(![rsa])?(:[^{}]*)?\\}$", t))
    ])
    error_message = "key_template has a format spec its field cannot take (the function could not fill it in): {prefix}, {key}, {stem}, {dir}, {name} and {ext} are strings (fill, align <, > or ^, width, .precision, type s, e.g. {name:.40}); {width} and {height} are integers (e.g. {width:05d}); after !r, !s or !a every field is a string."
  }

  validation {
    # The function strips the template: the thumbnails' keys would lose the spaces.
    condition     = trimspace(var.key_template) == var.key_template
    error_message = "key_template must not start or end with whitespace (the function strips it)."
  }
}

variable "cache_control" {
  description = "`Cache-Control` of every thumbnail (empty: none)."
  type        = string
  default     = "public, max-age=31536000, immutable"
}

variable "include_prefixes" {
  description = "Key prefixes to process (empty: all). Also filter the trigger itself, so other keys never invoke the function. With the sqs and direct triggers they must not overlap (`photos/` and `photos/raw/`): S3 refuses such notifications."
  type        = list(string)
  default     = []

  validation {
    # The function reads them as one comma-separated list, each part stripped.
    condition     = alltrue([for v in var.include_prefixes : v != "" && !strcontains(v, ",") && trimspace(v) == v])
    error_message = "include_prefixes must be non-empty, without commas or surrounding spaces."
  }
}

variable "exclude_prefixes" {
  description = "Key prefixes to skip (checked by the function)."
  type        = list(string)
  default     = []

  validation {
    # The function reads them as one comma-separated list, each part stripped.
    condition     = alltrue([for v in var.exclude_prefixes : v != "" && !strcontains(v, ",") && trimspace(v) == v])
    error_message = "exclude_prefixes must be non-empty, without commas or surrounding spaces."
  }
}

variable "include_suffixes" {
  description = "Key suffixes to process, case-insensitive (empty: all). Checked by the function because S3 and EventBridge suffix filters are case-sensitive."
  type        = list(string)
  default     = []

  validation {
    # The function reads them as one comma-separated list, each part stripped.
    condition     = alltrue([for v in var.include_suffixes : v != "" && !strcontains(v, ",") && trimspace(v) == v])
    error_message = "include_suffixes must be non-empty, without commas or surrounding spaces."
  }
}

variable "exclude_suffixes" {
  description = "Key suffixes to skip, case-insensitive (checked by the function)."
  type        = list(string)
  default     = []

  validation {
    # The function reads them as one comma-separated list, each part stripped.
    condition     = alltrue([for v in var.exclude_suffixes : v != "" && !strcontains(v, ",") && trimspace(v) == v])
    error_message = "exclude_suffixes must be non-empty, without commas or surrounding spaces."
  }
}

variable "max_input_bytes" {
  description = "Largest source object accepted, in bytes; checked before download."
  type        = number
  default     = 104857600

  validation {
    condition     = var.max_input_bytes >= 1 && var.max_input_bytes <= 10737418240 && floor(var.max_input_bytes) == var.max_input_bytes
    error_message = "max_input_bytes must be an integer 1..10737418240."
  }
}

variable "max_input_pixels" {
  description = "Most pixels decoded per source, over all frames; checked from the header."
  type        = number
  default     = 50000000

  validation {
    condition     = var.max_input_pixels >= 1 && var.max_input_pixels <= 1000000000 && floor(var.max_input_pixels) == var.max_input_pixels
    error_message = "max_input_pixels must be an integer 1..1000000000."
  }
}

variable "time_budget_seconds" {
  description = "Render time budget per object in seconds (0 disables it); must be below timeout."
  type        = number
  default     = 30

  validation {
    condition     = var.time_budget_seconds >= 0 && var.time_budget_seconds <= 900 && floor(var.time_budget_seconds) == var.time_budget_seconds
    error_message = "time_budget_seconds must be an integer 0..900."
  }
}

variable "failure_prefix" {
  description = "Key prefix of failure markers in the destination bucket (empty: none)."
  type        = string
  default     = "failed/"

  validation {
    condition     = var.failure_prefix == "" || (endswith(var.failure_prefix, "/") && !startswith(var.failure_prefix, "/") && trimspace(var.failure_prefix) == var.failure_prefix)
    error_message = "failure_prefix must be empty or a key prefix ending in '/', without surrounding whitespace, e.g. failed/."
  }
}

variable "delete_sync" {
  description = "Delete a source's thumbnails when the source is deleted."
  type        = bool
  default     = true
}

variable "retry_mode" {
  description = "botocore retry mode for the function's AWS calls: `standard` or `adaptive`."
  type        = string
  default     = "standard"

  validation {
    condition     = contains(["standard", "adaptive"], var.retry_mode)
    error_message = "retry_mode must be standard or adaptive."
  }
}

variable "max_attempts" {
  description = "botocore attempts per AWS call, 1..10."
  type        = number
  default     = 3

  validation {
    condition     = var.max_attempts >= 1 && var.max_attempts <= 10 && floor(var.max_attempts) == var.max_attempts
    error_message = "max_attempts must be an integer 1..10."
  }
}

################################################################################
# Trigger
################################################################################

variable "trigger" {
  description = "`eventbridge` (S3 → EventBridge rule → SQS → Lambda), `sqs` (S3 notification → SQS → Lambda) or `direct` (S3 notification → Lambda, async retries and an on-failure destination)."
  type        = string
  default     = "eventbridge"

  validation {
    condition     = contains(["eventbridge", "sqs", "direct"], var.trigger)
    error_message = "trigger must be one of eventbridge, sqs, direct."
  }
}

variable "event_source_mapping_enabled" {
  description = "Whether the SQS event source mapping polls the queue. False leaves messages in the queue (for emulators that cannot run Lambda code, or to pause processing)."
  type        = bool
  default     = true
}

variable "batch_size" {
  description = "Messages per invocation (eventbridge and sqs triggers)."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be 1..10000."
  }
}

variable "batch_window_seconds" {
  description = "Seconds the event source mapping may wait to fill a batch (0..300); batch_size above 10 needs at least 1."
  type        = number
  default     = 1

  validation {
    condition     = var.batch_window_seconds >= 0 && var.batch_window_seconds <= 300
    error_message = "batch_window_seconds must be 0..300."
  }
}

variable "maximum_concurrency" {
  description = "Most concurrent invocations the SQS event source mapping starts (2..1000; null: no limit): the way to cap the load of the eventbridge and sqs triggers. At most reserved_concurrency when both are set."
  type        = number
  default     = null

  validation {
    condition     = var.maximum_concurrency == null || try(var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000, false)
    error_message = "maximum_concurrency must be 2..1000, or null."
  }
}

variable "max_receive_count" {
  description = "Deliveries of a message before it moves to the dead-letter queue (5..1000): a record the function hands back for lack of time, and a batch throttled by reserved_concurrency, spend a receive too."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 5 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be an integer 5..1000: records handed back for lack of time count as receives, so a lower limit dead-letters healthy messages."
  }
}

variable "message_retention_seconds" {
  description = "How long the queue keeps a message (the dead-letter queue keeps them 14 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be 60..1209600."
  }
}

variable "direct_maximum_retry_attempts" {
  description = "direct trigger: retries of a failed asynchronous invocation (0..2)."
  type        = number
  default     = 2

  validation {
    condition     = var.direct_maximum_retry_attempts >= 0 && var.direct_maximum_retry_attempts <= 2
    error_message = "direct_maximum_retry_attempts must be 0..2."
  }
}

variable "direct_maximum_event_age_seconds" {
  description = "direct trigger: age after which an unprocessed event goes to the on-failure destination (60..21600)."
  type        = number
  default     = 3600

  validation {
    condition     = var.direct_maximum_event_age_seconds >= 60 && var.direct_maximum_event_age_seconds <= 21600
    error_message = "direct_maximum_event_age_seconds must be 60..21600."
  }
}

################################################################################
# Function
################################################################################

variable "function_zip" {
  description = "Path of the function code zip built by `thumbnailer package` (dist/function.zip)."
  type        = string
}

variable "layer_zip" {
  description = "Path of the dependencies layer zip built by `thumbnailer package` (dist/layer-<python>-<arch>.zip)."
  type        = string
}

variable "artifacts_bucket" {
  description = "Existing bucket the zips are uploaded to and deployed from; null lets create_artifacts_bucket decide."
  type        = string
  default     = null
}

variable "create_artifacts_bucket" {
  description = "When artifacts_bucket is null, create a private bucket to deploy the zips through: the full layer is over Lambda's 50 MB direct-upload limit. false uploads them with the API call (layers built --without video)."
  type        = bool
  default     = true
}

variable "artifacts_prefix" {
  description = "Key prefix of the uploaded zips in artifacts_bucket."
  type        = string
  default     = "thumbnailer/"
}

variable "runtime" {
  description = "Lambda runtime, `python3.12` or `python3.13`; must match the Python the layer was built for. (`python3.11` runs on Amazon Linux 2, whose glibc 2.26 is older than the layer's Pillow, pillow-heif, PyAV and libvips wheels need.)"
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13 (python3.11 runs on Amazon Linux 2, too old for the layer's wheels)."
  }
}

variable "architecture" {
  description = "`arm64` (default: cheaper per GB-second, and faster for Pillow here) or `x86_64`; must match the layer."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Function memory in MB (128..10240). 1024 holds a 50-megapixel RGBA decode plus the resize (see docs/infrastructure.md) and buys the CPU share that keeps a 24 MP JPEG under a second."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be an integer 128..10240 (MB)."
  }
}

variable "timeout" {
  description = "Function timeout in seconds (1..900); must exceed time_budget_seconds to leave room for the download and uploads."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be an integer 1..900 (seconds)."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (null: unreserved): guarantees the function that much of the account's concurrency and caps it there. Not the way to cap the queue triggers: their SQS event source mapping does not heed it, keeps polling, and every batch it throttles spends a receive towards max_receive_count; use maximum_concurrency (at most this value) for them."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 0, false)
    error_message = "reserved_concurrency must be 0 or more, or null."
  }
}

variable "log_level" {
  description = "Powertools log level of the function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of the function: `PassThrough` or `Active`."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key for the buckets the module creates, the queues, the topic, the log group and the function's environment (null: SSE-S3 buckets, SQS-managed queue encryption, an unencrypted topic). Its key policy must let the services that write on the module's behalf use it: `cloudwatch.amazonaws.com` (alarms publishing to the topic), `events.amazonaws.com`, `s3.amazonaws.com` and `logs.<region>.amazonaws.com`, each with `kms:Decrypt` and `kms:GenerateDataKey*` (see examples/complete)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a key ARN, arn:<partition>:kms:<region>:<account>:key/<key id>; aliases are not accepted (IAM statements naming an alias authorise nothing on the key)."
  }
}

################################################################################
# Notifications and events
################################################################################

variable "alert_emails" {
  description = "Email addresses subscribed to the alert topic (alarms and permanent failures); each must confirm."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be email addresses."
  }
}

variable "notify_failures" {
  description = "Publish each permanent failure to the alert topic (THUMBNAILER_SNS_TOPIC_ARN)."
  type        = bool
  default     = true
}

variable "create_alarms" {
  description = "Create the CloudWatch alarms (DLQ not empty, errors, throttles, oldest message age) that notify the alert topic."
  type        = bool
  default     = true
}

variable "oldest_message_age_alarm_seconds" {
  description = "Alarm when the oldest queued message is older than this (eventbridge and sqs triggers)."
  type        = number
  default     = 900

  validation {
    condition     = var.oldest_message_age_alarm_seconds >= 60
    error_message = "oldest_message_age_alarm_seconds must be at least 60."
  }
}

variable "ses_sender" {
  description = "Verified SES identity (email address) that sends failure emails (empty: no email)."
  type        = string
  default     = ""

  validation {
    condition     = var.ses_sender == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.ses_sender))
    error_message = "ses_sender must be an email address, or empty."
  }
}

variable "ses_recipients" {
  description = "Recipients of failure emails (email addresses); required when ses_sender is set."
  type        = list(string)
  default     = []

  validation {
    # The function reads them as one comma-separated list: an address may hold no comma.
    condition     = alltrue([for e in var.ses_recipients : can(regex("^[^@\\s,]+@[^@\\s,]+\\.[^@\\s,]+$", e))])
    error_message = "ses_recipients must be email addresses (without commas)."
  }
}

variable "create_ses_identity" {
  description = "Create (and start verifying) the SES email identity for ses_sender."
  type        = bool
  default     = false
}

variable "event_bus_name" {
  description = "EventBridge bus that receives `Thumbnail Created` / `Thumbnail Failed` events, by name or ARN (an ARN for a bus of another account; empty: none)."
  type        = string
  default     = ""

  validation {
    condition     = var.event_bus_name == "" || can(regex("^([/.\\-_A-Za-z0-9]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[/.\\-_A-Za-z0-9]{1,256})$", var.event_bus_name))
    error_message = "event_bus_name must be empty, a bus name (letters, digits, '.', '-', '_', '/') or an event bus ARN (arn:<partition>:events:<region>:<account>:event-bus/<name>)."
  }
}

variable "create_event_bus" {
  description = "Create event_bus_name (a name, not an ARN) as a custom bus; false to use an existing one."
  type        = bool
  default     = false
}

################################################################################
# Back-fill and tags
################################################################################

variable "create_batch_operations_role" {
  description = "Create an IAM role S3 Batch Operations jobs can assume to invoke the function over an inventory manifest (back-fill of large buckets)."
  type        = bool
  default     = false
}

variable "batch_operations_prefix" {
  description = "Key prefix in the destination bucket for Batch Operations manifests (read) and completion reports (written)."
  type        = string
  default     = "batch-operations/"
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

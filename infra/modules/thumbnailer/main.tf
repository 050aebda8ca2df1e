data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  same_bucket     = var.source_bucket == var.destination_bucket
  uses_queue      = var.trigger != "direct"
  function_name   = var.name
  log_group_name  = "/aws/lambda/${var.name}"
  source_arn      = "arn:${local.partition}:s3:::${var.source_bucket}"
  destination_arn = "arn:${local.partition}:s3:::${var.destination_bucket}"

  # Names of the key template's fields, read as str.format reads them (see key_template).
  template_fields = toset([
    for t in regexall("\\{\\{|\\}\\}|\\{[^{}]*\\}|[^{}]+|[{}]", var.key_template) :
    regex("^\\{([^!:}]*)", t)[0] if can(regex("^\\{[^{}]*\\}$", t))
  ])
  # Each size as the template tells it apart: only the sides it names count.
  template_boxes = [
    for s in var.sizes : join("x", [
      contains(local.template_fields, "width") ? tostring(tonumber(split("x", s)[0])) : "-",
      contains(local.template_fields, "height") ? tostring(tonumber(split("x", s)[1])) : "-",
    ])
  ]

  # Include prefixes within another one (or repeated): S3 refuses notifications whose
  # filters overlap for the same events ("Configuration is ambiguously defined").
  overlapping_prefixes = distinct(flatten([
    for i, outer in var.include_prefixes : [
      for j, inner in var.include_prefixes : "${inner} within ${outer}" if i != j && startswith(inner, outer)
    ]
  ]))

  # Prefixes the function writes under, and the prefixes the trigger fires for.
  written_prefixes = compact([var.prefix, var.failure_prefix])
  # The trigger excludes the written prefixes when every include prefix is disjoint from them.
  trigger_excludes_written = length(var.include_prefixes) > 0 && alltrue(flatten([
    for p in var.include_prefixes : [
      for w in local.written_prefixes : !startswith(p, w) && !startswith(w, p)
    ]
  ]))

  # event_bus_name is a name (a bus in this account and region) or an ARN, used as it is;
  # PutEvents takes either.
  event_bus_name = var.create_event_bus ? aws_cloudwatch_event_bus.this[0].name : var.event_bus_name
  event_bus_arn = var.event_bus_name == "" ? null : (
    var.create_event_bus ? aws_cloudwatch_event_bus.this[0].arn
    : startswith(var.event_bus_name, "arn:") ? var.event_bus_name
    : "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${var.event_bus_name}"
  )
  topic_arn = aws_sns_topic.this.arn

  # Exactly the settings of thumbnailer.settings.VARIABLES, in their string form.
  function_environment = {
    THUMBNAILER_SOURCE_BUCKET       = var.source_bucket
    THUMBNAILER_DESTINATION_BUCKET  = var.destination_bucket
    THUMBNAILER_SIZES               = join(",", var.sizes)
    THUMBNAILER_FIT                 = var.fit
    THUMBNAILER_FORMAT              = var.format
    THUMBNAILER_QUALITY             = tostring(var.quality)
    THUMBNAILER_BACKGROUND          = var.background
    THUMBNAILER_MAX_INPUT_BYTES     = tostring(var.max_input_bytes)
    THUMBNAILER_MAX_INPUT_PIXELS    = tostring(var.max_input_pixels)
    THUMBNAILER_TIME_BUDGET_SECONDS = tostring(var.time_budget_seconds)
    THUMBNAILER_PREFIX              = var.prefix
    THUMBNAILER_KEY_TEMPLATE        = var.key_template
    THUMBNAILER_CACHE_CONTROL       = var.cache_control
    THUMBNAILER_INCLUDE_PREFIXES    = join(",", var.include_prefixes)
    THUMBNAILER_EXCLUDE_PREFIXES    = join(",", var.exclude_prefixes)
    THUMBNAILER_INCLUDE_SUFFIXES    = join(",", var.include_suffixes)
    THUMBNAILER_EXCLUDE_SUFFIXES    = join(",", var.exclude_suffixes)
    THUMBNAILER_DELETE_SYNC         = tostring(var.delete_sync)
    THUMBNAILER_FAILURE_PREFIX      = var.failure_prefix
    THUMBNAILER_SNS_TOPIC_ARN       = var.notify_failures ? local.topic_arn : ""
    THUMBNAILER_SES_SENDER          = var.ses_sender
    THUMBNAILER_SES_RECIPIENTS      = join(",", var.ses_recipients)
    THUMBNAILER_EVENT_BUS_NAME      = local.event_bus_name
    THUMBNAILER_RETRY_MODE          = var.retry_mode
    THUMBNAILER_MAX_ATTEMPTS        = tostring(var.max_attempts)
  }
  powertools_environment = {
    POWERTOOLS_SERVICE_NAME      = var.name
    POWERTOOLS_METRICS_NAMESPACE = "Thumbnailer"
    POWERTOOLS_LOG_LEVEL         = var.log_level
  }

  create_artifacts_bucket = var.artifacts_bucket == null && var.create_artifacts_bucket
  artifacts_in_s3         = var.artifacts_bucket != null || local.create_artifacts_bucket
  artifacts_bucket        = local.create_artifacts_bucket ? aws_s3_bucket.this["artifacts"].id : var.artifacts_bucket
  tags                    = merge({ "thumbnailer:module" = "thumbnailer" }, var.tags)
}

################################################################################
# Plan-time checks that span several variables
################################################################################

resource "terraform_data" "validation" {
  # The variables behind the function's settings: their validation blocks run even in a plan
  # targeted at this resource (as the tests plan it, offline), not only in a full plan.
  input = [
    var.name, var.source_bucket, var.destination_bucket, var.sizes, var.fit, var.format,
    var.quality, var.background, var.max_input_bytes, var.max_input_pixels,
    var.time_budget_seconds, var.prefix, var.key_template, var.cache_control,
    var.include_prefixes, var.exclude_prefixes, var.include_suffixes, var.exclude_suffixes,
    var.failure_prefix, var.ses_sender, var.ses_recipients, var.event_bus_name,
    var.retry_mode, var.max_attempts, var.max_receive_count,
  ]

  lifecycle {
    precondition {
      condition     = !local.same_bucket || local.trigger_excludes_written
      error_message = "source_bucket and destination_bucket are both \"${var.source_bucket}\": set include_prefixes to prefixes disjoint from prefix (${var.prefix}) and failure_prefix (${var.failure_prefix}) so the trigger never fires for the function's own writes, or use another destination bucket."
    }
    precondition {
      # As the function checks at cold start: several sizes need their own keys.
      condition     = length(distinct(local.template_boxes)) == length(var.sizes)
      error_message = "key_template (${var.key_template}) must tell the sizes apart: add {width} and/or {height} so each of ${join(", ", var.sizes)} gets its own key."
    }
    precondition {
      condition     = var.time_budget_seconds < var.timeout
      error_message = "time_budget_seconds (${var.time_budget_seconds}) must be below timeout (${var.timeout}) so a slow render fails cleanly instead of being killed."
    }
    precondition {
      condition     = var.ses_sender == "" || length(var.ses_recipients) > 0
      error_message = "ses_sender is set but ses_recipients is empty."
    }
    precondition {
      condition     = !var.create_event_bus || (var.event_bus_name != "" && !startswith(var.event_bus_name, "arn:"))
      error_message = "create_event_bus needs event_bus_name, as a name (an ARN names a bus that exists)."
    }
    precondition {
      # One S3 notification per include prefix; EventBridge patterns may overlap.
      condition     = var.trigger == "eventbridge" || length(local.overlapping_prefixes) == 0
      error_message = "include_prefixes overlap (${join(", ", local.overlapping_prefixes)}): S3 refuses the ${var.trigger} trigger's notifications when their prefixes overlap (\"Configuration is ambiguously defined\"). Drop the longer prefix: the shorter one covers it."
    }
    precondition {
      # The event source mapping does not heed reserved concurrency: above it, batches are
      # throttled and spend receives.
      condition     = var.maximum_concurrency == null || var.reserved_concurrency == null || try(var.maximum_concurrency <= var.reserved_concurrency, false)
      error_message = "maximum_concurrency (${coalesce(var.maximum_concurrency, 0)}) must not exceed reserved_concurrency (${coalesce(var.reserved_concurrency, 0)}): the queue's event source mapping would start invocations that are throttled, each spending a receive."
    }
    precondition {
      condition     = var.batch_size <= 10 || var.batch_window_seconds >= 1
      error_message = "batch_size above 10 needs batch_window_seconds of at least 1 (an SQS event source mapping rule)."
    }
    precondition {
      condition     = var.prefix != var.failure_prefix
      error_message = "prefix and failure_prefix must differ."
    }
  }
}

################################################################################
# Function
################################################################################

resource "aws_s3_object" "function" {
  count = local.artifacts_in_s3 ? 1 : 0

  bucket      = local.artifacts_bucket
  key         = "${var.artifacts_prefix}function-${filemd5(var.function_zip)}.zip"
  source      = var.function_zip
  source_hash = filemd5(var.function_zip)
  tags        = local.tags

  # Uploaded once the buckets the module creates are configured, so the zips are encrypted
  # with their key and get a version; destroyed before that configuration, every version
  # with them, leaving an empty bucket to delete.
  depends_on = [
    aws_s3_bucket_ownership_controls.this,
    aws_s3_bucket_public_access_block.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
    aws_s3_bucket_versioning.this,
  ]
}

resource "aws_s3_object" "layer" {
  count = local.artifacts_in_s3 ? 1 : 0

  bucket      = local.artifacts_bucket
  key         = "${var.artifacts_prefix}layer-${filemd5(var.layer_zip)}.zip"
  source      = var.layer_zip
  source_hash = filemd5(var.layer_zip)
  tags        = local.tags

  # After the bucket's configuration, as the function zip (see there).
  depends_on = [
    aws_s3_bucket_ownership_controls.this,
    aws_s3_bucket_public_access_block.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
    aws_s3_bucket_versioning.this,
  ]
}

resource "aws_lambda_layer_version" "dependencies" {
  layer_name               = "${var.name}-dependencies"
  description              = "Pillow, decoders and Powertools for ${var.name} (${var.runtime}, ${var.architecture})"
  compatible_runtimes      = [var.runtime]
  compatible_architectures = [var.architecture]

  filename         = local.artifacts_in_s3 ? null : var.layer_zip
  s3_bucket        = local.artifacts_in_s3 ? local.artifacts_bucket : null
  s3_key           = local.artifacts_in_s3 ? aws_s3_object.layer[0].key : null
  source_code_hash = filebase64sha256(var.layer_zip)
}

resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_338: retention is the user's choice (log_retention_days, 30 by default): a year of one-line-per-object logs costs more than the thumbnails.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117: the function talks only to AWS APIs; a VPC would add NAT cost and cold-start time for no isolation gain.
  # checkov:skip=CKV_AWS_272: code signing needs a signing profile the user owns; the zips are reproducible and hash-pinned instead.
  # checkov:skip=CKV_AWS_116: queue triggers use the queue's dead-letter queue; the direct trigger uses an on-failure destination (aws_lambda_function_event_invoke_config), which supersedes a function DLQ.
  # checkov:skip=CKV_AWS_115: concurrency is a user choice (reserved_concurrency); reserving by default would take capacity from the account's other functions.
  # checkov:skip=CKV_AWS_173: environment variables hold no secrets (bucket names and settings); kms_key_arn encrypts them when given.
  function_name = local.function_name
  description   = "Thumbnails for s3://${var.source_bucket} into s3://${var.destination_bucket}/${var.prefix}"
  role          = aws_iam_role.this.arn
  handler       = "thumbnailer.aws_lambda.handler"
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout
  layers        = [aws_lambda_layer_version.dependencies.arn]
  kms_key_arn   = var.kms_key_arn

  filename         = local.artifacts_in_s3 ? null : var.function_zip
  s3_bucket        = local.artifacts_in_s3 ? local.artifacts_bucket : null
  s3_key           = local.artifacts_in_s3 ? aws_s3_object.function[0].key : null
  source_code_hash = filebase64sha256(var.function_zip)

  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency

  environment {
    variables = merge(local.function_environment, local.powertools_environment)
  }

  tracing_config {
    mode = var.tracing_mode
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = local.tags

  depends_on = [
    terraform_data.validation,
    aws_iam_role_policy.this,
  ]
}

resource "aws_lambda_function_event_invoke_config" "direct" {
  count = var.trigger == "direct" ? 1 : 0

  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.direct_maximum_retry_attempts
  maximum_event_age_in_seconds = var.direct_maximum_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}

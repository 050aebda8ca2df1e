# The complete module pointed at a local AWS emulator (a moto server on 127.0.0.1).
# No AWS account is involved: the credentials below are the emulator's dummies.

provider "aws" {
  region     = var.region
  access_key = "test"
  secret_key = "test"

  # The emulator has no metadata service, no real STS account check and no TLS.
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = false
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    cloudwatch = var.endpoint
    events     = var.endpoint
    iam        = var.endpoint
    kms        = var.endpoint
    lambda     = var.endpoint
    logs       = var.endpoint
    s3         = var.endpoint
    ses        = var.endpoint
    sns        = var.endpoint
    sqs        = var.endpoint
    sts        = var.endpoint
  }
}

module "thumbnailer" {
  source = "../../modules/thumbnailer"

  name               = var.name
  source_bucket      = "${var.name}-source"
  destination_bucket = "${var.name}-thumbnails"
  # The stack is thrown away with `thumbnailer local down`, objects and all.
  bucket_force_destroy = true
  # No lifecycle rules: moto's read-back of them makes the provider wait a minute per bucket,
  # and nothing lives long enough here to need them.
  abort_incomplete_upload_days = null

  trigger = var.trigger
  # moto cannot run Lambda code: the local stack's runner polls the queue instead.
  event_source_mapping_enabled = false
  batch_size                   = var.batch_size
  batch_window_seconds         = var.batch_window_seconds
  max_receive_count            = var.max_receive_count
  timeout                      = var.timeout
  time_budget_seconds          = var.time_budget_seconds

  function_zip            = var.function_zip
  layer_zip               = var.layer_zip
  create_artifacts_bucket = var.create_artifacts_bucket
  runtime                 = var.runtime
  architecture            = var.architecture

  sizes            = var.sizes
  format           = var.format
  fit              = var.fit
  include_prefixes = var.include_prefixes
  include_suffixes = var.include_suffixes
  delete_sync      = true
  log_level        = var.log_level

  alert_emails   = ["alerts@example.com"]
  ses_sender     = "thumbnailer@example.com"
  ses_recipients = ["alerts@example.com"]
  # moto verifies identities instantly; a real account sends a confirmation email.
  create_ses_identity = true

  event_bus_name   = "${var.name}-events"
  create_event_bus = true

  create_batch_operations_role = true

  tags = { Environment = "local" }
}

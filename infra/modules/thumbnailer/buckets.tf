################################################################################
# Buckets the module creates: private, encrypted, TLS-only, owner-enforced
################################################################################

locals {
  # The artifacts bucket gets a generated name (a bucket_prefix): nobody has to pick one, and
  # it cannot collide in any region. Bucket names are lower case, without underscores.
  artifacts_bucket_prefix = "artifacts-${substr(lower(replace(var.name, "_", "-")), 0, 26)}-"
  created_buckets = merge(
    var.create_source_bucket ? { source = var.source_bucket } : {},
    var.create_destination_bucket && !local.same_bucket ? { destination = var.destination_bucket } : {},
    local.create_artifacts_bucket ? { artifacts = local.artifacts_bucket_prefix } : {},
  )
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_18: access logging needs a separate log bucket the user owns; enable it there.
  # checkov:skip=CKV_AWS_144: cross-region replication is a disaster-recovery choice, not a default.
  # checkov:skip=CKV2_AWS_62: event notifications are configured by aws_s3_bucket_notification.this for the source bucket (by the user with manage_bucket_notification = false); the destination must not notify (loop guard).
  # checkov:skip=CKV_AWS_145: SSE-S3 by default; kms_key_arn switches every created bucket to SSE-KMS.
  # checkov:skip=CKV_AWS_21: versioning is optional (bucket_versioning): thumbnails are derived data.
  for_each = local.created_buckets

  bucket        = each.key == "artifacts" ? null : each.value
  bucket_prefix = each.key == "artifacts" ? each.value : null
  # The artifacts bucket holds only the zips this module uploads: destroy may empty it.
  force_destroy = each.key == "artifacts" || var.bucket_force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

data "aws_iam_policy_document" "bucket" {
  for_each = aws_s3_bucket.this

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = var.bucket_versioning ? aws_s3_bucket.this : {}

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

locals {
  lifecycle_wanted = var.abort_incomplete_upload_days != null || var.noncurrent_version_expiration_days != null || (var.failure_prefix != "" && var.failure_marker_expiration_days != null)
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  # checkov:skip=CKV_AWS_300: the abort rule is on by default (abort_incomplete_upload_days = 7); it is a dynamic block checkov cannot see into.
  for_each = local.lifecycle_wanted ? aws_s3_bucket.this : {}

  bucket = each.value.id

  dynamic "rule" {
    for_each = var.abort_incomplete_upload_days == null ? [] : [var.abort_incomplete_upload_days]
    content {
      id     = "abort-incomplete-uploads"
      status = "Enabled"
      filter {
        prefix = ""
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = rule.value
      }
    }
  }

  dynamic "rule" {
    for_each = var.noncurrent_version_expiration_days == null ? [] : [var.noncurrent_version_expiration_days]
    content {
      id     = "expire-noncurrent-versions"
      status = "Enabled"
      filter {
        prefix = ""
      }
      noncurrent_version_expiration {
        noncurrent_days = rule.value
      }
    }
  }

  dynamic "rule" {
    for_each = each.value.bucket == var.destination_bucket && var.failure_prefix != "" && var.failure_marker_expiration_days != null ? [var.failure_marker_expiration_days] : []
    content {
      id     = "expire-failure-markers"
      status = "Enabled"
      filter {
        prefix = var.failure_prefix
      }
      expiration {
        days = rule.value
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

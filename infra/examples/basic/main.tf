# The seed's design, reproduced: two buckets, 128x128 thumbnails under thumbnails/, and S3
# invoking the function directly.

provider "aws" {
  region = var.region
}

module "thumbnailer" {
  source = "../../modules/thumbnailer"

  source_bucket      = var.source_bucket
  destination_bucket = var.destination_bucket

  sizes   = ["128x128"]
  prefix  = "thumbnails/"
  trigger = "direct"

  function_zip = var.function_zip
  layer_zip    = var.layer_zip
  # Layers over 50 MB are deployed through S3: a bucket the module creates unless one is named.
  artifacts_bucket = var.artifacts_bucket
}

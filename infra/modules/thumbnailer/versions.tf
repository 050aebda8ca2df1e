terraform {
  # 1.5: `check` blocks and `startswith()`; preconditions need 1.2.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.30: aws_lambda_function.logging_config and SQS managed SSE arguments. Below 6.0:
      # the module is tested against 5.x only, and 6.0 changes what it relies on (such as
      # data.aws_region's `name`).
      version = ">= 5.30, < 6.0"
    }
  }
}

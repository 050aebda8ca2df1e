terraform {
  # 1.5: `check` blocks and `startswith()`; preconditions need 1.2.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: aws_lambda_function.logging_config and SQS managed SSE arguments.
      version = ">= 5.30"
    }
  }
}

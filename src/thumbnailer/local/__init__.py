"""Local tooling: a moto server standing in for AWS, and a thin Terraform wrapper.

Used by the infrastructure tests and by ``thumbnailer local`` to apply the real Terraform
module to an emulator on 127.0.0.1, with no AWS account and no Docker.
"""

"""A Terraform run that does not finish fails with what Terraform last printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from thumbnailer.local.terraform import Terraform, TerraformError


def test_a_stuck_terraform_run_says_what_it_was_waiting_on(tmp_path: Path) -> None:
    fake = tmp_path / "terraform"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "aws_s3_bucket.source: Still destroying... [id=uploads, 10m0s elapsed]"\n'
        "exec sleep 30\n"
    )
    fake.chmod(0o755)
    tf = Terraform(
        working_dir=tmp_path,
        data_dir=tmp_path / "data",
        state_file=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        binary=str(fake),
        mirror=tmp_path,
    )
    with pytest.raises(TerraformError, match="timed out after 1s") as info:
        tf.destroy(timeout=1)
    assert "aws_s3_bucket.source: Still destroying" in str(info.value)

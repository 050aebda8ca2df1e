"""Importing the handler module stays cheap: no image decoder, no boto3."""

from __future__ import annotations

import json
import subprocess
import sys


def test_handler_import_loads_no_decoder_and_no_boto3() -> None:
    code = "import sys, json, thumbnailer.aws_lambda;print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    modules = set(json.loads(out))
    packages = {name.split(".")[0] for name in modules}
    assert "thumbnailer.aws_lambda" in modules
    assert not packages & {"PIL", "pillow_heif", "pypdfium2", "av", "pyvips", "numpy"}
    # Clients are built on the first invocation. (Powertools' user-agent helper imports the
    # top-level botocore package, which is cheap; the client machinery is not loaded.)
    assert "boto3" not in packages
    assert not modules & {"botocore.client", "botocore.session", "botocore.endpoint"}

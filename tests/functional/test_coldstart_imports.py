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
    # Each of these once cost tens of milliseconds of cold start (docs/performance.md).
    assert "asyncio" not in packages
    assert (
        not {
            "aws_lambda_powertools.utilities.batch",
            "aws_lambda_powertools.utilities.data_classes",
        }
        & modules
    )


def test_a_bad_log_level_is_a_settings_error_not_an_import_crash() -> None:
    code = (
        "import json, thumbnailer.aws_lambda as f\n"
        "try:\n"
        "    f.handler({}, None)\n"
        "except Exception as e:\n"
        "    print(json.dumps([type(e).__name__, e.message]))\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "POWERTOOLS_LOG_LEVEL": "verbose",
        "THUMBNAILER_DESTINATION_BUCKET": "thumbs",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, run.stderr
    kind, message = json.loads(run.stdout.splitlines()[-1])
    assert kind == "ConfigError"
    assert message.startswith("POWERTOOLS_LOG_LEVEL='verbose'")

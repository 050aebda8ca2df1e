"""The runtime the local stack declares its function with: one the module accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thumbnailer.local.stack import declared_runtime

VARIABLES = Path(__file__).resolve().parents[3] / "infra/modules/thumbnailer/variables.tf"


def _module_runtimes() -> list[str]:
    block = VARIABLES.read_text().split('variable "runtime" {', 1)[1].split("\n}\n", 1)[0]
    found = re.search(r"condition\s*=\s*contains\(\[([^\]]*)\]", block)
    assert found, "the runtime variable lists its accepted values"
    return re.findall(r'"([^"]+)"', found.group(1))


@pytest.mark.parametrize("tag", ["python3.11", "python3.12", "python3.13", "python3.14"])
def test_every_interpreter_gets_a_runtime_the_module_accepts(tag: str) -> None:
    assert declared_runtime(tag) in _module_runtimes()


def test_lambda_runtimes_are_declared_as_they_are() -> None:
    assert declared_runtime("python3.13") == "python3.13"
    assert declared_runtime("python3.11") == "python3.12"

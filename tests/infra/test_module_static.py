"""The Terraform module and examples read as text: what needs no Terraform run to check.

Defaults the documentation quotes, guards nobody may switch off, and the conventions every
block follows. The ``.tf`` files are parsed by the README generator's reader
(:func:`thumbnailer.packaging.tfdocs.parse_blocks`), whose regular shape they keep.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thumbnailer.packaging.tfdocs import Block, parse_blocks

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MODULE = INFRA / "modules" / "thumbnailer"
# The module and every example: each a folder of .tf files.
FOLDERS = [MODULE, *sorted(p for p in (INFRA / "examples").iterdir() if p.is_dir())]
TF_FILES = sorted(INFRA.rglob("*.tf"))


def _blocks(folder: Path, kind: str) -> dict[str, Block]:
    """Every ``variable`` or ``output`` block of the folder's .tf files, by name."""
    blocks: dict[str, Block] = {}
    for path in sorted(folder.glob("*.tf")):
        text = path.read_text()
        found = parse_blocks(text, kind)
        # A block the reader does not see (another shape) would escape every check below.
        declared = re.findall(rf'^{kind} "([^"]+)"', text, re.M)
        assert [b.name for b in found] == declared, path
        blocks.update({b.name: b for b in found})
    return blocks


def _code(path: Path) -> str:
    """The file without its comment lines."""
    lines = path.read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith(("#", "//")))


def test_function_defaults() -> None:
    variables = _blocks(MODULE, "variable")
    assert variables["runtime"].default == '"python3.12"'
    assert variables["architecture"].default == '"arm64"'
    # A record handed back for lack of time spends a receive: fewer would dead-letter it.
    assert variables["max_receive_count"].default == "5"
    assert variables["time_budget_seconds"].default == "30"


def test_memory_and_timeout_defaults_are_the_documented_ones() -> None:
    docs = (ROOT / "docs" / "infrastructure.md").read_text()
    section = docs.split("### Memory and timeout defaults", 1)[1].split("\n### ", 1)[0]
    memory = re.search(r"\*\*(\d+) MB\*\*", section)
    timeout = re.search(r"\*\*(\d+) s\*\*", section)
    visibility = re.search(r"6 \u00d7 (\d+) \+ batch window = (\d+) s", section)
    assert memory and timeout and visibility, "the section no longer states the defaults"
    variables = _blocks(MODULE, "variable")
    assert variables["memory_size"].default == memory.group(1) == "1024"
    assert variables["timeout"].default == timeout.group(1) == visibility.group(1) == "60"
    window = int(variables["batch_window_seconds"].default or "")
    assert int(visibility.group(2)) == 6 * 60 + window


def test_lambda_recursive_loop_detection_is_never_turned_off() -> None:
    # Lambda stops a function that keeps triggering itself through S3 (the loop the
    # same-bucket checks guard against): nothing here may allow the loop.
    for path in TF_FILES:
        code = _code(path)
        assert "aws_lambda_function_recursion_config" not in code, path
        assert not re.search(r"recursive_loop\s*=", code), path


CHECKOV_SKIP = re.compile(r"checkov:skip=([^\s:]*)(:?)(.*)")


def test_every_checkov_skip_says_why() -> None:
    skips = []
    for path in TF_FILES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" not in line:
                continue
            where = f"{path.relative_to(ROOT)}:{number}"
            match = CHECKOV_SKIP.search(line)
            assert match, f"{where}: not checkov:skip=<check>: <reason>"
            check, colon, reason = match.groups()
            assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", check), f"{where}: check id {check!r}"
            assert colon and len(reason.split()) >= 4, f"{where}: {check} skipped without a reason"
            skips.append(check)
    assert skips  # the pattern still finds them


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_variable_has_a_type_and_a_description(folder: Path) -> None:
    variables = _blocks(folder, "variable")
    assert variables
    for block in variables.values():
        assert block.type, f"{folder.name}: variable {block.name} has no type"
        assert block.description.strip(), f"{folder.name}: variable {block.name}"
    for block in _blocks(folder, "output").values():
        assert block.description.strip(), f"{folder.name}: output {block.name}"


def test_local_example_readme_lists_its_inputs_and_outputs() -> None:
    folder = INFRA / "examples" / "local"
    readme = (folder / "README.md").read_text()

    def listed(heading: str) -> set[str]:
        paragraph = readme.split(f"\n{heading}: ", 1)[1].split("\n\n", 1)[0]
        # Less the trigger values and the parenthesised note about null outputs.
        return set(re.findall(r"`(\w+)`", paragraph)) - {"eventbridge", "sqs", "direct"}

    assert listed("Inputs") == set(_blocks(folder, "variable"))
    assert listed("Outputs") == set(_blocks(folder, "output"))

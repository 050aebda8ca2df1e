"""Generate the Inputs / Outputs tables of a Terraform module's README.

Parses the simple, regular blocks of ``variables.tf`` and ``outputs.tf`` (``description``,
``type``, ``default``) without an HCL library: the module is written in that regular shape
(one attribute per line, blocks closed by ``}`` at column 0), and the README test fails if it
ever drifts. ``python -m thumbnailer.packaging.tfdocs MODULE_DIR`` rewrites the README between
the ``<!-- BEGIN_TF_DOCS -->`` / ``<!-- END_TF_DOCS -->`` markers (``--check`` only compares).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from thumbnailer.errors import ConfigError

__all__ = ["BEGIN", "END", "Block", "parse_blocks", "render", "update_readme"]

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
_BLOCK_RE = re.compile(r'^(variable|output) "([^"]+)" \{\n(.*?)^\}', re.M | re.S)
_DESCRIPTION_RE = re.compile(r'^  description\s*=\s*"((?:[^"\\]|\\.)*)"', re.M)


@dataclass(frozen=True)
class Block:
    """One variable or output."""

    name: str
    description: str
    type: str = ""
    default: str | None = None  # HCL text of the default; None when required

    @property
    def required(self) -> bool:
        """A variable without a default must be set by the caller."""
        return self.default is None


def _attribute(body: str, name: str) -> str | None:
    """The HCL text of a top-level attribute (two-space indent), multi-line values included."""
    match = re.search(rf"^  {name}\s*=\s*", body, re.M)
    if match is None:
        return None
    rest = body[match.end() :]
    depth, end = 0, len(rest)
    for index, char in enumerate(rest):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "\n" and depth == 0:
            end = index
            break
    return " ".join(line.strip() for line in rest[:end].splitlines()).strip()


def parse_blocks(text: str, kind: str) -> list[Block]:
    """Every ``variable`` or ``output`` block of ``text``, in file order."""
    blocks = []
    for match in _BLOCK_RE.finditer(text):
        if match.group(1) != kind:
            continue
        body = match.group(3)
        description = _DESCRIPTION_RE.search(body)
        if description is None:
            raise ConfigError(f'{kind} "{match.group(2)}" has no description')
        blocks.append(
            Block(
                name=match.group(2),
                description=description.group(1).replace('\\"', '"'),
                type=_attribute(body, "type") or "",
                default=_attribute(body, "default"),
            )
        )
    return blocks


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(module_dir: Path) -> str:
    """The generated Markdown (between the markers) for ``module_dir``."""
    variables = parse_blocks((module_dir / "variables.tf").read_text(), "variable")
    outputs = parse_blocks((module_dir / "outputs.tf").read_text(), "output")
    lines = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    for v in sorted(variables, key=lambda b: (not b.required, b.name)):
        default = "n/a" if v.default is None else f"`{_cell(v.default)}`"
        lines.append(
            f"| `{v.name}` | {_cell(v.description)} | `{_cell(v.type)}` | {default} "
            f"| {'yes' if v.required else 'no'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    lines += [
        f"| `{o.name}` | {_cell(o.description)} |" for o in sorted(outputs, key=lambda b: b.name)
    ]
    return "\n".join(lines)


def update_readme(module_dir: Path, check: bool = False) -> bool:
    """Rewrite the README's generated section; return True if it was (or would be) changed."""
    readme = module_dir / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise ConfigError(f"{readme} has no {BEGIN} ... {END} section")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    updated = f"{head}{BEGIN}\n{render(module_dir)}\n{END}{tail}"
    if updated == text:
        return False
    if not check:
        readme.write_text(updated)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate (or ``--check``) a module README's tables."""
    parser = argparse.ArgumentParser(prog="python -m thumbnailer.packaging.tfdocs")
    parser.add_argument("module_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if the README is stale")
    args = parser.parse_args(argv)
    changed = update_readme(args.module_dir, check=args.check)
    if changed and args.check:
        print(f"{args.module_dir}/README.md is out of date: rerun without --check", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

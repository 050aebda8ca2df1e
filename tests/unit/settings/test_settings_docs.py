"""README.md and docs/lambda.md document every setting, with the table generated from VARIABLES."""

from __future__ import annotations

from pathlib import Path

import pytest

from thumbnailer._docs import BEGIN, END, replace_table, settings_table
from thumbnailer.settings import POWERTOOLS_VARIABLES, VARIABLES, Variable

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("doc", ["README.md", "docs/lambda.md"])
def test_settings_table_is_current(doc: str) -> None:
    text = (ROOT / doc).read_text("utf-8")
    assert replace_table(text) == text, f"run: python -m thumbnailer._docs {doc}"
    assert f"{BEGIN}\n{settings_table()}{END}" in text


def test_table_has_one_row_per_variable() -> None:
    rows = [line for line in settings_table().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [v.name for v in VARIABLES + POWERTOOLS_VARIABLES]


def test_pipes_in_descriptions_are_escaped() -> None:
    table = settings_table([Variable("X", "a|b", "one | two")])
    assert "`a\\|b`" in table and "one \\| two" in table


def test_missing_markers_are_reported() -> None:
    with pytest.raises(ValueError, match="markers"):
        replace_table("no markers here")


def test_variables_are_well_formed() -> None:
    names = [v.name for v in VARIABLES + POWERTOOLS_VARIABLES]
    assert len(names) == len(set(names))
    for variable in VARIABLES:
        assert variable.name.startswith("THUMBNAILER_")
    for variable in POWERTOOLS_VARIABLES:
        assert variable.name.startswith("POWERTOOLS_")
    assert all(v.description.endswith(".") for v in VARIABLES + POWERTOOLS_VARIABLES)

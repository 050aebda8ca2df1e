"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"


def corpora_dir() -> Path:
    """``../shared/corpora`` beside the checkout, or ``$THUMBNAILER_CORPORA``."""
    override = os.environ.get("THUMBNAILER_CORPORA")
    return Path(override) if override else ROOT.parent / "shared" / "corpora"


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The public test corpora; tests that need them skip, with the reason, where absent."""
    path = corpora_dir()
    if not path.is_dir():
        pytest.skip(f"public test corpora not found at {path} (set THUMBNAILER_CORPORA)")
    return path

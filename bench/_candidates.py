"""Faster paths under study for PNG, WebP and HEIC (issue 2 §5), measured beside the engine."""

from __future__ import annotations

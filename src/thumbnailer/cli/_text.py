"""File names and messages made safe to print: one line each, nothing a terminal obeys."""

from __future__ import annotations

import re

__all__ = ["json_text", "shown"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(char: str) -> str:
    """One character as a backslash escape (``\\n``, ``\\x1b``); an undecodable byte: ``\\xNN``."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # how Python keeps an undecodable byte (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


def shown(text: str) -> str:
    """``text`` safe for a terminal: control characters and undecodable bytes escaped.

    A file name may hold a newline or an escape sequence; printed raw it would break the one
    line per input, or recolour (or worse) the user's terminal.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def json_text(text: str) -> str:
    """``text`` as given, except undecodable bytes escaped as in :func:`shown`.

    A lone surrogate would be written as ``\\udcff``, which strict JSON parsers refuse.
    """
    return _SURROGATE.sub(lambda match: _escaped(match.group()), text)

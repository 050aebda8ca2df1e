"""What one render of a fuzzed input came to, and whether that is a finding.

The engine promises that ``render()`` returns one thumbnail per requested box or raises a
:class:`~thumbnailer.errors.ThumbnailerError` of one of five kinds with a message meant for
people. Everything else is a finding:

- ``crash``: the worker process died (a signal from a C library, an abort);
- ``hang``: the render outlived the per-input timeout;
- ``escape``: an exception that is not a ``ThumbnailerError`` left ``render()``;
- ``masked``: a ``ThumbnailerError`` caused by a Python programming error (an ``AttributeError``
  on ``None``, a ``ZeroDivisionError``...), which the engine's catch-all dressed as damage;
- ``memory``: ``too_large`` caused by a ``MemoryError`` for an input under 1 MB, which is far
  more likely a damaged header asking for an absurd buffer than a large picture;
- ``leak``: an error message with Python's own words in it (``NoneType``, ``division by
  zero``), which means an error reached the user unclassified;
- ``wrong_result``: thumbnails missing, extra, empty or outside their box;
- ``wrong_error``: a ``ThumbnailerError`` of another kind, or without a message.

A finding's signature is its kind, a detail (exception type, signal, leaked word) and the
innermost frame of the engine's own code (``file:function:line`` under the package), so that
one bug met through many inputs is reported once.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import thumbnailer
from thumbnailer import (
    CorruptImage,
    EmptyInput,
    RenderTimeout,
    Thumbnail,
    ThumbnailerError,
    ThumbnailSpec,
    TooLarge,
    UnsupportedFormat,
    render,
)

__all__ = [
    "ENGINE_KINDS",
    "FINDING",
    "OK",
    "UNKNOWN",
    "Finding",
    "Outcome",
    "check_thumbnails",
    "classify_error",
    "dead_worker",
    "escaped",
    "innermost_frame",
    "project_frame",
    "render_and_classify",
]

OK = "ok"
FINDING = "finding"
UNKNOWN = "unknown"  # the frame of a finding no traceback or stack dump places
# The kinds of error render() may raise (README, "Errors"); any other is a finding.
ENGINE_KINDS = frozenset(
    error.kind for error in (EmptyInput, UnsupportedFormat, CorruptImage, TooLarge, RenderTimeout)
)
# Errors that only a bug raises: no decoder reports damage this way on purpose.
INTERNAL_ERRORS = (
    AssertionError,
    AttributeError,
    TypeError,
    IndexError,
    KeyError,
    NameError,
    ZeroDivisionError,
    OverflowError,
    RecursionError,
    UnboundLocalError,
    StopIteration,
    NotImplementedError,
    SystemError,
)
# Phrases of Python's own error messages, which no message written for a user contains.
LEAKED_WORDS = (
    "NoneType",
    "object has no attribute",
    "division by zero",
    "unsupported operand",
    "not subscriptable",
    "object is not iterable",
    "object is not callable",
    "referenced before assignment",
    "positional argument",
    "index out of range",
    "Traceback (most recent call last)",
)
SMALL_INPUT = 1_000_000  # bytes: below this, running out of memory means a damaged header
_PACKAGE = str(Path(thumbnailer.__file__).parent) + "/"
_TRACE_LIMIT = 8000  # characters of a traceback or stack dump kept with a finding
_DUMP_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<function>\S+)')
_WORKER_FILE = "_worker.py"  # the worker's own frames mark the thread that runs render()
_DEATH = {"crash": "died", "hang": "did not answer in time"}


@dataclass(frozen=True)
class Finding:
    """A render that broke the engine's contract."""

    kind: str  # crash, hang, escape, masked, memory, leak, wrong_result, wrong_error
    detail: str  # the exception type, signal or leaked word; may be empty
    frame: str  # innermost frame of the engine's code, "file:function:line", or UNKNOWN

    @property
    def signature(self) -> str:
        """What makes two findings the same bug: kind, detail and the engine frame."""
        what = f"{self.kind} {self.detail}" if self.detail else self.kind
        return f"{what} at {self.frame}"


@dataclass(frozen=True)
class Outcome:
    """One render's outcome: ``ok``, the kind of a classified error, or ``finding``."""

    status: str
    message: str = ""  # the error message, or what the finding is about
    finding: Finding | None = None
    trace: str = ""  # a finding's traceback or the worker's stack dump

    def to_json(self) -> dict[str, Any]:
        """The outcome as a JSON-serialisable dict (what the worker sends back)."""
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Outcome:
        """The outcome :meth:`to_json` made."""
        finding = doc.get("finding")
        return cls(
            status=doc["status"],
            message=doc.get("message", ""),
            finding=Finding(**finding) if finding else None,
            trace=doc.get("trace", ""),
        )


def render_and_classify(data: bytes, spec: ThumbnailSpec) -> Outcome:
    """Render ``data`` with ``spec`` and classify what came of it."""
    try:
        thumbnails = render(data, spec)
    except ThumbnailerError as exc:
        return classify_error(exc, len(data))
    except BaseException as exc:  # anything else leaving render() is the finding
        return escaped(exc)
    return check_thumbnails(thumbnails, spec)


def check_thumbnails(thumbnails: Sequence[Thumbnail], spec: ThumbnailSpec) -> Outcome:
    """``ok`` when there is one non-empty thumbnail per box of ``spec``, in order, within it."""
    boxes = [thumbnail.box for thumbnail in thumbnails]
    if boxes != list(spec.sizes):
        got = ", ".join(map(str, boxes)) or "none"
        return _found("wrong_result", "count", UNKNOWN, f"thumbnails for {got}")
    for thumbnail in thumbnails:
        box = thumbnail.box
        if not thumbnail.data:
            return _found("wrong_result", "empty", UNKNOWN, f"an empty thumbnail for {box}")
        if not (1 <= thumbnail.width <= box.width and 1 <= thumbnail.height <= box.height):
            size = f"{thumbnail.width}x{thumbnail.height}"
            return _found("wrong_result", "size", UNKNOWN, f"a {size} thumbnail for {box}")
    return Outcome(OK)


def classify_error(exc: ThumbnailerError, input_size: int) -> Outcome:
    """The outcome of ``render()`` raising ``exc`` for an input of ``input_size`` bytes."""
    message = getattr(exc, "message", str(exc))
    cause = exc.__cause__
    # The engine raises its errors from the decoder's, so the cause's frames say where.
    frame = project_frame(cause.__traceback__) if cause is not None else UNKNOWN
    if frame == UNKNOWN:
        frame = project_frame(exc.__traceback__)
    trace = _format(exc)
    if exc.kind not in ENGINE_KINDS or not message.strip():
        detail = exc.kind if exc.kind not in ENGINE_KINDS else "no message"
        return _found("wrong_error", detail, frame, f"{type(exc).__name__}: {message!r}", trace)
    if isinstance(cause, INTERNAL_ERRORS):
        origin = innermost_frame(cause.__traceback__)
        text = f"{exc.kind} from {type(cause).__name__}: {cause} (raised at {origin})"
        return _found("masked", type(cause).__name__, frame, text, trace)
    if exc.kind == TooLarge.kind and isinstance(cause, MemoryError) and input_size < SMALL_INPUT:
        text = f"too_large from {_qualified(cause)} for {input_size:,} bytes: {message}"
        return _found("memory", _qualified(cause), frame, text, trace)
    leaked = next((word for word in LEAKED_WORDS if word in message), None)
    if leaked is not None:
        return _found("leak", leaked, frame, f"{exc.kind}: {message}", trace)
    return Outcome(exc.kind, message)


def escaped(exc: BaseException) -> Outcome:
    """The outcome of ``render()`` raising ``exc``, which is no ``ThumbnailerError``."""
    name = _qualified(exc)
    return _found("escape", name, project_frame(exc.__traceback__), f"{name}: {exc}", _format(exc))


def dead_worker(kind: str, detail: str, dump: str) -> Outcome:
    """The outcome of a worker that crashed or hung, from its stack ``dump`` (faulthandler).

    The engine frame is taken from the thread that crashed (faulthandler lists it first), or
    for a hang from the thread that called ``render()``: the one running the worker's loop.
    """
    blocks = _dump_blocks(dump)
    if kind == "hang":
        blocks = [b for b in blocks if any(f.endswith(_WORKER_FILE) for f, _, _ in b)] or blocks
    frame = next(
        (
            _frame_text(file, function, line)
            for block in blocks
            for file, function, line in block
            if file.startswith(_PACKAGE)
        ),
        UNKNOWN,
    )
    return _found(kind, detail, frame, f"the worker process {_DEATH[kind]}", dump[-_TRACE_LIMIT:])


def project_frame(tb: TracebackType | None) -> str:
    """The innermost frame of ``tb`` in the engine's own code, or :data:`UNKNOWN`."""
    found = UNKNOWN
    for entry in traceback.extract_tb(tb):
        if entry.filename.startswith(_PACKAGE):
            found = _frame_text(entry.filename, entry.name, entry.lineno or 0)
    return found


def innermost_frame(tb: TracebackType | None) -> str:
    """The innermost frame of ``tb``, wherever it is (a library's frame says who raised)."""
    entries = traceback.extract_tb(tb)
    if not entries:
        return UNKNOWN
    last = entries[-1]
    return _frame_text(last.filename, last.name, last.lineno or 0)


def _frame_text(file: str, function: str, line: int) -> str:
    if file.startswith(_PACKAGE):
        file = file[len(_PACKAGE) :]
    return f"{file}:{function}:{line}"


def _dump_blocks(dump: str) -> list[list[tuple[str, str, int]]]:
    """Each thread's frames in a faulthandler dump, innermost first, the current thread first."""
    blocks: list[list[tuple[str, str, int]]] = []
    current: list[list[tuple[str, str, int]]] = []
    for line in dump.splitlines():
        if line.startswith(("Current thread", "Thread ")):
            blocks.append([])
            if line.startswith("Current thread"):
                current.append(blocks[-1])
        elif (match := _DUMP_FRAME.match(line)) and blocks:
            blocks[-1].append((match["file"], match["function"], int(match["line"])))
    return current + [block for block in blocks if all(block is not c for c in current)]


def _found(kind: str, detail: str, frame: str, message: str, trace: str = "") -> Outcome:
    return Outcome(FINDING, message, Finding(kind, detail, frame), trace[-_TRACE_LIMIT:])


def _qualified(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))

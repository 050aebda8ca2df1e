"""The findings folder: each input that broke the engine, saved once per signature.

Beside the inputs, ``findings.jsonl`` holds one JSON line per signature: what was found, the
input file, the seed and run it came from, the message and the traceback or stack dump.
Signatures already in it (from an earlier campaign) are not saved again.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _outcomes import Outcome

__all__ = ["LOG_NAME", "FindingStore", "Saved"]

LOG_NAME = "findings.jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class Saved:
    """Where a finding's input is, and whether this campaign saved it first."""

    path: Path
    new: bool


class FindingStore:
    """The findings saved in ``folder``; safe to use from several threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / LOG_NAME
        self._known: dict[str, Path] = {}
        self._lock = threading.Lock()
        if self.log.exists():
            for line in self.log.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short when a campaign was killed mid-write
                self._known[record["signature"]] = Path(record["file"])

    def save(self, outcome: Outcome, data: bytes, ext: str, origin: dict[str, Any]) -> Saved:
        """Save ``data`` and a log line for ``outcome``'s finding, unless its signature is known.

        ``ext`` is the input's file extension; ``origin`` says where the input came from (it
        goes into the log line as it is).
        """
        finding = outcome.finding
        if finding is None:
            raise ValueError("only a finding is saved")
        signature = finding.signature
        with self._lock:
            if signature in self._known:
                return Saved(self._known[signature], new=False)
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / file_name(signature, ext)
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(data)
            partial.replace(path)  # never a half-written input under a finding's name
            record = {
                "signature": signature,
                "kind": finding.kind,
                "detail": finding.detail,
                "frame": finding.frame,
                "file": str(path),
                "bytes": len(data),
                **origin,
                "message": outcome.message,
                "trace": outcome.trace,
            }
            with self.log.open("a") as log:
                log.write(json.dumps(record) + "\n")
            self._known[signature] = path
            return Saved(path, new=True)


def file_name(signature: str, ext: str) -> str:
    """A file name that reads like ``signature`` and is unique to it."""
    readable = _UNSAFE.sub("-", signature.replace(" at ", " ")).strip("-")[:96]
    digest = hashlib.sha256(signature.encode()).hexdigest()[:8]
    return f"{readable}-{digest}.{ext}"

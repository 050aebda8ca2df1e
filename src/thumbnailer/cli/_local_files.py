"""The local files of ``thumbnailer make``: inputs read within the byte limit, thumbnails
written atomically, and files told apart by identity rather than by name."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from thumbnailer.cli._text import shown
from thumbnailer.errors import AccessDenied, LocalFileError, ObjectNotFound, TooLarge

__all__ = ["FileId", "folder_entry", "identity", "read_input", "write_atomically"]

FileId = tuple[int, int]  # (device, inode): the same file under any name


def read_input(given: str, limit: int) -> tuple[bytes, FileId]:
    """Read one input, never more than ``limit`` bytes, and say which file it was.

    A regular file over the limit is refused from its size; anything else (a pipe,
    ``/dev/stdin``, a device) has no size to trust, so at most ``limit + 1`` bytes are read.
    """
    name = shown(given)
    try:
        with Path(given).open("rb") as file:
            info = os.fstat(file.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size > limit:
                raise TooLarge(f"the input is {info.st_size:,} bytes; the limit is {limit:,}")
            data = file.read(limit + 1)
    except FileNotFoundError as exc:
        raise ObjectNotFound(f"no such file: {name}") from exc
    except PermissionError as exc:
        raise AccessDenied(f"not allowed to read {name}") from exc
    except IsADirectoryError as exc:
        raise LocalFileError(f"{name} is a folder, not a file") from exc
    except OSError as exc:
        raise LocalFileError(f"cannot read {name}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise TooLarge(f"the input is over the limit of {limit:,} bytes")
    return data, (info.st_dev, info.st_ino)


def _new_temporary(folder: Path) -> tuple[int, Path]:
    """Create an empty file with a short unused name in ``folder``; return its descriptor.

    Short, so that any legal target name can be written through it; mode 0666 less the
    umask, as for any new file (``tempfile.mkstemp`` would make it private to the user).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = folder / f".{secrets.token_hex(6)}.partial"
        with contextlib.suppress(FileExistsError):
            return os.open(temporary, flags, 0o666), temporary


def _discard(temporary: Path) -> None:
    """Remove a temporary file; failing to must not hide the error already being handled."""
    with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)


def _replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path``, then rename it over ``path`` in one step."""
    descriptor, temporary = _new_temporary(path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        temporary.replace(path)
    except BaseException:  # Ctrl-C included: no leftover beside the thumbnails
        _discard(temporary)
        raise


def write_atomically(path: Path, data: bytes) -> None:
    """Write one thumbnail; an interrupted run never leaves half a thumbnail behind."""
    name = shown(str(path))
    try:
        _replace_atomically(path, data)
    except PermissionError as exc:
        raise AccessDenied(f"not allowed to write {name}") from exc
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise LocalFileError(
                f"cannot write {name}: the name is too long for the file system"
            ) from exc
        raise LocalFileError(f"cannot write {name}: {exc.strerror or exc}") from exc


def folder_entry(path: Path) -> Path:
    """The folder entry ``path`` names, with the folder's symlinks and ``..`` resolved."""
    # realpath, not Path.resolve: it raises on a symlink loop before Python 3.13.
    return Path(os.path.realpath(path.parent)) / path.name


def identity(path: Path) -> FileId | None:
    """(device, inode) of the file ``path`` leads to; None when there is none."""
    try:
        info = path.stat()
    except (OSError, ValueError):  # missing, a name too long to exist, a NUL in it
        return None
    return info.st_dev, info.st_ino

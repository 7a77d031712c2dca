"""Open input files only when they are regular files.

A FIFO, a character device or a socket named as an input (in the tree, as a path argument,
as ``--var-file``, behind Terraform ``file()``) would block ``open()`` or ``read()`` forever.
Every input reader goes through :func:`open_regular`: it opens with ``O_NONBLOCK`` (which
does not block on a FIFO without a writer and changes nothing for a regular file), checks
the opened descriptor with ``fstat`` (no race between a check and the open) and refuses
anything that is not a regular file with :class:`NotRegularFileError`, an ``OSError`` whose
``strerror`` says "not a regular file", so callers that already report ``OSError`` say it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["NOT_REGULAR", "NotRegularFileError", "is_special", "open_regular", "read_bytes", "read_text"]

NOT_REGULAR = "not a regular file"


class NotRegularFileError(OSError):
    """The path names a FIFO, device, socket or directory, not a regular file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.EINVAL, NOT_REGULAR, os.fspath(path))


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``open(path, "rb")`` that never blocks: raises :class:`NotRegularFileError` for anything
    but a regular file (symlinks are followed)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFileError(path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str], limit: int = -1) -> bytes:
    """The file's bytes (at most ``limit`` when given), regular files only."""
    with open_regular(path) as fh:
        return fh.read(limit)


def read_text(path: str | os.PathLike[str], encoding: str = "utf-8", errors: str = "strict") -> str:
    """The file's text, regular files only (universal newlines as ``Path.read_text``)."""
    data = read_bytes(path)
    return data.decode(encoding, errors).replace("\r\n", "\n").replace("\r", "\n")


def is_special(path: Path) -> bool:
    """True when ``path`` exists but is neither a directory nor a regular file (a FIFO,
    device or socket): it is named as an input but cannot be read without blocking."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))

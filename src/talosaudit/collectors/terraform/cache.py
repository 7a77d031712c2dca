"""A content-addressed cache of parsed files.

Parsing is the dominant cost of a scan, so the compact syntax tree of each file is pickled
under ``sha256(bytes)`` plus the parser and tree versions. Entries are written atomically
(temporary file + rename); an entry that cannot be read is ignored and rewritten. Only our
own cache directory is read, and only entries this module wrote are unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path

from talosaudit.collectors.terraform.syntax import AST_VERSION, BlockNode, ParseResult

_SUBDIR = "terraform-ast"


@lru_cache(maxsize=1)
def _parser_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("python-hcl2")
    except PackageNotFoundError:
        return "unknown"


def cache_key(kind: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest}-{kind}-{_parser_version()}-{AST_VERSION}"


class ParseCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / _SUBDIR if directory is not None else None
        self.hits = 0
        self.writes = 0

    def get(self, key: str) -> ParseResult | None:
        if self.directory is None:
            return None
        try:
            with (self.directory / f"{key}.pickle").open("rb") as fh:
                value = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception:
            return None  # corrupt or from an incompatible version: parse again, rewrite
        if not isinstance(value, ParseResult) or not (
            value.tree is None or isinstance(value.tree, BlockNode)
        ):
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: ParseResult) -> None:
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".pickle")
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self.directory / f"{key}.pickle")
                self.writes += 1
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            pass  # a cache that cannot be written only costs time

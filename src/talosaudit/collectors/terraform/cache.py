"""A content-addressed cache of parsed files.

Parsing is the dominant cost of a scan, so the compact syntax tree of each file is stored
under ``sha256(bytes)`` plus the parser and tree versions. Entries are JSON, not pickle:
loading a cache entry must never run code, whoever planted it. Every entry names its own key
and is decoded strictly (blocks, attributes and tuples of scalars only); an entry that cannot
be read, is corrupt or is not ours is a miss and is rewritten. Entries are written atomically
(temporary file + rename) in folders created private to the user (0700); a cache folder
owned by someone else, or writable by others, is not used at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from talosaudit.collectors.terraform.syntax import AST_VERSION, Attr, BlockNode, ParseResult

_SUBDIR = "terraform-ast"
_SUFFIX = ".json"
#: The entry format: bump when the encoding below changes.
_FORMAT = 1
_PRIVATE = 0o700
_SCALARS = (str, int, float, bool, type(None))


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


class _NotOursError(ValueError):
    """The entry does not decode to a parse result this module wrote."""


def _encode_block(block: BlockNode) -> dict[str, Any]:
    return {
        "t": block.type,
        "l": list(block.labels),
        "a": [[a.name, a.expr, a.line, a.end_line] for a in block.attrs],
        "b": [_encode_block(b) for b in block.blocks],
        "n": [block.line, block.end_line],
    }


def encode(key: str, value: ParseResult) -> str:
    tree = _encode_block(value.tree) if value.tree is not None else None
    doc = {"format": _FORMAT, "key": key, "tree": tree, "error": value.error, "error_line": value.error_line}
    return json.dumps(doc, separators=(",", ":"), allow_nan=True)


def _expr(value: Any) -> Any:
    """JSON arrays back to the tuples of the tree; only scalars at the leaves."""
    if isinstance(value, list):
        return tuple(_expr(v) for v in value)
    if isinstance(value, _SCALARS):
        return value
    raise _NotOursError("unexpected value in an expression")


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _NotOursError("expected a string")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _NotOursError("expected an integer")
    return value


def _decode_block(doc: Any) -> BlockNode:
    if not isinstance(doc, dict):
        raise _NotOursError("expected a block")
    attrs = []
    for item in doc["a"]:
        name, expr, line, end_line = item
        attrs.append(Attr(_str(name), _expr(expr), _int(line), _int(end_line)))
    line, end_line = doc["n"]
    return BlockNode(
        _str(doc["t"]),
        tuple(_str(label) for label in doc["l"]),
        tuple(attrs),
        tuple(_decode_block(b) for b in doc["b"]),
        _int(line),
        _int(end_line),
    )


def decode(key: str, text: str) -> ParseResult:
    """The parse result stored under ``key``; raises on anything else."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or doc.get("key") != key:
        raise _NotOursError("not an entry of this cache for this key")
    tree = doc["tree"]
    return ParseResult(
        _decode_block(tree) if tree is not None else None, _str(doc["error"]), _int(doc["error_line"])
    )


def _private_dir(path: Path) -> None:
    """Create ``path`` (and a missing parent) private to the user."""
    with contextlib.suppress(FileExistsError):
        path.parent.mkdir(mode=_PRIVATE, parents=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=_PRIVATE)
    with contextlib.suppress(OSError):
        if not hasattr(os, "getuid") or path.stat().st_uid == os.getuid():
            path.chmod(_PRIVATE)  # a folder from an older version may be 0755


def _trusted(path: Path) -> bool:
    """Ours and writable by us only: otherwise someone else could plant entries."""
    try:
        info = path.stat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class ParseCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / _SUBDIR if directory is not None else None
        self.hits = 0
        self.writes = 0

    def get(self, key: str) -> ParseResult | None:
        if self.directory is None or not _trusted(self.directory):
            return None
        try:
            text = (self.directory / f"{key}{_SUFFIX}").read_text(encoding="utf-8")
            value = decode(key, text)
        except FileNotFoundError:
            return None
        except Exception:
            return None  # corrupt, foreign or from an incompatible version: parse again, rewrite
        self.hits += 1
        return value

    def put(self, key: str, value: ParseResult) -> None:
        if self.directory is None:
            return
        try:
            _private_dir(self.directory)
            if not _trusted(self.directory):
                return
            text = encode(key, value)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=_SUFFIX)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, self.directory / f"{key}{_SUFFIX}")
                self.writes += 1
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except (OSError, ValueError):
            pass  # a cache that cannot be written (or a value JSON cannot hold) only costs time

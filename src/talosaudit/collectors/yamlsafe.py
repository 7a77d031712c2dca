"""Bounded, line-preserving YAML loading for Talos machine configs.

PyYAML's composer gives every node a start and end mark; values are built from the nodes
here (not by PyYAML's constructor) so that every mapping and list keeps the lines of its
entries. The limits make hostile inputs cheap: files over ``MAX_BYTES`` are refused before
they are read, composition stops after ``MAX_NODES`` nodes or ``MAX_DEPTH`` levels, and
building values counts every node again each time an alias repeats it, so a "billion
laughs" document stops at the same limit instead of exhausting memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from talosaudit.model.source import SourceRef
from talosaudit.regular_files import open_regular
from talosaudit.yaml12 import CoreFastLoader

MAX_BYTES = 10 * 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 100
_BINARY_SNIFF = 8 * 1024
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: Placeholders of the template languages configs are rendered with: Terraform/OpenTofu
#: ``${...}`` and ``%{...}``, Go templates and Jinja ``{{...}}`` / ``{%...%}``.
_PLACEHOLDER = re.compile(r"\$\{|%\{|\{\{|\{%")


class YMap(dict[Any, Any]):
    """A YAML mapping that remembers where it and each of its entries were written."""

    __slots__ = ("key_locs", "loc")

    def __init__(self, loc: SourceRef) -> None:
        super().__init__()
        self.loc = loc
        self.key_locs: dict[Any, SourceRef] = {}

    def loc_of(self, key: Any) -> SourceRef:
        return self.key_locs.get(key, self.loc)


class YList(list[Any]):
    """A YAML sequence that remembers where it and each of its items were written."""

    __slots__ = ("item_locs", "loc")

    def __init__(self, loc: SourceRef) -> None:
        super().__init__()
        self.loc = loc
        self.item_locs: list[SourceRef] = []

    def loc_of(self, index: int) -> SourceRef:
        return self.item_locs[index] if 0 <= index < len(self.item_locs) else self.loc


@dataclass(frozen=True, slots=True)
class LoadError:
    """Why a text could not be loaded, at which line (1-based, in the file's numbering)."""

    message: str
    line: int = 1


@dataclass(frozen=True, slots=True)
class Loaded:
    """The documents of one YAML text (``None`` for an empty document), or the error."""

    documents: tuple[tuple[Any, SourceRef], ...] = ()
    error: LoadError | None = None


class _LimitError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def read_text(path: Path) -> tuple[str | None, LoadError | None]:
    """The file's text, or why it cannot be read as a YAML text (size, binary, encoding)."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return None, LoadError(_too_big(size))
        with open_regular(path) as fh:
            data = fh.read(MAX_BYTES + 1)  # a file that grew (or lies about its size) is cut here
    except OSError as exc:
        return None, LoadError(f"file cannot be read: {exc.strerror or exc}")
    if len(data) > MAX_BYTES:
        return None, LoadError(_too_big(len(data)))
    return decode(data)


def decode(data: bytes) -> tuple[str | None, LoadError | None]:
    if b"\0" in data[:_BINARY_SNIFF]:
        return None, LoadError("file is binary (it contains NUL bytes), not YAML text")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, LoadError(f"file is not valid UTF-8 (byte {exc.start}, line {line})", line)


def _too_big(size: int) -> str:
    return f"file is {size / (1024 * 1024):.1f} MiB, over the {MAX_BYTES // (1024 * 1024)} MiB limit"


def load_documents(text: str, path: str, line_offset: int = 0) -> Loaded:
    """Every document of ``text``; lines are ``line_offset`` + the line within ``text``.

    Never raises: a YAML error, an alias bomb or excessive nesting becomes ``Loaded.error``.
    """
    if len(text) > MAX_BYTES:
        return Loaded(error=LoadError(_too_big(len(text)), line_offset + 1))
    loader: Any = _Loader(text)  # PyYAML's loaders are untyped
    builder = _Builder(loader, path, line_offset)
    try:
        while loader.check_event():
            builder.feed(loader.get_event())
    except _LimitError as exc:
        return Loaded(error=LoadError(exc.message, line_offset + exc.line))
    except yaml.MarkedYAMLError as exc:
        return Loaded(error=_yaml_error(exc, line_offset))
    except yaml.YAMLError as exc:
        line = _reader_error_line(exc, text)
        return Loaded(error=LoadError(f"not valid YAML: {_one_line(str(exc))}", line_offset + line))
    finally:
        loader.dispose()
    return Loaded(documents=tuple(builder.documents))


def first_placeholder(text: str) -> tuple[str, int] | None:
    """The first template placeholder in ``text`` and its line, if any."""
    found = _PLACEHOLDER.search(text)
    if found is None:
        return None
    line_start = text.rfind("\n", 0, found.start()) + 1
    line_end = text.find("\n", found.start())
    snippet = text[found.start() : line_end if line_end >= 0 else len(text)].strip()
    return snippet[:40], text.count("\n", 0, line_start) + 1


def has_placeholder(value: str) -> bool:
    return _PLACEHOLDER.search(value) is not None


def _yaml_error(exc: yaml.MarkedYAMLError, line_offset: int) -> LoadError:
    mark = exc.problem_mark or exc.context_mark
    line = (mark.line + 1) if mark is not None else 1
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    return LoadError(f"not valid YAML: {what or _one_line(str(exc))}", line_offset + line)


def _reader_error_line(exc: yaml.YAMLError, text: str) -> int:
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 1


def _one_line(message: str) -> str:
    return " ".join(message.split())[:200]


#: libyaml's event parser when PyYAML was built with it (fast scanning in C), else the
#: pure-Python one. Only events are used: values are composed here, iteratively.
#: Scalars resolve by the YAML 1.2 core schema, as Talos (Go's yaml.v3) reads them.
_Loader: type[yaml.SafeLoader] = CoreFastLoader


class _MergeKey:
    """The ``<<`` key of a YAML merge."""


_MERGE = _MergeKey()


class _Frame:
    """A collection being built: its value, where it began, and its entries so far."""

    __slots__ = ("anchor", "flow", "last_end", "merges", "pending", "size", "start", "value")

    def __init__(self, value: YMap | YList, anchor: str | None, start: int, flow: bool) -> None:
        self.value = value
        self.anchor = anchor
        self.start = start
        self.flow = flow
        self.last_end = start
        self.size = 1
        #: For a mapping: the key read, waiting for its value, with the key's first line.
        self.pending: tuple[Any, int] | None = None
        self.merges: list[YMap] = []


class _Builder:
    """Composes values from parser events with an explicit stack (no recursion).

    Every node counts once toward ``MAX_NODES``; an alias counts the whole size of what
    it repeats, which is what a consumer walking the value would visit.
    """

    def __init__(self, loader: Any, path: str, line_offset: int) -> None:
        self.loader = loader
        self.path = path
        self.offset = line_offset
        self.visited = 0
        self.documents: list[tuple[Any, SourceRef]] = []
        self._stack: list[_Frame] = []
        self._anchors: dict[str, tuple[Any, SourceRef, int]] = {}
        self._root: tuple[Any, SourceRef] | None = None
        self._doc_line = 1

    def feed(self, event: Any) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self._anchors = {}
            self._root = None
            self._doc_line = _start(event)
        elif isinstance(event, yaml.DocumentEndEvent):
            if self._root is None:
                self.documents.append((None, self._ref(self._doc_line, self._doc_line)))
            else:
                self.documents.append(self._root)
        elif isinstance(event, yaml.AliasEvent):
            found = self._anchors.get(event.anchor or "")
            if found is None:
                line = _start(event)
                if any(frame.anchor == event.anchor for frame in self._stack):
                    raise _LimitError(f"recursive YAML alias *{event.anchor}", line)
                raise _LimitError(f"undefined YAML alias *{event.anchor}", line)
            value, loc, size = found
            self._count(size, _start(event))
            self._add(value, loc, size)
        elif isinstance(event, yaml.ScalarEvent):
            self._count(1, _start(event))
            loc = self._ref(_start(event), _end(event))
            value = self._scalar(event)
            if event.anchor:
                self._anchors[event.anchor] = (value, loc, 1)
            self._add(value, loc, 1)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            line = _start(event)
            self._count(1, line)
            if len(self._stack) >= MAX_DEPTH:
                raise _LimitError(f"YAML nested more than {MAX_DEPTH} levels deep", line)
            placeholder = self._ref(line, line)
            container: YMap | YList = (
                YMap(placeholder) if isinstance(event, yaml.MappingStartEvent) else YList(placeholder)
            )
            self._stack.append(_Frame(container, event.anchor, line, bool(event.flow_style)))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            frame = self._stack.pop()
            end = _end(event) if frame.flow else frame.last_end
            loc = self._ref(frame.start, max(end, frame.start))
            frame.value.loc = loc
            if isinstance(frame.value, YMap):
                _apply_merges(frame.value, frame.merges)
            if frame.anchor:
                self._anchors[frame.anchor] = (frame.value, loc, frame.size)
            self._add(frame.value, loc, frame.size)

    def _count(self, size: int, line: int) -> None:
        self.visited += size
        if self.visited > MAX_NODES:
            if size > 1:
                message = f"aliases expand to more than {MAX_NODES} YAML nodes (an alias bomb?)"
                raise _LimitError(message, line)
            raise _LimitError(f"more than {MAX_NODES} YAML nodes", line)

    def _ref(self, start: int, end: int) -> SourceRef:
        return SourceRef(self.path, self.offset + start, self.offset + end)

    def _add(self, value: Any, loc: SourceRef, size: int) -> None:
        if not self._stack:
            self._root = (value, loc)
            return
        frame = self._stack[-1]
        frame.size += size
        rel_end = loc.end_line - self.offset
        frame.last_end = max(frame.last_end, rel_end)
        container = frame.value
        if isinstance(container, YList):
            container.append(value)
            container.item_locs.append(loc)
            return
        if frame.pending is None:
            if value is _MERGE:
                frame.pending = (_MERGE, loc.start_line)
            else:
                frame.pending = (str(value) if isinstance(value, (YMap, YList)) else value, loc.start_line)
            return
        key, key_line = frame.pending
        frame.pending = None
        if key is _MERGE:
            sources = value if isinstance(value, YList) else [value]
            frame.merges.extend(item for item in sources if isinstance(item, YMap))
            return
        container[key] = value
        container.key_locs[key] = SourceRef(self.path, key_line, max(loc.end_line, key_line))

    def _scalar(self, event: Any) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _MERGE_TAG:
            return _MERGE
        constructor = self.loader.yaml_constructors.get(tag)
        if constructor is None:
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            value = constructor(self.loader, node)
        except (yaml.YAMLError, ValueError, TypeError):
            return event.value
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        return str(event.value)


def _start(event: Any) -> int:
    return int(event.start_mark.line) + 1


def _end(event: Any) -> int:
    return _end_line(event.start_mark, event.end_mark)


def _end_line(start: Any, end: Any) -> int:
    """The last line (1-based) of a token that starts at ``start`` and ends before ``end``."""
    if end.column == 0 and end.line > start.line:
        return int(end.line)  # it ends with a line break: the previous line is its last
    return int(end.line) + 1


def _apply_merges(mapping: YMap, sources: list[YMap]) -> None:
    """``<<: *base`` fills in only the keys the mapping does not write itself."""
    for source in sources:
        for key, val in source.items():
            if key not in mapping:
                mapping[key] = val
                mapping.key_locs[key] = source.loc_of(key)

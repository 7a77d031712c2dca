"""Find the input files under the paths a user names and decide what each one is.

A file's kind comes from its name first and, where the name is ambiguous (``.json``,
``.yaml``, ``.xml``, templates such as ``.tftpl``/``.tmpl``/``.j2``), from a sniff of its
content. Both questions go to the registered collectors (``registry.COLLECTORS``): this
module knows no input format. Files of no known kind are ignored silently; files of a known
kind that cannot be read as text become UNREADABLE problems.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from talosaudit.collectors.base import GENERIC_KINDS, JSON, TEMPLATE, XML, YAML, InputFile
from talosaudit.collectors.registry import COLLECTORS
from talosaudit.model import ProblemKind
from talosaudit.model.collection import Problem
from talosaudit.model.source import SourceRef
from talosaudit.regular_files import NOT_REGULAR, open_regular, read_bytes

MAX_FILE_BYTES = 10 * 1024 * 1024
#: Directory names never walked into (``.terraform`` modules are read by the Terraform
#: loader through ``modules.json``, not as inputs of their own).
SKIPPED_DIRS = frozenset({".git", ".terraform", "node_modules", "__pycache__"})
_SNIFF_BYTES = 64 * 1024
_BINARY_SNIFF = 8 * 1024

#: Template file names (Terraform ``templatefile``, Go templates, Jinja). A template whose text
#: looks like a Talos config is passed to the Talos collector, so an unrendered machine
#: config is reported (UNREADABLE) instead of vanishing; other templates are ignored.
_TEMPLATE_SUFFIXES = (".tftpl", ".tpl", ".tmpl", ".j2", ".jinja", ".jinja2")
#: A binary or non-UTF-8 ``.yaml``/``.xml`` file is reported (a Talos config or a firewall
#: export that got corrupted must not vanish silently); ``.json`` files are too common in
#: repositories to claim.
_SILENT_WHEN_UNREADABLE = frozenset({JSON, TEMPLATE})

__all__ = ["Discovered", "InputFile", "discover", "discover_inputs", "kind_by_name", "relative", "sniff"]


@dataclass(frozen=True)
class Discovered:
    """The input files found, the problems met, and notes (not problems: a directory
    symlink that leads out of the scan root and was not followed)."""

    files: list[InputFile]
    problems: list[Problem]
    notes: list[str]


def discover(paths: Sequence[Path], root: Path) -> tuple[list[InputFile], list[Problem]]:
    """Walk ``paths`` (files or directories) and classify every file found.

    Output is sorted by relative path; the same file reached twice (overlapping paths,
    symlinks) is listed once.
    """
    found = discover_inputs(paths, root)
    return found.files, found.problems


def discover_inputs(paths: Sequence[Path], root: Path) -> Discovered:
    """:func:`discover` with the notes about what was not walked."""
    root_abs = Path(os.path.abspath(root))
    walker = _Walker(root_abs)
    for path in paths:
        walker.visit_named(Path(os.path.abspath(path)))
    files = sorted(walker.files.values(), key=lambda f: f.rel)
    problems = sorted(walker.problems, key=lambda p: (p.source.path, p.message))
    return Discovered(files, problems, sorted(walker.notes))


def relative(path: Path, root: Path) -> str:
    """POSIX path of ``path`` relative to ``root`` (with ``..`` when outside it)."""
    return Path(os.path.relpath(path, root)).as_posix()


def kind_by_name(path: Path) -> str | None:
    """The kind a file name implies: one a collector claims, or ``json``/``yaml``/``xml``/
    ``template``, which mean "sniff the content"."""
    for collector in COLLECTORS:
        claimed = collector.kind_by_name(path)
        if claimed is not None:
            return claimed
    name = path.name.lower()
    if name.endswith(".json"):
        return JSON
    if name.endswith((".yaml", ".yml")):
        return YAML
    if name.endswith(".xml"):
        return XML
    if name.endswith(_TEMPLATE_SUFFIXES):
        return TEMPLATE
    return None


class _Walker:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._real_root = os.path.realpath(root)
        self.files: dict[str, InputFile] = {}
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self._seen_dirs: set[str] = set()
        self._seen_files: set[str] = set()

    def visit_named(self, path: Path) -> None:
        if path.is_dir():
            self._walk(path, os.path.realpath(path))
        elif path.is_file():
            self._consider(path)
        elif path.exists():
            self._problem(path, f"input path is {NOT_REGULAR} (a FIFO, device or socket)")
        else:
            self._problem(path, "input path does not exist")

    def _inside(self, real: str, boundary: str) -> bool:
        return any(
            real == top or real.startswith(top.rstrip(os.sep) + os.sep) for top in (boundary, self._real_root)
        )

    def _walk(self, directory: Path, boundary: str) -> None:
        """Walk ``directory``; symlinked directories are followed only when they lead back
        inside ``boundary`` (the named directory) or the scan root: a link to ``/`` or out of
        the repository would crawl the file system."""
        real = os.path.realpath(directory)
        if real in self._seen_dirs:
            return  # a symlink loop, or a directory named twice
        if not self._inside(real, boundary):
            rel = relative(directory, self.root)
            self.notes.append(
                f"{rel}: directory symlink leads out of the scan root (to {real}); not followed"
            )
            return
        self._seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            self._problem(directory, f"directory cannot be read: {exc.strerror or exc}")
            return
        for entry in entries:
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if entry.name in SKIPPED_DIRS or entry.name.startswith("."):
                    continue
                self._walk(Path(entry.path), boundary)
            elif is_file:
                self._consider(Path(entry.path))
            elif kind_by_name(Path(entry.path)) is not None:
                # A FIFO, device or socket with an input's name (``main.tf``): never opened,
                # reading it would block; reported so the input does not vanish.
                self._problem(Path(entry.path), f"file is {NOT_REGULAR} (a FIFO, device or socket); not read")

    def _consider(self, path: Path) -> None:
        kind = kind_by_name(path)
        if kind is None:
            return
        real = os.path.realpath(path)
        if real in self._seen_files:
            return
        self._seen_files.add(real)
        try:
            size = path.stat().st_size
        except OSError as exc:
            self._problem(path, f"file cannot be read: {exc.strerror or exc}")
            return
        if size > MAX_FILE_BYTES:
            if kind not in GENERIC_KINDS or _sniff_head(kind, path) is not None:
                limit = MAX_FILE_BYTES / (1024 * 1024)
                self._problem(path, f"file is {size / (1024 * 1024):.1f} MiB, over the {limit:g} MiB limit")
            return
        try:
            data = read_bytes(path)
        except OSError as exc:
            self._problem(path, f"file cannot be read: {exc.strerror or exc}")
            return
        if b"\0" in data[:_BINARY_SNIFF]:
            if kind not in _SILENT_WHEN_UNREADABLE:
                self._problem(path, "file is binary (it contains NUL bytes), not text")
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if kind not in _SILENT_WHEN_UNREADABLE:
                line = data[: exc.start].count(b"\n") + 1
                self._problem(path, f"file is not valid UTF-8 (byte {exc.start}, line {line})", line)
            return
        if kind in GENERIC_KINDS:
            try:
                sniffed = sniff(kind, text, relative(path, self.root))
            except (RecursionError, MemoryError, ValueError):
                # A hostile file (JSON nested thousands deep) is no known kind: .json files
                # are too common to claim, others are reported.
                if kind not in _SILENT_WHEN_UNREADABLE:
                    self._problem(path, "file could not be read: it is nested too deeply or malformed")
                return
            if sniffed is None:
                return
            kind = sniffed
        rel = relative(path, self.root)
        self.files[rel] = InputFile(path=path, rel=rel, kind=kind)

    def _problem(self, path: Path, message: str, line: int = 1) -> None:
        rel = relative(path, self.root)
        self.problems.append(
            Problem(
                kind=ProblemKind.UNREADABLE,
                message=message,
                source=SourceRef(path=rel, start_line=line, end_line=line, resource=rel),
                key=f"input:{rel}",
            )
        )


def sniff(kind: str, text: str, rel: str = "") -> str | None:
    """Decide the kind of a ``.json``/``.yaml``/``.xml``/template file from its content (and,
    for Proxmox API dumps, its path: ``nodes/pve/qemu/101/config.json``): the first collector
    that recognises it names it."""
    for collector in COLLECTORS:
        found = collector.sniff(kind, text, rel)
        if found is not None:
            return found
    return None


def _sniff_head(kind: str, path: Path) -> str | None:
    """The kind of an oversized file, judged from its head only."""
    try:
        with open_regular(path) as fh:
            head = fh.read(_SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    return sniff(kind, head)

"""Reading Talos config files and YAML texts into classified documents, or UNREADABLE problems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from talosaudit.collectors.talos.documents import Doc, DocKind, classify
from talosaudit.collectors.yamlsafe import LoadError, first_placeholder, load_documents, read_text
from talosaudit.model import ProblemKind
from talosaudit.model.collection import Problem
from talosaudit.model.source import SourceRef


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The Talos documents of one file (or of one inline YAML text inside another file)."""

    rel: str
    docs: tuple[Doc, ...]
    #: Where the first Talos document starts: the anchor for findings about the whole file.
    first: SourceRef

    @property
    def machine(self) -> Doc | None:
        return next((d for d in self.docs if d.kind is DocKind.MACHINE), None)

    @property
    def talconfig(self) -> Doc | None:
        return next((d for d in self.docs if d.kind is DocKind.TALCONFIG), None)

    @property
    def json_patch(self) -> Doc | None:
        return next((d for d in self.docs if d.kind is DocKind.JSON_PATCH), None)

    @property
    def patch_docs(self) -> tuple[Doc, ...]:
        """The documents a patch contributes (v1alpha1 parts and typed documents)."""
        return tuple(d for d in self.docs if d.kind in (DocKind.MACHINE, DocKind.PATCH, DocKind.TYPED))


def collect_documents(text: str, path: str, line_offset: int = 0) -> tuple[list[Doc], list[Problem]]:
    """The Talos documents of a YAML text whose line 1 is line ``line_offset + 1`` of ``path``.

    For YAML embedded in another file (a Terraform heredoc, a talconfig inline patch):
    ``path`` is the embedding file (relative to the scan root) and every SourceRef points
    into it. Documents that are not Talos documents are skipped. Never raises.
    """
    loaded = load_documents(text, path, line_offset)
    if loaded.error is not None:
        return [], [unparseable(path, loaded.error, text, line_offset)]
    docs: list[Doc] = []
    for value, loc in loaded.documents:
        doc = classify(value, loc)
        if doc is not None:
            docs.append(doc)
    return docs, []


def parse_file(path: Path, rel: str) -> tuple[ParsedFile | None, list[Problem]]:
    text, error = read_text(path)
    if text is None:
        return None, [unparseable(rel, error or LoadError("file cannot be read"), "", 0)]
    docs, problems = collect_documents(text, rel)
    if problems or not docs:
        return None, problems
    return ParsedFile(rel, tuple(docs), docs[0].loc), []


def unparseable(path: str, error: LoadError, text: str, line_offset: int) -> Problem:
    placeholder = first_placeholder(text) if text else None
    if placeholder is not None and error.message.startswith("not valid YAML"):
        snippet, line = placeholder
        message = (
            f"unrendered template: {snippet!r} at line {line_offset + line} is a template placeholder and "
            f"the text is not valid YAML ({error.message.removeprefix('not valid YAML: ')} at line "
            f"{error.line}); scan the rendered machine config, or the Terraform that renders it"
        )
    else:
        message = f"Talos config cannot be read: {error.message}"
    return Problem(
        kind=ProblemKind.UNREADABLE,
        message=message,
        source=SourceRef(path, error.line, error.line, path),
        key=f"talos-input:{path}",
    )

"""The contract every collector keeps, and the input file discovery hands it.

A collector reads one family of input formats (Terraform, Talos machine configs, Proxmox
exports, ...). Discovery asks the registered collectors (``registry.COLLECTORS``) which kind
a file is, so it needs no knowledge of any format: a collector claims files by name
(``kind_by_name``) and, for names that say too little (``.json``, ``.yaml``, ``.xml``,
templates), by content (``sniff``). ``collect`` then gets every file of its kinds at once
and returns one ``Collection``: facts and layer state, never verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from talosaudit.collectors.options import CollectOptions
from talosaudit.model.collection import Collection

#: The kinds a file name alone cannot decide; ``sniff`` gets the text of such files.
JSON = "json"
YAML = "yaml"
XML = "xml"
TEMPLATE = "template"
GENERIC_KINDS = frozenset({JSON, YAML, XML, TEMPLATE})


@dataclass(frozen=True, slots=True)
class InputFile:
    """One discovered input: where it is, its path relative to the scan root, its kind."""

    path: Path
    rel: str
    kind: str


class Collector(Protocol):
    """One input format family, registered once in ``registry.COLLECTORS``."""

    @property
    def kinds(self) -> frozenset[str]:
        """The file kinds ``collect`` reads."""
        ...

    def kind_by_name(self, path: Path) -> str | None:
        """The kind of a file that its name alone says is this collector's, else None."""
        ...

    def sniff(self, kind: str, text: str, rel: str) -> str | None:
        """For a file of a generic kind (``json``, ``yaml``, ``xml``, ``template``), one of
        this collector's kinds when the text is its format, else None. ``text`` may be only
        the head of a file too large to read whole."""
        ...

    def collect(self, files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
        """Everything the files (all of this collector's kinds) say; never raises for bad
        input: unreadable files become problems."""
        ...


class ClaimsNoNames:
    """Mixin for a collector whose files are all recognised by content."""

    def kind_by_name(self, path: Path) -> str | None:
        del path
        return None


class SniffsNothing:
    """Mixin for a collector whose files are all recognised by name."""

    def sniff(self, kind: str, text: str, rel: str) -> str | None:
        del kind, text, rel
        return None

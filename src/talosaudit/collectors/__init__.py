"""Collectors: one per input format, each turning its files into a ``Collection``.

``collect_all`` groups the discovered files by kind and calls each collector once with its
files. The table below is the only place that knows which collector reads which kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from talosaudit.collectors.discover import InputFile
    from talosaudit.collectors.options import CollectOptions
    from talosaudit.model.collection import Collection

    Collector = Callable[[Sequence[InputFile], Path, CollectOptions], Collection]

#: collector (module path, function name) -> the file kinds it reads. Modules are imported
#: only when files of their kinds are present, so parser workers stay light.
COLLECTORS: dict[tuple[str, str], frozenset[str]] = {
    ("talosaudit.collectors.terraform.collect", "collect"): frozenset(
        {"terraform", "terraform-json", "tfvars"}
    ),
    ("talosaudit.collectors.terraform.plan", "collect"): frozenset({"terraform-plan"}),
    ("talosaudit.collectors.talos.collector", "collect"): frozenset({"talos"}),
    ("talosaudit.collectors.proxmox.collect", "collect"): frozenset(
        {"proxmox-conf", "proxmox-fw", "proxmox-json"}
    ),
    ("talosaudit.collectors.pfsense", "collect"): frozenset({"pfsense", "opnsense"}),
}


def collect_all(files: Sequence[InputFile], root: Path, options: CollectOptions) -> list[Collection]:
    """Run every collector that has input files, in table order.

    Files an earlier collector consumed (``Collection.consumed``: a Talos patch that the
    Terraform Talos provider reads with ``file()``) are not passed to later collectors: they
    are already audited as part of that input, and read alone they would stand for nodes
    of their own.
    """
    collections: list[Collection] = []
    consumed: set[str] = set()
    for (module, function), kinds in COLLECTORS.items():
        mine = [f for f in files if f.kind in kinds and f.rel not in consumed]
        if not mine:
            continue
        collector: Collector = getattr(import_module(module), function)
        collection = collector(mine, root, options)
        consumed.update(collection.consumed)
        collections.append(collection)
    return collections

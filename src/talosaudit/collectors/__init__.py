"""Collectors: one per input format family, each turning its files into a ``Collection``.

The contract is ``base.Collector``; the one table of collectors is ``registry.COLLECTORS``.
``collect_all`` groups the discovered files by kind and calls each collector once with its
files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from talosaudit.collectors.base import Collector, InputFile
    from talosaudit.collectors.options import CollectOptions
    from talosaudit.model.collection import Collection


@dataclass(frozen=True)
class Collected:
    """What the collectors found, split by Terraform root module.

    ``roots`` is empty when the inputs hold at most one root module: then ``everywhere`` is
    the whole scan, as one model. With several roots, each root's model is its own
    collections plus ``everywhere`` (inputs no root reads by reference: they belong to every
    root); ``unrooted`` belongs to no root (a Terraform file that cannot be parsed).
    """

    everywhere: list[Collection] = field(default_factory=list)
    roots: dict[str, list[Collection]] = field(default_factory=dict)
    unrooted: list[Collection] = field(default_factory=list)


def collect_by_root(files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collected:
    """Like ``collect_all``, keeping Terraform root modules apart.

    A Talos config, Proxmox export or firewall export that root modules read by reference
    (``file()``/``templatefile()``) is collected with those roots only; the other inputs are
    collected once and join every root.
    """
    from talosaudit.collectors.registry import COLLECTORS

    first, rest = COLLECTORS[0], COLLECTORS[1:]
    mine = [f for f in files if f.kind in first.kinds]
    top = first.collect(mine, root, options) if mine else None
    if top is None or not top.roots:
        consumed = set(top.consumed) if top else set()
        left = [f for f in files if f.kind not in first.kinds and f.rel not in consumed]
        return Collected(everywhere=[*([top] if top else []), *collect_all(left, root, options, rest)])
    others = [f for f in files if f.kind not in first.kinds and f.rel not in top.consumed]
    owners: dict[str, tuple[str, ...]] = {
        f.rel: tuple(name for name, part in top.roots if f.rel in part.references) for f in others
    }
    per_root: dict[str, list[Collection]] = {name: [part] for name, part in top.roots}
    everywhere: list[Collection] = []
    for group in sorted(set(owners.values())):
        group_files = [f for f in others if owners[f.rel] == group]
        found = collect_all(group_files, root, options, rest)
        if not group:
            everywhere.extend(found)
        for name in group:
            per_root[name].extend(found)
    return Collected(everywhere=everywhere, roots=per_root, unrooted=[replace(top, roots=())])


def collect_all(
    files: Sequence[InputFile],
    root: Path,
    options: CollectOptions,
    collectors: Sequence[Collector] | None = None,
) -> list[Collection]:
    """Run every collector that has input files, in table order.

    Files an earlier collector consumed (``Collection.consumed``: a Talos patch that the
    Terraform Talos provider reads with ``file()``) are not passed to later collectors: they
    are already audited as part of that input, and read alone they would stand for nodes
    of their own.
    """
    # Imported here, not at the top: parser worker processes import this package and must
    # stay light; the registry imports every collector.
    from talosaudit.collectors.registry import COLLECTORS

    collections: list[Collection] = []
    consumed: set[str] = set()
    for collector in COLLECTORS if collectors is None else collectors:
        mine = [f for f in files if f.kind in collector.kinds and f.rel not in consumed]
        if not mine:
            continue
        collection = collector.collect(mine, root, options)
        consumed.update(collection.consumed)
        collections.append(collection)
    return collections

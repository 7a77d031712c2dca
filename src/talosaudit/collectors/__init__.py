"""Collectors: one per input format family, each turning its files into a ``Collection``.

The contract is ``base.Collector``; the one table of collectors is ``registry.COLLECTORS``.
``collect_all`` groups the discovered files by kind and calls each collector once with its
files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from talosaudit.collectors.base import InputFile
    from talosaudit.collectors.options import CollectOptions
    from talosaudit.model.collection import Collection


def collect_all(files: Sequence[InputFile], root: Path, options: CollectOptions) -> list[Collection]:
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
    for collector in COLLECTORS:
        mine = [f for f in files if f.kind in collector.kinds and f.rel not in consumed]
        if not mine:
            continue
        collection = collector.collect(mine, root, options)
        consumed.update(collection.consumed)
        collections.append(collection)
    return collections

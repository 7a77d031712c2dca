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
    top = _isolated(first, mine, root, options) if mine else None
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
        collection = _isolated(collector, mine, root, options)
        consumed.update(collection.consumed)
        collections.append(collection)
    return collections


def _isolated(
    collector: Collector, files: Sequence[InputFile], root: Path, options: CollectOptions
) -> Collection:
    """Run ``collector``; when it fails, find the files that make it fail and scan the rest.

    A hostile or broken input must not stop the scan: each file that fails on its own (or,
    when none does, every file of the batch) becomes an unreadable-input problem naming the kind of
    failure, and the collector runs once more on the files that remain. The happy path
    costs nothing; a failure costs one run per file.
    """
    from talosaudit.model.collection import Collection, Problem, ProblemKind
    from talosaudit.model.source import SourceRef

    try:
        return collector.collect(files, root, options)
    except Exception as exc:
        first = exc
    failed: dict[str, BaseException] = {}
    for one in files:
        try:
            collector.collect([one], root, options)
        except Exception as exc:
            failed[one.rel] = exc
    if not failed:  # the files fail only together (one refers to another)
        failed = {f.rel: first for f in files}
    rest = [f for f in files if f.rel not in failed]
    collection = Collection()
    if rest:
        try:
            collection = collector.collect(rest, root, options)
        except Exception as exc:
            failed.update({f.rel: exc for f in rest})
    problems = tuple(
        Problem(
            kind=ProblemKind.UNREADABLE,
            message=f"file could not be read: {failure_kind(exc)}",
            source=SourceRef(path=rel, start_line=1, end_line=1, resource=rel),
            key=f"input:{rel}",
        )
        for rel, exc in sorted(failed.items())
    )
    return replace(
        collection,
        problems=(*collection.problems, *problems),
        files=tuple(sorted({*collection.files, *failed})),
    )


def failure_kind(exc: BaseException) -> str:
    """What went wrong, in words a user can act on (never a traceback)."""
    if isinstance(exc, RecursionError):
        return "it is nested too deeply to be read safely"
    if isinstance(exc, MemoryError):
        return "it is too large to be held in memory"
    detail = " ".join(str(exc).split())[:160]
    if "integer string conversion" in detail:
        return "a number has more digits than can be read (over 4300)"
    if isinstance(exc, (OverflowError, ValueError)):
        return f"a value is out of range or malformed ({type(exc).__name__}: {detail})"
    return f"unexpected {type(exc).__name__}: {detail}" if detail else f"unexpected {type(exc).__name__}"

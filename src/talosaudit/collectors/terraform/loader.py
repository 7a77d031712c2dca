"""Read and parse Terraform files: content-hash cache, then a process pool for the rest.

Workers receive ``(kind, bytes)`` and return the compact syntax tree (never lark trees);
with the ``fork`` start method they inherit the parser the parent built once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from talosaudit.collectors.terraform.cache import ParseCache, cache_key
from talosaudit.collectors.terraform.hcl_parse import parse_source
from talosaudit.collectors.terraform.syntax import BlockNode, ParseResult
from talosaudit.collectors.terraform.values import Lines, TerraformProblem

#: Below this many files to parse, a process pool costs more than it saves.
PARALLEL_MIN_FILES = 8
MAX_FILE_BYTES = 10 * 1024 * 1024
_CONFIG_SUFFIXES = (".tf", ".tf.json", ".tofu", ".tofu.json")


def parse_kind(path: Path) -> str:
    name = path.name
    if name.endswith(".tfvars.json"):
        return "tfvars-json"
    if name.endswith(".json"):
        return "json"
    return "hcl"


def _parse_item(item: tuple[str, bytes]) -> ParseResult:
    return parse_source(item[0], item[1])


def _warm_parser() -> None:
    """Build the lark parser before forking so that every worker inherits it."""
    from talosaudit.collectors.terraform import hcl_fast

    hcl_fast.warm()


def parse_all(items: list[tuple[str, bytes]], workers: int) -> list[ParseResult]:
    if workers > 1 and len(items) >= PARALLEL_MIN_FILES:
        _warm_parser()
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork") if "fork" in methods else None
        chunk = max(1, len(items) // (workers * 4))
        try:
            with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context) as pool:
                return list(pool.map(_parse_item, items, chunksize=chunk))
        except (OSError, RuntimeError):
            pass  # no processes available here (sandbox, broken pool): parse in-process
    return [parse_source(kind, data) for kind, data in items]


class Loader:
    """Parses files on request and remembers every result, problem and file read."""

    def __init__(self, root: Path, cache_dir: Path | None, workers: int, inputs: Iterable[Path]) -> None:
        self.root = root
        self.cache = ParseCache(cache_dir)
        self.workers = workers
        self.inputs = {os.path.abspath(p) for p in inputs}
        self.problems: list[TerraformProblem] = []
        self.trees: dict[str, BlockNode | None] = {}
        self.files_read: list[str] = []

    def rel(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.root)).as_posix()

    def load(self, paths: Iterable[Path]) -> None:
        """Parse every path not parsed yet (in parallel when there are many)."""
        pending: list[tuple[str, str, str, bytes]] = []
        for path in paths:
            key = os.path.abspath(path)
            if key in self.trees:
                continue
            self.trees[key] = None
            data = self._read(Path(key))
            if data is None:
                continue
            kind = parse_kind(path)
            pending.append((key, kind, cache_key(kind, data), data))
        misses: list[tuple[str, str, str, bytes]] = []
        for item in pending:
            cached = self.cache.get(item[2])
            if cached is None:
                misses.append(item)
            else:
                self._accept(item[0], cached)
        results = parse_all([(kind, data) for _, kind, _, data in misses], self.workers)
        for (key, _, ckey, _), result in zip(misses, results, strict=True):
            self.cache.put(ckey, result)
            self._accept(key, result)

    def tree(self, path: Path) -> BlockNode | None:
        key = os.path.abspath(path)
        if key not in self.trees:
            self.load([path])
        return self.trees.get(key)

    def _accept(self, key: str, result: ParseResult) -> None:
        rel = self.rel(Path(key))
        self.files_read.append(rel)
        self.trees[key] = result.tree
        if result.tree is None:
            line = max(result.error_line, 1)
            self.problems.append(
                TerraformProblem(
                    "TA001", result.error or "cannot be parsed", Lines(rel, line, line), f"parse:{rel}"
                )
            )

    def _read(self, path: Path) -> bytes | None:
        """The file's bytes; a file that was not an input is checked here like discover does
        (problems are reported only outside the root: inside it, discover already did)."""
        rel = self.rel(path)
        is_input = str(path) in self.inputs
        try:
            if not is_input and path.stat().st_size > MAX_FILE_BYTES:
                self._read_problem(rel, "file is over the 10 MiB limit")
                return None
            data = path.read_bytes()
        except OSError as exc:
            self._read_problem(rel, f"file cannot be read: {exc.strerror or exc}", force=True)
            return None
        if not is_input:
            try:
                if b"\0" in data[:8192]:
                    raise ValueError("file is binary (it contains NUL bytes), not text")
                data.decode("utf-8")
            except UnicodeDecodeError:
                self._read_problem(rel, "file is not valid UTF-8")
                return None
            except ValueError as exc:
                self._read_problem(rel, str(exc))
                return None
        return data

    def _read_problem(self, rel: str, message: str, force: bool = False) -> None:
        if force or rel.startswith("../"):
            self.problems.append(TerraformProblem("TA001", message, Lines(rel, 1, 1), f"parse:{rel}"))


def config_files(directory: Path) -> list[Path]:
    """The configuration files of a module directory; ``x.tofu`` replaces ``x.tf``."""
    try:
        names = sorted(
            e.name for e in os.scandir(directory) if e.is_file() and e.name.endswith(_CONFIG_SUFFIXES)
        )
    except OSError:
        return []
    present = set(names)
    chosen = []
    for name in names:
        if name.endswith(".tf") and name[:-3] + ".tofu" in present:
            continue
        if name.endswith(".tf.json") and name[:-8] + ".tofu.json" in present:
            continue
        chosen.append(directory / name)
    return chosen


def auto_tfvars(directory: Path) -> list[Path]:
    """``terraform.tfvars``, ``terraform.tfvars.json``, then ``*.auto.tfvars(.json)`` by name."""
    try:
        names = sorted(e.name for e in os.scandir(directory) if e.is_file())
    except OSError:
        return []
    ordered: list[str] = [n for n in ("terraform.tfvars", "terraform.tfvars.json") if n in names]
    ordered += [n for n in names if n.endswith((".auto.tfvars", ".auto.tfvars.json"))]
    return [directory / n for n in ordered]


def cached_modules(root_dir: Path) -> dict[str, Path]:
    """Module key -> directory from ``.terraform/modules/modules.json`` (what ``terraform
    init`` leaves); only directories inside the root module's directory are used."""
    manifest = root_dir / ".terraform" / "modules" / "modules.json"
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, Path] = {}
    base = os.path.realpath(root_dir)
    entries = doc.get("Modules", []) if isinstance(doc, dict) else []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        key, rel_dir = entry.get("Key"), entry.get("Dir")
        if not isinstance(key, str) or not key or not isinstance(rel_dir, str):
            continue
        target = os.path.realpath(root_dir / rel_dir)
        if os.path.commonpath([base, target]) == base and os.path.isdir(target):
            out[key] = Path(target)
    return out

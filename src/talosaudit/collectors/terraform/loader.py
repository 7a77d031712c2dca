"""Read and parse Terraform files: content-hash cache, then parser helpers for the rest.

This process parses files from the front of the list while lean helper processes
(``parse_worker``) take batches from the back, so both ends meet whatever the files cost.
Helpers are fresh interpreters that import only the parser: a fork of this process would
carry everything the command imported (forked pages count in every process's resident
set), and the whole scan is held to half of checkov's memory. Helpers return the compact
syntax tree (never lark trees); any helper failure leaves its batch to this process.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from talosaudit.collectors.terraform.cache import ParseCache, cache_key
from talosaudit.collectors.terraform.parse import parse_source
from talosaudit.collectors.terraform.parse_worker import read_message, write_message
from talosaudit.collectors.terraform.syntax import BlockNode, ParseResult
from talosaudit.collectors.terraform.values import Lines, TerraformProblem
from talosaudit.model import ProblemKind
from talosaudit.regular_files import NOT_REGULAR, NotRegularFileError, read_bytes, read_text

#: Helpers start in about 0.15 s and parse about 1 MB/s: below this much work they cost
#: more than they save.
PARALLEL_MIN_FILES = 8
PARALLEL_MIN_BYTES = 256 * 1024
#: Files per helper batch at most (about 0.1 s of parsing).
MAX_BATCH = 16
MAX_FILE_BYTES = 10 * 1024 * 1024
_CONFIG_SUFFIXES = (".tf", ".tf.json", ".tofu", ".tofu.json")
_WORKER_MODULE = "talosaudit.collectors.terraform.parse_worker"
#: What ``terraform init`` leaves to say where it put remote modules (relative to a root).
MODULES_MANIFEST = ".terraform/modules/modules.json"


def parse_kind(path: Path) -> str:
    name = path.name
    if name.endswith(".tfvars.json"):
        return "tfvars-json"
    if name.endswith(".json"):
        return "json"
    return "hcl"


def parse_all(
    items: list[tuple[str, bytes]], workers: int, min_bytes: int = PARALLEL_MIN_BYTES
) -> list[ParseResult]:
    """Parse ``(kind, bytes)`` items with up to ``workers`` processes (this one included)."""
    with _no_cyclic_gc():
        if workers > 1 and len(items) >= PARALLEL_MIN_FILES and sum(len(d) for _, d in items) >= min_bytes:
            return _SharedParse(items, workers - 1).run()
        return [parse_source(kind, data) for kind, data in items]


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: parsing and unpickling trees allocate hundreds of
    thousands of tuples that make no cycles, and the collections they trigger cost time.
    Reference counting still frees everything; the previous state comes back."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _SharedParse:
    """This process takes items from the front, each helper batches from the back."""

    def __init__(self, items: list[tuple[str, bytes]], helpers: int) -> None:
        self.items = items
        self.helpers = helpers
        self.results: list[ParseResult | None] = [None] * len(items)
        self.front = 0
        self.back = len(items)
        self.lock = threading.Lock()

    def run(self) -> list[ParseResult]:
        processes = [p for p in (_start_helper() for _ in range(self.helpers)) if p is not None]
        threads = [threading.Thread(target=self._feed, args=(p,), daemon=True) for p in processes]
        try:
            for thread in threads:
                thread.start()
            while (index := self._take_front()) is not None:
                self.results[index] = parse_source(*self.items[index])
            for thread in threads:
                thread.join()
        finally:
            for process in processes:
                _stop_helper(process)
        # whatever a failed helper left undone
        return [
            result if result is not None else parse_source(*item)
            for result, item in zip(self.results, self.items, strict=True)
        ]

    def _take_front(self) -> int | None:
        with self.lock:
            if self.front >= self.back:
                return None
            self.front += 1
            return self.front - 1

    def _take_back(self) -> tuple[int, int] | None:
        with self.lock:
            remaining = self.back - self.front
            if remaining <= 0:
                return None
            # shrinking batches, at most MAX_BATCH: this process never waits long for a
            # helper that starts late (a busy machine) or for the last batch
            size = max(1, min(MAX_BATCH, remaining // (2 * (self.helpers + 1))))
            self.back -= size
            return self.back, self.back + size

    def _feed(self, process: subprocess.Popen[bytes]) -> None:
        stdin, stdout = process.stdin, process.stdout
        if stdin is None or stdout is None:
            return
        try:
            while (span := self._take_back()) is not None:
                lo, hi = span
                write_message(stdin, pickle.dumps(self.items[lo:hi], protocol=pickle.HIGHEST_PROTOCOL))
                message = read_message(stdout)
                if message is None:
                    return  # the helper died: run() parses the rest
                results = pickle.loads(message)  # from our own helper process
                if not isinstance(results, list) or len(results) != hi - lo:
                    return
                for offset, result in enumerate(results):
                    if isinstance(result, ParseResult):
                        self.results[lo + offset] = result
        except Exception:  # any failure of a helper: run() parses what it left undone
            return


def _start_helper() -> subprocess.Popen[bytes] | None:
    # the helper must import the same talosaudit as this process
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except (OSError, ValueError):
        return None  # no processes here (sandbox): this process parses everything


def _stop_helper(process: subprocess.Popen[bytes]) -> None:
    try:
        if process.stdin is not None:
            process.stdin.close()  # the helper returns at the end of its input
        process.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


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
        with _no_cyclic_gc():
            self._load(paths)

    def _load(self, paths: Iterable[Path]) -> None:
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
                    ProblemKind.UNREADABLE,
                    result.error or "cannot be parsed",
                    Lines(rel, line, line),
                    f"parse:{rel}",
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
            data = read_bytes(path)
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

    def cached_modules(self, root_dir: Path) -> dict[str, Path]:
        """:func:`cached_modules`, reporting a manifest that is a FIFO, device or socket
        (it was not read, so the cached remote modules it lists are unknown)."""
        try:
            return cached_modules(root_dir)
        except NotRegularFileError:
            rel = self.rel(root_dir / MODULES_MANIFEST)
            self._read_problem(
                rel, f"{MODULES_MANIFEST} is {NOT_REGULAR} (a FIFO, device or socket); not read", True
            )
            return {}

    def _read_problem(self, rel: str, message: str, force: bool = False) -> None:
        if force or rel.startswith("../"):
            self.problems.append(
                TerraformProblem(ProblemKind.UNREADABLE, message, Lines(rel, 1, 1), f"parse:{rel}")
            )


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
    init`` leaves); only directories inside the root module's directory are used. A missing
    or broken manifest means no cached modules; one that is not a regular file raises
    :class:`NotRegularFileError` (the caller reports it)."""
    manifest = root_dir / MODULES_MANIFEST
    try:
        doc = json.loads(read_text(manifest))
    except NotRegularFileError:
        raise
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

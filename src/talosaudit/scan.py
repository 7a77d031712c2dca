"""The ``scan`` pipeline: discover, collect, merge, evaluate, then decide what is reported.

Post-processing order (each step sees the previous one's output):
selection (``--check``/``--skip-check``) → level overrides from the config → inline
suppressions → configured ignores → baseline → ``--min-level``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from talosaudit.admin_networks import admin_fact
from talosaudit.collectors import Collected, collect_by_root
from talosaudit.collectors.discover import discover_inputs
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.roles import RoleHints
from talosaudit.config import Config, ConfigError
from talosaudit.findings import (
    NOTHING_TO_CHECK,
    BaselineError,
    Finding,
    apply_baseline,
    apply_config_ignores,
    apply_inline_suppressions,
    comment_text,
    read_baseline,
)
from talosaudit.inline import ACCEPTED_FORM, InlineIgnore, parse_comments, parse_inline_ignores
from talosaudit.model import AddressSet, Collection, Fact, Model, Problem, ProblemKind, Role, merge
from talosaudit.model.secrets import Secret
from talosaudit.model.source import SourceRef
from talosaudit.policies.context import EvalSettings
from talosaudit.policies.engine import evaluate
from talosaudit.policies.node_ports import node_ports
from talosaudit.policies.params import with_overrides
from talosaudit.policies.registry import Catalogue, PolicyError, load_catalogue, validate_params
from talosaudit.policies.schema import Policy
from talosaudit.roots import merge_root_findings
from talosaudit.settings import CommandLine, Settings, resolve


class ScanError(Exception):
    """The scan could not run (no inputs, bad policy file, unreadable baseline): exit 2."""


@dataclass(frozen=True)
class ScanRequest:
    paths: tuple[Path, ...]
    root: Path
    config: Config = field(default_factory=Config)
    #: How to name the config file in reasons and suppressions (``.talosaudit.yaml``).
    config_name: str = ".talosaudit.yaml"
    config_path: Path | None = None
    #: The command line's cni, tunnel, admin networks, level floor and fail-on (merged with
    #: the config into ``settings``).
    cli: CommandLine = field(default_factory=CommandLine)
    var_files: tuple[Path, ...] = ()
    checks: tuple[str, ...] = ()
    skip_checks: tuple[str, ...] = ()
    baseline: Path | None = None
    policy_dirs: tuple[Path, ...] = ()
    cache_dir: Path | None = None
    jobs: int = 1
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: The date ``until:`` of an ignore is compared with (tests set it).
    today: dt.date | None = None

    @functools.cached_property
    def settings(self) -> Settings:
        """The command line, the config file and the defaults merged (and validated) once."""
        return resolve(self.cli, self.config, self.config_name, self.config_path)


@dataclass(frozen=True)
class ScanResult:
    #: Counted findings, sorted by Finding.sort_key.
    findings: tuple[Finding, ...]
    #: Matched by an inline comment or a configured ignore; kept for reports, never counted.
    suppressed: tuple[Finding, ...]
    #: Unsuppressed findings before the baseline and --min-level: what a new baseline holds.
    baseline_candidates: tuple[Finding, ...]
    facts: tuple[Fact, ...]
    files: tuple[str, ...]
    policies: tuple[Policy, ...]
    duration: float
    notices: tuple[str, ...]
    baseline_dropped: int
    model: Model
    #: With several Terraform root modules, the facts of each (root, facts); ``facts`` is
    #: then empty. Empty with one root or none.
    facts_by_root: tuple[tuple[str, tuple[Fact, ...]], ...] = ()
    #: With several Terraform root modules, each one's model (root, model) for the per-root
    #: pictures (``model`` is then their merge, never evaluated). Empty with one root or none.
    models_by_root: tuple[tuple[str, Model], ...] = ()


def find_root(explicit: Path | None, cwd: Path) -> Path:
    """``--root``, else the nearest directory up from ``cwd`` holding ``.git``, else ``cwd``."""
    if explicit is not None:
        return explicit.resolve()
    here = cwd.resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return here


def path_skipped(rel: str, globs: Sequence[str]) -> bool:
    """``rel`` (relative to the root) or one of its folders matches a ``--skip-path`` glob."""
    if not globs:
        return False
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(p, g.rstrip("/")) for g in globs for p in prefixes)


def given_files(request: ScanRequest) -> tuple[str, ...]:
    """The path arguments that are files, relative to the root (findings are limited to them
    when no folder is given)."""
    if not request.paths or any(not p.is_file() for p in request.paths):
        return ()
    return tuple(Path(os.path.relpath(p.resolve(), request.root)).as_posix() for p in request.paths)


def scope_notices(request: ScanRequest, cwd: Path) -> list[str]:
    """What a single-file argument means: a Terraform file is read with its whole module."""
    notices: list[str] = []
    for path in request.paths if given_files(request) else ():
        if not path.name.endswith(_TERRAFORM_SUFFIXES):
            continue
        folder = path.resolve().parent
        siblings = [p for p in folder.iterdir() if p.is_file() and p.name.endswith(_TERRAFORM_SUFFIXES)]
        if len(siblings) < 2:
            continue
        try:
            shown = folder.relative_to(cwd.resolve()).as_posix()
            shown = "./" if shown == "." else f"./{shown}/"
        except ValueError:
            shown = f"{folder}/"
        notices.append(
            f"{path.name} is part of the module in {shown}: the module is evaluated, "
            "findings are limited to the given file"
        )
    return notices


_TERRAFORM_SUFFIXES = (".tf", ".tf.json", ".tofu", ".tofu.json")


def parse_rule_selection(values: Iterable[str]) -> tuple[str, ...]:
    """``--check TA201,TA3 --check TA1`` → ``("TA201", "TA3", "TA1")`` (ids or prefixes)."""
    out: list[str] = []
    for value in values:
        out += [part.strip().upper() for part in value.split(",") if part.strip()]
    return tuple(out)


def is_selected(rule_id: str, checks: Sequence[str], skips: Sequence[str]) -> bool:
    if any(rule_id.startswith(s) for s in skips):
        return False
    return not checks or any(rule_id.startswith(c) for c in checks)


# --- building the model ----------------------------------------------------------------


def extra_facts(request: ScanRequest) -> list[Fact]:
    """The facts the settings add to the inputs' (cni, tunnel, features)."""
    return list(request.settings.facts)


def admin_collection(request: ScanRequest) -> Collection:
    """The settings' admin networks as one more collection."""
    return Collection(admin=request.settings.admin_networks)


def admin_networks_fact(request: ScanRequest, collections: Iterable[Collection]) -> list[Fact]:
    """The ``admin_networks`` fact (every admin network and where it came from), if any."""
    found = admin_fact(
        (entry for c in collections for entry in c.admin),
        request.cli.admin_cidrs,
        request.config.admin_networks,
        request.config_name,
    )
    return [found] if found else []


def role_hints(config: Config, origin: str) -> RoleHints | None:
    by_address: list[tuple[str, Role]] = []
    by_name: list[tuple[str, Role]] = []
    by_cidr: list[tuple[AddressSet, Role]] = []
    for hint in config.nodes:
        role = Role(hint.role)
        if hint.address:
            by_address.append((hint.address, role))
        if hint.name:
            by_name.append((hint.name, role))
        if hint.cidr:
            by_cidr.append((AddressSet.parse(hint.cidr), role))
    hints = RoleHints(tuple(by_address), tuple(by_name), tuple(by_cidr), origin)
    return hints if hints else None


def configured_catalogue(catalogue: Catalogue, config: Config, config_name: str) -> Catalogue:
    """Apply ``rules: {ID: {level, params}}`` of the config to the policies.

    The parameters are checked here, against the kind's model, so a typo in them is a
    clear "cannot run" error naming the config file.
    """
    out: list[Policy] = []
    for p in catalogue.policies:
        setting = config.rules.get(p.id)
        if setting is not None:
            p = with_overrides(p, setting.params)  # noqa: PLW2901 - the configured version replaces it
            if setting.level is not None:
                p = p.model_copy(update={"level": setting.level})  # noqa: PLW2901
            validate_params(p, f"{config_name} rules.{p.id}")
        out.append(p)
    return Catalogue(tuple(out))


# --- the pipeline ----------------------------------------------------------------------


@dataclass(frozen=True)
class RootModels:
    """The models of one scan: one per Terraform root module (``("", model)`` alone when the
    inputs hold at most one), the model of what belongs to no root, the files read."""

    by_root: tuple[tuple[str, Model], ...]
    outside: Model
    files: tuple[str, ...]
    #: What discovery did not walk (a directory symlink out of the scan root).
    notes: tuple[str, ...] = ()
    #: The inline ignores of every scanned file, read once while building (for finish_run).
    inline_ignores: Mapping[str, tuple[InlineIgnore, ...]] = field(default_factory=dict)

    @property
    def several(self) -> bool:
        return len(self.by_root) > 1

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """The secret values of every root (outputs show their source instead)."""
        found = [s for _, m in self.by_root for s in m.secrets]
        return tuple(dict.fromkeys([*found, *self.outside.secrets]))

    def merged(self) -> Model:
        """Everything as one model (what commands that do not split by root read)."""
        if not self.several:
            return self.by_root[0][1]
        return merge_models([m for _, m in self.by_root] + [self.outside])


def build_models(
    request: ScanRequest, known_ids: Iterable[str] | None = None, catalogue: Catalogue | None = None
) -> RootModels:
    """Discover, collect and merge: one model per root module, and the files read.

    ``known_ids``: the rule ids a suppression comment may name (None: any well-formed id).
    ``catalogue``: the policies whose flows say which ports a node serves (None: the
    request's own catalogue).
    """
    discovered = discover_inputs(list(request.paths), request.root)
    files, discover_problems = discovered.files, discovered.problems
    skips = request.settings.skip_paths
    files = [f for f in files if not path_skipped(f.rel, skips)]
    discover_problems = [p for p in discover_problems if not path_skipped(p.source.path, skips)]
    if not files and not discover_problems:
        shown = ", ".join(str(p) for p in request.paths)
        raise ScanError(f"no inputs found in {shown} (Terraform, Talos, Proxmox or pfSense/OPNsense files)")
    options = CollectOptions(
        var_files=request.var_files,
        env=request.env,
        cache_dir=request.cache_dir,
        jobs=request.jobs,
        role_hints=role_hints(request.config, request.config_name),
        admin_named=request.settings.admin_named,
        admin_interfaces=request.config.admin_interfaces,
        node_ports=node_ports(catalogue if catalogue is not None else request_catalogue(request)),
    )
    collected: Collected = collect_by_root(files, request.root, options)
    comments = read_comments([f.path for f in files], request.root, known_ids)
    found = Collection(problems=(*discover_problems, *comments.problems))
    extra = [admin_collection(request)]
    if not collected.roots:
        parts = [*collected.everywhere, found]
        model = merge([*parts, *extra], [*extra_facts(request), *admin_networks_fact(request, parts)])
        by_root: tuple[tuple[str, Model], ...] = (("", model),)
        outside = Model()
    else:
        by_root = tuple(
            (
                name,
                merge(
                    [*parts, *collected.everywhere, *extra],
                    [*extra_facts(request), *admin_networks_fact(request, [*parts, *collected.everywhere])],
                ),
            )
            for name, parts in sorted(collected.roots.items())
        )
        outside = merge([*collected.unrooted, found])
    read = {f for _, m in by_root for f in m.files} | set(outside.files)
    scanned = tuple(sorted({*read, *(f.rel for f in files)}))
    return RootModels(by_root, outside, scanned, tuple(discovered.notes), comments.ignores)


def build_model(
    request: ScanRequest, known_ids: Iterable[str] | None = None
) -> tuple[Model, tuple[str, ...]]:
    """Discover, collect and merge: the model of the inputs (root modules side by side) and
    the files it was built from."""
    models = build_models(request, known_ids)
    return models.merged(), models.files


def merge_models(models: Sequence[Model]) -> Model:
    """Several models as one (for ``live`` and the result's model: never evaluated)."""
    collections = [
        Collection(
            node_groups=m.node_groups,
            layers=tuple(m.layers.values()),
            segments=tuple(m.segments.values()),
            facts=tuple(m.facts.values()),
            admin=((m.admin, m.admin_sources[0] if m.admin_sources else None),) if m.admin else (),
            problems=m.problems,
            drift=m.drift,
            files=m.files,
            secrets=m.secrets,
            notices=m.notices,
            forwarders=m.forwarders,
        )
        for m in models
    ]
    return merge(collections)


@dataclass(frozen=True)
class Comments:
    """The suppression comments of the scanned files, from one read of each."""

    #: Comments that look like suppressions but are not understood.
    problems: tuple[Problem, ...]
    #: Every file's inline ignores, by path relative to the scan root (what
    #: ``apply_inline_suppressions`` would otherwise read again).
    ignores: dict[str, tuple[InlineIgnore, ...]]


def read_comments(paths: Iterable[Path], root: Path, known_ids: Iterable[str] | None) -> Comments:
    """Read each scanned file once for its suppression comments."""
    known = frozenset(known_ids) if known_ids is not None else None
    out: list[Problem] = []
    ignores: dict[str, tuple[InlineIgnore, ...]] = {}
    for path in paths:
        text = comment_text(path)
        if text is None:
            continue  # discover() already reported what it could not read
        rel = Path(os.path.relpath(path, root)).as_posix()
        ignores[rel] = parse_inline_ignores(text)
        for odd in parse_comments(text, known).not_understood:
            shown = odd.text if len(odd.text) <= 80 else odd.text[:77] + "..."
            out.append(
                Problem(
                    kind=ProblemKind.SUPPRESSION_NOT_UNDERSTOOD,
                    message=(f"`{shown}` is not applied: {odd.why}; the accepted form is `{ACCEPTED_FORM}`"),
                    source=SourceRef(rel, odd.line, odd.line, f"{rel}:{odd.text}"),
                    key=f"suppression:{rel}:{odd.text}",
                )
            )
    return Comments(tuple(out), ignores)


def run_scan(request: ScanRequest) -> ScanResult:
    started = time.monotonic()
    prepared = prepare_run(request)
    models = build_models(request, prepared.catalogue.ids(), prepared.catalogue)
    if not models.several:
        model = models.by_root[0][1]
        raw = evaluate_model(model, prepared, request)
        return finish_run(
            request,
            prepared,
            raw,
            model,
            models.files,
            started=started,
            notices=models.notes,
            inline_ignores=models.inline_ignores,
        )
    per_root = [(name, evaluate_model(model, prepared, request)) for name, model in models.by_root]
    raw = [*merge_root_findings(per_root), *evaluate_model(models.outside, prepared, request)]
    facts = tuple((name, tuple(m.facts[n] for n in sorted(m.facts))) for name, m in models.by_root)
    result = finish_run(
        request,
        prepared,
        raw,
        models.merged(),
        models.files,
        started=started,
        notices=models.notes,
        inline_ignores=models.inline_ignores,
    )
    return replace(result, facts=(), facts_by_root=facts, models_by_root=models.by_root)


@dataclass(frozen=True)
class PreparedRun:
    """The catalogue and selection of one run, checked before any input is read."""

    catalogue: Catalogue
    #: The selected policies (what the report lists as the rules that ran).
    policies: tuple[Policy, ...]
    notices: tuple[str, ...]
    known_baseline: frozenset[str]


def request_catalogue(request: ScanRequest) -> Catalogue:
    """The catalogue with the config's ``rules:`` applied: what ``scan``, ``graph`` and ``why``
    judge with, so a configured parameter moves all three."""
    try:
        return configured_catalogue(
            load_catalogue(list(request.policy_dirs)), request.config, request.config_name
        )
    except PolicyError as exc:
        raise ScanError(str(exc)) from exc


def prepare_run(request: ScanRequest) -> PreparedRun:
    """Load and configure the catalogue, check the selection, read the baseline."""
    catalogue = request_catalogue(request)
    known = set(catalogue.ids())
    for value in (*request.checks, *request.skip_checks):
        if not any(rule_id.startswith(value) for rule_id in known):
            raise ScanError(
                f"--check/--skip-check {value!r} matches no rule id (see `talosaudit policies list`)"
            )
    unknown_rules = sorted(set(request.config.rules) - known)
    notices = [f"{request.config_name}: rules.{r} names no known rule" for r in unknown_rules]
    policies = [p for p in catalogue.policies if is_selected(p.id, request.checks, request.skip_checks)]
    return PreparedRun(catalogue, tuple(policies), tuple(notices), _read_baseline(request.baseline))


def evaluate_model(model: Model, prepared: PreparedRun, request: ScanRequest) -> list[Finding]:
    """The raw findings of one model (input problems and drift too: each has its policy)."""
    # The whole catalogue goes in (policies read each other's parameters, e.g. TA207's
    # trusted prefix); the selection decides which rules run.
    settings = EvalSettings(enabled=lambda rule_id: is_selected(rule_id, request.checks, request.skip_checks))
    return _dedupe(evaluate(model, prepared.catalogue, settings))


def finish_run(
    request: ScanRequest,
    prepared: PreparedRun,
    raw: Iterable[Finding],
    model: Model,
    files: tuple[str, ...],
    *,
    started: float,
    notices: Iterable[str] = (),
    inline_ignores: Mapping[str, tuple[InlineIgnore, ...]] | None = None,
) -> ScanResult:
    """Selection, level overrides, suppressions, ignores, baseline and --min-level.

    ``inline_ignores``: the inline ignores already read per file (``RootModels``)."""
    all_notices = [*prepared.notices, *model.notices, *notices]
    findings = [f for f in _dedupe(raw) if is_selected(f.rule_id, request.checks, request.skip_checks)]
    only = given_files(request)
    findings = [
        f
        for f in findings
        if not path_skipped(f.location.path, request.settings.skip_paths)
        and (not only or f.location.path in only)
    ]
    all_notices += scope_notices(request, Path.cwd())
    all_notices += nothing_to_check(model, prepared.policies)
    findings = _override_levels(findings, request.config)
    today = request.today or dt.date.today()
    findings, expired_inline = apply_inline_suppressions(findings, request.root, today, inline_ignores)
    findings, expired = apply_config_ignores(
        findings, request.config.ignore_entries(request.config_name), today
    )
    all_notices += [*expired_inline, *expired]
    suppressed = sorted((f for f in findings if f.suppressed is not None), key=Finding.sort_key)
    active = [f for f in findings if f.suppressed is None]
    candidates = sorted(active, key=Finding.sort_key)
    active, dropped = apply_baseline(active, prepared.known_baseline)
    if request.settings.min_level is not None:
        floor = request.settings.min_level.rank
        active = [f for f in active if f.level.rank >= floor]
    return ScanResult(
        findings=tuple(sorted(active, key=Finding.sort_key)),
        suppressed=tuple(suppressed),
        baseline_candidates=tuple(candidates),
        facts=tuple(model.facts[name] for name in sorted(model.facts)),
        files=files,
        policies=tuple(sorted(prepared.policies, key=lambda p: p.id)),
        duration=time.monotonic() - started,
        notices=tuple(all_notices),
        baseline_dropped=dropped,
        model=model,
    )


def nothing_to_check(model: Model, policies: Sequence[Policy]) -> list[str]:
    """Loud notices for a run that checked nothing: "nothing to check" is not "clean"."""
    out: list[str] = []
    if not policies:
        out.append(f"{NOTHING_TO_CHECK}: 0 policies ran (see --check/--skip-check and --policy-dir)")
    if not model.node_groups:
        out.append(
            f"{NOTHING_TO_CHECK}: no node group was found in the inputs, so no required or forbidden "
            "flow could be checked (are the Talos nodes defined in the scanned paths?)"
        )
    return out


def _read_baseline(path: Path | None) -> frozenset[str]:
    if path is None:
        return frozenset()
    try:
        return read_baseline(path)
    except BaselineError as exc:
        raise ScanError(str(exc)) from exc


def _override_levels(findings: Iterable[Finding], config: Config) -> list[Finding]:
    out: list[Finding] = []
    for f in findings:
        setting = config.rules.get(f.rule_id)
        level = setting.level if setting is not None else None
        out.append(f.with_level(level) if level is not None and level is not f.level else f)
    return out


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for f in findings:
        seen.setdefault(f.fingerprint, f)
    return list(seen.values())


__all__ = ["ConfigError", "ScanError", "ScanRequest", "ScanResult", "find_root", "run_scan"]

"""The ``scan`` pipeline: discover, collect, merge, evaluate, then decide what is reported.

Post-processing order (each step sees the previous one's output):
selection (``--check``/``--skip-check``) → level overrides from the config → inline
suppressions → configured ignores → baseline → ``--min-level``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from talosaudit.admin_networks import AdminNetworkError, admin_fact, allowlist_prefixes, check_declared
from talosaudit.collectors import collect_all
from talosaudit.collectors.discover import discover
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.roles import RoleHints
from talosaudit.config import Config, ConfigError
from talosaudit.findings import (
    BaselineError,
    Finding,
    apply_baseline,
    apply_config_ignores,
    apply_inline_suppressions,
    read_baseline,
)
from talosaudit.model import AddressSet, Collection, Fact, FactOrigin, Model, Problem, Role, SourceRef, merge
from talosaudit.policies.context import EvalSettings
from talosaudit.policies.engine import evaluate
from talosaudit.policies.registry import Catalogue, PolicyError, load_catalogue, validate_params
from talosaudit.policies.schema import Level, Policy

DEFAULT_CNI = Fact("cni", "flannel", "Talos-managed Flannel, the default CNI", FactOrigin.DEFAULT)
DEFAULT_TUNNEL = Fact(
    "tunnel", "vxlan", "VXLAN, the default tunnel of Flannel and Cilium", FactOrigin.DEFAULT
)
#: Levels of input problems when the catalogue has no policy file for them.
_PROBLEM_LEVELS = {"TA001": Level.ERROR}


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
    cni: str | None = None
    tunnel: str | None = None
    admin_cidrs: tuple[str, ...] = ()
    var_files: tuple[Path, ...] = ()
    checks: tuple[str, ...] = ()
    skip_checks: tuple[str, ...] = ()
    min_level: Level | None = None
    baseline: Path | None = None
    policy_dirs: tuple[Path, ...] = ()
    cache_dir: Path | None = None
    jobs: int = 1
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: The date ``until:`` of an ignore is compared with (tests set it).
    today: dt.date | None = None


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


def find_root(explicit: Path | None, cwd: Path) -> Path:
    """``--root``, else the nearest directory up from ``cwd`` holding ``.git``, else ``cwd``."""
    if explicit is not None:
        return explicit.resolve()
    here = cwd.resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return here


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
    """Command line, then config file, then defaults; merge() keeps the lowest origin."""
    facts: list[Fact] = [DEFAULT_CNI, DEFAULT_TUNNEL]
    cfg, name = request.config, request.config_name
    if request.cni:
        facts.append(
            Fact("cni", request.cni, f"--cni {request.cni} on the command line", FactOrigin.COMMAND_LINE)
        )
    if request.tunnel:
        facts.append(
            Fact(
                "tunnel",
                request.tunnel,
                f"--tunnel {request.tunnel} on the command line",
                FactOrigin.COMMAND_LINE,
            )
        )
    if cfg.cni:
        facts.append(Fact("cni", cfg.cni, f"cni: {cfg.cni} in {name}", FactOrigin.CONFIG_FILE))
    if cfg.tunnel:
        facts.append(Fact("tunnel", cfg.tunnel, f"tunnel: {cfg.tunnel} in {name}", FactOrigin.CONFIG_FILE))
    for feature, value in cfg.features.model_dump().items():
        if value is not None:
            text = "true" if value else "false"
            facts.append(Fact(feature, text, f"features.{feature}: {text} in {name}", FactOrigin.CONFIG_FILE))
    return facts


def admin_collection(request: ScanRequest) -> Collection:
    """Admin networks from ``--admin-cidr`` and ``admin_networks:`` as one more collection;
    they add to the ones the inputs declare (admin_networks.py). A public range wider than
    the allowlist threshold is refused (exit 2): it is the internet, not an operator."""
    setting = request.config.rules.get("TA207")
    prefixes = allowlist_prefixes(setting.params if setting else None)
    admin: list[tuple[AddressSet, SourceRef | None]] = []
    for cidr in request.admin_cidrs:
        try:
            admin.append((check_declared(cidr, "--admin-cidr", prefixes), None))
        except AdminNetworkError as exc:
            raise ScanError(str(exc)) from exc
        except ValueError as exc:
            raise ScanError(f"--admin-cidr {cidr!r} is not a CIDR: {exc}") from exc
    config_ref = SourceRef(request.config_name, 1, 1, "admin_networks") if request.config_path else None
    for cidr in request.config.admin_networks:
        try:
            admin.append(
                (check_declared(cidr, f"admin_networks in {request.config_name}:", prefixes), config_ref)
            )
        except AdminNetworkError as exc:
            raise ScanError(str(exc)) from exc
    return Collection(admin=tuple(admin))


def admin_networks_fact(request: ScanRequest, collections: Iterable[Collection]) -> list[Fact]:
    """The ``admin_networks`` fact (every admin network and where it came from), if any."""
    found = admin_fact(
        (entry for c in collections for entry in c.admin),
        request.admin_cidrs,
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
            update: dict[str, object] = {"params": {**p.params, **setting.params}}
            if setting.level is not None:
                update["level"] = setting.level
            p = p.model_copy(update=update)  # noqa: PLW2901 - the configured version replaces it
            validate_params(p, f"{config_name} rules.{p.id}")
        out.append(p)
    return Catalogue(tuple(out))


def problem_findings(problems: Iterable[Problem], policies: Mapping[str, Policy]) -> list[Finding]:
    """Input problems (TA001/TA002/TA003, platform rules) as findings."""
    out: list[Finding] = []
    for p in problems:
        policy = policies.get(p.rule_id)
        level = policy.level if policy else _PROBLEM_LEVELS.get(p.rule_id, Level.WARNING)
        out.append(
            Finding(
                rule_id=p.rule_id,
                level=level,
                message=p.message,
                location=p.source,
                identity=p.key or p.message,
                related=p.related,
            )
        )
    return out


# --- the pipeline ----------------------------------------------------------------------


def build_model(request: ScanRequest) -> tuple[Model, tuple[str, ...]]:
    """Discover, collect and merge: the model of the inputs and the files it was built from."""
    files, discover_problems = discover(list(request.paths), request.root)
    if not files and not discover_problems:
        shown = ", ".join(str(p) for p in request.paths)
        raise ScanError(f"no inputs found in {shown} (Terraform, Talos, Proxmox or pfSense/OPNsense files)")
    options = CollectOptions(
        var_files=request.var_files,
        env=request.env,
        cache_dir=request.cache_dir,
        jobs=request.jobs,
        role_hints=role_hints(request.config, request.config_name),
        admin_named=bool(
            request.admin_cidrs or request.config.admin_networks or request.config.admin_interfaces
        ),
        admin_interfaces=request.config.admin_interfaces,
    )
    collections = collect_all(files, request.root, options)
    model = merge(
        [*collections, Collection(problems=tuple(discover_problems)), admin_collection(request)],
        [*extra_facts(request), *admin_networks_fact(request, collections)],
    )
    scanned = tuple(sorted({*model.files, *(f.rel for f in files)}))
    return model, scanned


def run_scan(request: ScanRequest) -> ScanResult:
    started = time.monotonic()
    prepared = prepare_run(request)
    model, files = build_model(request)
    raw = evaluate_model(model, prepared, request)
    return finish_run(request, prepared, raw, model, files, started=started)


@dataclass(frozen=True)
class PreparedRun:
    """The catalogue and selection of one run, checked before any input is read."""

    catalogue: Catalogue
    #: The selected policies (what the report lists as the rules that ran).
    policies: tuple[Policy, ...]
    notices: tuple[str, ...]
    known_baseline: frozenset[str]


def prepare_run(request: ScanRequest) -> PreparedRun:
    """Load and configure the catalogue, check the selection, read the baseline."""
    try:
        catalogue = configured_catalogue(
            load_catalogue(list(request.policy_dirs)), request.config, request.config_name
        )
    except PolicyError as exc:
        raise ScanError(str(exc)) from exc
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
    """The raw findings of one model: policies, plus problems no policy file covers."""
    # The whole catalogue goes in (policies read each other's parameters, e.g. TA207's
    # trusted prefix); the selection decides which rules run.
    settings = EvalSettings(enabled=lambda rule_id: is_selected(rule_id, request.checks, request.skip_checks))
    raw = evaluate(model, prepared.catalogue, settings)
    # The engine reports input problems through `input_problem` policies; a problem whose
    # rule has no policy file at all (a collector's platform rule) must not vanish.
    orphans = [p for p in model.problems if prepared.catalogue.get(p.rule_id) is None]
    return _dedupe([*raw, *problem_findings(orphans, {})])


def finish_run(
    request: ScanRequest,
    prepared: PreparedRun,
    raw: Iterable[Finding],
    model: Model,
    files: tuple[str, ...],
    *,
    started: float,
    notices: Iterable[str] = (),
) -> ScanResult:
    """Selection, level overrides, suppressions, ignores, baseline and --min-level."""
    all_notices = [*prepared.notices, *notices]
    findings = [f for f in _dedupe(raw) if is_selected(f.rule_id, request.checks, request.skip_checks)]
    findings = _override_levels(findings, request.config)
    findings = apply_inline_suppressions(findings, request.root)
    findings, expired = apply_config_ignores(
        findings, request.config.ignore_entries(request.config_name), request.today or dt.date.today()
    )
    all_notices += expired
    suppressed = sorted((f for f in findings if f.suppressed is not None), key=Finding.sort_key)
    active = [f for f in findings if f.suppressed is None]
    candidates = sorted(active, key=Finding.sort_key)
    active, dropped = apply_baseline(active, prepared.known_baseline)
    if request.min_level is not None:
        floor = request.min_level.rank
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

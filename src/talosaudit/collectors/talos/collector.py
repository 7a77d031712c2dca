"""The Talos collector: machine configs in, host firewall layers, node groups and facts out."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from talosaudit.collectors.base import TEMPLATE, YAML, ClaimsNoNames, InputFile
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.talos.firewall import build_host_firewall, has_firewall_documents
from talosaudit.collectors.talos.layout import NodeConfig, plan
from talosaudit.collectors.talos.parse import ParsedFile, parse_file
from talosaudit.collectors.talos.redact import redact_collection
from talosaudit.collectors.talos.settings import NodeSettings, read_settings
from talosaudit.collectors.talos.templates import RenderedTemplates, is_template
from talosaudit.model import ProblemKind
from talosaudit.model.addresses import EMPTY, AddressSet
from talosaudit.model.cluster import Fact, NodeGroup, Role
from talosaudit.model.collection import Attachment, Collection, Problem
from talosaudit.model.firewall import Layer
from talosaudit.model.source import SourceRef

TALOS_KIND = "talos"
LAYER_PREFIX = "talos:"
#: How much of a ``.yaml`` file or template sniffing reads.
_SNIFF_BYTES = 64 * 1024
_TALOS_MARKERS = re.compile(
    r"^(?:machine:|cluster:\s*$|version:\s*v1alpha1\b|apiVersion:\s*v1alpha1\b"
    r"|kind:\s*(?:NetworkRuleConfig|NetworkDefaultActionConfig)\b)",
    re.MULTILINE,
)
#: A talhelper ``talconfig.yaml``: both top-level keys talhelper requires.
_TALCONFIG_MARKERS = (re.compile(r"^clusterName:", re.MULTILINE), re.compile(r"^nodes:", re.MULTILINE))


class TalosCollector(ClaimsNoNames):
    """Talos machine configs and patches (also talhelper files), recognised by content.

    A template (``.tftpl``, ``.j2``, ...) whose text looks like a Talos config is claimed too,
    so an unrendered machine config is reported instead of vanishing."""

    kinds = frozenset({TALOS_KIND})

    def sniff(self, kind: str, text: str, rel: str) -> str | None:
        del rel
        if kind not in (YAML, TEMPLATE):
            return None
        head = text[:_SNIFF_BYTES]
        if _TALOS_MARKERS.search(head):
            return TALOS_KIND
        if kind == YAML and all(marker.search(head) for marker in _TALCONFIG_MARKERS):
            return TALOS_KIND
        return None

    def collect(self, files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
        return collect(files, root, options)


def collect(files: Sequence[InputFile], root: Path, options: CollectOptions | None = None) -> Collection:
    """Every Talos config among ``files`` (kind ``talos``); never raises for bad input."""
    del options  # nothing in the options concerns Talos configs yet
    problems: list[Problem] = []
    parsed: list[ParsedFile] = []
    paths: dict[str, Path] = {}
    read: list[str] = []
    rendered = RenderedTemplates(root)
    for file in files:
        if file.kind != TALOS_KIND:
            continue
        read.append(file.rel)
        paths[file.rel] = file.path
        result, file_problems = parse_file(file.path, file.rel)
        if result is None and is_template(file.rel):
            file_problems = _template_problems(file.rel, file_problems, rendered)
        problems.extend(file_problems)
        if result is not None:
            parsed.append(result)

    def read_extra(path: Path, rel: str) -> ParsedFile | None:
        # A patch a talconfig names that discovery did not pass (e.g. only typed documents).
        result, extra_problems = parse_file(path, rel)
        problems.extend(extra_problems)
        if result is not None:
            read.append(rel)
            paths[rel] = path
        return result

    for path, rel in _talconfigs_beside(files, root, set(paths)):
        # talhelper configs do not look like machine configs, so discovery may not pass them;
        # one next to (or above) the patches decides which nodes they belong to.
        extra = read_extra(path, rel)
        if extra is not None:
            parsed.append(extra)
    configs, plan_problems = plan(parsed, paths, read_extra, root)
    problems.extend(plan_problems)
    collection = build_nodes(configs)
    return redact_collection(
        Collection(
            layers=collection.layers,
            facts=collection.facts,
            node_networks=collection.node_networks,
            problems=_unique_problems([*problems, *collection.problems]),
            attachments=collection.attachments,
            files=tuple(sorted(set(read))),
        )
    )


_TALCONFIG_NAMES = ("talconfig.yaml", "talconfig.yml")


def _template_problems(rel: str, found: list[Problem], rendered: RenderedTemplates) -> list[Problem]:
    """An unparseable template: nothing to say when a scanned ``templatefile()`` renders it
    (it is audited through that call), a note when nothing does."""
    if not found or not all(p.message.startswith("unrendered template") for p in found):
        return found
    if rendered.renders(rel):
        return []
    return [
        replace(
            p,
            message=p.message.split("; scan the rendered")[0]
            + "; no scanned templatefile() renders it, so its content is not audited "
            "(scan the rendered machine config, or the Terraform that renders it)",
            informational=True,
        )
        for p in found
    ]


def _talconfigs_beside(files: Sequence[InputFile], root: Path, known: set[str]) -> list[tuple[Path, str]]:
    """talhelper configs in the directories of the Talos inputs or above them, up to ``root``."""
    root_real = Path(os.path.realpath(root))
    found: dict[str, Path] = {}
    seen_dirs: set[Path] = set()
    for file in files:
        if file.kind != TALOS_KIND:
            continue
        directory = Path(os.path.realpath(file.path)).parent
        while directory not in seen_dirs and (directory == root_real or root_real in directory.parents):
            seen_dirs.add(directory)
            for name in _TALCONFIG_NAMES:
                candidate = directory / name
                rel = Path(os.path.relpath(candidate, root_real)).as_posix()
                if rel not in known and candidate.is_file():
                    found[rel] = candidate
            directory = directory.parent
    return sorted(((path, rel) for rel, path in found.items()), key=lambda item: item[1])


def build_nodes(configs: Sequence[NodeConfig]) -> Collection:
    """Layers, attachments, facts and problems of node configs (also used for Terraform's
    ``talos_machine_configuration``, whose configs are built from ``config_patches``)."""
    settings = [_without_claimed_defaults(c, read_settings(c.docs, c.complete)) for c in configs]
    # KubeSpan peers are the KubeSpan nodes of the same cluster (same control-plane endpoint).
    peers: dict[str, AddressSet] = {}
    for config, found in zip(configs, settings, strict=True):
        if found.kubespan:
            cluster = _cluster_of(found)
            peers[cluster] = peers.get(cluster, EMPTY) | _node_addresses(config, found)[0]
    outputs = [_node(c, s, peers.get(_cluster_of(s), EMPTY)) for c, s in zip(configs, settings, strict=True)]
    facts = _facts(settings)
    # Endpoints may carry credentials (https://user:pass@host): never in a fact or message.
    return redact_collection(
        Collection(
            layers=tuple(o.layer for o in outputs if o.layer is not None),
            facts=tuple(facts),
            node_networks=tuple(n for o in outputs for n in o.networks),
            problems=_unique_problems(p for o in outputs for p in o.problems),
            attachments=tuple(a for o in outputs for a in o.attachments),
        )
    )


@dataclass(frozen=True, slots=True)
class _NodeOutput:
    layer: Layer | None
    attachments: tuple[Attachment, ...]
    networks: tuple[tuple[AddressSet, SourceRef | None], ...]
    problems: tuple[Problem, ...]


def _node(config: NodeConfig, found: NodeSettings, kubespan_peers: AddressSet) -> _NodeOutput:
    problems = [_problem(problem_kind, message, loc, config) for problem_kind, message, loc in found.problems]
    networks: tuple[tuple[AddressSet, SourceRef | None], ...] = tuple((n, loc) for n, loc in found.networks)
    if not config.complete and not has_firewall_documents(config.docs):
        # Patches without firewall documents: their facts count, but which firewall the
        # nodes run is decided by a config that is not here.
        return _NodeOutput(None, (), networks, tuple(problems))
    layer_id = LAYER_PREFIX + config.id
    addresses, address_reason = _node_addresses(config, found)
    firewall = build_host_firewall(
        layer_id,
        f"Talos host firewall of {config.name}",
        config.docs,
        anchor=SourceRef(config.anchor.path, config.anchor.start_line, config.anchor.end_line, config.id),
        pod_service=found.pod_service,
        pod_service_reason=found.pod_service_reason,
        kubespan_peers=kubespan_peers if found.kubespan else EMPTY,
        attributes=(
            ("config", config.id),
            ("config_name", config.name),
            ("files", ",".join(config.files)),
            # A whole machine config decides the node's firewall; a patch may be overridden.
            ("machine_config", "complete" if config.complete else "patch"),
            # KubeSpan carries this node's node-to-node traffic inside WireGuard (udp/51820):
            # reachability then runs those flows past the Talos layers only.
            *((("kubespan", "on"),) if found.kubespan else ()),
            *(
                (
                    (
                        "unresolved_patch",
                        f"{config.unresolved_at[0].path}:{config.unresolved_at[0].start_line}",
                    ),
                )
                if config.unresolved_at
                else ()
            ),
        ),
        origins=(("applied_by", config.applied_at),) if config.applied_at is not None else (),
    )
    problems.extend(
        _problem(problem_kind, message, loc, config) for problem_kind, message, loc in firewall.problems
    )
    role = config.role or found.role
    role_reason = config.role_reason or found.role_reason
    roles: tuple[Role, ...] = (role,) if role is not None else (Role.CONTROL_PLANE, Role.WORKER)
    attachments = []
    for one in roles:
        assumed = role is None
        reason = (
            f"{firewall.layer.name} ({config.applies}) is assumed to apply to {one.label} nodes too: "
            f"no role could be told ({role_reason or 'machine.type is not set'})"
            if assumed
            else f"{firewall.layer.name} ({config.applies}) applies to {one.label} nodes: {role_reason}"
        )
        if addresses:
            reason += f", at {addresses.describe()}"
        group = NodeGroup(
            id=layer_id + (f"#{one.value}" if assumed else ""),
            name=config.name + (f" (assumed {one.label})" if assumed else ""),
            role=one,
            role_reason=(f"assumed: {role_reason or 'no role could be told'}" if assumed else role_reason),
            source=firewall.layer.source,
            addresses=addresses,
            address_reason=address_reason,
            layers=(layer_id,),
            origin="Talos machine config",
            # Static addresses written in a config belong to one machine.
            count=config.count if config.count is not None else (1 if found.addresses else None),
        )
        attachments.append(Attachment(layer_id, one, addresses, reason, fallback=group))
    return _NodeOutput(firewall.layer, tuple(attachments), networks, tuple(problems))


def _node_addresses(config: NodeConfig, found: NodeSettings) -> tuple[AddressSet, str]:
    """The node's addresses: the static interface addresses its config sets, when it sets any.

    The address a config is applied to (``talos_machine_configuration_apply.node``, a talconfig
    ``ipAddress``) is often a DHCP lease or a bootstrap address that only serves while the node
    is in maintenance mode; once the config is applied the node answers on its configured
    address. Counting both would make every rule that lists the static addresses look like it
    blocks the node's other (stale) address."""
    if found.addresses and config.addresses and not config.addresses <= found.addresses:
        reason = (
            f"{found.address_reason} (the configured address; {config.address_reason} "
            "is only where the config is applied from, not counted)"
        )
        return found.addresses, reason
    addresses = config.addresses | found.addresses
    return addresses, "; ".join(r for r in (config.address_reason, found.address_reason) if r)


def _without_claimed_defaults(config: NodeConfig, found: NodeSettings) -> NodeSettings:
    """A config with a patch that could not be read states no Talos default: that patch may
    set the value. The CNI defaults are dropped (the CNI is then unknown, as without a
    config); the others are said to be unknown, with the patch that could set them."""
    if not config.unresolved_at:
        return found
    first = config.unresolved_at[0]
    reason = f"unknown: set by an unresolved patch at {first.path}:{first.start_line}"
    unknown = tuple(
        replace(f, value="unknown", reason=reason, source=first)
        for f in found.default_facts
        if f.name not in _CNI_FACTS
    )
    return replace(found, default_facts=unknown)


def _cluster_of(found: NodeSettings) -> str:
    return next((f.value for f in found.facts if f.name == "control_plane_endpoint"), "")


def _problem(problem_kind: ProblemKind, message: str, loc: SourceRef, config: NodeConfig) -> Problem:
    source = SourceRef(loc.path, loc.start_line, loc.end_line, loc.resource or config.id)
    return Problem(problem_kind, message, source, key=f"talos:{problem_kind}:{loc.path}:{message}")


#: Facts that Talos's default CNI decides together: one explicit ``cni`` claim voids them all.
_CNI_FACTS = frozenset({"cni", "tunnel", "tunnel_port"})
#: Bind-address facts: a claim that exposes the service is listed before localhost claims, so
#: that when configs disagree the merged model keeps the exposing one.
_BIND_FACTS = frozenset({"kube_scheduler_bind_address", "kube_controller_manager_bind_address"})
_LOCALHOST = frozenset({"127.0.0.1", "localhost", "::1"})


def _facts(settings: Sequence[NodeSettings]) -> list[Fact]:
    """Explicit facts (the first claim per name and value), then Talos defaults for what no
    config says (the default CNI only when no config names a CNI)."""
    facts: list[Fact] = []
    seen: set[tuple[str, str]] = set()
    for found in settings:
        for fact in found.facts:
            if (fact.name, fact.value) not in seen:
                seen.add((fact.name, fact.value))
                facts.append(fact)
    claimed = {f.name for f in facts}
    cni_claimed = "cni" in claimed
    for found in settings:
        for fact in found.default_facts:
            if fact.name in _CNI_FACTS and cni_claimed:
                continue  # a config says which CNI: the default (cni, tunnel, port) does not apply
            if fact.name not in _CNI_FACTS and fact.name in claimed:
                continue
            if (fact.name, fact.value) not in seen:
                seen.add((fact.name, fact.value))
                facts.append(fact)
    return sorted(facts, key=lambda f: f.name in _BIND_FACTS and f.value.strip().lower() in _LOCALHOST)


def _unique_problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    seen: set[tuple[str, str, str, int]] = set()
    out: list[Problem] = []
    for p in problems:
        marker = (p.kind, p.message, p.source.path, p.source.start_line)
        if marker not in seen:
            seen.add(marker)
            out.append(p)
    return tuple(out)

"""The Talos ingress firewall (``NetworkDefaultActionConfig`` + ``NetworkRuleConfig``) as a layer.

Semantics follow Talos's nftables chain (``nftables_chain_config.go``):

- Interfaces ``lo``, ``siderolink`` and ``kubespan`` are always trusted (``kubespan`` is
  modelled as an ALLOW from the known addresses of the cluster's KubeSpan nodes).
- ``ingress: block``: the chain drops by default; ICMP/ICMPv6 (rate-limited) and traffic
  from pod/service CIDRs to pod/service CIDRs are accepted; each rule *accepts* its
  subnets (minus ``except``) on its ports. Rules add up (a union).
- ``ingress: accept`` (the default): each rule *drops* traffic to its ports from anything
  outside its subnets. Several rules on one port therefore intersect. This is modelled
  exactly as a first-match list: one DENY per rule for the complement of its sources,
  then one ALLOW per ingress entry (so exposure points at the entry that lets it in),
  then the default ALLOW.
- No ``NetworkDefaultActionConfig`` and no rules: Talos builds no chain at all; the layer is
  then present but disabled (it filters nothing).

The firewall is ingress only: egress is never filtered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from talosaudit.collectors.talos.documents import DEFAULT_ACTION, RULE, Doc, DocKind
from talosaudit.collectors.yamlsafe import YList, YMap, has_placeholder
from talosaudit.model import ProblemKind
from talosaudit.model.addresses import ALL_ADDRESSES, EMPTY, AddressSet
from talosaudit.model.firewall import (
    Action,
    Direction,
    Layer,
    LayerKind,
    Peer,
    Placement,
    Rule,
    Semantics,
    Unresolved,
)
from talosaudit.model.ports import ALL_PORTS, ICMP, ICMPV6, NO_PORTS, PortSet, is_ascii_number, parse_protocol
from talosaudit.model.source import SourceRef

ALWAYS_ALLOWED = "always allowed by Talos"
#: KubeSpan's WireGuard port (``KubeSpanDefaultPort``, hard-coded, talos#13521).
KUBESPAN_PORT = 51820


@dataclass(frozen=True, slots=True)
class HostFirewall:
    layer: Layer
    #: "block", "accept", or "absent" (no NetworkDefaultActionConfig document).
    default: str
    #: The NetworkDefaultActionConfig document, when there is one.
    default_source: SourceRef | None
    #: Problems as (rule id, message, where).
    problems: tuple[tuple[ProblemKind, str, SourceRef], ...] = ()

    @property
    def blocks(self) -> bool:
        return self.default == "block"


@dataclass(frozen=True, slots=True)
class _Entry:
    """One ``ingress`` entry: its sources, where it is written, and what is unknown in it."""

    addresses: AddressSet
    loc: SourceRef
    index: int
    unresolved: tuple[Unresolved, ...] = ()


def has_firewall_documents(docs: Sequence[Doc]) -> bool:
    return any(d.kind is DocKind.TYPED and d.type_name in (DEFAULT_ACTION, RULE) for d in docs)


def build_host_firewall(
    layer_id: str,
    name: str,
    docs: Sequence[Doc],
    *,
    anchor: SourceRef,
    pod_service: AddressSet,
    pod_service_reason: str,
    kubespan_peers: AddressSet = EMPTY,
    attributes: tuple[tuple[str, str], ...] = (),
    origins: tuple[tuple[str, SourceRef], ...] = (),
) -> HostFirewall:
    """The node's host firewall layer from its merged documents.

    ``anchor`` locates the layer when there is no NetworkDefaultActionConfig (the config's
    first document); ``kubespan_peers`` are the known addresses of KubeSpan nodes whose
    traffic arrives on the trusted ``kubespan`` interface (empty when KubeSpan is off).
    """
    builder = _Builder(layer_id)
    default_doc = next((d for d in docs if d.kind is DocKind.TYPED and d.type_name == DEFAULT_ACTION), None)
    default = "absent"
    source = anchor
    if default_doc is not None:
        raw = default_doc.value.get("ingress")
        source = SourceRef(
            default_doc.loc.path, default_doc.loc.start_line, default_doc.loc.end_line, DEFAULT_ACTION
        )
        if isinstance(raw, str) and raw.strip().lower() in ("accept", "block"):
            default = raw.strip().lower()
        else:
            builder.problem(
                ProblemKind.UNREADABLE,
                f"NetworkDefaultActionConfig ingress {raw!r} is neither accept nor block",
                default_doc.value.loc_of("ingress"),
            )
            default = "accept"  # what Talos would fall back to if it accepted the document
    rule_docs = [d for d in docs if d.kind is DocKind.TYPED and d.type_name == RULE]
    blocking = default == "block"
    builder.always_allowed(source, blocking, kubespan_peers)
    always = ["interface lo (the node itself)", "interface siderolink"]
    if kubespan_peers:
        always.append("interface kubespan")
    if blocking:
        always += [
            "ICMP and ICMPv6 (5 packets/s)",
            f"pod/service CIDRs to pod/service CIDRs: {pod_service.describe()} ({pod_service_reason})",
        ]
    parsed = [builder.parse_rule(doc, i) for i, doc in enumerate(rule_docs)]
    if blocking:
        for doc_rule in parsed:
            builder.allows(doc_rule)
    else:
        for doc_rule in parsed:
            builder.accept_mode_deny(doc_rule)
        for doc_rule in parsed:
            builder.allows(doc_rule)
    enabled = blocking or bool(rule_docs)
    layer = Layer(
        id=layer_id,
        kind=LayerKind.TALOS_HOST,
        name=name,
        source=source,
        semantics=Semantics.FIRST_MATCH,
        placement=Placement.NODE,
        rules=tuple(builder.rules) if enabled else (),
        default_ingress=Action.DENY if blocking else Action.ALLOW,
        default_egress=Action.ALLOW,
        stateful=True,
        enabled=enabled,
        attributes=(("ingress_default", default), ("always_allowed", "; ".join(always)), *attributes),
        origins=origins,
    )
    return HostFirewall(layer, default, default_doc.loc if default_doc else None, tuple(builder.problems))


@dataclass(frozen=True, slots=True)
class _DocRule:
    name: str
    doc: Doc
    protocol: int | None
    ports: PortSet
    entries: tuple[_Entry, ...]
    unresolved: tuple[Unresolved, ...]
    ingress_loc: SourceRef
    usable: bool


class _Builder:
    def __init__(self, layer_id: str) -> None:
        self.layer_id = layer_id
        self.rules: list[Rule] = []
        self.problems: list[tuple[ProblemKind, str, SourceRef]] = []

    def problem(self, problem_kind: ProblemKind, message: str, loc: SourceRef) -> None:
        self.problems.append((problem_kind, message, loc))

    def always_allowed(self, source: SourceRef, blocking: bool, kubespan_peers: AddressSet) -> None:
        """Talos's own accepts that flows between nodes can match, as the first rules.

        Traffic on ``lo`` (the node itself) and from pod/service CIDRs to pod/service CIDRs
        is accepted too, but no flow between nodes matches it (no node has a loopback
        source, and those destinations are never node addresses): it is recorded in the
        layer's ``always_allowed`` attribute rather than as rules, so that rule checks do
        not read it as an opening.
        """

        def add(
            key: str,
            protocol: int | None,
            peer: Peer,
            description: str,
            *,
            words: str,
            ports: PortSet = ALL_PORTS,
        ) -> None:
            self.rules.append(
                Rule(
                    action=Action.ALLOW,
                    direction=Direction.INGRESS,
                    protocol=protocol,
                    ports=ports,
                    peer=peer,
                    source=SourceRef(source.path, source.start_line, source.end_line, f"talos/{key}"),
                    description=description,
                    key=f"talos/{key}",
                    origin=ALWAYS_ALLOWED,
                    # How messages name it: no file holds this rule, Talos adds it itself.
                    extra=(("words", words),),
                )
            )

        if kubespan_peers:
            # The WireGuard packets that carry KubeSpan arrive on the physical interface, not on
            # ``kubespan``: udp/51820 itself must pass the rules (a required flow), so the trust
            # excludes it.
            add(
                "kubespan",
                None,
                Peer(kubespan_peers, description="KubeSpan peers (interface kubespan)"),
                "interface kubespan is trusted (node-to-node traffic inside KubeSpan; "
                f"needs udp/{KUBESPAN_PORT}, which this trust does not cover)",
                words="Talos's built-in accept of the kubespan interface",
                ports=ALL_PORTS - PortSet.single(KUBESPAN_PORT),
            )
        if blocking:
            add(
                "icmp",
                ICMP,
                Peer(ALL_ADDRESSES),
                "ICMP is accepted in block mode (5 packets/s)",
                words="Talos's built-in ICMP accept",
            )
            add(
                "icmpv6",
                ICMPV6,
                Peer(ALL_ADDRESSES),
                "ICMPv6 is accepted in block mode (5 packets/s)",
                words="Talos's built-in ICMPv6 accept",
            )

    def parse_rule(self, doc: Doc, index: int) -> _DocRule:
        value: YMap = doc.value
        name = doc.name or f"#{index}"
        if doc.written_kind:
            self.problem(
                ProblemKind.UNREADABLE,
                f"kind {doc.written_kind!r} is not a Talos document kind (Talos rejects the config); "
                f"read as {doc.type_name}",
                value.loc_of("kind"),
            )
        if not doc.name:
            self.problem(
                ProblemKind.UNREADABLE,
                f"NetworkRuleConfig at {doc.loc.path}:{doc.loc.start_line} has no name",
                doc.loc,
            )
        unresolved: list[Unresolved] = []
        selector = value.get("portSelector")
        selector = selector if isinstance(selector, YMap) else YMap(doc.loc)
        ports, port_unknown = self._ports(name, selector.get("ports"), selector.loc_of("ports"))
        unresolved.extend(port_unknown)
        protocol, protocol_unknown = self._protocol(name, selector)
        unresolved.extend(protocol_unknown)
        ingress = value.get("ingress")
        ingress_loc = value.loc_of("ingress") if "ingress" in value else doc.loc
        entries = self._ingress(name, value, ingress, ingress_loc)
        usable = bool(ports) or bool(port_unknown)
        if not usable:
            self.problem(
                ProblemKind.UNREADABLE,
                f"NetworkRuleConfig {name}: no valid portSelector.ports",
                selector.loc_of("ports"),
            )
        return _DocRule(name, doc, protocol, ports, entries, tuple(unresolved), ingress_loc, usable)

    def _ports(self, name: str, raw: Any, loc: SourceRef) -> tuple[PortSet, list[Unresolved]]:
        if not isinstance(raw, YList):
            return NO_PORTS, []
        ports = NO_PORTS
        unknown: list[Unresolved] = []
        for i, item in enumerate(raw):
            item_loc = raw.loc_of(i)
            if isinstance(item, str) and has_placeholder(item):
                self.problem(
                    ProblemKind.UNRESOLVED,
                    f"NetworkRuleConfig {name}: port {item!r} is an unrendered placeholder; "
                    "which ports it opens is unknown",
                    item_loc,
                )
                unknown.append(Unresolved("ports", item, "unrendered template placeholder"))
                ports = ALL_PORTS
                continue
            parsed = _port_item(item)
            if parsed is None:
                self.problem(
                    ProblemKind.UNREADABLE,
                    f"NetworkRuleConfig {name}: {item!r} is not a port or lo-hi range",
                    item_loc,
                )
                continue
            ports = ports | parsed
        return ports, unknown

    def _protocol(self, name: str, selector: YMap) -> tuple[int | None, list[Unresolved]]:
        raw = selector.get("protocol")
        if raw is None:
            return None, [Unresolved("protocol", "portSelector.protocol", "not set in the rule")]
        if isinstance(raw, str) and has_placeholder(raw):
            return None, [Unresolved("protocol", raw, "unrendered template placeholder")]
        try:
            protocol = parse_protocol(str(raw))
        except ValueError:
            protocol = -1
        if protocol not in (6, 17, ICMP, ICMPV6):
            self.problem(
                ProblemKind.UNREADABLE,
                f"NetworkRuleConfig {name}: protocol {raw!r} is not tcp, udp, icmp or icmpv6",
                selector.loc_of("protocol"),
            )
            return None, [Unresolved("protocol", str(raw), "not a protocol Talos knows")]
        return protocol, []

    def _ingress(self, name: str, value: YMap, ingress: Any, loc: SourceRef) -> tuple[_Entry, ...]:
        """The rule's ingress entries; a malformed ``ingress`` is reported where it is written
        (Talos rejects it) and, when it still names CIDRs, read as entries of those."""
        if isinstance(ingress, YList):
            return self._entries(name, ingress)
        if "ingress" not in value:
            return ()
        if ingress is None or ingress == "":
            self.problem(
                ProblemKind.UNREADABLE,
                f"NetworkRuleConfig {name}: ingress is empty; the rule admits nothing",
                loc,
            )
            return ()
        self.problem(
            ProblemKind.UNREADABLE,
            f"NetworkRuleConfig {name}: ingress {ingress!r} is not a list of subnet entries "
            "(Talos rejects it); read as one entry",
            loc,
        )
        addresses = _bare_cidr(ingress)
        return (_Entry(addresses, loc, 0),) if addresses is not None else ()

    def _entries(self, name: str, ingress: YList) -> tuple[_Entry, ...]:
        entries: list[_Entry] = []
        for i, item in enumerate(ingress):
            loc = ingress.loc_of(i)
            if not isinstance(item, YMap):
                addresses = _bare_cidr(item)
                self.problem(
                    ProblemKind.UNREADABLE,
                    f"NetworkRuleConfig {name}: ingress entry {item!r} is not a map with subnet "
                    "(Talos rejects it)" + ("; read as its subnet" if addresses is not None else ""),
                    loc,
                )
                if addresses is not None:
                    entries.append(_Entry(addresses, loc, i))
                continue
            if item.get("subnet") is None:
                others = sorted(str(k) for k in item if k not in ("subnet", "except"))
                if "subnet" in item or others:
                    why = f"unknown keys {', '.join(others)}" if others else "subnet is empty"
                    self.problem(
                        ProblemKind.UNREADABLE,
                        f"NetworkRuleConfig {name}: ingress entry has no subnet ({why}); it admits nothing",
                        loc,
                    )
                # Talos accepts an entry with only ``except`` but builds nothing from it (talos#12886).
                continue
            subnet, unknown = self._cidr(name, item, "subnet")
            excepted, except_unknown = self._cidr(name, item, "except")
            if subnet is None and not unknown:
                continue
            addresses = subnet if subnet is not None else ALL_ADDRESSES
            if excepted is not None:
                addresses = addresses - excepted
            entries.append(_Entry(addresses, loc, i, tuple(unknown + except_unknown)))
        return tuple(entries)

    def _cidr(self, name: str, item: YMap, key: str) -> tuple[AddressSet | None, list[Unresolved]]:
        raw = item.get(key)
        if raw is None:
            return None, []
        texts = [str(x) for x in raw] if isinstance(raw, YList) else [str(raw)]
        result = EMPTY
        for i, text in enumerate(texts):
            if has_placeholder(text):
                # envsubst/talhelper/SOPS fill these in later: the addresses are unknown, and
                # that is said where they are written, never dropped.
                self.problem(
                    ProblemKind.UNRESOLVED,
                    f"NetworkRuleConfig {name}: {key} {text!r} is an unrendered placeholder; "
                    "which sources it admits is unknown",
                    raw.loc_of(i) if isinstance(raw, YList) else item.loc_of(key),
                )
                return None, [Unresolved(key, text, "unrendered template placeholder")]
            try:
                result = result | AddressSet.parse(text)
            except ValueError:
                self.problem(
                    ProblemKind.UNREADABLE,
                    f"NetworkRuleConfig {name}: {key} {text!r} is not a CIDR",
                    item.loc_of(key),
                )
                return None, []
        return result, []

    def _rule(
        self,
        action: Action,
        rule: _DocRule,
        *,
        peer: Peer,
        loc: SourceRef,
        key: str,
        origin: str,
        unresolved: tuple[Unresolved, ...],
    ) -> Rule:
        return Rule(
            action=action,
            direction=Direction.INGRESS,
            protocol=rule.protocol,
            ports=rule.ports,
            peer=peer,
            source=SourceRef(loc.path, loc.start_line, loc.end_line, key),
            description=f"NetworkRuleConfig {rule.name}",
            unresolved=unresolved,
            key=key,
            origin=origin,
        )

    def allows(self, rule: _DocRule) -> None:
        if not rule.usable:
            return
        for entry in rule.entries:
            key = f"{RULE}/{rule.name}/ingress[{entry.index}]"
            peer = Peer(entry.addresses)
            self.rules.append(
                self._rule(
                    Action.ALLOW,
                    rule,
                    peer=peer,
                    loc=entry.loc,
                    key=key,
                    origin="NetworkRuleConfig ingress entry",
                    unresolved=rule.unresolved + entry.unresolved,
                )
            )

    def accept_mode_deny(self, rule: _DocRule) -> None:
        """In accept mode a rule drops its ports for every source outside its subnets."""
        if not rule.usable:
            return
        allowed = EMPTY
        unresolved = list(rule.unresolved)
        for entry in rule.entries:
            # An unknown entry stays out of the allowed set: the DENY's widest reading then
            # drops it too, and reachability also tries the rule as matching nothing.
            if entry.unresolved:
                unresolved.extend(entry.unresolved)
            else:
                allowed = allowed | entry.addresses
        others = ALL_ADDRESSES - allowed
        peer = Peer(others, description=f"everything outside the subnets of {rule.name}")
        key = f"{RULE}/{rule.name}/drop-others"
        self.rules.append(
            self._rule(
                Action.DENY,
                rule,
                peer=peer,
                loc=rule.ingress_loc,
                key=key,
                origin="NetworkRuleConfig in accept mode: drops other sources",
                unresolved=tuple(unresolved),
            )
        )


def _bare_cidr(raw: Any) -> AddressSet | None:
    """A CIDR written where an entry map belongs (``ingress: 0.0.0.0/0``), or None."""
    if not isinstance(raw, str):
        return None
    try:
        return AddressSet.parse(raw)
    except ValueError:
        return None


def _port_item(item: Any) -> PortSet | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return PortSet.single(item) if 0 <= item <= 65535 else None
    if isinstance(item, str):
        text = item.strip()
        lo, sep, hi = text.partition("-")
        if not is_ascii_number(lo.strip()) or (sep and not is_ascii_number(hi.strip())):
            return None  # "５００００" or a 5,000-digit number is no port to Talos
        low, high = int(lo), int(hi) if sep else int(lo)
        if not (0 <= low <= high <= 65535):
            return None
        return PortSet.range(low, high)
    return None

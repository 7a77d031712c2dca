"""Guests and firewall configs into model layers, node groups and problems.

The Proxmox firewall filters a guest NIC only when the datacenter (``cluster.fw`` ``enable:
1``), the guest (``<vmid>.fw`` ``enable: 1``) and the NIC (``firewall=1``) all enable it
(pve-firewall ``compile``; formats.md 2.5). Then the guest's rules apply top-down, first
match, with ``GROUP x`` expanded in place, and the policy decides the rest: ``policy_in``
(default DROP), ``policy_out`` (default ACCEPT). Each guest NIC becomes one NODE layer.

Both the export collector and the Terraform mapper build an :class:`Inventory` and call
:func:`build`, so the semantics live in one place.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from talosaudit.collectors.proxmox.conf import Guest, Nic
from talosaudit.collectors.proxmox.firewall import (
    MACROS,
    FirewallConfig,
    FwRule,
    enable_value,
    policy,
)
from talosaudit.collectors.proxmox.sdn import Vnet
from talosaudit.collectors.roles import (
    RoleHints,
    RoleSubject,
    role_from_hints,
    role_from_names,
    role_from_value,
    role_in_name,
)
from talosaudit.model import (
    ALL_ADDRESSES,
    ALL_PORTS,
    EMPTY,
    Action,
    AddressSet,
    Attachment,
    Collection,
    Direction,
    Layer,
    LayerKind,
    NodeGroup,
    Peer,
    Placement,
    PortSet,
    Problem,
    ProblemKind,
    Role,
    Rule,
    Segment,
    Semantics,
    SourceRef,
    Unresolved,
)
from talosaudit.model.ports import PORTED, parse_protocol

#: Protocol names pve-firewall takes from /etc/protocols beyond the model's own table.
_EXTRA_PROTOCOLS = {"igmp": 2, "gre": 47, "esp": 50, "ah": 51, "ospf": 89, "vrrp": 112, "udplite": 136}
#: Service names pve-firewall takes from /etc/services, for the ports people write by name.
_SERVICES = {
    "ssh": 22,
    "telnet": 23,
    "smtp": 25,
    "domain": 53,
    "http": 80,
    "ntp": 123,
    "snmp": 161,
    "bgp": 179,
    "https": 443,
    "kerberos": 88,
    "ldap": 389,
    "ldaps": 636,
    "rsync": 873,
    "imaps": 993,
    "mysql": 3306,
    "postgresql": 5432,
}


@dataclass(frozen=True)
class Inventory:
    """What one input set (an export tree, API JSON, a Terraform configuration) holds."""

    guests: tuple[Guest, ...] = ()
    cluster: FirewallConfig | None = None
    #: Guest firewall configs by guest identity.
    guest_fw: Mapping[str, FirewallConfig] = field(default_factory=dict)
    #: True when the inputs would show a guest's firewall config if it had one (a firewall
    #: directory or firewall resources were seen): a missing one then means "off".
    firewall_inputs: bool = False
    #: How the datacenter firewall is named in messages, and why its state may be unknown.
    cluster_label: str = "cluster.fw"
    cluster_missing_reason: str = "cluster.fw is not among the inputs"
    #: The file name a guest's firewall config would have, for messages ("{vmid}.fw").
    guest_fw_label: str = "{vmid}.fw"
    #: Why a guest without a firewall config has its VM firewall off ({name}: the label above).
    guest_fw_missing: str = "no {name} (default enable: 0)"
    #: False when the datacenter firewall's ``enable`` is not known even though ``cluster``
    #: holds its groups, ipsets and aliases (Terraform without a cluster_firewall resource).
    cluster_enable_known: bool = True
    #: False when aliases, ipsets and groups may be defined outside the inputs (Terraform
    #: manages only some of them): an undefined name is then unresolved, not a dropped rule.
    definitions_complete: bool = True
    #: SDN vnets by name: a NIC whose ``bridge=`` names one is on its VLAN and subnets.
    vnets: Mapping[str, Vnet] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class _State:
    """Activation of one guest's firewall: "on", "off" or "unknown", with reasons."""

    datacenter: str
    datacenter_reason: str
    datacenter_source: SourceRef | None
    vm: str
    vm_reason: str
    vm_source: SourceRef | None


def build(inv: Inventory, *, hints: RoleHints | None = None) -> Collection:
    """The collection for an inventory: one layer per guest NIC, one node group per guest."""
    problems: list[Problem] = list(inv.problems)
    layers: list[Layer] = []
    groups: list[NodeGroup] = []
    attachments: list[Attachment] = []
    segments: dict[str, Segment] = {}
    networks: list[tuple[AddressSet, SourceRef | None]] = []
    assumed_on: list[str] = []
    unknown_vm: list[str] = []
    for guest in inv.guests:
        if guest.template:
            continue  # a template never runs; its clones have their own configs
        guest_fw = inv.guest_fw.get(guest.identity)
        state = _state(inv, guest, guest_fw)
        role, role_reason = _role(guest, hints)
        primary = _primary(guest)
        resolver = _Resolver(inv.cluster, guest_fw, inv.cluster_label, problems, inv.definitions_complete)
        for nic in guest.nics:
            layer = _layer(guest, nic, state=state, guest_fw=guest_fw, inv=inv, resolver=resolver, role=role)
            layers.append(layer)
            if nic.firewall and state.vm == "unknown":
                unknown_vm.append(f"{guest.label()} {nic.key}")
            elif layer.enabled and state.datacenter == "unknown":
                assumed_on.append(f"{guest.label()} {nic.key}")
            for cidr in nic.addresses:
                net = ipaddress.ip_interface(cidr).network
                seg_id = nic.segment_id
                if seg_id is not None:
                    _add_segment(segments, seg_id, nic, AddressSet.parse(str(net)), inv.vnets)
                if role is not None:
                    networks.append((AddressSet.parse(str(net)), nic.source))
            if nic.segment_id is not None and nic.segment_id not in segments:
                _add_segment(segments, nic.segment_id, nic, EMPTY, inv.vnets)
        if primary is None:
            continue
        layer_id = _layer_id(guest, primary)
        addresses = _host_addresses(guest)
        active = any(lay.id == layer_id and lay.enabled for lay in layers)
        if role is None and active:
            problems.append(
                Problem(
                    ProblemKind.ROLE_UNKNOWN,
                    f"{guest.label()} has an active Proxmox firewall on {primary.key} but neither its "
                    "name nor its tags say control-plane or worker, so required-flow checks cannot "
                    "run for it (name it or tag it, or declare it in .talosaudit.yaml nodes:)",
                    guest.source,
                    key=f"proxmox:{guest.identity}:role",
                )
            )
        group = None
        if role is not None:
            notes = "; ".join(guest.pending)
            group = NodeGroup(
                id=f"proxmox:{guest.identity}",
                name=guest.name or guest.label(),
                role=role,
                role_reason=role_reason,
                source=guest.source,
                addresses=addresses,
                address_reason="; ".join(n.address_reason for n in guest.nics if n.address_reason),
                layers=(layer_id,),
                segment=primary.segment_id,
                origin=guest.origin + (f" (pending, applies at next start: {notes})" if notes else ""),
                count=1,  # a guest is one node: a flow from it to itself never crosses its NIC
            )
        if addresses:
            attachments.append(
                Attachment(
                    layer_id=layer_id,
                    role=None,
                    addresses=addresses,
                    reason=f"Proxmox firewall of {guest.label()} {primary.key} at {addresses.describe()}",
                    fallback=group,
                )
            )
        elif group is not None:
            groups.append(group)
    if assumed_on:
        problems.append(
            Problem(
                ProblemKind.UNRESOLVED,
                f"{inv.cluster_missing_reason}: the datacenter firewall state is unknown; assuming it "
                f"is enabled for {_listed(assumed_on)}, whose VM and NIC firewalls are on",
                _first_source(inv),
                key=f"proxmox:datacenter-unknown:{_first_source(inv).path}",
            )
        )
    if unknown_vm:
        problems.append(
            Problem(
                ProblemKind.UNRESOLVED,
                f"firewall=1 on {_listed(unknown_vm)}, but no Proxmox firewall files (cluster.fw, "
                "<vmid>.fw) or firewall resources are among the inputs: whether the Proxmox firewall "
                "filters these NICs is unknown, so they are treated as unfiltered",
                _first_source(inv),
                key=f"proxmox:firewall-files-missing:{_first_source(inv).path}",
            )
        )
    return Collection(
        node_groups=tuple(groups),
        layers=tuple(layers),
        segments=tuple(segments.values()),
        node_networks=tuple(networks),
        problems=tuple(problems),
        attachments=tuple(attachments),
        files=inv.files,
    )


def _listed(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def _first_source(inv: Inventory) -> SourceRef:
    if inv.guests:
        return inv.guests[0].source
    return SourceRef(inv.files[0] if inv.files else ".")


def _layer_id(guest: Guest, nic: Nic) -> str:
    return f"proxmox:{guest.identity}/{nic.key}"


def _primary(guest: Guest) -> Nic | None:
    """The NIC the node talks to the cluster on: the first connected one."""
    for nic in guest.nics:
        if not nic.link_down:
            return nic
    return guest.nics[0] if guest.nics else None


def _host_addresses(guest: Guest) -> AddressSet:
    result = EMPTY
    for nic in guest.nics:
        for cidr in nic.addresses:
            result = result | AddressSet.parse(str(ipaddress.ip_interface(cidr).ip))
    return result


#: A bridge Proxmox made for one VLAN of a non-VLAN-aware bridge (``vmbr0v30``: VLAN 30 on
#: ``vmbr0``'s ports).
_VLAN_BRIDGE = re.compile(r"^(vmbr\d+)v(\d{1,4})$")


def segment_vlan(nic: Nic) -> int | None:
    """The VLAN a NIC's frames are in: its ``tag`` on a VLAN-aware bridge, or the VLAN a
    ``vmbrNvT`` bridge stands for; None when untagged (the bridge's native VLAN)."""
    if nic.tag:
        return nic.tag
    found = _VLAN_BRIDGE.match(nic.bridge or "")
    return int(found.group(2)) if found else None


def _add_segment(
    segments: dict[str, Segment], seg_id: str, nic: Nic, net: AddressSet, vnets: Mapping[str, Vnet]
) -> None:
    current = segments.get(seg_id)
    vnet = vnets.get(nic.bridge or "")
    vlan = segment_vlan(nic)
    if vnet is not None:
        # An SDN vnet gives every NIC on it the vnet's tag and subnets (a NIC there has no tag).
        vlan = vnet.tag
        net = net | vnet.subnets
        shown = f"vlan {vnet.tag}" if vnet.tag is not None else "no tag"
        name = f"SDN vnet {vnet.name} (zone {vnet.zone or '?'}, {shown})"
    elif nic.tag:
        name = f"{nic.bridge} vlan {nic.tag}"
    else:
        name = f"{nic.bridge} (vlan {vlan})" if vlan else f"{nic.bridge} (untagged)"
    if current is None:
        source = vnet.source if vnet is not None else nic.source
        segments[seg_id] = Segment(id=seg_id, name=name, addresses=net, source=source, vlan=vlan)
    else:
        segments[seg_id] = Segment(
            id=seg_id, name=name, addresses=current.addresses | net, source=current.source, vlan=vlan
        )


def _role(guest: Guest, hints: RoleHints | None) -> tuple[Role | None, str]:
    where = str(guest.source)
    subject = RoleSubject(
        identity=guest.label(),
        names=(("name", guest.name),) if guest.name else (),
        addresses=_host_addresses(guest),
        where=where,
    )
    hinted = role_from_hints(subject, hints)
    if hinted is not None:
        return hinted.role, hinted.reason
    for tag in guest.tags:
        role = role_from_value(tag)
        word = tag
        if role is None:
            found = role_in_name(tag)
            if found is not None:
                role, word = found
        if role is not None:
            return role, f"tag {tag!r} of {guest.label()} says {word!r} ({where})"
    named = role_from_names(subject)
    if named is not None:
        return named.role, named.reason
    return None, ""


def _state(inv: Inventory, guest: Guest, guest_fw: FirewallConfig | None) -> _State:
    if inv.cluster is None or not inv.cluster_enable_known:
        dc, dc_reason, dc_source = "unknown", inv.cluster_missing_reason, None
    else:
        on, dc_source, how = enable_value(inv.cluster, default=False)
        dc, dc_reason = ("on" if on else "off"), f"{inv.cluster_label} {how}"
    fw_name = inv.guest_fw_label.format(vmid=guest.vmid)
    if guest_fw is not None:
        on, vm_source, how = enable_value(guest_fw, default=False)
        vm, vm_reason = ("on" if on else "off"), f"{fw_name} {how}"
    elif inv.firewall_inputs:
        vm, vm_reason, vm_source = "off", inv.guest_fw_missing.format(name=fw_name), None
    else:
        vm, vm_reason, vm_source = "unknown", f"{fw_name} is not among the inputs", None
    return _State(dc, dc_reason, dc_source, vm, vm_reason, vm_source)


def _layer(
    guest: Guest,
    nic: Nic,
    *,
    state: _State,
    guest_fw: FirewallConfig | None,
    inv: Inventory,
    resolver: _Resolver,
    role: Role | None,
) -> Layer:
    nic_on = nic.firewall is True
    enabled = nic_on and state.vm == "on" and state.datacenter != "off"
    p_in, _ = policy(guest_fw, "policy_in", "DROP")
    p_out, _ = policy(guest_fw, "policy_out", "ACCEPT")
    rules = _nic_rules(guest, nic, guest_fw, inv.cluster, resolver) if guest_fw is not None else ()
    attributes: list[tuple[str, str]] = [
        ("vmid", guest.vmid),
        ("guest", guest.label()),
        ("nic", nic.key),
        ("datacenter", f"{state.datacenter}: {state.datacenter_reason}"),
        ("vm_firewall", f"{state.vm}: {state.vm_reason}"),
        ("nic_firewall", "on" if nic_on else ("unknown" if nic.firewall is None else "off")),
        ("policy_in", p_in),
        ("policy_out", p_out),
    ]
    if nic.bridge:
        attributes.append(("bridge", nic.bridge))
    if nic.tag:
        attributes.append(("vlan", str(nic.tag)))
    activation, switches = _activation(guest, state, guest_fw, role, inv)
    return Layer(
        id=_layer_id(guest, nic),
        kind=LayerKind.PROXMOX,
        name=f"Proxmox firewall of {guest.label()} {nic.key}",
        source=_layer_source(nic, guest_fw),
        semantics=Semantics.FIRST_MATCH,
        placement=Placement.NODE,
        rules=rules,
        default_ingress=Action.ALLOW if p_in == "ACCEPT" else Action.DENY,
        default_egress=Action.ALLOW if p_out == "ACCEPT" else Action.DENY,
        stateful=True,
        enabled=enabled,
        attributes=(*attributes, *activation),
        origins=(
            ("switch", nic.source),
            *((("config", guest_fw.source),) if guest_fw is not None else ()),
            *switches,
        ),
    )


def _activation(
    guest: Guest, state: _State, guest_fw: FirewallConfig | None, role: Role | None, inv: Inventory
) -> tuple[list[tuple[str, str]], list[tuple[str, SourceRef]]]:
    """What the guest's firewall switches say, as data on each of its NIC layers, for the
    policy that decides whether rules the user relies on are applied: the guest, its role
    (when known), how many valid rules its firewall holds, which of its NICs set
    ``firewall=1``, pending changes of that flag, and where each switch is written."""
    rules = [r for r in guest_fw.rules if not r.errors] if guest_fw is not None else []
    attributes = [
        ("guest_id", guest.identity),
        ("role", role.value if role is not None else ""),
        ("rules", str(len(rules))),
        ("nics_firewall_on", ",".join(n.key for n in guest.nics if n.firewall)),
        ("pending_firewall_off", ",".join(c.nic for c in guest.pending_firewall if not c.firewall)),
    ]
    origins: list[tuple[str, SourceRef]] = []
    flagged = next((n for n in guest.nics if n.firewall), None)
    if flagged is not None:
        origins.append(("first_firewall_nic", flagged.source))
    if rules:
        origins.append(("first_rule", rules[0].source))
    if state.datacenter_source is not None:
        origins.append(("datacenter_switch", state.datacenter_source))
    if inv.cluster is not None:
        origins.append(("datacenter_config", inv.cluster.source))
    if state.vm_source is not None:
        origins.append(("vm_switch", state.vm_source))
    for change in guest.pending_firewall:
        if not change.firewall:
            origins.append((f"pending:{change.nic}", change.source))
    return attributes, origins


def _layer_source(nic: Nic, guest_fw: FirewallConfig | None) -> SourceRef:
    """Where findings about the layer's rules point (a required flow it blocks): the guest's
    firewall file at its ``[RULES]`` section (line 1 without one), or the Terraform/API
    definition of its firewall; the NIC line when the guest has no firewall config at all.
    Findings about the NIC flag itself (origin ``switch``) keep pointing at the NIC."""
    if guest_fw is None:
        return nic.source
    return guest_fw.rules_source or guest_fw.source


def _nic_rules(
    guest: Guest,
    nic: Nic,
    guest_fw: FirewallConfig,
    cluster: FirewallConfig | None,
    resolver: _Resolver,
) -> tuple[Rule, ...]:
    """The guest's rules that apply to this NIC, groups expanded in place, in order."""
    out: list[Rule] = []
    for rule in guest_fw.rules:
        if rule.errors or (rule.iface is not None and rule.iface != nic.key):
            continue
        if rule.type == "group":
            members = cluster.groups.get(rule.action.lower()) if cluster is not None else None
            if members is None:
                out.append(_unknown_group(rule, cluster is not None and resolver.complete, resolver))
                continue
            for member in members:
                if member.errors:
                    continue
                out.extend(
                    resolver.convert(
                        member,
                        key=f"{rule.key}>{member.key}",
                        enabled=rule.enabled and member.enabled,
                        origin=f"security group {rule.action.lower()} (GROUP at {rule.source})",
                    )
                )
        elif rule.type in ("in", "out"):
            out.extend(resolver.convert(rule, key=rule.key, enabled=rule.enabled, origin="guest rule"))
    return tuple(out)


def _unknown_group(rule: FwRule, cluster_known: bool, resolver: _Resolver) -> Rule:
    """A ``GROUP x`` whose rules are not known: it may allow anything (UNRESOLVED)."""
    if cluster_known:
        why = f"security group {rule.action!r} is not defined in {resolver.cluster_label}"
    elif not resolver.complete:
        why = (
            f"security group {rule.action!r} is not defined in the configuration "
            "(it may be managed elsewhere)"
        )
    else:
        why = f"security group {rule.action!r}: {resolver.cluster_label} is not among the inputs"
    if cluster_known:
        # Proxmox jumps into an empty chain: the GROUP line matches nothing.
        resolver.report(rule.source, f"{why}; Proxmox applies no rules for it", f"group:{rule.action}")
    else:
        resolver.report(rule.source, why, f"group:{rule.action}")
    return Rule(
        action=Action.ALLOW,
        direction=Direction.INGRESS,
        protocol=None,
        ports=ALL_PORTS,
        peer=Peer(
            ALL_ADDRESSES,
            description=f"whatever the rules of security group {rule.action} (inserted here) allow",
        ),
        source=rule.source,
        description=rule.comment,
        enabled=rule.enabled and not cluster_known,
        unresolved=(Unresolved("group", f"GROUP {rule.action}", why),),
        key=rule.key,
        origin="security group (unknown rules)",
    )


class _Resolver:
    """Turns FwRules into model Rules: aliases and ipsets (guest first, then cluster)."""

    def __init__(
        self,
        cluster: FirewallConfig | None,
        guest_fw: FirewallConfig | None,
        cluster_label: str,
        problems: list[Problem],
        complete: bool = True,
    ) -> None:
        self.complete = complete
        self.cluster = cluster
        self.guest_fw = guest_fw
        self.cluster_label = cluster_label
        self.problems = problems
        self._reported: set[str] = set()

    def report(self, where: SourceRef, message: str, key: str) -> None:
        full_key = f"proxmox:{where.path}:{where.resource}:{key}"
        if full_key in self._reported or any(p.key == full_key for p in self.problems):
            return
        self._reported.add(full_key)
        self.problems.append(Problem(ProblemKind.UNRESOLVED, message, where, key=full_key))

    def convert(self, rule: FwRule, *, key: str, enabled: bool, origin: str) -> list[Rule]:
        direction = Direction.INGRESS if rule.type == "in" else Direction.EGRESS
        action = Action.ALLOW if rule.action == "ACCEPT" else Action.DENY
        unresolved: list[Unresolved] = list(rule.unresolved)
        try:
            src, src_text = self.addresses(rule.src, "source", rule.source, unresolved)
            dst, dst_text = self.addresses(rule.dest, "dest", rule.source, unresolved)
        except _RuleDroppedError as dropped:
            self.report(rule.source, f"rule dropped by Proxmox: {dropped}", f"dropped:{dropped}")
            return []
        if rule.sport is not None:
            unresolved.append(
                Unresolved("sport", rule.sport, "source-port filters are not modelled by talosaudit")
            )
        if direction is Direction.INGRESS:
            peer = Peer(src if rule.src else ALL_ADDRESSES, description=src_text)
            local = dst if rule.dest else None
        else:
            peer = Peer(dst if rule.dest else ALL_ADDRESSES, description=dst_text)
            local = src if rule.src else None
        if rule.macro is not None:
            name, entries = MACROS[rule.macro.lower()]
            pairs: list[tuple[str | None, str | None, str | None]] = [
                (p, d or None, s or None) for p, d, s in entries
            ]
            origin = f"{origin}, macro {name}"
        else:
            pairs = [(rule.proto, rule.dport, None)]
        out: list[Rule] = []
        for i, (proto_text, dport_text, macro_sport) in enumerate(pairs):
            entry_unresolved = list(unresolved)
            if macro_sport is not None:
                # A macro entry's own source port (SMB, IPsec, DHCPfwd): as for -sport.
                entry_unresolved.append(
                    Unresolved("sport", macro_sport, "source-port filters are not modelled by talosaudit")
                )
            protocol = self.protocol(proto_text, rule, entry_unresolved)
            ports = self.ports(protocol, dport_text, rule, entry_unresolved)
            extra: list[tuple[str, str]] = []
            if rule.log:
                extra.append(("log", rule.log))
            if rule.icmp_type:
                extra.append(("icmp-type", rule.icmp_type))
            if rule.iface:
                extra.append(("iface", rule.iface))
            out.append(
                Rule(
                    action=action,
                    direction=direction,
                    protocol=protocol,
                    ports=ports,
                    peer=peer,
                    source=rule.source,
                    description=rule.comment,
                    local=local,
                    enabled=enabled,
                    unresolved=tuple(entry_unresolved),
                    key=key if len(pairs) == 1 else f"{key}#{i}",
                    origin=origin,
                    extra=tuple(extra),
                )
            )
        return out

    def protocol(self, text: str | None, rule: FwRule, unresolved: list[Unresolved]) -> int | None:
        if text is None:
            return None
        lowered = text.lower()
        if lowered in _EXTRA_PROTOCOLS:
            return _EXTRA_PROTOCOLS[lowered]
        try:
            return parse_protocol(lowered)
        except ValueError:
            self.report(rule.source, f"protocol {text!r} is not known to talosaudit", f"proto:{text}")
            unresolved.append(Unresolved("protocol", text, "unknown protocol name"))
            return None

    def ports(
        self, protocol: int | None, text: str | None, rule: FwRule, unresolved: list[Unresolved]
    ) -> PortSet:
        if text is None or protocol not in PORTED:
            return ALL_PORTS  # icmp: the "port" is the icmp type
        result = PortSet()
        for chunk in text.split(","):
            item = chunk.strip()
            named = _SERVICES.get(item.lower())
            try:
                result = result | (
                    PortSet.single(named) if named is not None else PortSet.parse(item.replace(":", "-"))
                )
            except ValueError:
                self.report(rule.source, f"port {item!r} is not a number, range or known service", item)
                unresolved.append(Unresolved("dport", item, "unknown port or service name"))
        return result if result else ALL_PORTS if unresolved else result

    def addresses(
        self, text: str | None, field_name: str, where: SourceRef, unresolved: list[Unresolved]
    ) -> tuple[AddressSet, str]:
        if text is None:
            return ALL_ADDRESSES, ""
        result = EMPTY
        before = len(unresolved)
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            try:
                resolved = self._item(item, where)
            except _RuleDroppedError as exc:
                raise _RuleDroppedError(f"-{field_name} {item}: {exc}") from None
            if isinstance(resolved, str):
                unresolved.append(Unresolved(field_name, item, resolved))
                self.report(where, f"-{field_name} {item}: {resolved}", f"{field_name}:{item}")
                continue
            result = result | resolved
        if len(unresolved) > before:
            # An item could be anything: the widest bound is every address.
            return ALL_ADDRESSES, text
        return result, f"{text} ({result.describe()})" if result else text

    def _item(self, item: str, where: SourceRef) -> AddressSet | str:
        if item.startswith("+"):
            return self._ipset(item[1:], where)
        try:
            return AddressSet.parse(item)
        except ValueError:
            pass
        return self._alias(item)

    def _scoped(self, name: str) -> tuple[list[FirewallConfig], str]:
        scope, sep, bare = name.partition("/")
        if sep and scope.lower() == "dc":
            return ([self.cluster] if self.cluster else []), bare.lower()
        if sep and scope.lower() == "guest":
            return ([self.guest_fw] if self.guest_fw else []), bare.lower()
        if sep:
            return [], name.lower()
        return [c for c in (self.guest_fw, self.cluster) if c is not None], name.lower()

    def _alias(self, name: str) -> AddressSet | str:
        if not re.fullmatch(r"(?:(?:dc|guest)/)?[A-Za-z][A-Za-z0-9\-_]+", name):
            return "not an address, range or alias name"
        configs, bare = self._scoped(name)
        for config in configs:
            alias = config.aliases.get(bare)
            if alias is not None:
                try:
                    return AddressSet.parse(alias.cidr)
                except ValueError:
                    return f"alias {bare} ({alias.source}) is not an address: {alias.cidr!r}"
        return self._missing("alias", name)

    def _ipset(self, name: str, where: SourceRef) -> AddressSet | str:
        configs, bare = self._scoped(name)
        for config in configs:
            entries = config.ipsets.get(bare)
            if entries is None:
                continue
            include, exclude = EMPTY, EMPTY
            for entry in entries:
                value = self._item(entry.cidr, where) if not entry.cidr.startswith("+") else "nested"
                if isinstance(value, str):
                    return f"ipset {bare} entry {entry.cidr!r} ({entry.source}): {value}"
                if entry.nomatch:
                    exclude = exclude | value
                else:
                    include = include | value
            return include - exclude
        return self._missing("ipset", name)

    def _missing(self, what: str, name: str) -> str:
        if not self.complete:
            return f"{what} {name} is not defined in the configuration (it may be managed elsewhere)"
        if self.cluster is None and not name.lower().startswith("guest/"):
            return (
                f"{what} {name} is not defined in the guest's firewall file and "
                f"{self.cluster_label} is not among the inputs"
            )
        raise _RuleDroppedError(f"{what} {name} is not defined")


class _RuleDroppedError(Exception):
    """A rule names something that does not exist: pve-firewall does not compile it."""


__all__ = ["Inventory", "build"]

"""The EC2 API's shapes as model Collections: the same modelling as the Terraform mapper.

One Collection per VPC (a "scope"): address plans of different VPCs may overlap and two
clusters must not be checked against each other, so every VPC is evaluated on its own.

- Security groups become NODE layers (id and group label = ``sg-…``), one rule per
  ``describe_security_group_rules`` entry (``Rule.key`` = ``sgr-…``, one source per rule).
  A referenced group is a group label; a customer prefix list is expanded to its CIDRs; an
  AWS-managed prefix list stays a label ``prefix-list:pl-…`` (its entries are AWS service
  ranges), as the Terraform mapper does.
- Network ACLs become stateless first-match SEGMENT layers, entries by rule number; the
  ``*`` entries (32767) are the layer's default deny.
- Subnets are segments; VPC CIDRs the node network.
- Instances are node-group members, one per network interface (each interface carries its
  own groups). Roles come from hints, tags and names, then attachment (roles.py), exactly
  as for Terraform. Members are grouped by (role, groups, subnet); the node group's id is
  ``<role>:<groups>@<subnet>`` so it stays the same when instances are replaced.

Judgement for live state: a security group that no interface carries filters nothing
today. With a role it still becomes a node group ("nodes carrying sg-…", as in Terraform,
e.g. an auto scaling group scaled to zero); without a role it is neither a node group nor
ROLE_UNKNOWN. A VPC with no node group is not a cluster and is not evaluated unless named with
``--vpc-id`` (see live.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from talosaudit.collectors.aws.network_acls import acl_attributes, network_acl_layer
from talosaudit.collectors.aws.security_groups import (
    described,
    group_without_instances,
    name_tag,
    security_group_layer,
)
from talosaudit.collectors.aws_live.fetch import PrefixList, RegionData
from talosaudit.collectors.aws_live.snapshot import Snapshot
from talosaudit.collectors.roles import (
    NO_ROLE,
    AttachedRoles,
    Carrier,
    RoleAssignment,
    RoleHints,
    RoleSubject,
    admits_cluster_traffic,
    complete_by_attachment,
    infer_role,
)
from talosaudit.model import (
    ALL_PORTS,
    EMPTY,
    TCP,
    UDP,
    Action,
    AddressSet,
    Collection,
    Direction,
    Layer,
    NodeGroup,
    Peer,
    PortSet,
    Problem,
    ProblemKind,
    Rule,
    Segment,
    SourceRef,
    Unresolved,
)
from talosaudit.model.ports import MAX_PORT, NodePorts, parse_protocol

PREFIX_LIST_NOTE = "service ranges of that list, not the internet; its entries are AWS-managed"
#: The ``*`` entry of every network ACL: the layer's default action, not a rule.
DEFAULT_ACL_RULE = 32767
SG_ORIGIN = "security group rule"


@dataclass(frozen=True, slots=True)
class Scope:
    """One VPC of one region: what is evaluated together."""

    account: str
    region: str
    vpc: str
    collection: Collection

    @property
    def name(self) -> str:
        return f"{self.account}/{self.region}/{self.vpc}"


def tags_of(item: Mapping[str, Any], key: str = "Tags") -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(t.get("Key", "")), str(t.get("Value", ""))) for t in item.get(key, []) or []))


# --- security groups -------------------------------------------------------------------


@dataclass
class GroupDraft:
    id: str
    name: str
    vpc: str
    description: str
    tags: tuple[tuple[str, str], ...]
    source: SourceRef
    rules: list[Rule] = field(default_factory=list)

    def subject(self) -> RoleSubject:
        names = [("name", self.name)] if self.name else []
        names += [(f"tag {k}", v) for k, v in self.tags if k.lower() == "name"]
        where = f"{self.source.path}:{self.source.start_line}"
        return RoleSubject(self.id, tuple(names), self.tags, EMPTY, where)

    def admits_cluster(self, served: NodePorts) -> bool:
        return any(admits_cluster_traffic(r, served) for r in self.rules if r.direction is Direction.INGRESS)


def _descriptions(groups: Iterable[Mapping[str, Any]]) -> dict[tuple[Any, ...], str]:
    """Rule descriptions from the grouped view, by (group, direction, protocol, ports, peer).

    ``describe_security_group_rules`` is the source of rules; this fills the description
    when that view lacks one (moto drops it for group references; see docs/live.md).
    """
    out: dict[tuple[Any, ...], str] = {}
    for g in groups:
        gid = g.get("GroupId")
        for egress, key in ((False, "IpPermissions"), (True, "IpPermissionsEgress")):
            for perm in g.get(key, []) or []:
                base = (
                    gid,
                    egress,
                    str(perm.get("IpProtocol")),
                    perm.get("FromPort", -1),
                    perm.get("ToPort", -1),
                )
                pairs = [
                    ("cidr4", r.get("CidrIp"), r.get("Description")) for r in perm.get("IpRanges", [])
                ] + [("cidr6", r.get("CidrIpv6"), r.get("Description")) for r in perm.get("Ipv6Ranges", [])]
                pairs += [
                    ("pl", r.get("PrefixListId"), r.get("Description")) for r in perm.get("PrefixListIds", [])
                ]
                pairs += [
                    ("sg", r.get("GroupId"), r.get("Description")) for r in perm.get("UserIdGroupPairs", [])
                ]
                for kind, value, description in pairs:
                    if description:
                        out[(*base, kind, value)] = str(description)
    return out


def _rule_peer_key(rule: Mapping[str, Any]) -> tuple[str, Any]:
    if rule.get("CidrIpv4"):
        return "cidr4", rule["CidrIpv4"]
    if rule.get("CidrIpv6"):
        return "cidr6", rule["CidrIpv6"]
    if rule.get("PrefixListId"):
        return "pl", rule["PrefixListId"]
    return "sg", (rule.get("ReferencedGroupInfo") or {}).get("GroupId")


def _protocol(text: str, name: str, unresolved: list[Unresolved]) -> int | None:
    """The protocol number of an API field; one it does not know is unresolved (None)."""
    try:
        return parse_protocol(text)
    except ValueError:
        unresolved.append(Unresolved(name, text, "not a protocol talosaudit knows"))
        return None


def _ports(protocol: int | None, lo: Any, hi: Any) -> PortSet:
    """AWS semantics: only tcp/udp have port ranges; icmp's "ports" are type and code."""
    if protocol not in (TCP, UDP):
        return ALL_PORTS
    if not isinstance(lo, int) or not isinstance(hi, int) or lo < 0 or hi > MAX_PORT or lo > hi:
        return ALL_PORTS
    return PortSet.range(lo, hi)


class _Converter:
    def __init__(self, data: RegionData, snap: Snapshot, hints: RoleHints | None) -> None:
        self.data = data
        self.snap = snap
        self.hints = hints
        self.problems: list[Problem] = []
        self.prefix_lists: dict[str, PrefixList] = {p.id: p for p in data.prefix_lists}
        self.descriptions = _descriptions(data.security_groups)

    def where(self, ident: str) -> SourceRef:
        return self.snap.refs.get(ident) or self.snap.refs["region"]

    def groups(self) -> dict[str, GroupDraft]:
        drafts: dict[str, GroupDraft] = {}
        for g in self.data.security_groups:
            gid = str(g["GroupId"])
            drafts[gid] = GroupDraft(
                id=gid,
                name=str(g.get("GroupName", "")),
                vpc=str(g.get("VpcId", "")),
                description=str(g.get("Description", "")),
                tags=tags_of(g),
                source=self.where(gid),
            )
        for raw in sorted(self.data.rules, key=lambda r: str(r.get("SecurityGroupRuleId"))):
            draft = drafts.get(str(raw.get("GroupId")))
            if draft is not None:
                draft.rules.append(self.rule(raw))
        return drafts

    def rule(self, raw: Mapping[str, Any]) -> Rule:
        sgr = str(raw.get("SecurityGroupRuleId", ""))
        at = self.where(sgr)
        egress = bool(raw.get("IsEgress"))
        unresolved: list[Unresolved] = []
        proto_text = str(raw.get("IpProtocol", "-1"))
        protocol = _protocol(proto_text, "IpProtocol", unresolved)
        if unresolved:
            self.problems.append(
                Problem(
                    ProblemKind.UNRESOLVED,
                    f"{sgr}: IpProtocol {proto_text!r} is not a protocol talosaudit knows; "
                    "the rule is treated as both matching and not matching",
                    at,
                    key=f"{sgr}:IpProtocol",
                )
            )
        ports = _ports(protocol, raw.get("FromPort"), raw.get("ToPort"))
        peer = self.peer(raw, sgr, at, unresolved)
        description = str(raw.get("Description") or "")
        if not description:
            kind, value = _rule_peer_key(raw)
            description = self.descriptions.get(
                (
                    raw.get("GroupId"),
                    egress,
                    proto_text,
                    raw.get("FromPort", -1),
                    raw.get("ToPort", -1),
                    kind,
                    value,
                ),
                "",
            )
        return Rule(
            Action.ALLOW,
            Direction.EGRESS if egress else Direction.INGRESS,
            protocol,
            ports,
            peer,
            at,
            description=description,
            unresolved=tuple(unresolved),
            key=sgr,
            origin=SG_ORIGIN,
        )

    def peer(self, raw: Mapping[str, Any], sgr: str, at: SourceRef, unresolved: list[Unresolved]) -> Peer:
        for attr in ("CidrIpv4", "CidrIpv6"):
            if raw.get(attr):
                try:
                    return Peer(addresses=AddressSet.parse(str(raw[attr])))
                except ValueError:
                    unresolved.append(Unresolved(attr, str(raw[attr]), "not a valid CIDR"))
                    self.problems.append(
                        Problem(
                            ProblemKind.UNRESOLVED,
                            f"{sgr}: {attr} {raw[attr]!r} is not a CIDR",
                            at,
                            key=f"{sgr}:{attr}",
                        )
                    )
                    return Peer()
        if raw.get("PrefixListId"):
            ident = str(raw["PrefixListId"])
            pl = self.prefix_lists.get(ident)
            if pl is None or pl.aws_managed:
                shown = f"{pl.name} ({ident})" if pl else ident
                return Peer(
                    groups=frozenset({f"prefix-list:{ident}"}),
                    description=f"prefix list {shown}: {PREFIX_LIST_NOTE}",
                )
            addresses = EMPTY
            for cidr, _ in pl.entries:
                try:
                    addresses = addresses | AddressSet.parse(cidr)
                except ValueError:
                    unresolved.append(Unresolved("PrefixListId", f"{ident} entry {cidr}", "not a valid CIDR"))
            return Peer(addresses=addresses, description=f"prefix list {pl.name} ({addresses.describe()})")
        referenced = raw.get("ReferencedGroupInfo") or {}
        if referenced.get("GroupId"):
            return Peer(groups=frozenset({str(referenced["GroupId"])}))
        unresolved.append(Unresolved("source", "", "the rule names no CIDR, prefix list or group"))
        self.problems.append(
            Problem(
                ProblemKind.UNRESOLVED,
                f"{sgr}: the rule names no CIDR, prefix list or security group",
                at,
                key=f"{sgr}:peer",
            )
        )
        return Peer()


# --- network ---------------------------------------------------------------------------


def _cidrs(item: Mapping[str, Any]) -> AddressSet:
    """A VPC's or subnet's IPv4 and IPv6 blocks (associated ones only)."""
    found = EMPTY
    texts: list[str] = []
    if item.get("CidrBlock"):
        texts.append(str(item["CidrBlock"]))
    for assoc in item.get("CidrBlockAssociationSet", []) or []:
        if (assoc.get("CidrBlockState") or {}).get("State", "associated") == "associated" and assoc.get(
            "CidrBlock"
        ):
            texts.append(str(assoc["CidrBlock"]))
    for assoc in item.get("Ipv6CidrBlockAssociationSet", []) or []:
        if (assoc.get("Ipv6CidrBlockState") or {}).get("State", "associated") == "associated" and assoc.get(
            "Ipv6CidrBlock"
        ):
            texts.append(str(assoc["Ipv6CidrBlock"]))
    for text in texts:
        try:
            found = found | AddressSet.parse(text)
        except ValueError:
            continue
    return found


def _acl_layer(conv: _Converter, acl: Mapping[str, Any]) -> Layer:
    aid = str(acl["NetworkAclId"])
    entries = sorted(
        acl.get("Entries", []) or [], key=lambda e: (bool(e.get("Egress")), int(e.get("RuleNumber", 0)))
    )
    rules: list[Rule] = []
    for e in entries:
        number = int(e.get("RuleNumber", 0))
        if number == DEFAULT_ACL_RULE:
            continue
        way = "egress" if e.get("Egress") else "ingress"
        key = f"{aid}/{way}/{number}"
        at = conv.where(key)
        unresolved: list[Unresolved] = []
        protocol = _protocol(str(e.get("Protocol", "-1")), "Protocol", unresolved)
        port_range = e.get("PortRange") or {}
        ports = _ports(protocol, port_range.get("From"), port_range.get("To")) if port_range else ALL_PORTS
        addresses = EMPTY
        for attr in ("CidrBlock", "Ipv6CidrBlock"):
            if e.get(attr):
                try:
                    addresses = addresses | AddressSet.parse(str(e[attr]))
                except ValueError:
                    unresolved.append(Unresolved(attr, str(e[attr]), "not a valid CIDR"))
        action = Action.DENY if str(e.get("RuleAction", "deny")).lower() == "deny" else Action.ALLOW
        rules.append(
            Rule(
                action,
                Direction.EGRESS if e.get("Egress") else Direction.INGRESS,
                protocol,
                ports,
                Peer(addresses=addresses),
                at,
                unresolved=tuple(unresolved),
                key=key,
                origin="network ACL entry",
                extra=(("rule_number", str(number)),),
            )
        )
    tags = tags_of(acl)
    associations = acl.get("Associations", []) or []
    attributes = acl_attributes(str(acl.get("VpcId", "")), tags, bool(acl.get("IsDefault")))
    attributes += [("account", conv.data.account), ("region", conv.data.region)]
    return network_acl_layer(
        aid,
        name=name_tag(tags) or aid,
        source=conv.where(aid),
        rules=rules,
        subnets=sorted(str(a.get("SubnetId")) for a in associations if a.get("SubnetId")),
        attributes=attributes,
    )


# --- machines --------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One network interface of one instance."""

    instance: str
    vpc: str
    groups: tuple[str, ...]
    subnet: str
    addresses: AddressSet
    subject: RoleSubject
    source: SourceRef


def _members(conv: _Converter) -> list[Member]:
    out: list[Member] = []
    for inst in sorted(conv.data.instances, key=lambda i: str(i.get("InstanceId"))):
        iid = str(inst.get("InstanceId"))
        tags = tags_of(inst)
        at = conv.where(iid)
        names = tuple((f"tag {k}", v) for k, v in tags if k.lower() == "name")
        enis = inst.get("NetworkInterfaces") or [
            {
                "Groups": inst.get("SecurityGroups", []),
                "SubnetId": inst.get("SubnetId"),
                "VpcId": inst.get("VpcId"),
                "PrivateIpAddress": inst.get("PrivateIpAddress"),
            }
        ]
        for eni in enis:
            addresses = EMPTY
            texts = [
                str(a["PrivateIpAddress"])
                for a in eni.get("PrivateIpAddresses", []) or []
                if a.get("PrivateIpAddress")
            ]
            if eni.get("PrivateIpAddress"):
                texts.append(str(eni["PrivateIpAddress"]))
            texts += [
                str(a["Ipv6Address"]) for a in eni.get("Ipv6Addresses", []) or [] if a.get("Ipv6Address")
            ]
            for text in texts:
                try:
                    addresses = addresses | AddressSet.parse(text)
                except ValueError:
                    continue
            groups = tuple(
                sorted({str(g["GroupId"]) for g in eni.get("Groups", []) or [] if g.get("GroupId")})
            )
            out.append(
                Member(
                    instance=iid,
                    vpc=str(eni.get("VpcId") or inst.get("VpcId") or ""),
                    groups=groups,
                    subnet=str(eni.get("SubnetId") or inst.get("SubnetId") or ""),
                    addresses=addresses,
                    subject=RoleSubject(iid, names, tags, addresses, f"{at.path}:{at.start_line}"),
                    source=at,
                )
            )
    return out


def _roles(drafts: Mapping[str, GroupDraft], members: list[Member], hints: RoleHints | None) -> AttachedRoles:
    """Role of every group and member: hints, tags, names, then attachment (as aws.py)."""
    return complete_by_attachment(
        {gid: infer_role(d.subject(), hints) for gid, d in drafts.items()},
        [Carrier(m.instance, m.groups, f"{m.source.path}:{m.source.start_line}") for m in members],
        [infer_role(m.subject, hints) for m in members],
    )


def _node_groups(
    members: list[Member],
    roles: AttachedRoles,
    drafts: Mapping[str, GroupDraft],
    subnets: Mapping[str, AddressSet],
    served: NodePorts,
) -> list[NodeGroup]:
    buckets: dict[tuple[str, tuple[str, ...], str], list[int]] = defaultdict(list)
    for i, m in enumerate(members):
        assignment = roles.members[i]
        if assignment is None and not any(drafts[g].admits_cluster(served) for g in m.groups if g in drafts):
            continue  # no role and no group admitting cluster traffic: a bastion, a NAT box
        buckets[(assignment.role.label if assignment else "no-role", m.groups, m.subnet)].append(i)
    out: list[NodeGroup] = []
    for (role_name, groups, subnet), idx in sorted(buckets.items()):
        group_members = [members[i] for i in idx]
        instances = sorted({m.instance for m in group_members})
        assignment = roles.members[idx[0]]
        addresses = EMPTY
        for m in group_members:
            addresses = addresses | m.addresses
        reason = "private IPs of " + ", ".join(instances)
        if not addresses and subnet in subnets:
            addresses = subnets[subnet]
            reason = f"subnet {subnet} {addresses.describe()} (the instances have no private IP)"
        ident = f"{role_name}:{'+'.join(groups) or 'no-group'}@{subnet or 'no-subnet'}"
        count = len(instances)
        out.append(
            NodeGroup(
                id=ident,
                name=f"{ident} ({count} instance{'s' if count != 1 else ''}: {', '.join(instances)})",
                role=assignment.role if assignment else None,
                role_reason=assignment.reason if assignment else NO_ROLE,
                source=group_members[0].source,
                addresses=addresses,
                address_reason=reason,
                labels=frozenset(groups),
                layers=groups,
                segment=subnet if subnet in subnets else None,
                origin="EC2 instances",
            )
        )
    return out


def _synthetic(draft: GroupDraft, assignment: RoleAssignment, vpc_addresses: AddressSet) -> NodeGroup:
    reason = f"VPC {draft.vpc} {vpc_addresses.describe()} (no instance carries the group)"
    return group_without_instances(
        draft.id, source=draft.source, assignment=assignment, addresses=vpc_addresses, address_reason=reason
    )


def _sg_layer(
    draft: GroupDraft, assignment: RoleAssignment | None, data: RegionData, attached: bool
) -> Layer:
    attributes = [("attached", "true" if attached else "false")]
    attributes += described(draft.tags, draft.vpc, draft.description)
    attributes += [("group_name", draft.name), ("account", data.account), ("region", data.region)]
    return security_group_layer(
        draft.id,
        name=draft.name or draft.id,
        source=draft.source,
        rules=draft.rules,
        attributes=attributes,
        assignment=assignment,
    )


# --- the region ------------------------------------------------------------------------


def convert_region(
    data: RegionData, snap: Snapshot, hints: RoleHints | None = None, node_ports: NodePorts | None = None
) -> list[Scope]:
    """One Scope per VPC of the region that has a security group, an instance or a subnet.
    ``node_ports``: what a node serves (policies/node_ports.py); a group without a role that
    admits none of it is not a node group."""
    served = node_ports or NodePorts()
    conv = _Converter(data, snap, hints)
    drafts = conv.groups()
    members = _members(conv)
    roles = _roles(drafts, members, hints)
    subnets = {str(s["SubnetId"]): _cidrs(s) for s in data.subnets}
    subnet_vpc = {str(s["SubnetId"]): str(s.get("VpcId", "")) for s in data.subnets}
    vpc_addresses = {str(v["VpcId"]): _cidrs(v) for v in data.vpcs}
    all_groups = _node_groups(members, roles, drafts, subnets, served)
    carried = {g for m in members for g in m.groups}

    problems_by_vpc: dict[str, list[Problem]] = defaultdict(list)
    for d in drafts.values():
        if (
            roles.groups[d.id] is None
            and d.id in carried
            and d.id not in roles.carried_by_role
            and d.admits_cluster(served)
        ):
            problems_by_vpc[d.vpc].append(
                Problem(
                    ProblemKind.ROLE_UNKNOWN,
                    f"security group {d.id} ({d.name}): no control-plane/worker role could be assigned "
                    "(no NodeType/Role tag, no role in its name, not attached to an instance with a "
                    "role); required-flow checks skipped for it; set nodes: in .talosaudit.yaml",
                    d.source,
                    key=f"{d.id}:role",
                )
            )
    group_vpc = {gid: d.vpc for gid, d in drafts.items()}
    for p in conv.problems:
        vpc = group_vpc.get(_group_of_rule(data, p.source.resource), "")
        problems_by_vpc[vpc].append(p)

    vpcs = sorted({*vpc_addresses, *(d.vpc for d in drafts.values()), *(m.vpc for m in members)} - {""})
    scopes: list[Scope] = []
    for vpc in vpcs:
        addresses = vpc_addresses.get(vpc, EMPTY)
        groups = [g for g in all_groups if _vpc_of_node_group(g, members) == vpc]
        for d in drafts.values():
            assignment = roles.groups[d.id]
            if d.vpc == vpc and d.id not in carried and assignment is not None:
                groups.append(_synthetic(d, assignment, addresses))
        layers = [
            _sg_layer(d, roles.groups[d.id], data, d.id in carried) for d in drafts.values() if d.vpc == vpc
        ]
        layers += [
            _acl_layer(conv, a)
            for a in sorted(data.network_acls, key=lambda a: str(a["NetworkAclId"]))
            if a.get("VpcId") == vpc
        ]
        segments = [
            Segment(sid, name_tag(tags_of(s)) or sid, subnets[sid], conv.where(sid))
            for s in sorted(data.subnets, key=lambda s: str(s["SubnetId"]))
            if subnet_vpc[(sid := str(s["SubnetId"]))] == vpc
        ]
        networks = ((addresses, conv.where(vpc)),) if addresses else ()
        collection = Collection(
            node_groups=tuple(sorted(groups, key=lambda g: g.id)),
            layers=tuple(layers),
            segments=tuple(segments),
            node_networks=networks,
            problems=tuple(problems_by_vpc.get(vpc, [])),
            files=tuple(sorted({layer.source.path for layer in layers} | {snap.refs["region"].path})),
        )
        scopes.append(Scope(data.account, data.region, vpc, collection))
    return scopes


def _vpc_of_node_group(group: NodeGroup, members: list[Member]) -> str:
    for m in members:
        if m.source == group.source:
            return m.vpc
    return ""


def _group_of_rule(data: RegionData, sgr: str) -> str:
    for r in data.rules:
        if r.get("SecurityGroupRuleId") == sgr:
            return str(r.get("GroupId", ""))
    return ""

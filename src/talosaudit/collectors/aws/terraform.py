"""Map the evaluated AWS resources of a Terraform configuration to the model.

``map_aws(config, hints)`` returns a Collection with one NODE layer per security group, one
SEGMENT layer per network ACL, the subnets as segments, the VPC CIDRs as node networks, and
node groups with roles. Roles come from hints, tags, names and attachment (roles.py):

1. every security group and machine gets what its own hints, tags and names say;
2. a group without a role takes the one role of the machines that carry it;
3. a machine without a role takes the one role of the groups it carries (or its launch
   template's).

Judgement on ROLE_UNKNOWN: a security group with no role that no machine with a role carries is
reported only when it admits cluster traffic (an ingress rule that could match a port a
Talos node serves, or every protocol). Groups used only as the source of rules, such as a
bastion's or a load balancer's, are not node filters; they get no node group and no ROLE_UNKNOWN.
Such a group that does admit cluster traffic and has no instances still becomes a node
group "nodes carrying <group>" without a role, so exposure checks see it. Likewise a machine
without a role becomes a node group only when one of its groups admits cluster traffic: a
bastion or NAT instance is not a Talos node.

A security group list element that cannot be resolved (``var.extra_sg`` without a value)
adds a layer "the security groups of var.extra_sg" to the node group, with unknown rules
(``unknown_rules``), so a required flow only it could allow is unknown rather than blocked.
Like the unknown rules of a group the code only references, it takes no part in roles or
in deciding which machines are nodes: its UNRESOLVED is the one of the list that holds it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from talosaudit.collectors.aws.security_groups import (
    group_without_instances,
    security_group_layer,
    unknown_rules,
)
from talosaudit.collectors.aws.tf_balancers import balancer_groups, map_balancers
from talosaudit.collectors.aws.tf_common import Context, tags_of
from talosaudit.collectors.aws.tf_compute import (
    Machines,
    Member,
    UnresolvedGroups,
    default_groups_by_vpc,
    machine_subject,
)
from talosaudit.collectors.aws.tf_groups import GroupDraft, SecurityGroups
from talosaudit.collectors.aws.tf_network import Network, map_network
from talosaudit.collectors.roles import (
    NO_ROLE,
    AttachedRoles,
    Carrier,
    RoleAssignment,
    RoleHints,
    admits_cluster_traffic,
    complete_by_attachment,
    infer_role,
)
from talosaudit.collectors.terraform.values import TerraformConfig
from talosaudit.model import (
    EMPTY,
    AddressSet,
    Collection,
    Direction,
    Layer,
    NodeGroup,
    Problem,
    ProblemKind,
    Rule,
)
from talosaudit.model.ports import NodePorts

#: Resource types (prefixes) this mapping reads: a value an unread module feeds into one of
#: these is a gap in the model (collectors/terraform/remote_modules.py).
TERRAFORM_TYPES = (
    "aws_security_group",
    "aws_vpc_security_group_",
    "aws_default_security_group",
    "aws_ec2_managed_prefix_list",
    "aws_instance",
    "aws_launch_template",
    "aws_launch_configuration",
    "aws_autoscaling_group",
    "aws_subnet",
    "aws_vpc",
    "aws_default_vpc",
    "aws_network_acl",
    "aws_default_network_acl",
    "aws_lb",
    "aws_alb",
    "aws_elb",
)
#: Attributes of those resources that say nothing about who reaches a node: an unread
#: module's output there (an IAM profile, an AMI, user data) leaves the model whole.
NOT_READ = frozenset(
    {
        "ami",
        "image_id",
        "instance_type",
        "user_data",
        "user_data_base64",
        "iam_instance_profile",
        "key_name",
        "root_block_device",
        "ebs_block_device",
        "block_device_mappings",
        "metadata_options",
        "credit_specification",
        "monitoring",
        "kms_key_id",
        "access_logs",
        "timeouts",
        "lifecycle",
        "depends_on",
    }
)


def map_aws(
    config: TerraformConfig, hints: RoleHints | None = None, node_ports: NodePorts | None = None
) -> Collection:
    served = node_ports or NodePorts()
    ctx = Context(config)
    net = map_network(ctx)
    sgs = SecurityGroups(ctx).build()
    machines = Machines(ctx, sgs, default_groups_by_vpc(ctx))
    members = machines.build()
    members = [_with_subnet_addresses(m, net) for m in members]
    roles = _roles(ctx, sgs, members, hints)
    owner: dict[str, str] = {}
    groups = _node_groups(members, roles, net, sgs, served, owner=owner)
    carried = {g for m in members for g in m.groups}
    # A load balancer's groups filter the load balancer: no node group, no unknown role.
    carried |= balancer_groups(ctx)
    problems: list[Problem] = []
    for draft in sgs.drafts.values():
        if draft.id in carried:
            continue
        assignment = roles.groups[draft.id]
        if assignment is not None or _admits_cluster(draft, served):
            groups.append(_synthetic(draft, assignment, net))
    for draft in sgs.drafts.values():
        if roles.groups[draft.id] is not None or draft.id in roles.carried_by_role:
            continue
        if draft.id in carried and draft.id not in {g for m in members for g in m.groups}:
            continue  # a load balancer's group
        if draft.id.startswith("unresolved:"):
            continue  # the UNRESOLVED on its security_group_id already says what is missing
        if _admits_cluster(draft, served):
            problems.append(
                Problem(
                    ProblemKind.ROLE_UNKNOWN,
                    f"security group {draft.id}: no control-plane/worker role could be assigned "
                    "(no NodeType/Role tag, no role in its name, not attached to an instance with "
                    "a role); required-flow checks skipped for it; set nodes: in .talosaudit.yaml",
                    draft.source,
                    key=f"{draft.id}:role",
                )
            )
    sgs.report_unknown()
    layers = [_layer(d, sgs.layer_rules(d), roles.groups[d.id]) for d in sgs.drafts.values()]
    layers += [_unresolved_layer(u) for u in machines.unresolved.values()]
    layers += net.acls
    forwarders = map_balancers(ctx, sgs, net, owner, groups)
    return Collection(
        forwarders=tuple(forwarders),
        node_groups=tuple(groups),
        layers=tuple(layers),
        segments=tuple(net.segments),
        node_networks=tuple(net.node_networks),
        problems=tuple(ctx.problems + problems),
        files=tuple(config.files),
    )


def _roles(
    ctx: Context, sgs: SecurityGroups, members: list[Member], hints: RoleHints | None
) -> AttachedRoles:
    """Role of every security group and member, with the reason."""
    groups = {d.id: infer_role(d.subject(), hints) for d in sgs.drafts.values()}
    templates: dict[str, RoleAssignment | None] = {}
    for m in members:
        r = ctx.resources.get(m.template) if m.template else None
        if r is not None and m.template not in templates:
            subject = machine_subject(r, tags_of(r.body.attrs.get("tags")))
            templates[m.template] = infer_role(subject, hints)
    own: list[RoleAssignment | None] = []
    for m in members:
        assignment = infer_role(m.subject, hints)
        from_template = templates.get(m.template)
        if assignment is None and from_template is not None:
            assignment = RoleAssignment(
                from_template.role,
                f"launch template {m.template}: {from_template.reason}",
                from_template.basis,
            )
        own.append(assignment)
    carriers = [Carrier(m.address, m.groups, where_of(m)) for m in members]
    return complete_by_attachment(groups, carriers, own)


def _with_subnet_addresses(m: Member, net: Network) -> Member:
    """Without a private_ip, CIDR hints match a machine by its subnet."""
    subnet_addrs = net.subnet_addresses.get(m.subnet or "", EMPTY)
    if m.subject.addresses or not subnet_addrs:
        return m
    return replace(m, subject=replace(m.subject, addresses=subnet_addrs))


def where_of(m: Member) -> str:
    return f"{m.source.path}:{m.source.start_line}"


@dataclass(frozen=True)
class _Key:
    role: str
    groups: tuple[str, ...]
    subnet: str
    unresolved: tuple[str, ...] = ()


def _node_groups(
    members: list[Member],
    roles: AttachedRoles,
    net: Network,
    sgs: SecurityGroups,
    served: NodePorts,
    *,
    owner: dict[str, str],
) -> list[NodeGroup]:
    """The node groups; ``owner`` receives the node group id of each member's address."""
    buckets: dict[_Key, list[int]] = defaultdict(list)
    for i, m in enumerate(members):
        assignment = roles.members[i]
        if assignment is None and not any(_admits_cluster(sgs.drafts.get(g), served) for g in m.groups):
            continue  # a machine without a role whose groups admit no cluster traffic: not a node
        key = _Key(assignment.role.value if assignment else "", m.groups, m.subnet or "", m.unresolved)
        buckets[key].append(i)
    drafts: list[tuple[str, _Key, list[int]]] = []
    for key, idx in buckets.items():
        bases = sorted({members[i].base for i in idx})
        drafts.append(("+".join(bases), key, idx))
    # Disambiguate ids that collide (one resource across several subnets or roles).
    ids = _unique_ids([(ident, key.subnet or "no subnet", key.role) for ident, key, _ in drafts])
    result: list[NodeGroup] = []
    for ident, (_, key, idx) in sorted(zip(ids, drafts, strict=True), key=lambda t: t[0]):
        group_members = sorted((members[i] for i in idx), key=lambda m: m.address)
        owner.update((m.address, ident) for m in group_members)
        first_index = min(idx, key=lambda i: members[i].address)
        assignment = roles.members[first_index]
        addresses, address_reason = _addresses(group_members, key, net, sgs)
        kinds = sorted({m.kind for m in group_members})
        notes = sorted({m.note for m in group_members if m.note})
        origin = ", ".join(kinds) + (f" ({'; '.join(notes)})" if notes else "")
        count = len(group_members)
        name = ident if count == 1 else f"{ident} ({count} instances)"
        result.append(
            NodeGroup(
                id=ident,
                name=name,
                role=assignment.role if assignment else None,
                role_reason=assignment.reason if assignment else NO_ROLE,
                source=group_members[0].source,
                addresses=addresses,
                address_reason=address_reason,
                # No peer can name the groups of an unresolved expression: layers, not labels.
                labels=frozenset(key.groups),
                layers=key.groups + key.unresolved,
                segment=key.subnet if key.subnet in net.subnet_addresses else None,
                origin=origin,
            )
        )
    return result


def _admits_cluster(draft: GroupDraft | None, served: NodePorts) -> bool:
    if draft is None:
        return False
    return any(admits_cluster_traffic(r, served) for r in draft.rules if r.direction is Direction.INGRESS)


def _unique_ids(wanted: list[tuple[str, str, str]]) -> list[str]:
    """``base``, else ``base@subnet``, else ``base@subnet#role``: the shortest that is unique."""
    out: list[str] = []
    for base, subnet, role in wanted:
        same_base = [w for w in wanted if w[0] == base]
        if len(same_base) == 1:
            out.append(base)
        elif len([w for w in same_base if w[1] == subnet]) == 1:
            out.append(f"{base}@{subnet}")
        else:
            out.append(f"{base}@{subnet}#{role or 'no role'}")
    return out


def _addresses(group: list[Member], key: _Key, net: Network, sgs: SecurityGroups) -> tuple[AddressSet, str]:
    if all(m.private_ip for m in group):
        found = EMPTY
        for m in group:
            found = found | m.private_ip
        return found, "private_ip of " + ", ".join(m.address for m in group)
    subnet_addrs = net.subnet_addresses.get(key.subnet, EMPTY)
    if subnet_addrs:
        return (
            subnet_addrs,
            f"subnet {key.subnet} {subnet_addrs.describe()} (no private_ip in the configuration)",
        )
    vpcs = [net.subnet_vpc[key.subnet]] if key.subnet in net.subnet_vpc else []
    vpcs += [sgs.drafts[g].vpc for g in key.groups if g in sgs.drafts and sgs.drafts[g].vpc]
    return _vpc_addresses(vpcs, net, "no private_ip and no subnet CIDR in the configuration")


def _vpc_addresses(vpcs: list[str], net: Network, why: str) -> tuple[AddressSet, str]:
    found = EMPTY
    named: list[str] = []
    for vpc in dict.fromkeys(vpcs):
        addrs = net.vpcs.get(vpc, EMPTY)
        if addrs:
            found = found | addrs
            named.append(vpc)
    if found:
        return found, f"VPC {', '.join(named)} {found.describe()} ({why})"
    every = net.all_vpc_addresses()
    if every:
        return (
            every,
            f"every VPC in the configuration {every.describe()} ({why}; the group's VPC is not known)",
        )
    return EMPTY, f"no address known ({why}; no VPC CIDR in the configuration)"


def _synthetic(draft: GroupDraft, assignment: RoleAssignment | None, net: Network) -> NodeGroup:
    addresses, reason = _vpc_addresses(
        [draft.vpc] if draft.vpc else [], net, "no instances in the configuration"
    )
    return group_without_instances(
        draft.id, source=draft.source, assignment=assignment, addresses=addresses, address_reason=reason
    )


def _layer(draft: GroupDraft, rules: list[Rule], assignment: RoleAssignment | None) -> Layer:
    return security_group_layer(
        draft.id,
        name=draft.name,
        source=draft.source,
        rules=rules,
        attributes=draft.attributes(),
        assignment=assignment,
    )


def _unresolved_layer(u: UnresolvedGroups) -> Layer:
    """The security groups of an expression that could not be resolved: rules unknown, no role.
    ``external`` keeps drift from looking for it in AWS."""
    shown = f"the security groups of {u.expression}"
    return security_group_layer(
        u.id,
        name=shown,
        source=u.source,
        rules=unknown_rules(u.id, u.source, u.reason, expression=u.expression, shown=shown),
        attributes=[("expression", u.expression), ("external", "true")],
        assignment=None,
    )

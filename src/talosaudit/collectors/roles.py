"""Deciding whether a firewall layer or a machine belongs to control-plane or worker nodes.

Shared by the Terraform and the live AWS collectors: the inputs are plain strings, tags and
addresses, never provider objects. The order (DESIGN.md "Roles") is: explicit hints from
``.talosaudit.yaml`` ``nodes:``, tags, names, and finally attachment (a security group that
only instances of one role carry). Talos ``machine.type`` is decided by the Talos collector.
Every assignment says why, in words a user can check against their code.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from talosaudit.model import EMPTY, AddressSet, Role, Rule
from talosaudit.model.ports import NodePorts


@dataclass(frozen=True, slots=True)
class RoleHints:
    """Explicit role assignments written by the user (``.talosaudit.yaml`` ``nodes:``).

    ``by_address`` matches a Terraform address (with or without the instance key or the
    module path) or a live id (``sg-…``, ``i-…``); ``by_name`` matches a glob pattern,
    case-insensitively, against every name of the object (resource name, ``name``
    attribute, ``Name`` tag); ``by_cidr`` matches objects whose known addresses all lie in
    the network. ``origin`` names where the hints were written, for the reasons.
    """

    by_address: tuple[tuple[str, Role], ...] = ()
    by_name: tuple[tuple[str, Role], ...] = ()
    by_cidr: tuple[tuple[AddressSet, Role], ...] = ()
    origin: str = ".talosaudit.yaml"

    def __bool__(self) -> bool:
        return bool(self.by_address or self.by_name or self.by_cidr)


@dataclass(frozen=True, slots=True)
class RoleSubject:
    """What role inference may look at for one object.

    ``names`` are ``(what, value)`` pairs, e.g. ``("resource name", "control_plane")``,
    ``("name", "dev-talos-cp-sg")``, ``("tag Name", "...")``. ``where`` is ``path:line``.
    """

    identity: str
    names: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    addresses: AddressSet = EMPTY
    where: str = ""


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    role: Role
    reason: str
    #: "hint", "tag", "name" or "attachment": how the role was found.
    basis: str


#: The reason of a node group without a role (Terraform and live AWS).
NO_ROLE = "no role: no NodeType/Role tag, no role in its names, no security group with a role"

#: Tag keys whose value names the role, in the order they are trusted.
ROLE_TAG_KEYS = ("nodetype", "role", "talos.dev/role", "kubernetes.io/role")
#: Tag keys whose *key suffix* names the role (the value is usually empty or "true").
ROLE_TAG_PREFIXES = ("node-role.kubernetes.io/",)

_CONTROL_PLANE_WORDS = frozenset({"controlplane", "controlplanes", "cp", "cps", "master", "masters"})
_WORKER_WORDS = frozenset({"worker", "workers", "node"})
#: Tag values are compared whole (after lower-casing), so more spellings are safe there.
_CONTROL_PLANE_VALUES = frozenset({"control-plane", "controlplane", "control_plane", "cp", "master"})
_WORKER_VALUES = frozenset({"worker", "workers", "node", "nodes"})

_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def role_from_value(value: str) -> Role | None:
    """A tag value (or a ``node-role.kubernetes.io/<x>`` suffix) as a role."""
    text = value.strip().lower()
    if text in _CONTROL_PLANE_VALUES:
        return Role.CONTROL_PLANE
    if text in _WORKER_VALUES:
        return Role.WORKER
    return None


def name_tokens(name: str) -> list[str]:
    """Split a name into lower-case words: separators, camelCase and digits end a word.

    ``vpcpeer`` stays one word, so ``cp`` never matches inside it.
    """
    return [t.lower() for t in _TOKEN.findall(name)]


def role_in_name(name: str) -> tuple[Role, str] | None:
    """The role a name states on word boundaries, and the word that says it.

    A name that mentions both roles (``cp-to-worker``) states neither.
    """
    tokens = name_tokens(name)
    found: dict[Role, str] = {}
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok == "control" and nxt in ("plane", "planes"):
            found.setdefault(Role.CONTROL_PLANE, "control-plane")
        elif tok in _CONTROL_PLANE_WORDS:
            found.setdefault(Role.CONTROL_PLANE, tok)
        elif tok in _WORKER_WORDS:
            found.setdefault(Role.WORKER, tok)
    if len(found) != 1:
        return None
    role, word = next(iter(found.items()))
    return role, word


def _at(subject: RoleSubject) -> str:
    return f" ({subject.where})" if subject.where else ""


def address_matches(pattern: str, identity: str) -> bool:
    """A hint address matches with or without the instance key and the module path, and may
    be a glob (``module.*.aws_instance.cp*``)."""
    bare = re.sub(r"\[[^\]]*\]$", "", identity)
    for candidate in (identity, bare):
        if candidate == pattern or candidate.endswith("." + pattern):
            return True
        if fnmatch.fnmatchcase(candidate, pattern) or fnmatch.fnmatchcase(candidate, "*." + pattern):
            return True
    return False


def role_from_hints(subject: RoleSubject, hints: RoleHints | None) -> RoleAssignment | None:
    if not hints:
        return None
    for pattern, role in hints.by_address:
        if address_matches(pattern, subject.identity):
            return RoleAssignment(
                role, f"{hints.origin} nodes: address {pattern!r} matches {subject.identity}", "hint"
            )
    for pattern, role in hints.by_name:
        for what, name in subject.names:
            if fnmatch.fnmatchcase(name.lower(), pattern.lower()):
                return RoleAssignment(
                    role,
                    f"{hints.origin} nodes: name pattern {pattern!r} matches {what} {name!r} "
                    f"of {subject.identity}{_at(subject)}",
                    "hint",
                )
    if subject.addresses:
        for network, role in hints.by_cidr:
            if subject.addresses <= network:
                return RoleAssignment(
                    role,
                    f"{hints.origin} nodes: {subject.identity} addresses "
                    f"{subject.addresses.describe()} lie in {network.describe()}",
                    "hint",
                )
    return None


def role_from_tags(subject: RoleSubject) -> RoleAssignment | None:
    lowered = [(k.strip().lower(), k, v) for k, v in subject.tags]
    for wanted in ROLE_TAG_KEYS:
        for low, key, value in lowered:
            if low == wanted:
                role = role_from_value(value)
                if role is not None:
                    return RoleAssignment(
                        role, f"tag {key}={value} on {subject.identity}{_at(subject)}", "tag"
                    )
    for low, key, value in lowered:
        for prefix in ROLE_TAG_PREFIXES:
            if low.startswith(prefix):
                role = role_from_value(low[len(prefix) :])
                if role is not None:
                    shown = f"{key}={value}" if value else key
                    return RoleAssignment(role, f"tag {shown} on {subject.identity}{_at(subject)}", "tag")
    return None


def role_from_names(subject: RoleSubject) -> RoleAssignment | None:
    for what, name in subject.names:
        found = role_in_name(name)
        if found is not None:
            role, word = found
            return RoleAssignment(
                role,
                f"{what} {name!r} of {subject.identity} contains {word!r}{_at(subject)}",
                "name",
            )
    return None


def infer_role(subject: RoleSubject, hints: RoleHints | None = None) -> RoleAssignment | None:
    """Hints, then tags, then names; attachment comes last (``complete_by_attachment``)."""
    return role_from_hints(subject, hints) or role_from_tags(subject) or role_from_names(subject)


def role_from_attachment(
    identity: str, carriers: Iterable[tuple[str, Role | None, str]]
) -> RoleAssignment | None:
    """A security group carried only by machines of one role gets that role.

    ``carriers`` are ``(identity, role, where)`` of the machines that carry the group.
    Machines without a role are ignored; machines of both roles give no role.
    """
    by_role: dict[Role, list[str]] = {}
    for carrier, role, where in carriers:
        if role is not None:
            shown = f"{carrier} ({where})" if where else carrier
            by_role.setdefault(role, []).append(shown)
    if len(by_role) != 1:
        return None
    role, who = next(iter(by_role.items()))
    listed = ", ".join(sorted(set(who)))
    return RoleAssignment(role, f"{identity} is attached only to {role.label} nodes: {listed}", "attachment")


def role_from_groups(identity: str, groups: Mapping[str, RoleAssignment | None]) -> RoleAssignment | None:
    """A machine without its own role takes the one role of the security groups it carries."""
    roles = {a.role for a in groups.values() if a is not None}
    if len(roles) != 1:
        return None
    role = next(iter(roles))
    named = sorted(g for g, a in groups.items() if a is not None and a.role is role)
    first = groups[named[0]]
    assert first is not None
    return RoleAssignment(
        role,
        f"{identity} carries security group {named[0]}, which is {role.label}: {first.reason}",
        "attachment",
    )


@dataclass(frozen=True, slots=True)
class Carrier:
    """A machine as attachment sees it: its identity, the security groups it carries and
    where it is written (``path:line``)."""

    identity: str
    groups: tuple[str, ...]
    where: str


@dataclass(frozen=True)
class AttachedRoles:
    """Roles of security groups (by id) and of machines (in the callers' order), attachment
    included; ``carried_by_role`` are the groups carried by at least one machine with a role."""

    groups: dict[str, RoleAssignment | None]
    members: list[RoleAssignment | None]
    carried_by_role: set[str]


def complete_by_attachment(
    groups: Mapping[str, RoleAssignment | None],
    carriers: Sequence[Carrier],
    own: Sequence[RoleAssignment | None],
) -> AttachedRoles:
    """The last step of role inference, after hints, tags and names (``groups`` and ``own``,
    the machines' roles in the order of ``carriers``): a group without a role takes the one
    role of the machines that carry it, then a machine without a role takes the one role of
    its groups."""
    group_roles = dict(groups)
    members = list(own)
    for gid in list(group_roles):
        if group_roles[gid] is None:
            group_roles[gid] = role_from_attachment(
                gid,
                [
                    (c.identity, role.role if role else None, c.where)
                    for c, role in zip(carriers, members, strict=True)
                    if gid in c.groups
                ],
            )
    for i, c in enumerate(carriers):
        if members[i] is None and c.groups:
            members[i] = role_from_groups(c.identity, {g: group_roles.get(g) for g in c.groups})
    carried = {g for c, role in zip(carriers, members, strict=True) if role is not None for g in c.groups}
    return AttachedRoles(group_roles, members, carried)


def admits_cluster_traffic(rule: Rule, served: NodePorts) -> bool:
    """True for an ingress rule that could admit a flow a Talos node serves (``served``: the
    ports the policy files name, CollectOptions.node_ports). A group without a role that
    admits none of them (a bastion, a load balancer) is not a node group."""
    return served.admits(rule.protocol, rule.ports)

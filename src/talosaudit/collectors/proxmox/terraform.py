"""Proxmox resources of the bpg/proxmox and Telmate/proxmox providers into the model.

Resources become the same guests and firewall configs the export collector reads
(``collectors.proxmox``), and ``collectors.proxmox.layers.build`` applies the one set of
semantics: a NIC is filtered only when the datacenter, the VM and the NIC enable it.

- bpg: ``proxmox_virtual_environment_*`` and the newer short ``proxmox_*`` names (ADR-007):
  ``vm``/``container`` (``network_device``/``network_interface``, ``initialization.ip_config``),
  ``firewall_options``, ``firewall_rules`` (``rule`` blocks, ``security_group``),
  ``cluster_firewall``, ``cluster_firewall_security_group``, ``firewall_ipset``,
  ``firewall_alias``.
- Telmate: ``proxmox_vm_qemu`` (``network`` blocks with or without ``id``, ``ipconfigN``) and
  ``proxmox_lxc``. Telmate has no firewall resources: only the NIC flag.

Without a ``cluster_firewall`` resource the datacenter state is unknown: the VMs whose VM
and NIC firewalls are on are assumed filtered, and a UNRESOLVED says so.

Defaults per provider:

- bpg: a VM without a ``firewall_options`` resource has its VM-level firewall off (the
  provider creates none, and Proxmox's default is ``enable: 0``), so a NIC with
  ``firewall = true`` or rules for that VM are not applied; this is known, not unknown.
- Telmate: ``network { firewall }`` defaults to false; the provider manages no firewall
  options or rules, so the VM and datacenter state live outside the configuration and stay
  unknown (a NIC with ``firewall = true`` is reported as not knowable, not as off).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from talosaudit.collectors.proxmox.conf import Guest, Nic, parse_property_string, split_tags
from talosaudit.collectors.proxmox.firewall import (
    Alias,
    FirewallConfig,
    FwRule,
    IpSetEntry,
    Option,
    dropped_rule_problem,
    rule_options,
    verify_rule,
)
from talosaudit.collectors.proxmox.layers import Inventory, build
from talosaudit.collectors.roles import RoleHints
from talosaudit.collectors.terraform.mapping import as_bool, as_int, nested_blocks, source, strip_key
from talosaudit.collectors.terraform.values import (
    Block,
    Lines,
    Ref,
    ResourceInstance,
    TerraformConfig,
    Unknown,
)
from talosaudit.model import AddressSet, Collection, Problem, ProblemKind, SourceRef, Unresolved

_BPG_PREFIXES = ("proxmox_virtual_environment_", "proxmox_")
_BPG_KINDS = frozenset(
    {
        "vm",
        "container",
        "firewall_options",
        "firewall_rules",
        "cluster_firewall",
        "cluster_firewall_security_group",
        "firewall_ipset",
        "firewall_alias",
    }
)
_TELMATE = {"proxmox_vm_qemu": "telmate_vm", "proxmox_lxc": "telmate_lxc"}
_FIREWALL_KINDS = _BPG_KINDS - {"vm", "container"}
_RULE_ATTRS = (
    "type",
    "action",
    "macro",
    "iface",
    "source",
    "dest",
    "proto",
    "dport",
    "sport",
    "log",
    "comment",
    "security_group",
)


def resource_kind(type_name: str) -> str | None:
    """``proxmox_virtual_environment_vm`` / ``proxmox_vm`` -> "vm"; Telmate names too."""
    if type_name in _TELMATE:
        return _TELMATE[type_name]
    for prefix in _BPG_PREFIXES:
        if type_name.startswith(prefix) and type_name[len(prefix) :] in _BPG_KINDS:
            return type_name[len(prefix) :]
    return None


def _as_bool(value: Any) -> bool | None:
    """Proxmox flags are 0/1 as often as booleans."""
    return as_bool(value, numeric=True)


def _node_of(body: Block) -> str | None:
    for key in ("node_name", "target_node"):
        value = body.attrs.get(key)
        if isinstance(value, str):
            return value
    return None


def _unknown_text(value: Any) -> tuple[str, str]:
    if isinstance(value, Unknown):
        return value.expression, value.reason or "its value is not known"
    if isinstance(value, Ref):
        return str(value), "known only after apply"
    return repr(value), f"unexpected {type(value).__name__} value"


@dataclass
class _Mapper:
    config: TerraformConfig
    problems: list[Problem] = field(default_factory=list)
    guests: list[Guest] = field(default_factory=list)
    #: guest identity (resource address) by literal vm id and by address without key
    by_vmid: dict[int, str] = field(default_factory=dict)
    by_address: dict[str, str] = field(default_factory=dict)
    #: name of a security group resource, by its address (for ``security_group = x.name``)
    group_names: dict[str, str] = field(default_factory=dict)

    def unresolved(self, r: ResourceInstance, attr: str, value: Any, block: Block | None = None) -> None:
        expression, reason = _unknown_text(value)
        lines = (block or r.body).line_of(attr)
        self.problems.append(
            Problem(
                ProblemKind.UNRESOLVED,
                f"{r.address}: {attr} = {expression}: {reason}",
                source(lines, r.address),
                key=f"terraform:{r.address}:{attr}:{lines.start}",
            )
        )

    def text(self, r: ResourceInstance, block: Block, attr: str) -> tuple[str | None, Unresolved | None]:
        value = block.attrs.get(attr)
        if value is None:
            return None, None
        if isinstance(value, bool):
            return ("1" if value else "0"), None
        if isinstance(value, int | float | str) and not isinstance(value, Unknown | Ref):
            return str(value), None
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return ",".join(str(v) for v in value), None
        self.unresolved(r, attr, value, block)
        expression, reason = _unknown_text(value)
        return None, Unresolved(attr, expression, reason)

    # --- guests -----------------------------------------------------------------------

    def guest(self, r: ResourceInstance, kind: str) -> None:
        body = r.body
        telmate = kind.startswith("telmate")
        qemu = kind in ("vm", "telmate_vm")
        vmid_value = body.attrs.get("vmid" if telmate else "vm_id")
        vmid = as_int(vmid_value)
        if vmid is not None:
            self.by_vmid[vmid] = r.address
        self.by_address[r.address] = r.address
        self.by_address.setdefault(strip_key(r.address), r.address)
        name = self._name(r, kind)
        tags_value = body.attrs.get("tags")
        if isinstance(tags_value, str):
            tags = split_tags(tags_value)
        elif isinstance(tags_value, list):
            tags = tuple(str(t) for t in tags_value if isinstance(t, str))
        else:
            tags = ()
        nics = self._telmate_nics(r, qemu) if telmate else self._bpg_nics(r, qemu)
        template = _as_bool(body.attrs.get("template")) is True
        self.guests.append(
            Guest(
                identity=r.address,
                vmid=str(vmid) if vmid is not None else r.address,
                kind="qemu" if qemu else "lxc",
                name=name,
                source=source(body.line_of("name") if "name" in body.attrs else r.lines, r.address),
                nics=tuple(nics),
                tags=tags,
                node=_node_of(body),
                template=template,
                origin=r.type,
            )
        )

    def _name(self, r: ResourceInstance, kind: str) -> str:
        body = r.body
        for key in ("name", "hostname"):
            if isinstance(body.attrs.get(key), str):
                return str(body.attrs[key])
        if kind == "container":
            for init in nested_blocks(body, "initialization"):
                if isinstance(init.attrs.get("hostname"), str):
                    return str(init.attrs["hostname"])
        return r.name

    def _bpg_addresses(self, r: ResourceInstance) -> list[tuple[list[str], Lines | None]]:
        out: list[tuple[list[str], Lines | None]] = []
        for init in nested_blocks(r.body, "initialization"):
            for ipc in nested_blocks(init, "ip_config"):
                found: list[str] = []
                for family in ("ipv4", "ipv6"):
                    for fam in nested_blocks(ipc, family):
                        value = fam.attrs.get("address")
                        if isinstance(value, str) and value.lower() not in ("dhcp", "auto", ""):
                            found.append(value)
                        elif value is not None and not isinstance(value, str):
                            self.unresolved(r, "address", value, fam)
                out.append((found, ipc.lines))
        return out

    def _bpg_nics(self, r: ResourceInstance, qemu: bool) -> list[Nic]:
        addresses = self._bpg_addresses(r)
        nics: list[Nic] = []
        for index, block in enumerate(
            nested_blocks(r.body, "network_device" if qemu else "network_interface")
        ):
            if _as_bool(block.attrs.get("enabled", True)) is False:
                continue  # enabled = false: the NIC is not created
            ips, ip_lines = addresses[index] if index < len(addresses) else ([], None)
            nics.append(
                self._nic(
                    r,
                    block,
                    index,
                    bridge=block.attrs.get("bridge", "vmbr0"),
                    tag=block.attrs.get("vlan_id"),
                    link_down=block.attrs.get("disconnected", False),
                    ips=ips,
                    ip_where=f"initialization ip_config {ip_lines.path}:{ip_lines.start}" if ip_lines else "",
                )
            )
        return nics

    def _telmate_nics(self, r: ResourceInstance, qemu: bool) -> list[Nic]:
        nics: list[Nic] = []
        for order, block in enumerate(nested_blocks(r.body, "network")):
            index = as_int(block.attrs.get("id"))
            index = order if index is None else index
            ips: list[str] = []
            where = ""
            if qemu:
                cfg = r.body.attrs.get(f"ipconfig{index}")
                if isinstance(cfg, str):
                    try:
                        props = parse_property_string(cfg, "ip")
                    except ValueError:
                        props = {}
                    ips = [v for k in ("ip", "ip6") if (v := props.get(k, "")) and v not in ("dhcp", "auto")]
                    lines = r.body.line_of(f"ipconfig{index}")
                    where = f"ipconfig{index} {lines.path}:{lines.start}"
                elif cfg is not None:
                    self.unresolved(r, f"ipconfig{index}", cfg)
            else:
                for key in ("ip", "ip6"):
                    value = block.attrs.get(key)
                    if isinstance(value, str) and value not in ("dhcp", "auto", "manual", ""):
                        ips.append(value)
                where = f"network ip {block.lines.path}:{block.lines.start}"
            nics.append(
                self._nic(
                    r,
                    block,
                    index,
                    bridge=block.attrs.get("bridge", "nat"),
                    tag=block.attrs.get("tag"),
                    link_down=block.attrs.get("link_down", False),
                    ips=ips,
                    ip_where=where,
                )
            )
        return sorted(nics, key=lambda n: n.index)

    def _nic(
        self,
        r: ResourceInstance,
        block: Block,
        index: int,
        *,
        bridge: Any,
        tag: Any,
        link_down: Any,
        ips: list[str],
        ip_where: str,
    ) -> Nic:
        key = f"net{index}"
        firewall_value = block.attrs.get("firewall", False)
        firewall = _as_bool(firewall_value)
        if firewall is None:
            self.unresolved(r, "firewall", firewall_value, block)
        tag_int = as_int(tag)
        valid: list[str] = []
        for ip in ips:
            try:
                AddressSet.parse(ip)
                valid.append(ip)
            except ValueError:
                self.problems.append(
                    Problem(
                        ProblemKind.UNREADABLE,
                        f"{r.address} {key}: {ip!r} is not an address",
                        source(block.lines, r.address),
                        key=f"terraform:{r.address}:{key}:ip",
                    )
                )
        return Nic(
            key=key,
            index=index,
            source=source(block.lines, f"{r.address}/{key}"),
            model=str(block.attrs.get("model", "virtio")),
            mac=str(block.attrs.get("mac_address", block.attrs.get("macaddr", ""))),
            bridge=bridge if isinstance(bridge, str) else None,
            tag=tag_int if tag_int else None,
            firewall=firewall,
            link_down=_as_bool(link_down) is True,
            addresses=tuple(valid),
            address_reason=f"{', '.join(valid)} from {ip_where}" if valid else "",
        )

    # --- firewall resources -------------------------------------------------------------

    def owner(self, r: ResourceInstance) -> str | None:
        """The guest identity a VM/CT-scoped firewall resource belongs to, "cluster", or None."""
        for attr in ("vm_id", "container_id"):
            if attr not in r.body.attrs:
                continue
            value = r.body.attrs[attr]
            if isinstance(value, Ref):
                target = self.by_address.get(value.address) or self.by_address.get(strip_key(value.address))
                if target is not None:
                    return target
            number = as_int(value)
            if number is not None and number in self.by_vmid:
                return self.by_vmid[number]
            if number is not None:
                return f"vmid {number}"
            self.unresolved(r, attr, value)
            return None
        if "node_name" in r.body.attrs:
            return "host"
        return "cluster"

    def rule(self, r: ResourceInstance, block: Block, position: int, scope: str, in_group: bool) -> FwRule:
        key = f"{r.address}.rule[{position}]"
        unresolved: list[Unresolved] = []
        values: dict[str, str | None] = {}
        group_ref = block.attrs.get("security_group")
        for attr in _RULE_ATTRS:
            if attr == "security_group" and isinstance(group_ref, Ref):
                continue  # a reference to a security group resource: resolved by its name below
            text, missing = self.text(r, block, attr)
            values[attr] = text
            if missing is not None:
                field_name = {"proto": "protocol", "source": "source", "dest": "dest"}.get(attr, attr)
                unresolved.append(Unresolved(field_name, missing.expression, missing.reason))
        if isinstance(group_ref, Ref):
            names = self.group_names
            named = names.get(group_ref.address) or names.get(strip_key(group_ref.address))
            if named is None:
                self.unresolved(r, "security_group", group_ref, block)
            values["security_group"] = named or str(group_ref)
        enabled = _as_bool(block.attrs.get("enabled", True)) is not False
        if values.get("security_group"):
            rtype, action = "group", str(values["security_group"]).lower()
        else:
            rtype = (values.get("type") or "in").lower()
            action = (values.get("action") or "").upper()
        macro = values.get("macro")
        rule = FwRule(
            source=source(block.lines, key),
            type=rtype,
            action=action,
            enabled=enabled,
            macro=macro,
            **rule_options(values),
            comment=values.get("comment") or "",
            key=key,
            unresolved=tuple(unresolved),
        )
        errors = verify_rule(rule, scope, in_group)
        for error in errors:
            problem_kind, message = dropped_rule_problem(error)
            self.problems.append(Problem(problem_kind, message, rule.source, key=f"terraform:{key}:{error}"))
        return replace(rule, errors=errors) if errors else rule


@dataclass
class _FwDraft:
    scope: str
    owner: str
    source: SourceRef
    options: dict[str, Option] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    ipsets: dict[str, tuple[IpSetEntry, ...]] = field(default_factory=dict)
    rules: list[FwRule] = field(default_factory=list)
    groups: dict[str, tuple[FwRule, ...]] = field(default_factory=dict)
    group_sources: dict[str, SourceRef] = field(default_factory=dict)

    def freeze(self) -> FirewallConfig:
        return FirewallConfig(
            scope=self.scope,
            owner=self.owner,
            source=self.source,
            options=self.options,
            aliases=self.aliases,
            ipsets=self.ipsets,
            rules=tuple(self.rules),
            groups=self.groups,
            group_sources=self.group_sources,
        )


def map_proxmox(config: TerraformConfig, hints: RoleHints | None = None) -> Collection:
    """The Proxmox layers, node groups and problems of an evaluated configuration."""
    mapper = _Mapper(config)
    kinds = [(r, resource_kind(r.type)) for r in config.resources if r.mode == "managed"]
    kinds = [(r, k) for r, k in kinds if k is not None]
    if not kinds:
        return Collection()
    for r, kind in kinds:
        if kind in ("vm", "container", "telmate_vm", "telmate_lxc"):
            mapper.guest(r, kind)
        elif kind == "cluster_firewall_security_group" and isinstance(r.body.attrs.get("name"), str):
            mapper.group_names[strip_key(r.address)] = str(r.body.attrs["name"]).lower()
            mapper.group_names[r.address] = str(r.body.attrs["name"]).lower()
    drafts: dict[str, _FwDraft] = {}
    cluster_enable_known = False
    firewall_resources = False

    def draft(owner: str, r: ResourceInstance) -> _FwDraft:
        scope = "cluster" if owner == "cluster" else "guest"
        return drafts.setdefault(owner, _FwDraft(scope, owner, source(r.lines, r.address)))

    for r, kind in kinds:
        if kind not in _FIREWALL_KINDS:
            continue
        firewall_resources = True
        body = r.body
        if kind == "cluster_firewall":
            cluster_enable_known = True
            _switches(mapper, draft("cluster", r), r)
            continue
        if kind == "cluster_firewall_security_group":
            name = body.attrs.get("name")
            if not isinstance(name, str):
                mapper.unresolved(r, "name", name)
                continue
            target = draft("cluster", r)
            target.groups[name.lower()] = tuple(
                mapper.rule(r, b, i, "cluster", True) for i, b in enumerate(nested_blocks(body, "rule"))
            )
            target.group_sources[name.lower()] = source(r.lines, r.address)
            continue
        owner = mapper.owner(r)
        if owner is None or owner == "host":
            continue  # unresolved (reported) or host-level: host rules never filter guests
        target = draft(owner, r)
        if kind == "firewall_options":
            _switches(mapper, target, r)
        elif kind == "firewall_rules":
            scope = "cluster" if owner == "cluster" else "guest"
            start = len(target.rules)
            target.rules.extend(
                mapper.rule(r, b, start + i, scope, False) for i, b in enumerate(nested_blocks(body, "rule"))
            )
        elif kind == "firewall_ipset":
            name = body.attrs.get("name")
            if isinstance(name, str):
                entries: list[IpSetEntry] = []
                for b in nested_blocks(body, "cidr"):
                    cidr = b.attrs.get("name")
                    if isinstance(cidr, str):
                        nomatch = _as_bool(b.attrs.get("nomatch", False)) is True
                        entries.append(IpSetEntry(cidr, nomatch, source(b.lines, r.address)))
                    else:
                        mapper.unresolved(r, "name", cidr, b)
                target.ipsets[name.lower()] = tuple(entries)
            else:
                mapper.unresolved(r, "name", name)
        elif kind == "firewall_alias":
            name, cidr = body.attrs.get("name"), body.attrs.get("cidr")
            if isinstance(name, str) and isinstance(cidr, str):
                target.aliases[name.lower()] = Alias(name.lower(), cidr, source(r.lines, r.address))
            else:
                bad = ("cidr", cidr) if isinstance(name, str) else ("name", name)
                mapper.unresolved(r, bad[0], bad[1])
    cluster_draft = drafts.pop("cluster", None)
    guest_fw = {owner: d.freeze() for owner, d in drafts.items()}
    for owner in sorted(guest_fw):
        if owner.startswith("vmid "):
            mapper.problems.append(
                Problem(
                    ProblemKind.UNRESOLVED,
                    f"firewall resources for {owner} name a guest that is not in this configuration",
                    guest_fw[owner].source,
                    key=f"terraform:proxmox:{owner}",
                )
            )
    inventory = Inventory(
        guests=tuple(mapper.guests),
        cluster=cluster_draft.freeze() if cluster_draft is not None else None,
        guest_fw=guest_fw,
        # bpg manages the VM firewall switch itself: no firewall_options resource means off.
        firewall_inputs=firewall_resources or any(k in ("vm", "container") for _, k in kinds),
        cluster_label="proxmox_virtual_environment_cluster_firewall",
        cluster_missing_reason=(
            "no proxmox_virtual_environment_cluster_firewall resource in the configuration"
        ),
        guest_fw_label="proxmox_virtual_environment_firewall_options for {vmid}",
        guest_fw_missing="no {name} in the configuration (the bpg provider's default: VM firewall off)",
        cluster_enable_known=cluster_enable_known,
        definitions_complete=False,
        files=(),
        problems=tuple(mapper.problems),
    )
    return build(inventory, hints=hints)


def _switches(mapper: _Mapper, target: _FwDraft, r: ResourceInstance) -> None:
    """The enable switch and policies of a cluster_firewall or firewall_options resource
    (the same three attributes in both): the resource becomes the firewall's source."""
    target.source = source(r.lines, r.address)
    _option(mapper, target, r, "enabled", "enable", default="0")
    _option(mapper, target, r, "input_policy", "policy_in")
    _option(mapper, target, r, "output_policy", "policy_out")


def _option(
    mapper: _Mapper,
    target: _FwDraft,
    r: ResourceInstance,
    attr: str,
    option: str,
    *,
    default: str | None = None,
) -> None:
    value = r.body.attrs.get(attr)
    where = source(r.body.line_of(attr), r.address)
    if value is None:
        if default is not None:
            target.options[option] = Option(default, source(r.lines, r.address))
        return
    flag = _as_bool(value)
    if option == "enable":
        if flag is None:
            mapper.unresolved(r, attr, value)
            return
        target.options[option] = Option("1" if flag else "0", where)
    elif isinstance(value, str):
        target.options[option] = Option(value.upper(), where)
    else:
        mapper.unresolved(r, attr, value)

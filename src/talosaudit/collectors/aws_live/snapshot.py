"""The snapshot of what ``live`` read, written so that every finding has a file and a line.

Layout under the snapshot directory (``talosaudit-live/`` at the scan root by default)::

    <account>/<region>/index.json        the region: VPCs, subnets, instances, prefix lists
    <account>/<region>/<sg-id>.json      one security group and its rules
    <account>/<region>/<acl-id>.json     one network ACL and its entries

Files are JSON with sorted keys and a 2-space indent, and every rule is an object of its
own, so each rule has its own start line. The same AWS state always gives the same bytes
(lists are sorted by id, volatile fields such as launch times are not written).
``render_region`` returns the texts and the line span of every object; ``write`` puts them
on disk, one region directory atomically at a time, without the region's files from an
earlier run that no longer exist.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talosaudit.collectors.aws_live.defaults import DEFAULT_DIR
from talosaudit.collectors.aws_live.fetch import RegionData
from talosaudit.model import SourceRef

INDEX_NAME = "index.json"

#: Instance fields worth keeping: what the model uses, nothing that changes on its own.
_INSTANCE_FIELDS = ("InstanceId", "InstanceType", "PrivateIpAddress", "SubnetId", "VpcId", "Tags")
_ENI_FIELDS = ("NetworkInterfaceId", "SubnetId", "VpcId", "PrivateIpAddress", "Groups", "Ipv6Addresses")
_VPC_FIELDS = (
    "VpcId",
    "CidrBlock",
    "CidrBlockAssociationSet",
    "Ipv6CidrBlockAssociationSet",
    "IsDefault",
    "Tags",
)
_SUBNET_FIELDS = ("SubnetId", "VpcId", "CidrBlock", "Ipv6CidrBlockAssociationSet", "AvailabilityZone", "Tags")
_GROUP_FIELDS = ("GroupId", "GroupName", "Description", "VpcId", "OwnerId", "Tags")
_RULE_FIELDS = (
    "SecurityGroupRuleId",
    "GroupId",
    "IsEgress",
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIpv4",
    "CidrIpv6",
    "PrefixListId",
    "ReferencedGroupInfo",
    "Description",
    "Tags",
)
_ACL_FIELDS = ("NetworkAclId", "VpcId", "IsDefault", "Tags")


@dataclass
class Snapshot:
    """Rendered files (relative path -> text) and where each object landed."""

    #: Paths relative to the scan root, POSIX separators.
    files: dict[str, str] = field(default_factory=dict)
    #: Object id (``sg-…``, ``sgr-…``, ``acl-…``, ``acl-…/ingress/100``, ``i-…``,
    #: ``subnet-…``, ``vpc-…``, ``pl-…``, ``region``) -> its location.
    refs: dict[str, SourceRef] = field(default_factory=dict)

    def ref(self, ident: str) -> SourceRef:
        return self.refs[ident]


def region_dir(base: str, account: str, region: str) -> str:
    return f"{base.rstrip('/')}/{account or 'unknown-account'}/{region}"


def _pick(item: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    out = {k: item[k] for k in names if k in item and item[k] not in (None, "")}
    if isinstance(out.get("Tags"), list):
        out["Tags"] = sorted(out["Tags"], key=lambda t: (str(t.get("Key")), str(t.get("Value"))))
    return out


def _instance(item: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(item, _INSTANCE_FIELDS)
    out["SecurityGroups"] = sorted(
        (_pick(g, ("GroupId", "GroupName")) for g in item.get("SecurityGroups", [])),
        key=lambda g: str(g.get("GroupId")),
    )
    enis = []
    for eni in item.get("NetworkInterfaces", []):
        picked = _pick(eni, _ENI_FIELDS)
        picked["PrivateIpAddresses"] = sorted(
            str(a["PrivateIpAddress"]) for a in eni.get("PrivateIpAddresses", []) if a.get("PrivateIpAddress")
        )
        if "Groups" in picked:
            picked["Groups"] = sorted(
                (_pick(g, ("GroupId", "GroupName")) for g in picked["Groups"]),
                key=lambda g: str(g.get("GroupId")),
            )
        enis.append(picked)
    out["NetworkInterfaces"] = sorted(enis, key=lambda e: str(e.get("NetworkInterfaceId")))
    return out


def _acl_entry_key(acl_id: str, entry: Mapping[str, Any]) -> str:
    way = "egress" if entry.get("Egress") else "ingress"
    return f"{acl_id}/{way}/{entry.get('RuleNumber')}"


def render_region(data: RegionData, base: str = DEFAULT_DIR) -> Snapshot:
    """The files of one region, and the location of every object in them."""
    snap = Snapshot()
    where = region_dir(base, data.account, data.region)
    index_path = f"{where}/{INDEX_NAME}"
    index: dict[str, Any] = {
        "Account": data.account,
        "Region": data.region,
        "Vpcs": _marked(sorted((_pick(v, _VPC_FIELDS) for v in data.vpcs), key=_id("VpcId")), "VpcId"),
        "Subnets": _marked(
            sorted((_pick(s, _SUBNET_FIELDS) for s in data.subnets), key=_id("SubnetId")), "SubnetId"
        ),
        "Instances": _marked(
            sorted((_instance(i) for i in data.instances), key=_id("InstanceId")), "InstanceId"
        ),
        "PrefixLists": _marked(
            [
                {
                    "PrefixListId": p.id,
                    "PrefixListName": p.name,
                    "OwnerId": p.owner,
                    "Entries": [{"Cidr": c, "Description": d} for c, d in p.entries],
                }
                for p in data.prefix_lists
            ],
            "PrefixListId",
        ),
        "SecurityGroups": sorted(str(g["GroupId"]) for g in data.security_groups),
        "NetworkAcls": sorted(str(a["NetworkAclId"]) for a in data.network_acls),
    }
    _emit(snap, index_path, index, extra={"region": index_path})

    rules_by_group: dict[str, list[dict[str, Any]]] = {}
    for rule in data.rules:
        rules_by_group.setdefault(str(rule.get("GroupId")), []).append(_pick(rule, _RULE_FIELDS))
    for group in data.security_groups:
        gid = str(group["GroupId"])
        rules = sorted(
            rules_by_group.get(gid, []),
            key=lambda r: (bool(r.get("IsEgress")), str(r.get("SecurityGroupRuleId"))),
        )
        doc = {
            "Account": data.account,
            "Region": data.region,
            "SecurityGroup": _Mark(_pick(group, _GROUP_FIELDS), gid),
            "SecurityGroupRules": _marked(rules, "SecurityGroupRuleId"),
        }
        _emit(snap, f"{where}/{gid}.json", doc)
    for acl in data.network_acls:
        aid = str(acl["NetworkAclId"])
        entries = sorted(
            (_Mark(_pick(e, tuple(e)), _acl_entry_key(aid, e)) for e in acl.get("Entries", [])),
            key=lambda m: (bool(m.value.get("Egress")), int(m.value.get("RuleNumber", 0))),
        )
        doc = {
            "Account": data.account,
            "Region": data.region,
            "NetworkAcl": _Mark(_pick(acl, _ACL_FIELDS), aid),
            "Associations": sorted(str(a.get("SubnetId")) for a in acl.get("Associations", [])),
            "Entries": entries,
        }
        _emit(snap, f"{where}/{aid}.json", doc)
    return snap


def render_failure(account: str, region: str, message: str, base: str = DEFAULT_DIR) -> Snapshot:
    """The index of a region that could not be read: it records why, findings point there."""
    snap = Snapshot()
    path = f"{region_dir(base, account, region)}/{INDEX_NAME}"
    doc = {"Account": account, "Region": region, "Error": _Mark(message, "error")}
    _emit(snap, path, doc, extra={"region": path})
    return snap


def write(snap: Snapshot, root: Path, keep: Collection[str] = ()) -> None:
    """Write the files, one region directory at a time and atomically: the region's new
    directory is filled beside the old one, then takes its place, so an interrupted run
    leaves the previous snapshot of that region (never an index listing groups whose files
    are missing). Stale ``sg-*/acl-*`` files go away, except in the directories of
    ``keep``: a region that could not be read this time (a timeout, throttling) says
    nothing about which of its groups still exist, so its earlier files are carried over."""
    by_directory: dict[str, dict[str, str]] = {}
    for rel, text in snap.files.items():
        directory, _, name = rel.rpartition("/")
        by_directory.setdefault(directory, {})[name] = text
    for directory, files in sorted(by_directory.items()):
        _replace_directory(root / directory, files, carry_ours=directory in keep)


def _ours(name: str) -> bool:
    return name.endswith(".json") and (name == INDEX_NAME or name.startswith(("sg-", "acl-")))


def _replace_directory(target: Path, files: Mapping[str, str], *, carry_ours: bool) -> None:
    """``target`` holding ``files``; files that are not ours (and, with ``carry_ours``, our
    earlier files too) are carried over from the old directory."""
    if target.is_dir() and _holds(target, files, carry_ours=carry_ours):
        return  # the same bytes: nothing to replace (a re-run leaves the files untouched)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        if target.is_dir():
            for old in target.iterdir():
                if old.is_file() and old.name not in files and (carry_ours or not _ours(old.name)):
                    shutil.copy2(old, staging / old.name)
        for name, text in sorted(files.items()):
            (staging / name).write_text(text, encoding="utf-8")
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _holds(target: Path, files: Mapping[str, str], *, carry_ours: bool) -> bool:
    """Whether ``target`` already is what it would become."""
    present = {p.name for p in target.iterdir() if p.is_file()}
    stale = {n for n in present if _ours(n) and n not in files} if not carry_ours else set()
    if stale or not set(files) <= present:
        return False
    return all((target / name).read_text(encoding="utf-8") == text for name, text in files.items())


def _swap(staging: Path, target: Path) -> None:
    """``staging`` renamed to ``target``; the old ``target`` is moved aside first and removed
    after (a directory cannot be renamed over a non-empty one). Both renames are within one
    folder; if the second fails, the old directory is put back."""
    if not target.exists():
        staging.rename(target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    aside.rmdir()
    target.rename(aside)
    try:
        staging.rename(target)
    except BaseException:
        aside.rename(target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


# --- a JSON writer that knows where each marked object lands ---------------------------


@dataclass(frozen=True, slots=True)
class _Mark:
    """A value whose line span is recorded under ``ident``."""

    value: Any
    ident: str


def _marked(items: list[dict[str, Any]], key: str) -> list[_Mark]:
    return [_Mark(item, str(item.get(key))) for item in items]


def _id(key: str) -> Any:
    return lambda item: str(item.get(key))


def _emit(snap: Snapshot, path: str, doc: Any, extra: Mapping[str, str] | None = None) -> None:
    lines: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    _write(doc, 0, lines, spans, prefix="")
    snap.files[path] = "\n".join(lines) + "\n"
    for ident, (start, end) in spans.items():
        snap.refs[ident] = SourceRef(path, start, end, resource=ident)
    for ident in extra or {}:
        snap.refs[ident] = SourceRef(path, 1, len(lines), resource=ident)


def _write(value: Any, depth: int, lines: list[str], spans: dict[str, tuple[int, int]], prefix: str) -> None:
    """Append ``value`` to ``lines`` exactly as ``json.dumps(indent=2, sort_keys=True)``
    would, the first line starting with ``prefix`` (a key, or the indent)."""
    pad = "  " * depth
    mark: _Mark | None = None
    if isinstance(value, _Mark):
        mark, value = value, value.value
    start = len(lines) + 1
    lead = prefix if prefix else pad
    if isinstance(value, dict) and value:
        lines.append(lead + "{")
        items = sorted(value.items())
        for i, (k, v) in enumerate(items):
            _write(v, depth + 1, lines, spans, "  " * (depth + 1) + json.dumps(str(k)) + ": ")
            if i < len(items) - 1:
                lines[-1] += ","
        lines.append(pad + "}")
    elif isinstance(value, list | tuple) and value:
        lines.append(lead + "[")
        for i, v in enumerate(value):
            _write(v, depth + 1, lines, spans, "")
            if i < len(value) - 1:
                lines[-1] += ","
        lines.append(pad + "]")
    else:
        text = (
            "{}"
            if isinstance(value, dict)
            else "[]"
            if isinstance(value, list | tuple)
            else json.dumps(value)
        )
        lines.append(lead + text)
    if mark is not None:
        spans[mark.ident] = (start, len(lines))

"""Proxmox API JSON, as ``pvesh get <path> --output-format json`` or proxmoxer returns it.

The API path a document came from is not in the document, so it is read from the file's
path (``nodes/pve1/qemu/101/config.json``, ``qemu-101-firewall-rules.json``,
``cluster/firewall/options.json``) and checked against the document's shape: a guest
config is a flat object with ``netN``/``name`` keys; firewall rules are a list of objects
with ``type`` and ``action``; options are an object of known option keys; aliases a list of
``{name, cidr}``; an ipset's members a list of ``{cidr, nomatch?}``. A ``{"data": ...}``
wrapper (the raw HTTP API) is unwrapped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from talosaudit.collectors.proxmox.conf import Guest, guest_from_mapping
from talosaudit.collectors.proxmox.firewall import (
    RULE_OPTION_NAMES,
    Alias,
    FirewallConfig,
    FwRule,
    IpSetEntry,
    Option,
    check_options,
    dropped_rule_problem,
    rule_options,
    verify_rule,
)
from talosaudit.model import Problem, ProblemKind, SourceRef

_OPTION_KEYS = frozenset(
    {
        "enable",
        "policy_in",
        "policy_out",
        "policy_forward",
        "dhcp",
        "macfilter",
        "ipfilter",
        "ndp",
        "radv",
        "log_level_in",
        "log_level_out",
        "log_level_forward",
        "ebtables",
        "log_ratelimit",
        "nftables",
        "nosmurfs",
        "tcpflags",
        "ips",
        "ips_queues",
        "digest",
    }
)
_GUEST_MARKERS = re.compile(r"^(net\d+|ipconfig\d+|name|hostname|memory|cores|ostype|scsihw|rootfs|arch)$")
_RULE_TYPES = frozenset({"in", "out", "group", "forward"})


@dataclass(frozen=True)
class ApiDocument:
    """One JSON document and what it holds."""

    rel: str
    #: "guest-config", "fw-options", "fw-rules", "fw-group", "fw-aliases", "fw-ipset"
    what: str
    #: "cluster", or the vmid of the guest the document belongs to.
    scope: str
    kind: str  # qemu or lxc, for guest documents
    node: str | None
    name: str  # the ipset or group name, for those documents
    data: Any
    text: str


def _unwrap(data: Any) -> Any:
    if isinstance(data, dict) and set(data) <= {"data", "success", "errors", "message"} and "data" in data:
        return data["data"]
    return data


def _shape(data: Any) -> str | None:
    if isinstance(data, dict):
        keys = set(data)
        if any(_GUEST_MARKERS.match(k) for k in keys):
            return "guest-config"
        if keys and keys <= _OPTION_KEYS and keys & {"enable", "policy_in", "policy_out"}:
            return "fw-options"
        return None
    if isinstance(data, list) and data and any(_is_rule(e) for e in data):
        # One junk element among rule objects is reported where it stands (``_rules``), not
        # a reason to drop the whole list.
        return "fw-rules"
    if isinstance(data, list) and data and all(isinstance(e, dict) for e in data):
        if all("name" in e and "cidr" in e for e in data):
            return "fw-aliases"
        if all("cidr" in e for e in data):
            return "fw-ipset"
    return None


def _is_rule(element: Any) -> bool:
    return (
        isinstance(element, dict)
        and str(element.get("type", "")).lower() in _RULE_TYPES
        and "action" in element
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        missing = [key for key in ("type", "action") if key not in value]
        if missing:
            return "an object without " + " and ".join(f'"{key}"' for key in missing)
        return f'an object whose "type" is not one of {", ".join(sorted(_RULE_TYPES))}'
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list"}
    return names.get(type(value), "null")


#: Paths of the API documents read here, to claim a file that is not (or no longer) valid
#: JSON: a guest config (``qemu/101/config.json``) or a firewall document under ``firewall/``.
_API_PATH = re.compile(
    r"(^|/)(qemu|lxc)/\d{3,9}/config\.json$"
    r"|(^|/)firewall/(.*/)?(rules|options|aliases|ipset|groups)[^/]*\.json$"
    r"|(^|/)firewall/(ipset|groups)/[^/]+\.json$"
)


def _path_info(rel: str) -> tuple[str | None, str, str | None, str, str]:
    """(vmid or None, guest kind, node, endpoint word, set/group name) from a path."""
    path = re.sub(r"\.json$", "", rel.lower())
    segments = path.split("/")
    tokens = [t for seg in segments for t in re.split(r"[_.\-]+", seg) if t]
    vmid = next((t for t in reversed(tokens) if re.fullmatch(r"\d{3,9}", t)), None)
    kind = "lxc" if "lxc" in tokens else "qemu"
    node = segments[segments.index("nodes") + 1] if "nodes" in segments[:-1] else None
    word = next(
        (t for t in reversed(tokens) if t in ("rules", "options", "aliases", "ipset", "groups", "config")), ""
    )
    name = ""
    for marker in ("ipset", "groups"):
        if marker in segments[:-1]:
            name = segments[segments.index(marker) + 1]
    return vmid, kind, node, word, name


def looks_like_proxmox_json(rel: str, text: str) -> bool:
    """For discovery: a ``.json`` file that holds one of the Proxmox API documents read here."""
    try:
        data = _unwrap(json.loads(text))
    except ValueError:
        # A truncated or broken export file is claimed where its path names an API
        # document, so that it is reported instead of vanishing.
        return _API_PATH.search(rel.lower()) is not None
    shape = _shape(data)
    vmid, _, _, word, _ = _path_info(rel)
    if shape is None and isinstance(data, list) and "firewall" in rel.lower() and word:
        return True
    if shape is None:
        return False
    if shape == "guest-config":
        return vmid is not None and "firewall" not in rel.lower()
    # Firewall documents are only recognised where the path says so: a bare list of
    # {name, cidr} is too common to claim.
    return "firewall" in rel.lower()


def read_document(text: str, rel: str) -> ApiDocument | Problem:
    try:
        data = _unwrap(json.loads(text))
    except ValueError as exc:
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
        return Problem(
            ProblemKind.UNREADABLE,
            f"not valid JSON (truncated or damaged?): {exc}; this file is not read",
            SourceRef(rel, line),
            key=f"proxmox:{rel}:json",
        )
    shape = _shape(data)
    vmid, kind, node, word, name = _path_info(rel)
    if shape is None and isinstance(data, list) and word in ("rules", "aliases", "ipset", "groups"):
        shape = {"rules": "fw-rules", "aliases": "fw-aliases", "ipset": "fw-ipset", "groups": "fw-rules"}[
            word
        ]
    if shape is None:
        return Problem(
            ProblemKind.UNREADABLE,
            "JSON is not a Proxmox guest config, firewall rules, options, aliases or ipset as "
            "pvesh/proxmoxer return them",
            SourceRef(rel, 1),
            key=f"proxmox:{rel}:shape",
        )
    if shape == "fw-rules" and ("groups" in rel.lower().split("/") or word == "groups"):
        shape = "fw-group"
        name = name or rel.rsplit("/", 1)[-1].removesuffix(".json")
    if shape == "fw-ipset" and not name:
        name = rel.rsplit("/", 1)[-1].removesuffix(".json")
    scope = vmid if vmid is not None and "cluster" not in rel.lower().split("/") else "cluster"
    if shape == "guest-config" and vmid is None:
        return Problem(
            ProblemKind.UNREADABLE,
            "a guest config in JSON needs its vmid in the file path (e.g. qemu/101/config.json)",
            SourceRef(rel, 1),
            key=f"proxmox:{rel}:vmid",
        )
    return ApiDocument(rel, shape, scope, kind, node, name.lower(), data, text)


def _key_lines(text: str) -> dict[str, int]:
    """Line of the first ``"key":`` occurrence of every key (pretty-printed JSON)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for m in re.finditer(r'"([^"\\]+)"\s*:', line):
            lines.setdefault(m.group(1), number)
    return lines


def _element_lines(text: str) -> list[int]:
    """Line of each element of the (first) top-level array, for rule/alias/ipset lists."""
    start = text.find("[")
    if start < 0:
        return []
    decoder = json.JSONDecoder()
    lines: list[int] = []
    i = start + 1
    while i < len(text):
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            break
        lines.append(text.count("\n", 0, i) + 1)
        try:
            _, i = decoder.raw_decode(text, i)
        except ValueError:
            break
    return lines


def guest_from_document(doc: ApiDocument) -> tuple[Guest, list[Problem]]:
    assert isinstance(doc.data, dict) and doc.scope != "cluster"
    lines = _key_lines(doc.text)
    values = {str(k): (_text(v), lines.get(str(k), 1)) for k, v in doc.data.items() if k != "digest"}
    return guest_from_mapping(
        values, rel=doc.rel, vmid=doc.scope, kind=doc.kind, node=doc.node, origin="API JSON config"
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def firewall_from_documents(
    docs: list[ApiDocument], scope: str, owner: str
) -> tuple[FirewallConfig, list[Problem]]:
    """One firewall config from the options/rules/aliases/ipset/group documents of a scope."""
    problems: list[Problem] = []
    options: dict[str, Option] = {}
    aliases: dict[str, Alias] = {}
    ipsets: dict[str, tuple[IpSetEntry, ...]] = {}
    rules: tuple[FwRule, ...] = ()
    groups: dict[str, tuple[FwRule, ...]] = {}
    group_sources: dict[str, SourceRef] = {}
    resource = f"{scope}:{owner}"
    rules_source: SourceRef | None = None
    for doc in docs:
        if doc.what == "fw-options":
            lines = _key_lines(doc.text)
            for key, value in doc.data.items():
                if key != "digest":
                    options[key] = Option(
                        _text(value), SourceRef(doc.rel, lines.get(key, 1), resource=resource)
                    )
        elif doc.what == "fw-aliases":
            for entry, line in _elements(doc, problems):
                name = str(entry["name"]).lower()
                aliases[name] = Alias(
                    name, str(entry["cidr"]), SourceRef(doc.rel, line, resource=f"alias:{name}")
                )
        elif doc.what == "fw-ipset":
            ipsets[doc.name] = tuple(
                IpSetEntry(
                    str(entry["cidr"]),
                    bool(entry.get("nomatch")),
                    SourceRef(doc.rel, line, resource=f"ipset:{doc.name}"),
                )
                for entry, line in _elements(doc, problems)
            )
        elif doc.what in ("fw-rules", "fw-group"):
            in_group = doc.what == "fw-group"
            prefix = f"{resource}:group/{doc.name}" if in_group else f"{resource}:rule"
            converted = _rules(doc, scope, prefix, in_group, problems)
            if in_group:
                groups[doc.name] = converted
                group_sources[doc.name] = SourceRef(doc.rel, 1, resource=f"group:{doc.name}")
            else:
                rules = converted
                rules_source = SourceRef(doc.rel, 1, resource=resource)
    config = FirewallConfig(
        scope=scope,
        owner=owner,
        source=SourceRef(docs[0].rel, 1, resource=resource),
        options=options,
        aliases=aliases,
        ipsets=ipsets,
        rules=rules,
        groups=groups,
        group_sources=group_sources,
        rules_source=rules_source,
    )
    problems.extend(check_options(config))
    return config, problems


def _lines_for(doc: ApiDocument) -> list[int]:
    lines = _element_lines(doc.text)
    return lines if len(lines) == len(doc.data) else [1] * len(doc.data)


_WHAT_ELEMENT = {
    "fw-rules": 'a firewall rule object with "type" and "action"',
    "fw-group": 'a firewall rule object with "type" and "action"',
    "fw-aliases": 'an alias object with "name" and "cidr"',
    "fw-ipset": 'an ipset entry object with "cidr"',
}


def _usable(what: str, element: Any) -> bool:
    if what in ("fw-rules", "fw-group"):
        return _is_rule(element)
    if what == "fw-aliases":
        return isinstance(element, dict) and "name" in element and "cidr" in element
    return isinstance(element, dict) and "cidr" in element


def _element_kind(what: str, element: Any) -> str:
    if what in ("fw-rules", "fw-group") or not isinstance(element, dict):
        return _json_kind(element)
    needed = ("name", "cidr") if what == "fw-aliases" else ("cidr",)
    return "an object without " + " and ".join(f'"{key}"' for key in needed if key not in element)


def _elements(doc: ApiDocument, problems: list[Problem]) -> list[tuple[Any, int]]:
    """The usable elements of a list document with their lines; every other element is
    reported at its line, so one junk element costs itself, not the file."""
    usable: list[tuple[Any, int]] = []
    for number, (element, line) in enumerate(zip(doc.data, _lines_for(doc), strict=True), start=1):
        if _usable(doc.what, element):
            usable.append((element, line))
            continue
        problems.append(
            Problem(
                ProblemKind.UNREADABLE,
                f"element {number} is {_element_kind(doc.what, element)}, not "
                f"{_WHAT_ELEMENT[doc.what]}; it is not read (the other elements are)",
                SourceRef(doc.rel, line),
                key=f"proxmox:{doc.rel}:element:{number}",
            )
        )
    return usable


def _rules(
    doc: ApiDocument, scope: str, prefix: str, in_group: bool, problems: list[Problem]
) -> tuple[FwRule, ...]:
    entries = _elements(doc, problems)
    entries.sort(key=lambda e: int(e[0].get("pos", 0)) if str(e[0].get("pos", "0")).isdigit() else 0)
    out: list[FwRule] = []
    for position, (entry, line) in enumerate(entries):
        key = f"{prefix}/{position}"
        where = SourceRef(doc.rel, line, resource=key)

        def opt(name: str, e: dict[str, Any] = entry) -> str | None:
            value = e.get(name)
            return None if value is None or value == "" else _text(value)

        rule = FwRule(
            source=where,
            type=str(entry["type"]).lower(),
            action=str(entry["action"]),
            enabled=str(entry.get("enable", 1)) not in ("0", "False", "false"),
            macro=opt("macro"),
            **rule_options({name: opt(name) for name in RULE_OPTION_NAMES}),
            icmp_type=opt("icmp-type"),
            comment=opt("comment") or "",
            key=key,
        )
        errors = verify_rule(rule, scope, in_group)
        if entry.get("errors"):
            errors = (*errors, *(f"{k}: {v}" for k, v in dict(entry["errors"]).items()))
        if errors:
            rule = replace(rule, errors=errors)
            for error in errors:
                problem_kind, message = dropped_rule_problem(error)
                problems.append(
                    Problem(problem_kind, message, where, key=f"proxmox:{doc.rel}:{position}:{error}")
                )
        out.append(rule)
    return tuple(out)

"""Resolve what a pfSense/OPNsense rule writes (aliases, interface keywords, ports) to sets.

Two kinds of "cannot resolve" are kept apart:

- *unknown*: the value exists but only at runtime (URL/GeoIP aliases, host names, a DHCP
  network). The rule gets an ``Unresolved`` item, so reachability answers ``unknown``
  instead of passing or failing silently.
- *missing*: the rule names an alias or interface the file does not define. pfSense and
  OPNsense do not load such a rule (filter.inc comments it out), so it filters nothing;
  the collector drops it and reports UNRESOLVED.

The firewall's own addresses (``(self)``, ``wanip``) are never node addresses; where one is
assigned at runtime (DHCP WAN) it resolves to nothing, which is exact for every flow to or
from a node.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from talosaudit.collectors.pfsense.parsed import Alias, Endpoint, FirewallConfig, Interface
from talosaudit.model.addresses import ALL_ADDRESSES, EMPTY, AddressSet
from talosaudit.model.firewall import Unresolved
from talosaudit.model.ports import ALL_PORTS, PortSet

#: Alias types whose content is a static list in the file.
_ADDRESS_ALIAS_TYPES = frozenset({"host", "network", "networkgroup"})
_PORT_ALIAS_TYPES = frozenset({"port"})
#: Port aliases are resolved recursively (they are short): deeper nesting is reported.
MAX_PORT_ALIAS_DEPTH = 64
#: Service names the GUI accepts in port fields (getservbyname); the common ones only.
_SERVICES = {
    "ftp": 21,
    "ssh": 22,
    "telnet": 23,
    "smtp": 25,
    "domain": 53,
    "dns": 53,
    "http": 80,
    "ntp": 123,
    "snmp": 161,
    "ldap": 389,
    "https": 443,
    "imaps": 993,
}
_HOSTNAME = re.compile(r"^(?=.*[a-zA-Z])[a-zA-Z0-9.-]+\.[a-zA-Z0-9-]+$")
#: OPNsense's built-in dynamic aliases for interface networks (``__lan_network``).
_DYNAMIC_NET = re.compile(r"^__(\w+)_network$")


@dataclass(frozen=True, slots=True)
class Resolved:
    """An address set, how to describe it, and what of it is unknown or missing."""

    addresses: AddressSet
    text: str
    unresolved: tuple[Unresolved, ...] = ()
    missing: str = ""


@dataclass(frozen=True, slots=True)
class ResolvedPorts:
    ports: PortSet
    unresolved: tuple[Unresolved, ...] = ()
    missing: str = ""


@dataclass(frozen=True, slots=True)
class InterfaceNet:
    """What an interface contributes to keywords: its subnets and its own addresses."""

    networks: AddressSet
    addresses: AddressSet
    #: Why the IPv4 / IPv6 network is not known ("" when it is static).
    unknown_v4: str = ""
    unknown_v6: str = ""

    def unknown(self, family: str) -> str:
        """Why the network is unknown for *every* family a rule asks for ("" if one is known).

        A rule for ``inet46`` on an interface with a static IPv4 and a ``track6`` IPv6
        network uses the IPv4 part only: flagging it would make its IPv4 flows unknown too.
        """
        wanted = {"inet": [self.unknown_v4], "inet6": [self.unknown_v6]}.get(
            family, [self.unknown_v4, self.unknown_v6]
        )
        if family == "inet46" and any(not r for r in wanted):
            return ""
        return next((r for r in wanted if r), "")


def interface_net(itf: Interface, vips: list[tuple[AddressSet, AddressSet]]) -> InterfaceNet:
    networks, addresses = EMPTY, EMPTY
    unknown = {4: "", 6: ""}
    for version, addr, bits, default in (
        (4, itf.ipaddr, itf.subnet, 32),
        (6, itf.ipaddrv6, itf.subnetv6, 128),
    ):
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            # No address at all is a known empty network; dhcp/track6/pppoe/... are runtime.
            if addr and addr != "none":
                unknown[version] = f"assigned at runtime ({addr})"
            continue
        prefix = int(bits) if bits.isdigit() else default
        try:
            net = ipaddress.ip_interface(f"{ip}/{prefix}").network
        except ValueError:
            net = ipaddress.ip_interface(str(ip)).network
        networks = networks | AddressSet.parse(str(net))
        addresses = addresses | AddressSet.parse(str(ip))
    for vip_net, vip_addr in vips:
        networks, addresses = networks | vip_net, addresses | vip_addr
        for version, part in ((4, vip_net.v4), (6, vip_net.v6)):
            if part:
                unknown[version] = ""
    return InterfaceNet(networks, addresses, unknown[4], unknown[6])


def _is_address(text: str) -> bool:
    try:
        AddressSet.parse(text)
    except ValueError:
        return False
    return True


def _relabel(field: str, items: Iterable[Unresolved]) -> tuple[Unresolved, ...]:
    """Name the rule field an alias's unknown entry sits in (reachability widens by field)."""
    out = []
    for u in items:
        expression = u.expression if u.field == field else f"{u.field}: {u.expression}"
        out.append(Unresolved(field, expression, u.reason))
    return tuple(dict.fromkeys(out))


class Resolver:
    """Resolves names against one firewall's interfaces, groups and aliases."""

    def __init__(self, config: FirewallConfig) -> None:
        self.config = config
        self.aliases: dict[str, Alias] = {}
        for alias in config.aliases:
            self.aliases.setdefault(alias.name, alias)
        self.groups = {g.name: g.members for g in config.groups}
        vips: dict[str, list[tuple[AddressSet, AddressSet]]] = {}
        for vip in config.vips:
            try:
                addr = AddressSet.parse(vip.address)
                net = AddressSet.parse(f"{vip.address}/{vip.bits}") if vip.bits.isdigit() else addr
            except ValueError:
                continue
            vips.setdefault(vip.interface, []).append((net, addr))
        self.nets = {itf.name: interface_net(itf, vips.get(itf.name, [])) for itf in config.interfaces}
        self._descr = {itf.name: itf.descr or itf.name.upper() for itf in config.interfaces}
        self._enabled = {itf.name for itf in config.interfaces if itf.enabled}
        self._alias_cache: dict[str, Resolved] = {}
        # 20,000 rules naming ``lan`` describe its networks once, not 20,000 times
        self._keyword_cache: dict[tuple[str, str, str], Resolved | None] = {}

    # -- addresses ---------------------------------------------------------------------------

    def endpoint(self, ep: Endpoint, field: str, family: str = "inet46") -> Resolved:
        if ep.any:
            return Resolved(EMPTY if ep.negated else ALL_ADDRESSES, "nothing" if ep.negated else "any")
        parts = [self.value(v, ep.kind, field, family) for v in ep.values]
        addresses = EMPTY
        for p in parts:
            addresses = addresses | p.addresses
        text = ", ".join(p.text for p in parts)
        unresolved = _relabel(field, (u for p in parts for u in p.unresolved))
        missing = next((p.missing for p in parts if p.missing), "")
        if ep.negated:
            return Resolved(ALL_ADDRESSES - addresses, f"not {text}", unresolved, missing)
        return Resolved(addresses, text, unresolved, missing)

    def value(self, value: str, kind: str, field: str, family: str = "inet46") -> Resolved:
        if kind in ("network", "mixed"):
            keyword = self.keyword(value, field, family)
            if keyword is not None:
                return keyword
        try:
            found = AddressSet.parse(value)
            return Resolved(found, value)
        except ValueError:
            pass
        if value in self.aliases:
            alias = self.alias(value, ())
            return Resolved(
                alias.addresses,
                f"alias {value} ({alias.addresses.describe()})",
                alias.unresolved,
                alias.missing,
            )
        if _HOSTNAME.match(value):
            return Resolved(
                EMPTY,
                value,
                (Unresolved(field, value, "a host name is resolved by the firewall at runtime"),),
            )
        what = "interface or network" if kind == "network" else "alias"
        return Resolved(
            EMPTY, value, missing=f"{field} names {what} {value!r}, which this file does not define"
        )

    def keyword(self, value: str, field: str, family: str = "inet46") -> Resolved | None:
        """Interface keywords: ``lan`` (its subnets), ``lanip`` (its address), ``(self)``."""
        key = (value, field, family)
        if key not in self._keyword_cache:
            self._keyword_cache[key] = self._keyword(value, field, family)
        return self._keyword_cache[key]

    def _keyword(self, value: str, field: str, family: str) -> Resolved | None:
        name = value.lower()
        if name in ("(self)", "self", "this firewall"):
            own = EMPTY
            for itf_name, net in self.nets.items():
                if itf_name in self._enabled:
                    own = own | net.addresses
            return Resolved(own, "this firewall")
        dynamic = _DYNAMIC_NET.match(value)
        if dynamic:
            name = dynamic.group(1)
        bare = name[:-2] if name.endswith("ip") and name not in self.nets else name
        if bare in self.nets and bare not in self._enabled:
            # filter.inc skips a rule whose interface keyword names a disabled interface.
            return Resolved(EMPTY, value, missing=f"{field} names interface {bare}, which is not enabled")
        if name in self.nets:
            net = self.nets[name]
            text = f"{self._descr[name]} net"
            if net.unknown(family):
                reason = f"the network of interface {name} is {net.unknown(family)}"
                return Resolved(EMPTY, text, (Unresolved(field, value, reason),))
            return Resolved(net.networks, f"{text} ({net.networks.describe()})")
        if name.endswith("ip") and name[:-2] in self.nets:
            net = self.nets[name[:-2]]
            # The firewall's own address is never a node address: unknown (DHCP) = nothing.
            return Resolved(net.addresses, f"{self._descr[name[:-2]]} address")
        if name in self.groups:
            members = [self.keyword(m, field, family) for m in self.groups[name] if m in self._enabled]
            addresses = EMPTY
            unresolved: tuple[Unresolved, ...] = ()
            for m in members:
                if m is not None:
                    addresses = addresses | m.addresses
                    unresolved += m.unresolved
            return Resolved(addresses, f"interface group {name}", unresolved)
        if name in ("pppoe", "pptp", "l2tp", "openvpn", "ipsec", "wireguard"):
            return Resolved(
                EMPTY,
                f"{name} clients",
                (Unresolved(field, value, f"{name} client addresses are assigned at runtime"),),
            )
        return None

    def alias(self, name: str, stack: tuple[str, ...] = ()) -> Resolved:
        """What alias ``name`` holds, nested aliases included.

        Nested aliases are walked with an explicit stack (a chain of thousands of aliases
        must not exhaust Python's recursion) and each alias is resolved once (a DAG of
        aliases that share members is linear, not exponential). A nesting cycle becomes an
        unresolved item naming the path that closes it.
        """
        if name in self._alias_cache:
            return self._alias_cache[name]
        path = [*stack, name]
        on_path = set(path)
        frames = [(name, iter(self._nested_aliases(name)))]
        cycles: dict[str, list[Unresolved]] = {}
        while frames:
            current, children = frames[-1]
            for child in children:
                if child in self._alias_cache:
                    continue
                if child in on_path:
                    closing = " -> ".join((*path, child))
                    cycles.setdefault(current, []).append(
                        Unresolved(f"alias {child}", closing, "aliases nest in a cycle")
                    )
                    continue
                frames.append((child, iter(self._nested_aliases(child))))
                path.append(child)
                on_path.add(child)
                break
            else:
                frames.pop()
                path.pop()
                on_path.discard(current)
                self._alias_cache[current] = self._alias_value(current, cycles.get(current, []))
        return self._alias_cache[name]

    def _nested_aliases(self, name: str) -> list[str]:
        """The aliases an enabled address alias names among its entries."""
        alias = self.aliases[name]
        if not alias.enabled or alias.type not in _ADDRESS_ALIAS_TYPES:
            return []
        return [e for e in alias.entries if e in self.aliases and not _is_address(e)]

    def _alias_value(self, name: str, cycles: list[Unresolved]) -> Resolved:
        """One alias from its entries; nested aliases are already in the cache."""
        alias = self.aliases[name]
        field = f"alias {name}"
        if not alias.enabled:
            return Resolved(EMPTY, name, (Unresolved(field, name, "the alias is disabled"),))
        if alias.type not in _ADDRESS_ALIAS_TYPES:
            reason = (
                "a port alias used as an address"
                if alias.type in _PORT_ALIAS_TYPES
                else f"an alias of type {alias.type or 'unknown'} is filled at runtime"
            )
            return Resolved(EMPTY, name, (Unresolved(field, name, reason),))
        parts: list[AddressSet] = []
        unresolved: list[Unresolved] = []
        missing = ""
        for entry in alias.entries:
            try:
                parts.append(AddressSet.parse(entry))
                continue
            except ValueError:
                pass
            if entry in self.aliases:
                nested = self._alias_cache.get(entry)
                if nested is None:  # the entry closes a cycle: reported in `cycles`
                    continue
                parts.append(nested.addresses)
                unresolved.extend(nested.unresolved)
                missing = missing or nested.missing
            elif _HOSTNAME.match(entry):
                unresolved.append(
                    Unresolved(field, entry, "a host name is resolved by the firewall at runtime")
                )
            else:
                missing = (
                    missing or f"alias {name} contains {entry!r}, which is neither an address nor an alias"
                )
        unresolved.extend(cycles)
        return Resolved(AddressSet.union_all(parts), name, tuple(dict.fromkeys(unresolved)), missing)

    # -- ports -------------------------------------------------------------------------------

    def ports(self, text: str, field: str) -> ResolvedPorts:
        text = text.strip()
        if not text or text.lower() in ("any", "*"):
            return ResolvedPorts(ALL_PORTS)
        single = self._port_text(text)
        if single is not None:
            return ResolvedPorts(single)
        if text in self.aliases:
            found = self.port_alias(text, ())
            return ResolvedPorts(found.ports, _relabel(field, found.unresolved), found.missing)
        return ResolvedPorts(
            ALL_PORTS, missing=f"{field} names port alias {text!r}, which this file does not define"
        )

    @staticmethod
    def _port_text(text: str) -> PortSet | None:
        if text.lower() in _SERVICES:
            return PortSet.single(_SERVICES[text.lower()])
        try:
            ports = PortSet.parse(text.replace(":", "-"))
        except ValueError:
            return None
        # "1-65535" is how the GUI writes "any port" (filter.inc drops the port clause).
        return ALL_PORTS if ports == PortSet.range(1, 65535) else ports

    def port_alias(self, name: str, stack: tuple[str, ...]) -> ResolvedPorts:
        alias = self.aliases[name]
        field = f"alias {name}"
        if name in stack:
            return ResolvedPorts(
                ALL_PORTS, (Unresolved(field, " -> ".join((*stack, name)), "aliases nest in a cycle"),)
            )
        if len(stack) >= MAX_PORT_ALIAS_DEPTH:
            reason = f"port aliases nest more than {MAX_PORT_ALIAS_DEPTH} levels deep"
            return ResolvedPorts(ALL_PORTS, (Unresolved(field, name, reason),))
        if not alias.enabled:
            return ResolvedPorts(ALL_PORTS, (Unresolved(field, name, "the alias is disabled"),))
        if alias.type not in _PORT_ALIAS_TYPES:
            return ResolvedPorts(
                ALL_PORTS, (Unresolved(field, name, f"an alias of type {alias.type} used as a port"),)
            )
        ports = PortSet()
        unresolved: list[Unresolved] = []
        missing = ""
        for entry in alias.entries:
            single = self._port_text(entry)
            if single is not None:
                ports = ports | single
            elif entry in self.aliases:
                nested = self.port_alias(entry, (*stack, name))
                ports = ports | nested.ports
                unresolved.extend(nested.unresolved)
                missing = missing or nested.missing
            else:
                missing = (
                    missing or f"port alias {name} contains {entry!r}, which is neither a port nor an alias"
                )
        return ResolvedPorts(ports, tuple(unresolved), missing)

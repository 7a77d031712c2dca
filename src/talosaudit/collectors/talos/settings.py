"""What a (merged) Talos config says about its node: role, addresses, CNI, KubeSpan, discovery.

Reads both forms Talos accepts: the ``v1alpha1`` document (``machine:``/``cluster:``) and the
newer typed documents (v1.12+ ``LinkConfig`` & co., v1.13 ``KubeSpanConfig``, v1.14
``KubeNetworkConfig``/``KubeFlannelCNIConfig``/``KubeClusterConfig``). ``complete`` says
whether the documents are a whole machine config (Talos defaults then apply to what is not
written) or patches only (what is not written is unknown).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from talosaudit.collectors.talos.documents import Doc, DocKind, get, loc_of
from talosaudit.collectors.yamlsafe import YList, YMap, has_placeholder
from talosaudit.model import ProblemKind
from talosaudit.model.addresses import EMPTY, AddressSet
from talosaudit.model.cluster import Fact, FactOrigin, Role
from talosaudit.model.source import SourceRef

DEFAULT_POD_SUBNET = "10.244.0.0/16"
DEFAULT_SERVICE_SUBNET = "10.96.0.0/12"
#: ``FlannelDefaultBackendPort``: what Talos-managed Flannel always used for VXLAN.
TALOS_FLANNEL_PORT = 4789
#: The kernel's VXLAN port, which flannel falls back to when Talos sets no port.
KERNEL_VXLAN_PORT = 8472

_CONTROL_PLANE_TYPES = {"controlplane": "controlplane", "init": "init (legacy, a control-plane node)"}
_WORKER_TYPES = {"worker": "worker", "join": "join (legacy, a worker node)", "": '"" (parsed as worker)'}
#: Typed documents (v1.12+) that give a link addresses as ``addresses: [{address: CIDR}]``.
_LINK_KINDS = frozenset(
    {"LinkConfig", "VLANConfig", "BondConfig", "BridgeConfig", "DummyLinkConfig", "WireguardConfig"}
)


@dataclass(frozen=True, slots=True)
class NodeSettings:
    role: Role | None = None
    role_reason: str = ""
    hostname: str = ""
    #: The node's own addresses (host addresses, /32 and /128).
    addresses: AddressSet = EMPTY
    address_reason: str = ""
    #: The networks of the node's interfaces (``65.21.143.192/26``), with where they were written.
    networks: tuple[tuple[AddressSet, SourceRef], ...] = ()
    pod_service: AddressSet = EMPTY
    pod_service_reason: str = ""
    kubespan: bool = False
    facts: tuple[Fact, ...] = ()
    #: Facts that only hold because the config does not say otherwise (Talos defaults).
    default_facts: tuple[Fact, ...] = ()
    #: Problems as (rule id, message, where).
    problems: tuple[tuple[ProblemKind, str, SourceRef], ...] = field(default=())


def where(loc: SourceRef | None) -> str:
    return f"{loc.path}:{loc.start_line}" if loc is not None else "?"


def read_settings(docs: Sequence[Doc], complete: bool) -> NodeSettings:
    machine = next((d.value for d in docs if d.kind in (DocKind.MACHINE, DocKind.PATCH)), None)
    typed = {d.type_name: d for d in docs if d.kind is DocKind.TYPED}
    reader = _Reader(machine, docs, typed, complete)
    return reader.read()


class _Reader:
    def __init__(self, machine: Any, docs: Sequence[Doc], typed: dict[str, Doc], complete: bool) -> None:
        self.machine = machine
        self.docs = docs
        self.typed = typed
        self.complete = complete
        self.facts: list[Fact] = []
        self.default_facts: list[Fact] = []
        self.problems: list[tuple[ProblemKind, str, SourceRef]] = []
        self.control_plane_node = False

    def fact(self, name: str, value: str, reason: str, loc: SourceRef | None, default: bool = False) -> None:
        fact = Fact(name, value, reason, FactOrigin.TALOS_CONFIG, loc)
        (self.default_facts if default else self.facts).append(fact)

    def read(self) -> NodeSettings:
        role, role_reason = self.role()
        self.control_plane_node = role is Role.CONTROL_PLANE
        addresses, networks, address_reason = self.addresses()
        pod_service, pod_service_reason = self.pod_service()
        kubespan = self.kubespan()
        self.cni()
        self.discovery()
        self.control_plane()
        return NodeSettings(
            role=role,
            role_reason=role_reason,
            hostname=self.hostname(),
            addresses=addresses,
            address_reason=address_reason,
            networks=tuple(networks),
            pod_service=pod_service,
            pod_service_reason=pod_service_reason,
            kubespan=kubespan,
            facts=tuple(self.facts),
            default_facts=tuple(self.default_facts),
            problems=tuple(self.problems),
        )

    # --- role and identity ----------------------------------------------------------------

    def role(self) -> tuple[Role | None, str]:
        raw = get(self.machine, "machine", "type")
        loc = loc_of(self.machine, "machine", "type")
        if raw is None:
            if self.complete and self.machine is not None:
                return (
                    Role.WORKER,
                    f"machine.type is absent in {where(self.machine.loc)}: Talos parses it as worker",
                )
            return None, "machine.type is not set"
        text = str(raw).strip().lower()
        if text in _CONTROL_PLANE_TYPES:
            return Role.CONTROL_PLANE, f"machine.type: {_CONTROL_PLANE_TYPES[text]} at {where(loc)}"
        if text in _WORKER_TYPES:
            return Role.WORKER, f"machine.type: {_WORKER_TYPES[text]} at {where(loc)}"
        if loc is not None:
            self.problems.append(
                (
                    ProblemKind.UNREADABLE,
                    f"machine.type {raw!r} is not a Talos machine type (controlplane, worker)",
                    loc,
                )
            )
        return None, f"machine.type {raw!r} at {where(loc)} is not a Talos machine type"

    def hostname(self) -> str:
        doc = self.typed.get("HostnameConfig")
        if doc is not None and isinstance(doc.value.get("hostname"), str):
            return str(doc.value["hostname"])
        name = get(self.machine, "machine", "network", "hostname")
        return name if isinstance(name, str) and not has_placeholder(name) else ""

    def addresses(self) -> tuple[AddressSet, list[tuple[AddressSet, SourceRef]], str]:
        hosts = EMPTY
        networks: list[tuple[AddressSet, SourceRef]] = []
        first: SourceRef | None = None
        for text, loc in self._address_entries():
            if has_placeholder(text):
                self.problems.append(
                    (
                        ProblemKind.UNRESOLVED,
                        f"interface address {text!r} is an unrendered placeholder; "
                        "this node's address is unknown",
                        loc,
                    )
                )
                continue
            parsed = _host_and_network(text)
            if parsed is None:
                continue
            host, network = parsed
            hosts = hosts | host
            first = first or loc
            if network is not None:
                networks.append((network, loc))
        reason = f"interface addresses from {where(first)}" if first else ""
        return hosts, [*networks, *self._stated_networks()], reason

    def _stated_networks(self) -> list[tuple[AddressSet, SourceRef]]:
        """Subnets a config names as the nodes' own (DHCP configs often say nothing else):
        ``kubelet.nodeIP.validSubnets`` (v1alpha1 and the v1.14 ``KubeNodeConfig``) and etcd's
        ``advertisedSubnets``/``listenSubnets``. ``!cidr`` exclusions are not networks."""
        lists = [
            get(self.machine, "machine", "kubelet", "nodeIP", "validSubnets"),
            get(self.machine, "cluster", "etcd", "advertisedSubnets"),
            get(self.machine, "cluster", "etcd", "listenSubnets"),
        ]
        node_doc = self.typed.get("KubeNodeConfig")
        if node_doc is not None:
            lists.append(get(node_doc.value, "nodeIP", "validSubnets"))
        found: list[tuple[AddressSet, SourceRef]] = []
        for value in lists:
            for text, loc in _strings(value):
                if text.strip().startswith("!"):
                    continue
                if has_placeholder(text):
                    self.problems.append(
                        (
                            ProblemKind.UNRESOLVED,
                            f"subnet {text!r} is an unrendered placeholder; "
                            "the node network it names is unknown",
                            loc,
                        )
                    )
                    continue
                parsed = _parse_cidrs([text.strip()])
                if parsed:
                    found.append((parsed, loc))
        return found

    def _address_entries(self) -> list[tuple[str, SourceRef]]:
        found: list[tuple[str, SourceRef]] = []
        interfaces = get(self.machine, "machine", "network", "interfaces")
        if isinstance(interfaces, YList):
            for iface in interfaces:
                if not isinstance(iface, YMap):
                    continue
                found.extend(_strings(iface.get("addresses")))
                if isinstance(iface.get("cidr"), str):
                    found.append((iface["cidr"], iface.loc_of("cidr")))
                found.extend(_vip(iface))
                vlans = iface.get("vlans")
                for vlan in vlans if isinstance(vlans, YList) else []:
                    if isinstance(vlan, YMap):
                        found.extend(_strings(vlan.get("addresses")))
                        found.extend(_vip(vlan))
        for doc in self.docs:
            if doc.kind is DocKind.TYPED and doc.type_name in _LINK_KINDS:
                entries = doc.value.get("addresses")
                for i, entry in enumerate(entries if isinstance(entries, YList) else []):
                    if isinstance(entry, YMap) and isinstance(entry.get("address"), str):
                        found.append((entry["address"], entries.loc_of(i)))
        return found

    # --- cluster network ------------------------------------------------------------------

    def pod_service(self) -> tuple[AddressSet, str]:
        sets = EMPTY
        reasons: list[str] = []
        kube_network = self.typed.get("KubeNetworkConfig")
        for field_name, default in (
            ("podSubnets", DEFAULT_POD_SUBNET),
            ("serviceSubnets", DEFAULT_SERVICE_SUBNET),
        ):
            value = get(self.machine, "cluster", "network", field_name)
            loc = loc_of(self.machine, "cluster", "network", field_name)
            if value is None and kube_network is not None:
                value = kube_network.value.get(field_name)
                loc = kube_network.value.loc_of(field_name)
            cidrs = [text for text, _ in _strings(value)]
            parsed = _parse_cidrs(cidrs)
            if parsed:
                sets = sets | parsed
                reasons.append(f"{field_name} {', '.join(cidrs)} at {where(loc)}")
                self.fact(_snake(field_name), ",".join(cidrs), f"{field_name} at {where(loc)}", loc)
            else:
                sets = sets | AddressSet.parse(default)
                reasons.append(f"{field_name} {default} (Talos default)")
                if self.complete:
                    anchor = self.machine.loc if isinstance(self.machine, YMap) else None
                    reason = f"Talos default: the config at {where(anchor)} sets no {field_name}"
                    self.fact(_snake(field_name), default, reason, anchor, default=True)
        return sets, "; ".join(reasons)

    def cni(self) -> None:
        name = get(self.machine, "cluster", "network", "cni", "name")
        loc = loc_of(self.machine, "cluster", "network", "cni", "name")
        flannel_doc = self.typed.get("KubeFlannelCNIConfig")
        if flannel_doc is not None:
            self._flannel_document(flannel_doc)
            return
        if isinstance(name, str) and not has_placeholder(name):
            value = name.strip().lower()
            if value == "flannel":
                self._talos_flannel(f"cluster.network.cni.name: flannel at {where(loc)}", loc)
            elif value in ("none", "custom"):
                urls = get(self.machine, "cluster", "network", "cni", "urls")
                extra = (
                    f" (urls: {', '.join(t for t, _ in _strings(urls))})"
                    if value == "custom" and urls
                    else ""
                )
                # The Talos guides set ``none`` for Cilium/Calico installed afterwards: the CNI runs,
                # but which one (and its ports) is not in the machine config.
                what = "applies those manifests" if value == "custom" else "installs no CNI itself"
                self.fact(
                    "cni",
                    value,
                    f"cluster.network.cni.name: {value} at {where(loc)}{extra}: Talos {what}; which CNI runs "
                    f"is not known here, so no CNI port is checked (name it with --cni and --tunnel, "
                    f"or cni/tunnel in .talosaudit.yaml)",
                    loc,
                )
            else:
                self.fact("cni", value, f"cluster.network.cni.name: {name} at {where(loc)}", loc)
            return
        if not self.complete:
            return
        multidoc = self.typed.get("KubeNetworkConfig")
        if multidoc is not None and get(self.machine, "cluster", "network") is None:
            self.fact(
                "cni",
                "none",
                f"KubeNetworkConfig at {where(multidoc.loc)} without a KubeFlannelCNIConfig document: "
                "Talos (v1.14+ multi-document config) installs no CNI",
                multidoc.loc,
            )
            return
        anchor = self.machine.loc if isinstance(self.machine, YMap) else None
        self._talos_flannel(
            f"cluster.network.cni is absent in {where(anchor)}: Talos deploys its Flannel (the default CNI)",
            anchor,
            default=True,
        )

    def _talos_flannel(self, reason: str, loc: SourceRef | None, default: bool = False) -> None:
        self.fact("cni", "flannel", reason, loc, default)
        self.fact("tunnel", "vxlan", f"{reason}; Talos-managed Flannel uses VXLAN", loc, default)
        self.fact(
            "tunnel_port",
            str(TALOS_FLANNEL_PORT),
            f"{reason}; Talos-managed Flannel uses udp/{TALOS_FLANNEL_PORT}, "
            f"not upstream's udp/{KERNEL_VXLAN_PORT}",
            loc,
            default,
        )

    def _flannel_document(self, doc: Doc) -> None:
        value: YMap = doc.value
        reason = f"KubeFlannelCNIConfig at {where(doc.loc)}"
        self.fact("cni", "flannel", reason, doc.loc)
        backend = value.get("backendType")
        backend_text = str(backend).strip().lower() if backend is not None else "vxlan"
        tunnel = {"vxlan": "vxlan", "host-gw": "none"}.get(backend_text, backend_text)
        self.fact("tunnel", tunnel, f"{reason}: backendType {backend_text}", value.loc_of("backendType"))
        port = value.get("backendPort")
        if isinstance(port, int) and not isinstance(port, bool) and 0 < port <= 65535:
            loc = value.loc_of("backendPort")
            self.fact("tunnel_port", str(port), f"{reason}: backendPort {port} at {where(loc)}", loc)
        elif port is None or port == 0:
            self.fact(
                "tunnel_port",
                str(KERNEL_VXLAN_PORT),
                f"{reason} has no backendPort: Talos sets no port and flannel falls back to the kernel "
                f"default udp/{KERNEL_VXLAN_PORT}",
                doc.loc,
            )
        else:
            loc = value.loc_of("backendPort")
            self.problems.append(
                (ProblemKind.UNREADABLE, f"KubeFlannelCNIConfig backendPort {port!r} is not a port", loc)
            )

    def kubespan(self) -> bool:
        doc = self.typed.get("KubeSpanConfig")
        enabled = get(self.machine, "machine", "network", "kubespan", "enabled")
        loc = loc_of(self.machine, "machine", "network", "kubespan", "enabled")
        what = "machine.network.kubespan.enabled"
        if doc is not None:
            enabled = doc.value.get("enabled")
            loc = doc.value.loc_of("enabled") if "enabled" in doc.value else doc.loc
            what = "KubeSpanConfig enabled"
        if isinstance(enabled, bool):
            self.fact(
                "kubespan",
                "true" if enabled else "false",
                f"{what}: {str(enabled).lower()} at {where(loc)}",
                loc,
            )
            return enabled
        return False

    def discovery(self) -> None:
        enabled = get(self.machine, "cluster", "discovery", "enabled")
        loc = loc_of(self.machine, "cluster", "discovery", "enabled")
        service_off = get(self.machine, "cluster", "discovery", "registries", "service", "disabled")
        if enabled is False:
            self.fact("discovery", "false", f"cluster.discovery.enabled: false at {where(loc)}", loc)
        elif enabled is True and service_off is True:
            off_loc = loc_of(self.machine, "cluster", "discovery", "registries", "service", "disabled")
            self.fact(
                "discovery",
                "false",
                f"cluster.discovery.registries.service.disabled: true at {where(off_loc)}",
                off_loc,
            )
        elif enabled is True:
            self.fact("discovery", "true", f"cluster.discovery.enabled: true at {where(loc)}", loc)
        elif (doc := self.typed.get("DiscoveryServiceConfig")) is not None:
            self.fact("discovery", "true", f"DiscoveryServiceConfig at {where(doc.loc)}", doc.loc)

    def control_plane(self) -> None:
        endpoint = get(self.machine, "cluster", "controlPlane", "endpoint")
        loc = loc_of(self.machine, "cluster", "controlPlane", "endpoint")
        cluster_doc = self.typed.get("KubeClusterConfig")
        if endpoint is None and cluster_doc is not None:
            endpoint = cluster_doc.value.get("endpoint")
            loc = cluster_doc.value.loc_of("endpoint")
        if isinstance(endpoint, str) and not has_placeholder(endpoint):
            self.fact("control_plane_endpoint", endpoint, f"control-plane endpoint at {where(loc)}", loc)
        # Talos binds these to 127.0.0.1; an override exposes 10259/10257.
        for component, fact_name in (
            ("scheduler", "kube_scheduler_bind_address"),
            ("controllerManager", "kube_controller_manager_bind_address"),
        ):
            bind = get(self.machine, "cluster", component, "extraArgs", "bind-address")
            if isinstance(bind, str) and not has_placeholder(bind):
                bind_loc = loc_of(self.machine, "cluster", component, "extraArgs", "bind-address")
                reason = f"cluster.{component}.extraArgs.bind-address: {bind} at {where(bind_loc)}"
                self.fact(fact_name, bind, reason, bind_loc)
            elif bind is None and self.complete and self.control_plane_node:
                anchor = self.machine.loc if isinstance(self.machine, YMap) else None
                reason = (
                    f"Talos default: the control-plane config at {where(anchor)} sets no "
                    f"cluster.{component}.extraArgs.bind-address"
                )
                self.fact(fact_name, "127.0.0.1", reason, anchor, default=True)
        metrics = get(self.machine, "cluster", "etcd", "extraArgs", "listen-metrics-urls")
        if isinstance(metrics, str):
            metrics_loc = loc_of(self.machine, "cluster", "etcd", "extraArgs", "listen-metrics-urls")
            reason = f"cluster.etcd.extraArgs.listen-metrics-urls: {metrics} at {where(metrics_loc)}"
            self.fact("etcd_listen_metrics_urls", metrics, reason, metrics_loc)
        proxy_off = get(self.machine, "cluster", "proxy", "disabled")
        if isinstance(proxy_off, bool):
            proxy_loc = loc_of(self.machine, "cluster", "proxy", "disabled")
            state = "false" if proxy_off else "true"
            self.fact(
                "kube_proxy",
                state,
                f"cluster.proxy.disabled: {str(proxy_off).lower()} at {where(proxy_loc)}",
                proxy_loc,
            )


def _snake(name: str) -> str:
    return {"podSubnets": "pod_subnets", "serviceSubnets": "service_subnets"}.get(name, name)


def _strings(value: Any) -> list[tuple[str, SourceRef]]:
    if isinstance(value, YList):
        return [(item, value.loc_of(i)) for i, item in enumerate(value) if isinstance(item, str)]
    return []


def _parse_cidrs(cidrs: list[str]) -> AddressSet:
    result = EMPTY
    for cidr in cidrs:
        if has_placeholder(cidr):
            continue
        try:
            result = result | AddressSet.parse(cidr)
        except ValueError:
            continue
    return result


def _host_and_network(text: str) -> tuple[AddressSet, AddressSet | None] | None:
    """``10.0.0.5/24`` -> (10.0.0.5, 10.0.0.0/24); a bare address -> (it, None)."""
    if has_placeholder(text):
        return None
    try:
        iface = ipaddress.ip_interface(text.strip())
    except ValueError:
        return None
    host = AddressSet.parse(str(iface.ip))
    if "/" not in text or iface.network.prefixlen == iface.max_prefixlen:
        return host, None
    return host, AddressSet.parse(str(iface.network))


def _vip(link: YMap) -> list[tuple[str, SourceRef]]:
    """The shared VIP of a (VLAN) interface: Talos allows it on control planes only, where it
    is the API endpoint the active node answers on, so it is one of the control-plane group's
    addresses (kubectl and the kubelets reach 6443 there)."""
    vip = link.get("vip")
    if isinstance(vip, YMap) and isinstance(vip.get("ip"), str):
        return [(vip["ip"], vip.loc_of("ip"))]
    return []

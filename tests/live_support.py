"""A moto server and the seed guide's layout built in it through boto3, for tests/test_live_*.py.

The layout is fixtures/aws-talos as AWS would hold it after ``terraform apply`` with its
terraform.tfvars: VPC 10.0.0.0/16, three public and three private subnets, the control-plane
and worker security groups with every rule of modules/network/security_groups.tf (same
descriptions), the external admin rules of main.tf for 196.45.28.20/32, allow-all egress
(the default egress rule AWS adds is replaced, as the Terraform provider does), and three
control-plane plus two worker instances in the private subnets with their Role tags.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests

REGION = "eu-west-1"
ADMIN_CIDR = "196.45.28.20/32"
VPC_CIDR = "10.0.0.0/16"
FAKE_KEY_ID = "AKIATALOSAUDITFAKE01"
FAKE_SECRET = "fake-secret-8b0f1c7e-should-never-appear"
FAKE_TOKEN = "fake-session-token-3e9d-should-never-appear"
COMMON_TAGS = {"Project": "talos", "ManagedBy": "terraform"}

#: (name, group, from, to, protocol, source, description): security_groups.tf in file order.
#: source is a CIDR, or "cp"/"worker" for a group reference.
CP_RULES = [
    ("control_plane_k8s_api", 6443, 6443, "tcp", VPC_CIDR, "Kubernetes API server"),
    ("control_plane_talos_api", 50000, 50000, "tcp", VPC_CIDR, "Talos API (apid)"),
    (
        "control_plane_talos_trustd",
        50001,
        50001,
        "tcp",
        "worker",
        "Talos trustd service (workers to control plane)",
    ),
    ("control_plane_etcd", 2379, 2380, "tcp", "cp", "etcd peer communication"),
    ("control_plane_kubelet_self", 10250, 10250, "tcp", "cp", "Kubelet API (CP-to-CP)"),
    ("control_plane_kubelet_vpc", 10250, 10250, "tcp", VPC_CIDR, "Kubelet API (admin access)"),
    ("control_plane_controller_manager", 10257, 10257, "tcp", "cp", "kube-controller-manager"),
    ("control_plane_scheduler", 10259, 10259, "tcp", "cp", "kube-scheduler"),
    ("control_plane_cilium_geneve_cp", 6081, 6081, "udp", "cp", "Cilium GENEVE overlay (CP-to-CP)"),
    (
        "control_plane_cilium_geneve_worker",
        6081,
        6081,
        "udp",
        "worker",
        "Cilium GENEVE overlay (workers-to-CP)",
    ),
    ("control_plane_cilium_health_cp", 4240, 4240, "tcp", "cp", "Cilium health checks (CP-to-CP)"),
    (
        "control_plane_cilium_health_worker",
        4240,
        4240,
        "tcp",
        "worker",
        "Cilium health checks (workers-to-CP)",
    ),
    ("control_plane_icmp", -1, -1, "icmp", VPC_CIDR, "Ping for connectivity validation"),
]
WORKER_RULES = [
    ("worker_talos_api_cp", 50000, 50000, "tcp", "cp", "Talos API from control plane"),
    ("worker_talos_api_vpc", 50000, 50000, "tcp", VPC_CIDR, "Talos API (admin access)"),
    ("worker_kubelet_cp", 10250, 10250, "tcp", "cp", "Kubelet API from control plane"),
    ("worker_kubelet_self", 10250, 10250, "tcp", "worker", "Kubelet API (worker-to-worker)"),
    ("worker_kubelet_vpc", 10250, 10250, "tcp", VPC_CIDR, "Kubelet API (admin access)"),
    ("worker_cilium_geneve_cp", 6081, 6081, "udp", "cp", "Cilium GENEVE overlay (CP-to-workers)"),
    ("worker_cilium_geneve_worker", 6081, 6081, "udp", "worker", "Cilium GENEVE overlay (worker-to-worker)"),
    ("worker_cilium_health_cp", 4240, 4240, "tcp", "cp", "Cilium health checks (CP-to-workers)"),
    ("worker_cilium_health_worker", 4240, 4240, "tcp", "worker", "Cilium health checks (worker-to-worker)"),
    ("worker_icmp", -1, -1, "icmp", VPC_CIDR, "Ping for connectivity validation"),
]
ADMIN_RULES = [
    ("cp_k8s_api_external", 6443, 6443, "tcp", ADMIN_CIDR, f"Kubernetes API (external admin: {ADMIN_CIDR})"),
    ("cp_talos_api_external", 50000, 50000, "tcp", ADMIN_CIDR, f"Talos API (external admin: {ADMIN_CIDR})"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MotoServer:
    url: str

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def env(self) -> dict[str, str]:
        """Environment for a subprocess: the endpoint and fake credentials only."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
            "AWS_SESSION_TOKEN": FAKE_TOKEN,
            "AWS_DEFAULT_REGION": REGION,
        }


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the test session (import this fixture into the test module)."""
    yield from start_moto()


def start_moto() -> Iterator[MotoServer]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        # No default AMI catalogue: moto loads it into every region backend after each reset
        # (~0.2 s a test); run_instances does not check the AMI id unless asked to.
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield MotoServer(f"http://127.0.0.1:{port}")
        finally:
            server.stop()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A reset moto server, and this process's environment pointed at it with fake keys."""
    moto_server.reset()
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL_EC2"):
        monkeypatch.delenv(key, raising=False)
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/talosaudit-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/talosaudit-test-credentials")
    return moto_server


@dataclass
class Seed:
    """Ids of what build_seed created."""

    ec2: Any
    vpc: str
    cp: str
    worker: str
    private_subnets: list[str]
    #: Terraform resource name -> sgr id.
    rules: dict[str, str] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)

    def add_rule(  # noqa: PLR0917 - one rule's fields, as in the tables above
        self,
        name: str,
        group: str,
        lo: int,
        hi: int,
        proto: str,
        source: str,
        description: str,
        egress: bool = False,
    ) -> str:
        gid = {"cp": self.cp, "worker": self.worker}[group]
        perm: dict[str, Any] = {"IpProtocol": proto, "FromPort": lo, "ToPort": hi}
        if proto == "-1":
            perm = {"IpProtocol": "-1"}
        if source in ("cp", "worker"):
            perm["UserIdGroupPairs"] = [
                {"GroupId": {"cp": self.cp, "worker": self.worker}[source], "Description": description}
            ]
        else:
            perm["IpRanges"] = [{"CidrIp": source, "Description": description}]
        call = (
            self.ec2.authorize_security_group_egress if egress else self.ec2.authorize_security_group_ingress
        )
        out = call(GroupId=gid, IpPermissions=[perm])
        sgr = str(out["SecurityGroupRules"][0]["SecurityGroupRuleId"])
        self.rules[name] = sgr
        return sgr

    def delete_rule(self, name: str) -> None:
        sgr = self.rules.pop(name)
        group = self.cp if name.startswith(("control_plane", "cp_")) else self.worker
        self.ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=[sgr])


def _tags(extra: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted({**COMMON_TAGS, **extra}.items())]


def build_seed(region: str = REGION, *, admin: bool = True, env: str = "talos-prod") -> Seed:
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(
        CidrBlock=VPC_CIDR,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": _tags({"Name": f"{env}-talos-vpc"})}],
    )["Vpc"]["VpcId"]
    zones = [f"{region}a", f"{region}b", f"{region}c"]
    private: list[str] = []
    for i, zone in enumerate(zones):
        ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=f"10.0.{i}.0/24",
            AvailabilityZone=zone,
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": _tags({"Name": f"{env}-talos-public-{zone}"})}
            ],
        )
        private.append(
            ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.0.{i + 10}.0/24",
                AvailabilityZone=zone,
                TagSpecifications=[
                    {"ResourceType": "subnet", "Tags": _tags({"Name": f"{env}-talos-private-{zone}"})}
                ],
            )["Subnet"]["SubnetId"]
        )
    groups: dict[str, str] = {}
    for key, role, label in (("cp", "control-plane", "control-plane"), ("worker", "worker", "worker")):
        name = f"{env}-talos-{label}-sg"
        gid = ec2.create_security_group(
            GroupName=name,
            Description=f"Security group for Talos {'control plane' if key == 'cp' else 'worker'} nodes",
            VpcId=vpc,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": _tags({"Name": name, "NodeType": role})}
            ],
        )["GroupId"]
        groups[key] = gid
        # The Terraform provider removes AWS's default allow-all egress rule.
        for rule in ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])[
            "SecurityGroupRules"
        ]:
            if rule["IsEgress"]:
                ec2.revoke_security_group_egress(
                    GroupId=gid, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]]
                )
    seed = Seed(ec2, vpc, groups["cp"], groups["worker"], private)
    for name, lo, hi, proto, source, description in CP_RULES:
        seed.add_rule(name, "cp", lo, hi, proto, source, description)
    for name, lo, hi, proto, source, description in WORKER_RULES:
        seed.add_rule(name, "worker", lo, hi, proto, source, description)
    if admin:
        for name, lo, hi, proto, source, description in ADMIN_RULES:
            seed.add_rule(name, "cp", lo, hi, proto, source, description)
    seed.add_rule(
        "control_plane_all", "cp", 0, 0, "-1", "0.0.0.0/0", "Allow all outbound traffic", egress=True
    )
    seed.add_rule("worker_all", "worker", 0, 0, "-1", "0.0.0.0/0", "Allow all outbound traffic", egress=True)
    for role, label, count, key in (("control-plane", "cp", 3, "cp"), ("worker", "worker", 2, "worker")):
        for i in range(count):
            iid = ec2.run_instances(
                ImageId="ami-12c6146b",
                MinCount=1,
                MaxCount=1,
                InstanceType="t3.medium",
                SubnetId=private[i % len(private)],
                SecurityGroupIds=[groups[key]],
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": _tags({"Name": f"{env}-talos-{label}-{i + 1}", "Role": role}),
                    }
                ],
            )["Instances"][0]["InstanceId"]
            seed.instances[f"{label}-{i + 1}"] = iid
    return seed

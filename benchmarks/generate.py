"""Write a synthetic Terraform tree of Talos security group rules for benchmarking.

    python benchmarks/generate.py N R OUT

writes ``OUT/main.tf`` (provider, VPC, the control-plane and worker security groups with
role tags) and ``N`` files ``OUT/rules_0000.tf`` ... with ``R`` ingress rules each. Every rule
is on a Talos/Kubernetes/CNI port; every fifth rule is from 0.0.0.0/0, the others from the
VPC CIDR or a security group reference. Every tenth rule uses the legacy
``aws_security_group_rule`` form, the rest ``aws_vpc_security_group_ingress_rule``, so both
mappers are exercised. The output depends only on N and R (no randomness), so two runs on
two machines scan the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

#: (protocol, from, to, what) of the ports a Talos cluster uses.
PORTS: tuple[tuple[str, int, int, str], ...] = (
    ("tcp", 6443, 6443, "Kubernetes API"),
    ("tcp", 50000, 50000, "Talos apid"),
    ("tcp", 50001, 50001, "Talos trustd"),
    ("tcp", 2379, 2380, "etcd"),
    ("tcp", 10250, 10250, "kubelet"),
    ("tcp", 4240, 4240, "Cilium health"),
    ("udp", 6081, 6081, "Cilium Geneve"),
    ("udp", 8472, 8472, "Cilium VXLAN"),
    ("tcp", 10257, 10257, "kube-controller-manager"),
    ("tcp", 10259, 10259, "kube-scheduler"),
    ("udp", 51820, 51820, "KubeSpan"),
    ("tcp", 30000, 32767, "NodePort"),
)
GROUPS = ("aws_security_group.control_plane.id", "aws_security_group.worker.id")

MAIN_TF = """provider "aws" {
  region = "eu-west-1"
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

resource "aws_vpc" "main" {
  cidr_block = var.vpc_cidr
}

resource "aws_security_group" "control_plane" {
  name        = "bench-talos-control-plane"
  description = "Talos control plane nodes"
  vpc_id      = aws_vpc.main.id

  tags = {
    NodeType = "control-plane"
  }
}

resource "aws_security_group" "worker" {
  name        = "bench-talos-worker"
  description = "Talos worker nodes"
  vpc_id      = aws_vpc.main.id

  tags = {
    NodeType = "worker"
  }
}
"""


def _source(index: int) -> tuple[str, str]:
    """(attribute kind, value) of rule ``index``: every fifth from the internet."""
    if index % 5 == 0:
        return ("cidr", '"0.0.0.0/0"')
    if index % 5 in (1, 3):
        return ("cidr", "var.vpc_cidr")
    return ("group", GROUPS[(index // 5) % 2])


def _aligned(pairs: list[tuple[str, str]]) -> list[str]:
    width = max(len(k) for k, _ in pairs)
    return [f"  {k.ljust(width)} = {v}" for k, v in pairs]


def rule_block(file_index: int, index: int) -> str:
    n = file_index * 1_000_003 + index  # a global counter, so neighbouring files differ
    proto, low, high, what = PORTS[n % len(PORTS)]
    group = GROUPS[n % 2]
    kind, source = _source(index)
    name = f"r{file_index:04d}_{index:03d}"
    description = f'"{what} ({name})"'
    if index % 10 == 9:
        pairs = [
            ("type", '"ingress"'),
            ("security_group_id", group),
            ("description", description),
            ("protocol", f'"{proto}"'),
            ("from_port", str(low)),
            ("to_port", str(high)),
        ]
        if kind == "cidr":
            pairs.append(("cidr_blocks", f"[{source}]"))
        else:
            pairs.append(("source_security_group_id", source))
        header = f'resource "aws_security_group_rule" "{name}" {{'
    else:
        pairs = [
            ("security_group_id", group),
            ("description", description),
            ("ip_protocol", f'"{proto}"'),
            ("from_port", str(low)),
            ("to_port", str(high)),
        ]
        pairs.append(("cidr_ipv4", source) if kind == "cidr" else ("referenced_security_group_id", source))
        header = f'resource "aws_vpc_security_group_ingress_rule" "{name}" {{'
    return "\n".join([header, *_aligned(pairs), "}"])


def generate(files: int, rules: int, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "main.tf").write_text(MAIN_TF, encoding="utf-8")
    for f in range(files):
        text = "\n\n".join(rule_block(f, i) for i in range(rules)) + "\n"
        (out / f"rules_{f:04d}.tf").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", type=int, help="number of rule files (N)")
    parser.add_argument("rules", type=int, help="rules per file (R)")
    parser.add_argument("out", type=Path, help="output directory (replaced)")
    args = parser.parse_args()
    if args.files < 1 or args.rules < 1:
        parser.error("N and R must be at least 1")
    generate(args.files, args.rules, args.out)
    print(f"wrote {args.files} files x {args.rules} rules (+ main.tf) to {args.out}")


if __name__ == "__main__":
    main()

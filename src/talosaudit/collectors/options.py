"""Options every collector receives from the scan pipeline."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from talosaudit.collectors.roles import RoleHints
from talosaudit.model.ports import NodePorts


@dataclass(frozen=True)
class CollectOptions:
    #: ``--var-file`` files, in the order given (they apply to root modules only).
    var_files: tuple[Path, ...] = ()
    #: The environment the scan runs in; only ``TF_VAR_*`` is read from it.
    env: Mapping[str, str] = field(default_factory=dict)
    #: Where parsed files are cached by content hash; ``None`` disables the cache.
    cache_dir: Path | None = None
    #: Parser processes; 0 means one per CPU.
    jobs: int = 0
    #: Role hints from the configuration (``roles:`` name patterns and tags).
    role_hints: RoleHints | None = None
    #: The user named the admin networks (``--admin-cidr``, ``admin_networks:``): collectors
    #: add no admin networks guessed from names (a firewall interface called "MGMT").
    admin_named: bool = False
    #: Firewall interfaces named as admin networks in the configuration (``admin_interfaces:``).
    admin_interfaces: tuple[str, ...] = ()
    #: The ports a Talos node serves, from the policy files (policies/node_ports.py): a
    #: security group without a role that admits none of them is not a node group. Empty:
    #: only groups with a role are.
    node_ports: NodePorts = field(default_factory=NodePorts)

    def worker_count(self) -> int:
        return self.jobs if self.jobs > 0 else (os.cpu_count() or 1)

"""The one table of collectors: which collector reads which input kinds, in order.

Adding a platform means adding its collector here (one line); nothing registers itself on
import. Order matters twice: discovery asks the collectors in this order which kind a file
is, and ``collect_all`` runs them in this order, so the Terraform collector (whose Talos
provider reads patch files) runs before the Talos collector that would read them alone.
"""

from __future__ import annotations

from talosaudit.collectors.base import Collector
from talosaudit.collectors.pfsense import FirewallExportCollector
from talosaudit.collectors.proxmox.collect import ProxmoxCollector
from talosaudit.collectors.talos.collector import TalosCollector
from talosaudit.collectors.terraform.collect import TerraformCollector
from talosaudit.collectors.terraform.plan import PlanCollector

COLLECTORS: tuple[Collector, ...] = (
    TerraformCollector(),
    PlanCollector(),
    TalosCollector(),
    ProxmoxCollector(),
    FirewallExportCollector(),
)

"""An injection corpus for tests/test_safe_output.py: every input kind that reaches a message.

Each hostile string carries a workflow command after a newline (``::add-mask::``, ``::error``),
a CSI sequence, an OSC 52 clipboard write, an OSC 8 link and C1 controls; the corpus is built
from golden cases (so the findings that quote them are known) with the strings planted in:
a Terraform description and resource label, a Terraform file whose name holds a newline and
ESC, a pfSense ``descr`` and a Proxmox rule comment.
"""

from __future__ import annotations

import shutil
from pathlib import Path

CASES = Path(__file__).parent / "cases"

#: What no output may hold raw: ESC (CSI, OSC), BEL, the C1 CSI/OSC introducers.
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\x9d", "\r")
#: Injected workflow commands (a line starting with them, after blanks, would be executed).
COMMANDS = ("::add-mask::", "::error file=main.tf", "::warning::", "::stop-commands::")
#: In HCL escapes: a newline, then commands, CSI, OSC 52, OSC 8 and C1 CSI.
HCL_HOSTILE = (
    r"x\n::add-mask::hunter2\n::error file=main.tf,line=1::fake\n  ::stop-commands::tok"
    r"\u001b[2J\u001b]52;c;aHVudGVyMg==\u0007\u001b]8;;https://evil.example/\u001b\\link\u009b31m"
)
#: In XML (ESC cannot be written in XML 1.0; C1 can): newline, commands, C1 CSI and OSC.
XML_HOSTILE = "pf&#10;::warning::pfsense&#10;::add-mask::pw&#155;31m&#157;52;c;eA==&#156;"
#: In a Proxmox comment (raw bytes, one line: a newline would end the rule).
PVE_HOSTILE = "talosctl \x1b]52;c;aHVudGVy\x07 ::error file=main.tf::pve \x9b2J"
#: A file name with a newline and ESC.
EVIL_NAME = "evil\n::error file=x::name\x1b[31m.tf"


def build(root: Path) -> dict[str, Path]:
    """Three scan roots under ``root``: terraform, pfsense and proxmox."""
    tf = root / "terraform"
    shutil.copytree(CASES / "duplicate-rule", tf)
    main = tf / "main.tf"
    text = main.read_text(encoding="utf-8")
    text = text.replace('"Kubernetes API for the nodes"', f'"{HCL_HOSTILE}"')
    main.write_text(text, encoding="utf-8")
    (tf / EVIL_NAME).write_text('resource "aws_security_group" "x" {\n  name = \n', encoding="utf-8")

    pf = root / "pfsense"
    shutil.copytree(CASES / "pfsense-shadowed", pf)
    config = pf / "config.xml"
    xml = config.read_text(encoding="utf-8")
    config.write_text(xml.replace("<![CDATA[kubectl from anywhere]]>", XML_HOSTILE), encoding="utf-8")

    pve = root / "proxmox"
    shutil.copytree(CASES / "proxmox-policy-accept", pve)
    fw = pve / "firewall" / "101.fw"
    fw.write_text(
        fw.read_text(encoding="utf-8").replace("talosctl from the admin VLAN", PVE_HOSTILE),
        encoding="utf-8",
    )
    return {"terraform": tf, "pfsense": pf, "proxmox": pve}

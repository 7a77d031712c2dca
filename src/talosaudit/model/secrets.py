"""Values the inputs mark as secret (Terraform ``sensitive = true`` variables and outputs,
``sensitive()``), and the one function that keeps them out of every output.

A secret still takes part in the model (a CIDR from a sensitive variable is a real exposure);
only its text is replaced, wherever it lands (a message, a resource name, a fact, a trace),
by the name of its source: ``var.admin_cidr (sensitive)``. The replacement runs on what is
about to be printed or written, so no format can forget it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable

#: ``(value as text, where it comes from: var.admin_cidr, output.token; "" for a value
#: marked by ``sensitive()``, shown as ``(sensitive)`` alone)``.
Secret = tuple[str, str]
SENSITIVE = "(sensitive)"
#: Shorter values are not replaced (a sensitive port "22" would blank every 22 in a report).
MIN_SECRET_LENGTH = 4


def secret_texts(value: object) -> list[str]:
    """Every string in a value (scalars as Terraform prints them; lists and maps walked)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in secret_texts(v)]
    if isinstance(value, list | tuple | set | frozenset):
        return [t for v in value for t in secret_texts(v)]
    return []


def _forms(value: str) -> set[str]:
    """The spellings a value may take in an output: as written, JSON-escaped, and a CIDR or
    address as the model prints it (``10.0.0.5`` -> ``10.0.0.5/32``, host bits cleared)."""
    forms = {value, json.dumps(value)[1:-1]}
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return forms
    forms.add(str(network))
    if network.num_addresses == 1:
        forms.add(str(network.network_address))
    return forms


def redact_secrets(text: str, secrets: Iterable[Secret]) -> str:
    """``text`` with every secret value replaced by ``<its source> (sensitive)``."""
    labels: dict[str, str] = {}
    for value, label in secrets:
        if len(value.strip()) < MIN_SECRET_LENGTH:
            continue
        for form in _forms(value):
            if len(form) >= MIN_SECRET_LENGTH:
                labels.setdefault(form, f"{label} {SENSITIVE}" if label else SENSITIVE)
    if not labels:
        return text
    # Longest first. Any other text is replaced wherever it occurs; a CIDR or address not
    # inside a longer one (10.0.0.1 in 10.0.0.12).
    forms = sorted(labels, key=lambda f: (-len(f), f))
    pattern = re.compile("|".join(_pattern(f) for f in forms))
    return pattern.sub(lambda m: labels[m.group(0)], text)


def _pattern(form: str) -> str:
    try:
        ipaddress.ip_network(form, strict=False)
    except ValueError:
        return re.escape(form)
    return rf"(?<![\w.:]){re.escape(form)}(?![\w:]|\.\d|/\d)"

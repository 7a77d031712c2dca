"""What every reporter receives: the findings, the rules that ran and facts about the run.

Reporters are pure functions ``Report -> str``; they never read inputs or decide exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from talosaudit import __version__
from talosaudit.findings import Finding
from talosaudit.levels import Level
from talosaudit.model.cluster import Fact, FactOrigin
from talosaudit.policies.schema import Policy
from talosaudit.report.picture import GraphData

TOOL_NAME = "talosaudit"
INFORMATION_URI = "https://github.com/talosaudit/talosaudit"
RULE_DOC_URI = INFORMATION_URI + "/blob/main/docs/rules/{id}.md"
#: No category by default: code scanning applies the upload's `category` only when the SARIF run
#: has no automationDetails (DESIGN.md "SARIF contract").
DEFAULT_CATEGORY = ""

ORIGIN_NAMES = {
    FactOrigin.COMMAND_LINE: "command line",
    FactOrigin.CONFIG_FILE: "config file",
    FactOrigin.TALOS_CONFIG: "Talos config",
    FactOrigin.TERRAFORM: "Terraform",
    FactOrigin.LIVE: "live state",
    FactOrigin.DEFAULT: "default",
}


@dataclass(frozen=True, slots=True)
class Report:
    """One scan's outcome as reporters see it.

    ``findings`` are the counted ones (sorted); ``suppressed`` were matched by an inline
    comment or a configured ignore. ``policies`` are the rules that ran (SARIF lists them all).
    """

    findings: tuple[Finding, ...]
    policies: tuple[Policy, ...]
    root: Path
    suppressed: tuple[Finding, ...] = ()
    facts: tuple[Fact, ...] = ()
    #: With several Terraform root modules: the facts of each, (root, facts); ``facts`` is
    #: then empty.
    facts_by_root: tuple[tuple[str, tuple[Fact, ...]], ...] = ()
    files: tuple[str, ...] = ()
    duration: float = 0.0
    notices: tuple[str, ...] = ()
    baseline_dropped: int = 0
    category: str = DEFAULT_CATEGORY
    version: str = __version__
    #: Show suppressed findings in human-readable formats, include them in SARIF.
    show_suppressed: bool = False
    #: The role-level reachability picture (markdown, html), per Terraform root module:
    #: (root, picture); one ("", picture) with one model; empty when not computed.
    graphs: tuple[tuple[str, GraphData], ...] = ()
    _by_id: dict[str, Policy] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({p.id: p for p in self.policies})

    def fact_sections(self) -> tuple[tuple[str, tuple[Fact, ...]], ...]:
        """The facts to list, per root module ("" when the scan has one model)."""
        if self.facts_by_root:
            return tuple((root, facts) for root, facts in self.facts_by_root if facts)
        return (("", self.facts),) if self.facts else ()

    def policy(self, rule_id: str) -> Policy | None:
        return self._by_id.get(rule_id)

    def rule_name(self, rule_id: str) -> str:
        policy = self.policy(rule_id)
        return policy.name if policy else rule_id.lower()

    def counts(self) -> dict[Level, int]:
        return count_levels(self.findings)

    def summary_line(self) -> str:
        """``N errors, M warnings, K notes in F files (P policies) in T s``."""
        c = self.counts()
        return (
            f"{_plural(c[Level.ERROR], 'error')}, {_plural(c[Level.WARNING], 'warning')}, "
            f"{_plural(c[Level.NOTE], 'note')} in {_plural(len(self.files), 'file')} "
            f"({_plural(len(self.policies), 'policy', 'policies')}) in {self.duration:.2f} s"
        )

    def extra_line(self) -> str:
        """What is not counted: suppressed findings and baseline matches (empty when none)."""
        parts = []
        if self.suppressed:
            parts.append(f"{len(self.suppressed)} suppressed")
        if self.baseline_dropped:
            parts.append(f"{self.baseline_dropped} in baseline")
        return ", ".join(parts)


def count_levels(findings: Iterable[Finding]) -> dict[Level, int]:
    counts = dict.fromkeys(Level, 0)
    for f in findings:
        counts[f.level] += 1
    return counts


def describe_fact(fact: Fact) -> str:
    # Collectors often name the place in the reason already; say it once.
    where = f" ({fact.source})" if fact.source is not None and str(fact.source) not in fact.reason else ""
    origin = ORIGIN_NAMES.get(fact.origin, fact.origin.name)
    return f"{fact.name} = {fact.value} [{origin}]: {fact.reason}{where}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"

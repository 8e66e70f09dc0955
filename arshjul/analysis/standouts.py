"""The enheter that stand out below a roll-up (verksamhet, område, region): those whose own
analysis found possible under-reporting, a control-chart signal, a cluster of the highest risks
or late actions, ranked so that a reader of the roll-up sees the most serious first.

Drawn from the enheter's findings (:class:`~arshjul.analysis.findings.Finding`), whether just
made by the analysis or loaded from the database, so the analysis documents and the
patientsäkerhetsberättelse list the same units for the same reasons.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from arshjul.analysis.findings import Finding
from arshjul.org import OrgTree, Unit

#: a unit with at least this many deviations in the highest risk band has a cluster of them
#: (one or two such reports are followed up in the unit's own plan, not named region-wide)
MIN_RISK_CLUSTER = 3


class Reason(enum.Enum):
    """Why an enhet stands out, in the order the documents list the reasons."""

    UNDER_REPORTING = "under_reporting"  # far fewer deviations than its peers
    SPC = "spc"  # a control-chart signal in the analysed year
    RISK_CLUSTER = "risk_cluster"  # MIN_RISK_CLUSTER or more in the highest risk band
    OVERDUE_ACTIONS = "overdue_actions"  # last year's actions past their due date


REASON_SV = {
    Reason.UNDER_REPORTING: "Möjlig underrapportering",
    Reason.SPC: "Signal i styrdiagrammet",
    Reason.RISK_CLUSTER: "Kluster av allvarliga risker",
    Reason.OVERDUE_ACTIONS: "Försenade åtgärder",
}


def reason_of(finding: Finding) -> Reason | None:
    """The reason ``finding`` makes its unit stand out, or None."""
    if finding.kind == "under_reporting":
        return Reason.UNDER_REPORTING
    if finding.kind == "spc":
        return Reason.SPC
    if finding.kind == "risk" and (finding.value or 0) >= MIN_RISK_CLUSTER:
        return Reason.RISK_CLUSTER
    if finding.kind == "actions" and finding.key == "overdue":
        return Reason.OVERDUE_ACTIONS
    return None


@dataclass(frozen=True)
class Standout:
    """An enhet that stands out, with the findings that make it."""

    unit: Unit
    findings: tuple[Finding, ...]  # most severe first

    @property
    def severity(self) -> int:
        return self.findings[0].severity

    @property
    def reasons(self) -> tuple[Reason, ...]:
        found = {reason_of(f) for f in self.findings}
        return tuple(r for r in Reason if r in found)

    @property
    def rank_key(self) -> tuple[int, int, str, str]:
        """Most severe finding first (Hög, Medel, Låg), then the most reasons, then by name
        (and id, for two units of one name)."""
        return (-self.severity, -len(self.reasons), self.unit.name, self.unit.id)


def standouts(tree: OrgTree, unit_id: str, findings: Iterable[Finding]) -> list[Standout]:
    """The enheter below ``unit_id`` (the units without units under them) that stand out,
    ranked by :attr:`Standout.rank_key`; ``findings`` may hold anyone's."""
    enheter = {u.id for u in tree.walk(unit_id) if u.id != unit_id and not tree.children(u.id)}
    by_unit: dict[str, list[Finding]] = {}
    for f in findings:
        if f.unit_id in enheter and reason_of(f) is not None:
            by_unit.setdefault(f.unit_id, []).append(f)
    found = [
        Standout(tree[uid], tuple(sorted(fs, key=lambda f: (-f.severity, f.kind, f.key))))
        for uid, fs in by_unit.items()
    ]
    return sorted(found, key=lambda s: s.rank_key)

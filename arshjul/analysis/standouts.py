"""The enheter that stand out below a roll-up (verksamhet, område, region): those whose own
analysis found possible under-reporting, a control-chart signal, a cluster of the highest risks
(``settings.standouts.risk_cluster`` or more) or many late actions (at least
``overdue_actions`` of last year's, and ``overdue_share`` of its plan), ranked so that a reader
of the roll-up sees the most telling first: the most reasons, then the most severe finding.
The thresholds are the region's (``config/settings.yaml``), so that the list names the few
enheter the region must look at; the documents state them
(``macros.html.j2``: ``standout_rules``).

Drawn from the enheter's findings (:class:`~arshjul.analysis.findings.Finding`), whether just
made by the analysis or loaded from the database, so the analysis documents and the
patientsäkerhetsberättelse list the same units for the same reasons.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from arshjul.analysis.findings import Finding
from arshjul.config import StandoutRules
from arshjul.org import OrgTree, Unit


class Reason(enum.Enum):
    """Why an enhet stands out, in the order the documents list the reasons."""

    UNDER_REPORTING = "under_reporting"  # far fewer deviations than its peers
    SPC = "spc"  # a control-chart signal in the analysed year
    RISK_CLUSTER = "risk_cluster"  # StandoutRules.risk_cluster or more in the highest band
    OVERDUE_ACTIONS = "overdue_actions"  # many of last year's actions past their due date


REASON_SV = {
    Reason.UNDER_REPORTING: "Möjlig underrapportering",
    Reason.SPC: "Signal i styrdiagrammet",
    Reason.RISK_CLUSTER: "Kluster av allvarliga risker",
    Reason.OVERDUE_ACTIONS: "Försenade åtgärder",
}


def reason_of(finding: Finding, rules: StandoutRules) -> Reason | None:
    """The reason ``finding`` makes its unit stand out by ``rules``, or None."""
    if finding.kind == "under_reporting":
        return Reason.UNDER_REPORTING
    if finding.kind == "spc":
        return Reason.SPC
    if finding.kind == "risk" and (finding.value or 0) >= rules.risk_cluster:
        return Reason.RISK_CLUSTER
    if finding.kind == "actions" and finding.key == "overdue":
        # value: the overdue actions, baseline: all of last year's plan
        late, total = finding.value or 0, finding.baseline or 0
        if late >= rules.overdue_actions and total and late / total >= rules.overdue_share:
            return Reason.OVERDUE_ACTIONS
    return None


@dataclass(frozen=True)
class Standout:
    """An enhet that stands out, with the findings that make it."""

    unit: Unit
    #: the findings that make it stand out, most severe first
    findings: tuple[Finding, ...]
    reasons: tuple[Reason, ...]  # in the order of :class:`Reason`

    @property
    def severity(self) -> int:
        return self.findings[0].severity

    @property
    def rank_key(self) -> tuple[int, int, str, str]:
        """The most reasons first (independent signals of one unit tell more than one signal
        of any severity), then the most severe finding (Hög, Medel, Låg), then by name (and
        id, for two units of one name)."""
        return (-len(self.reasons), -self.severity, self.unit.name, self.unit.id)


def standouts(
    tree: OrgTree, unit_id: str, findings: Iterable[Finding], rules: StandoutRules
) -> list[Standout]:
    """The enheter below ``unit_id`` (the units without units under them) that stand out by
    ``rules``, ranked by :attr:`Standout.rank_key`; ``findings`` may hold anyone's."""
    enheter = {u.id for u in tree.walk(unit_id) if u.id != unit_id and not tree.children(u.id)}
    by_unit: dict[str, list[tuple[Finding, Reason]]] = {}
    for f in findings:
        reason = reason_of(f, rules) if f.unit_id in enheter else None
        if reason is not None:
            by_unit.setdefault(f.unit_id, []).append((f, reason))
    found = [
        Standout(
            tree[uid],
            tuple(sorted((f for f, _ in pairs), key=lambda f: (-f.severity, f.kind, f.key))),
            tuple(r for r in Reason if r in {reason for _, reason in pairs}),
        )
        for uid, pairs in by_unit.items()
    ]
    return sorted(found, key=lambda s: s.rank_key)

"""The analysis document of each unit: its findings, trends, control chart, Pareto and risk
matrix (``analysis.html.j2``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from arshjul import charts
from arshjul.analysis.findings import (
    ANSWER_SHARE_TARGET,
    MIN_COMPLAINTS_FOR_SHARE,
    SEVERITY_SV,
    Analysis,
    month_sv,
)
from arshjul.analysis.standouts import REASON_SV, Reason, reason_of, standouts
from arshjul.analysis.stats import MIN_PEERS, PARETO_CUTOFF
from arshjul.compilation import answer_formats
from arshjul.config import Config
from arshjul.documents import Kept, Provenance, unit_link, write_unit_documents
from arshjul.figures import TRAINING_ROLES_SV
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period


def _drawing(a: Analysis) -> charts.ControlChartDrawing | None:
    """The control chart: rates per 1 000 vårddagar with two decimals, counts whole."""
    c = a.chart
    if c is None:
        return None
    names = [month_sv(m) for m in a.months]
    decimals = 2 if a.exposure else 0
    return charts.control_chart(
        c.values, c.centre, c.upper, c.lower, c.beyond, c.runs, a.months, names, decimals
    )


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    period: Period,
    analyses: dict[str, Analysis],
    unit_ids: Iterable[str],
    origin: Provenance,
) -> list[Path | Kept]:
    """The analysis of each unit in ``unit_ids`` as HTML; returns the files written (and those
    kept unchanged). A
    roll-up's analysis lists the enheter below it that stand out (:mod:`.standouts`)."""
    rules = config.settings.standouts
    # the findings that can make an enhet stand out, drawn once for every roll-up
    leaf_findings = [
        f
        for uid, a in analyses.items()
        if not tree.children(uid)
        for f in a.findings
        if reason_of(f, rules) is not None
    ]

    def context(unit: Unit) -> dict[str, Any]:
        a = analyses[unit.id]
        below = [u for u in tree.walk(unit.id) if u.id != unit.id and not tree.children(u.id)]
        ranked = standouts(tree, unit.id, leaf_findings, rules) if below else []
        return dict(
            region=config.settings.region,
            year=period.year,
            a=a,
            findings=sorted(a.findings, key=lambda f: (-f.severity, f.kind, f.key)),
            severity_sv=SEVERITY_SV,
            drawing=_drawing(a),
            pareto_chart=charts.pareto_chart(
                [(r.name, r.count, r.cumulative) for r in a.pareto], PARETO_CUTOFF
            ),
            risk_bands=charts.risk_bands(config.codes.risk_bands),
            months=[month_sv(m) for m in a.months],
            children=[(c, analyses[c.id]) for c in tree.children(unit.id)],
            answer_target=ANSWER_SHARE_TARGET,
            min_complaints=MIN_COMPLAINTS_FOR_SHARE,
            **answer_formats(a.answers),
            pareto_cutoff=PARETO_CUTOFF,
            training_roles=TRAINING_ROLES_SV,
            standouts=[
                (s, unit_link(s.unit, "analys.html"), tree[s.unit.parent_id or s.unit.id])
                for s in ranked
            ],
            reason_sv=REASON_SV,
            standout_thresholds=rules,
            enheter_below=len(below),
            under_reporting_below=sum(Reason.UNDER_REPORTING in s.reasons for s in ranked),
            same_level=len(tree.at_level(unit.level)) - 1,
            min_peers=MIN_PEERS,
            origin=origin,
        )

    return write_unit_documents(
        out, period, tree, unit_ids, "analys.html", "analysis.html.j2", context
    )

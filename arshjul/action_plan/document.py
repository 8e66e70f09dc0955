"""The action plan document of each unit (``action_plan.html.j2``); the region's carries its
sign-off."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from arshjul.action_plan.plans import Plan, overdue_below, roll_up
from arshjul.action_rules import DONE_LATE_RULE, STANDINGS
from arshjul.analysis.findings import SEVERITY_SV
from arshjul.charts import bar_chart
from arshjul.config import Config
from arshjul.documents import Kept, Provenance, write_unit_documents
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period
from arshjul.signoff import Stamp

FILE_NAME = "handlingsplan.html"


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    period: Period,
    plans: dict[str, Plan],
    unit_ids: Iterable[str],
    origin: Provenance,
    today: date,
    sign_off: Stamp | None = None,
) -> list[Path | Kept]:
    """The action plan of each unit in ``unit_ids`` as ``handlingsplan.html``; the region's
    carries ``sign_off`` (its version and state), as the plan the board fastställer."""
    totals = roll_up(tree, plans, today)

    def context(unit: Unit) -> dict[str, Any]:
        t = totals[unit.id]
        return dict(
            region=config.settings.region,
            year=period.year,
            today=today,
            plan=plans[unit.id],
            total=t,
            children=[(c, totals[c.id]) for c in tree.children(unit.id)],
            without_plan=[(tree[u], tree.path(u)) for u in t.without_plan],
            overdue=[(tree[a.unit_id], a) for a in overdue_below(tree, plans, unit.id, today)],
            statuses=list(STANDINGS.items()),
            chart=bar_chart([(label, t.by_status.get(s, 0)) for s, label in STANDINGS.items()]),
            done_late_rule=DONE_LATE_RULE,
            severity_sv=SEVERITY_SV,
            origin=origin,
            sign_off=sign_off if unit.parent_id is None else None,
        )

    return write_unit_documents(
        out, period, tree, unit_ids, FILE_NAME, "action_plan.html.j2", context
    )

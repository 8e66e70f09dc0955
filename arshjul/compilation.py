"""Sammanställning: the year's deviations and complaints counted per unit and rolled up.

Counting happens in the database (GROUP BY per unit), roll-ups in Python over the tree, so the
cost grows with the number of units, not of records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Integer, cast, extract, func, select

from arshjul.charts import bar_chart
from arshjul.config import Config
from arshjul.documents import Provenance, write_unit_documents
from arshjul.models import Complaint, Deviation, DeviationStatus
from arshjul.org import OrgTree, Unit
from arshjul.render import MONTHS_SV


@dataclass
class Figures:
    """The counts of one unit (own records) or of a subtree (rolled up)."""

    deviations: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_consequence: Counter[int] = field(default_factory=Counter)
    by_status: Counter[DeviationStatus] = field(default_factory=Counter)
    by_month: Counter[int] = field(default_factory=Counter)
    lex_maria: int = 0
    care_chain: int = 0
    complaints: int = 0
    complaints_by_channel: Counter[str] = field(default_factory=Counter)
    complaints_by_category: Counter[str] = field(default_factory=Counter)
    complaints_by_month: Counter[int] = field(default_factory=Counter)

    def add(self, other: Figures) -> None:
        for name, value in vars(other).items():
            if isinstance(value, Counter):
                getattr(self, name).update(value)
            else:
                setattr(self, name, getattr(self, name) + value)


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def count_own(conn: Connection, year: int) -> dict[str, Figures]:
    """Each unit's own records of ``year`` (deviations by report date, complaints by receipt)."""
    first, last = _year_bounds(year)
    own: dict[str, Figures] = {}

    def fig(unit_id: str) -> Figures:
        return own.setdefault(unit_id, Figures())

    in_year = Deviation.reported_date.between(first, last)
    month = extract("month", Deviation.reported_date)
    for counter, column in (
        ("by_category", Deviation.category),
        ("by_consequence", Deviation.consequence),
        ("by_status", Deviation.status),
        ("by_month", month),
    ):
        rows = conn.execute(
            select(Deviation.unit_id, column, func.count())
            .where(in_year)
            .group_by(Deviation.unit_id, column)
        )
        for unit_id, key, n in rows:
            getattr(fig(unit_id), counter)[0 if key is None else key] += n
    totals = conn.execute(
        select(
            Deviation.unit_id,
            func.count(),
            func.sum(cast(Deviation.lex_maria, Integer)),
            func.sum(cast(Deviation.care_chain, Integer)),
        )
        .where(in_year)
        .group_by(Deviation.unit_id)
    )
    for unit_id, n, lex_maria, care_chain in totals:
        f = fig(unit_id)
        f.deviations, f.lex_maria, f.care_chain = n, lex_maria or 0, care_chain or 0

    received = Complaint.received_date.between(first, last)
    c_month = extract("month", Complaint.received_date)
    for counter, column in (
        ("complaints_by_channel", Complaint.channel),
        ("complaints_by_category", Complaint.category),
        ("complaints_by_month", c_month),
    ):
        rows = conn.execute(
            select(Complaint.unit_id, column, func.count())
            .where(received)
            .group_by(Complaint.unit_id, column)
        )
        for unit_id, key, n in rows:
            getattr(fig(unit_id), counter)[key] += n
    for unit_id, n in conn.execute(
        select(Complaint.unit_id, func.count()).where(received).group_by(Complaint.unit_id)
    ):
        fig(unit_id).complaints = n
    return own


def roll_up(tree: OrgTree, own: dict[str, Figures]) -> dict[str, Figures]:
    """Figures of every unit's subtree: its own records plus everything below it."""
    total: dict[str, Figures] = {}
    # children before parents: reverse of a parents-first walk
    for unit in reversed(list(tree.walk(tree.root.id))):
        f = Figures()
        if unit.id in own:
            f.add(own[unit.id])
        for child in tree.children(unit.id):
            f.add(total[child.id])
        total[unit.id] = f
    return total


def affected(tree: OrgTree, unit_id: str | None) -> list[str]:
    """The units whose documents a step for ``unit_id`` (None: all) must (re)write."""
    if unit_id is None:
        return [u.id for u in tree.walk(tree.root.id)]
    tree.get(unit_id)
    return [unit_id, *(u.id for u in tree.ancestors(unit_id))]


def ordered(counter: Counter[Any], order: Iterable[Any]) -> list[tuple[Any, int]]:
    """Counter items in the code list's order, then any others by size; zeros kept for codes."""
    known = list(order)
    rows = [(key, counter.get(key, 0)) for key in known]
    rows += sorted(((k, n) for k, n in counter.items() if k not in known), key=lambda kv: -kv[1])
    return rows


# --- documents -----------------------------------------------------------------------------


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    year: int,
    totals: dict[str, Figures],
    unit_ids: Iterable[str],
    origin: Provenance,
) -> list[Path]:
    """The compilation of each unit in ``unit_ids`` as HTML; returns the files written."""
    codes = config.codes

    def context(unit: Unit) -> dict[str, Any]:
        f = totals[unit.id]
        return dict(
            region=config.settings.region,
            year=year,
            f=f,
            children=[(c, totals[c.id]) for c in tree.children(unit.id)],
            categories=ordered(f.by_category, codes.deviation_categories),
            consequences=[
                (codes.consequence.get(k, "Ej angiven"), n)
                for k, n in ordered(f.by_consequence, sorted(codes.consequence))
            ],
            statuses=[(STATUS_SV[s], f.by_status.get(s, 0)) for s in DeviationStatus],
            channels=ordered(f.complaints_by_channel, codes.complaint_channels),
            complaint_categories=ordered(f.complaints_by_category, codes.complaint_categories),
            monthly=bar_chart([(MONTHS_SV[m - 1], f.by_month.get(m, 0)) for m in range(1, 13)]),
            origin=origin,
        )

    return write_unit_documents(
        out, year, tree, unit_ids, "sammanstallning.html", "compilation.html.j2", context
    )


STATUS_SV = {
    DeviationStatus.NEW: "Ny",
    DeviationStatus.IN_PROGRESS: "Pågående",
    DeviationStatus.CLOSED: "Avslutad",
}

"""The figures of the deferred-care section: each unit's own rows of a period and the same
period last year, rolled up over the tree.

Each kind is read with a few grouped queries (GROUP BY unit in the database); everything after
that is Python over the tree, additive sums rolled up from the units to the region, so the
cost grows with the number of units, not of rows. Waiting, by far the largest table, is never
read whole: each unit's snapshot days are found by skipping along its (day, unit) index, and
only the rows of the snapshots the section shows are summed. The tree is *today's*
organisation, and last year's figures are rolled up over the same tree, so a change is always
like for like.

Waiting at the period end is each unit's last snapshot on or before the period's last day,
taken from the period's last month (for T1: April's). A unit that reported waiting in the
period or the same period last year but has no snapshot in the last month is *missing*: its
figures are "saknas", never zero, and roll-ups say how many units lack data. Production and
capacity are monthly: a month without a row for a unit that reports the kind is a missing
month, named ("saknas: mar, apr") and never counted as zero; period totals over incomplete
months are marked.

Organisation changes: a renamed unit keeps its id, so its rows carry over and it is shown by
today's name. A unit that was split, merged or closed keeps its id in the tree with rows up to
some month; it is taken to have *ended* when its last row of a kind (ever) is in month m and a
sibling (same parent today) has its first row of that kind (ever) in month m+1 — someone took
over. An ended unit is shown with the months it has (``jan–apr``) and is not missing after
it ended; a unit that just stops, with no successor, is missing. The parents' figures add the
old and the new units, so they are right across the change.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, case, distinct, func, select

from arshjul.models import Capacity, Production, Training, WaitingSnapshot
from arshjul.org import OrgTree
from arshjul.periods import Period, next_month

#: the training roster's role for managers (codes.training_roles)
MANAGER_ROLE = "chef"
#: the measures a unit's whole cost is divided by, in order of preference: a unit with DRG
#: points (slutenvård, operations) is measured per DRG point, one with only visits per visit
COST_PER = {"DRG-poäng": "per DRG-poäng", "besök": "per besök"}
#: care-guarantee limits in days: waited ≤ 90 is within the guarantee; > 180 is shown apart
GUARANTEE_DAYS = 90
LONG_WAIT_DAYS = 180
WAIT_BUCKETS = ("pvv", "le90", "d91_180", "gt180")
CAPACITY_FIELDS = ("beds", "patient_days", "overcrowding_days", "outlying_days")
PRODUCTION_FIELDS = ("planned", "actual", "cost")
CUR, PREV = "cur", "prev"
KINDS = ("waiting", "production", "capacity")
#: the coverage of the waiting chart's months (``waiting`` itself is the period end's)
WAITING_MONTHS = "waiting_months"

Key = tuple[str, ...]


@dataclass
class Figures:
    """Additive figures of one unit (own rows) or of a subtree (rolled up).

    ``sums`` keys: ``("wait", which, activity, bucket)`` at the period end;
    ``("wait_month", month_iso, bucket)`` for the period's chart; ``("prod", which, measure,
    field)`` over the period; ``("prod_month", measure, field)`` in its last month;
    ``("unit_cost", which, measure, "cost"|"volume")``: the whole cost of the units measured
    per ``measure`` (see ``COST_PER``) and their volume of it; ``("cap", which, field)``;
    ``("train", course)`` and ``("managers",)``; ``("wait_expected", which, month_iso)``: the
    units that are to have a waiting snapshot in the month.
    """

    sums: Counter[Key] = field(default_factory=Counter)
    #: disposable beds per month over the period (see ``_mean_beds``)
    mean_beds: float = 0.0
    #: (kind, which) -> months with rows
    months: defaultdict[tuple[str, str], set[date]] = field(
        default_factory=lambda: defaultdict(set)
    )
    #: (kind, which) -> unit id -> its missing months
    missing: defaultdict[tuple[str, str], dict[str, tuple[date, ...]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    #: (kind, which) -> ids of the units expected to report
    reporting: defaultdict[tuple[str, str], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    #: (kind, which) -> unit id -> the last month it reported before it ended
    ended: defaultdict[tuple[str, str], dict[str, date]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    def add(self, other: Figures) -> None:
        self.sums.update(other.sums)
        self.mean_beds += other.mean_beds
        for key, months in other.months.items():
            self.months[key] |= months
        for key, units in other.missing.items():
            self.missing[key].update(units)
        for key, ids in other.reporting.items():
            self.reporting[key] |= ids
        for key, ended in other.ended.items():
            self.ended[key].update(ended)


@dataclass(frozen=True)
class Span:
    """The first and last month a unit has rows of a kind, over all the data."""

    first: date
    last: date


def _figures(own: dict[str, Figures], unit_id: str) -> Figures:
    """The unit's own figures, created on first use."""
    fig = own.get(unit_id)
    if fig is None:
        fig = own[unit_id] = Figures()
    return fig


def _dates(conn: Connection, unit_col: Any, date_col: Any) -> dict[str, list[date]]:
    """Each unit's days with rows of a kind, over all the data, in order.

    The spans, the months present and the last snapshot of each month all come from these
    (day, unit) pairs, a few per unit and month. They are found by skipping along the kind's
    (day, unit, ...) index, one step per pair, instead of reading every row: each day after
    the last, then each unit of a day after the last."""
    first_day = select(func.min(date_col).label("day"))
    days = first_day.cte("days", recursive=True)
    days = days.union_all(
        select(select(func.min(date_col)).where(date_col > days.c.day).scalar_subquery()).where(
            days.c.day.is_not(None)
        )
    )
    first_unit = select(func.min(unit_col)).where(date_col == days.c.day).scalar_subquery()
    pairs = (
        select(days.c.day, first_unit.label("unit_id"))
        .where(days.c.day.is_not(None))
        .cte("pairs", recursive=True)
    )
    next_unit = select(func.min(unit_col)).where(
        date_col == pairs.c.day, unit_col > pairs.c.unit_id
    )
    pairs = pairs.union_all(
        select(pairs.c.day, next_unit.scalar_subquery()).where(pairs.c.unit_id.is_not(None))
    )
    out: defaultdict[str, list[date]] = defaultdict(list)
    for day, unit_id in conn.execute(
        select(pairs.c.day, pairs.c.unit_id)
        .where(pairs.c.unit_id.is_not(None))
        .order_by(pairs.c.day, pairs.c.unit_id)
    ):
        out[unit_id].append(day)
    return out


def _spans(dates: dict[str, list[date]]) -> dict[str, Span]:
    return {u: Span(days[0].replace(day=1), days[-1].replace(day=1)) for u, days in dates.items()}


def ended_units(tree: OrgTree, spans: dict[str, Span]) -> dict[str, date]:
    """Units that ended: their last month m is followed by a sibling's first month m+1.

    Returns unit id -> last month. Siblings are today's: the successor of a split unit is
    placed where it was. A unit whose rows stop with no sibling starting is not ended but
    missing (the data did not arrive)."""
    firsts: defaultdict[str | None, set[date]] = defaultdict(set)
    for unit_id, span in spans.items():
        if unit_id in tree:
            firsts[tree[unit_id].parent_id].add(span.first)
    return {
        unit_id: span.last
        for unit_id, span in spans.items()
        if unit_id in tree
        and tree[unit_id].parent_id is not None
        and next_month(span.last) in firsts[tree[unit_id].parent_id]
    }


def _coverage(
    own: dict[str, Figures],
    kind: str,
    presence: dict[str, set[date]],
    spans: dict[str, Span],
    ended: dict[str, date],
    period: Period,
    which: str,
) -> None:
    """Which units are expected to report ``kind`` in ``period`` and which months they lack.

    Expected: units with rows in the period or in the same period a year before, from their
    first month (ever) to their last if they ended, else to the period's end. Waiting is
    expected only in the period's last month (the figure is the state at the period end)."""
    months = set(period.months)
    either = months | set(period.previous.months)
    start, end = period.first, period.last_month
    for unit_id, present in presence.items():
        if not present & either:
            continue
        last = min(ended.get(unit_id, end), end)
        if last < start:
            continue  # ended before the period: nothing is expected of it
        first = max(spans[unit_id].first, start)
        expected = {m for m in months if first <= m <= last}
        fig = _figures(own, unit_id)
        if kind == "waiting":
            # the chart's months: how many units are to have a snapshot in each, who lack it
            for m in expected:
                fig.sums["wait_expected", which, m.isoformat()] += 1
            gaps = tuple(sorted(expected - present))
            if gaps:
                fig.missing[WAITING_MONTHS, which][unit_id] = gaps
            expected &= {end}
        fig.months[kind, which] |= present & months
        if unit_id in ended and ended[unit_id] < end:
            fig.ended[kind, which][unit_id] = ended[unit_id]
        if not expected:
            continue
        fig.reporting[kind, which].add(unit_id)
        lacking = tuple(sorted(expected - present))
        if lacking:
            fig.missing[kind, which][unit_id] = lacking


def _presence(dates: dict[str, list[date]], first: date, last: date) -> dict[str, set[date]]:
    """Each unit's months with rows between ``first`` and ``last``."""
    out: dict[str, set[date]] = {}
    for unit_id, days in dates.items():
        months = {d.replace(day=1) for d in days if first <= d <= last}
        if months:
            out[unit_id] = months
    return out


def _waiting(
    conn: Connection, own: dict[str, Figures], period: Period, dates: dict[str, list[date]]
) -> None:
    """Each unit's last snapshot of each month the section shows (the period's months and the
    end of the same period last year), by activity and waiting-time bucket.

    The last snapshots are chosen from ``dates``; one grouped query over those days sums the
    buckets (rows of a day that is not the unit's last of its month are dropped here)."""
    w = WaitingSnapshot
    ends = {period.last_month: CUR, period.previous.last_month: PREV}
    shown = {*period.months, period.previous.last_month}
    last_of: dict[tuple[str, date], date] = {}
    for unit_id, days in dates.items():
        for day in days:  # in order: the last of a month wins
            m = day.replace(day=1)
            if m in shown:
                last_of[unit_id, m] = day
    if not last_of:
        return
    # the buckets of the waiting-time column (both columns are NOT NULL)
    chosen, waited = w.patient_chosen, w.wait_days
    buckets = {
        "pvv": chosen.is_(True),
        "le90": and_(chosen.is_(False), waited <= GUARANTEE_DAYS),
        "d91_180": and_(chosen.is_(False), waited > GUARANTEE_DAYS, waited <= LONG_WAIT_DAYS),
        "gt180": and_(chosen.is_(False), waited > LONG_WAIT_DAYS),
    }
    rows = conn.execute(
        select(
            w.snapshot_date,
            w.unit_id,
            w.activity,
            *(func.sum(case((buckets[b], w.count))) for b in WAIT_BUCKETS),
        )
        .where(w.snapshot_date.in_(sorted(set(last_of.values()))))
        .group_by(w.snapshot_date, w.unit_id, w.activity)
    )
    for day, unit_id, activity, *counts in rows:
        m = day.replace(day=1)
        if last_of.get((unit_id, m)) != day:
            continue
        sums = _figures(own, unit_id).sums
        for b, n in zip(WAIT_BUCKETS, counts, strict=True):
            if n is None:
                continue  # no rows in the bucket
            if m in ends:
                sums["wait", ends[m], activity, b] += n
            if period.first <= m:
                sums["wait_month", m.isoformat(), b] += n


def _production(conn: Connection, own: dict[str, Figures], period: Period) -> None:
    p = Production
    for which, per in ((CUR, period), (PREV, period.previous)):
        in_period = p.month.between(per.first, per.last)
        rows = conn.execute(
            select(
                p.unit_id,
                p.measure,
                func.sum(p.planned),
                func.sum(p.actual),
                func.sum(p.cost_sek),
                func.sum(case((p.month == per.last_month, p.planned))),
                func.sum(case((p.month == per.last_month, p.actual))),
            )
            .where(in_period)
            .group_by(p.unit_id, p.measure)
        )
        # Any, as the SQL sums are: ``sums`` holds kronor and DRG points, not only counts
        unit_costs: dict[str, Any] = {}
        unit_volumes: dict[str, dict[str, Any]] = {}
        for unit_id, measure, planned, actual, cost, m_planned, m_actual in rows:
            sums = _figures(own, unit_id).sums
            for name, value in zip(PRODUCTION_FIELDS, (planned, actual, cost), strict=True):
                sums["prod", which, measure, name] += value or 0
                sums["has", which, measure, name] += value is not None
            if cost is not None:
                unit_costs[unit_id] = unit_costs.get(unit_id, 0) + cost
            if actual:
                unit_volumes.setdefault(unit_id, {})[measure] = actual
            if which == CUR:
                sums["prod_month", measure, "planned"] += m_planned or 0
                sums["prod_month", measure, "actual"] += m_actual or 0
                sums["prod_month", measure, "has"] += m_planned is not None or (
                    m_actual is not None
                )
        # the unit's whole cost, whichever row it was booked on, per its production unit
        for unit_id, cost in unit_costs.items():
            volumes = unit_volumes.get(unit_id, {})
            basis = next((m for m in COST_PER if m in volumes), None)
            if basis is not None:
                sums = own[unit_id].sums
                sums["unit_cost", which, basis, "cost"] += cost
                sums["unit_cost", which, basis, "volume"] += volumes[basis]


def _capacity(conn: Connection, own: dict[str, Figures], period: Period) -> None:
    c = Capacity
    columns = (c.beds, c.patient_days, c.overcrowding_days, c.outlying_days)
    for which, per in ((CUR, period), (PREV, period.previous)):
        rows = conn.execute(
            select(c.unit_id, *(func.sum(col) for col in columns))
            .where(c.month.between(per.first, per.last))
            .group_by(c.unit_id)
        )
        for unit_id, *values in rows:
            sums = _figures(own, unit_id).sums
            for name, value in zip(CAPACITY_FIELDS, values, strict=True):
                sums["cap", which, name] += value or 0


def _training(conn: Connection, own: dict[str, Figures], period: Period) -> None:
    """Managers in each unit's roster, and those of them who completed each course by the
    period's last day."""
    t = Training
    managers = t.role == MANAGER_ROLE
    for unit_id, n in conn.execute(
        select(t.unit_id, func.count(distinct(t.person_key))).where(managers).group_by(t.unit_id)
    ):
        _figures(own, unit_id).sums["managers",] += n
    done = and_(managers, t.completed_date.is_not(None), t.completed_date <= period.last)
    for unit_id, course, n in conn.execute(
        select(t.unit_id, t.course, func.count(distinct(t.person_key)))
        .where(done)
        .group_by(t.unit_id, t.course)
    ):
        _figures(own, unit_id).sums["train", course] += n


_SOURCES: dict[str, tuple[Any, Any]] = {
    "waiting": (WaitingSnapshot.unit_id, WaitingSnapshot.snapshot_date),
    "production": (Production.unit_id, Production.month),
    "capacity": (Capacity.unit_id, Capacity.month),
}


def count_own(conn: Connection, tree: OrgTree, period: Period) -> dict[str, Figures]:
    """Every unit's own figures for ``period`` and the same period last year."""
    dates = {kind: _dates(conn, *columns) for kind, columns in _SOURCES.items()}
    own: dict[str, Figures] = {}
    _waiting(conn, own, period, dates["waiting"])
    _production(conn, own, period)
    _capacity(conn, own, period)
    _training(conn, own, period)
    earliest = period.previous.previous.first
    for kind, days in dates.items():
        spans = _spans(days)
        ended = ended_units(tree, spans)
        presence = _presence(days, earliest, period.last)
        for which, per in ((CUR, period), (PREV, period.previous)):
            _coverage(own, kind, presence, spans, ended, per, which)
    _mean_beds(own, period)
    return own


def _mean_beds(own: dict[str, Figures], period: Period) -> None:
    """Each unit's disposable beds per month over the whole ``period``: the mean of its
    months with data (a missing month is not a zero) times the share of the period's months
    it was to report in (a unit that started or ended during the period had no beds of its
    own in the other months). A sum over units, so a parent's is the sum of its children's."""
    for fig in own.values():
        present = fig.months.get(("capacity", CUR))
        if not present:
            continue
        lacking = sum(len(m) for m in fig.missing.get(("capacity", CUR), {}).values())
        share = (len(present) + lacking) / len(period.months)
        fig.mean_beds = fig.sums["cap", CUR, "beds"] / len(present) * share


def roll_up(tree: OrgTree, own: dict[str, Figures]) -> dict[str, Figures]:
    """Figures of every unit's subtree: its own plus everything below it."""

    return tree.sum_up(own, Figures)


def gather(conn: Connection, tree: OrgTree, period: Period) -> dict[str, Figures]:
    return roll_up(tree, count_own(conn, tree, period))


def training(conn: Connection, tree: OrgTree, period: Period) -> dict[str, Figures]:
    """Every unit's managers and trained by ``period``'s end (its subtree's): the training
    counts of :func:`gather` alone."""
    own: dict[str, Figures] = {}
    _training(conn, own, period)
    return roll_up(tree, own)


def first_completion(conn: Connection) -> date | None:
    """The day the first manager completed a course: before it every section's trained are 0."""
    t = Training
    return conn.execute(
        select(func.min(t.completed_date)).where(t.role == MANAGER_ROLE)
    ).scalar_one_or_none()

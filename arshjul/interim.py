"""Uppskjuten vård: the deferred-care section of the interim reports, per unit and period.

What the auditors (Produktionsplanering) asked for, at region, område, verksamhet and enhet:
waiting lists and the care guarantee, production against plan, cost per production unit
against last year, inpatient capacity, and the share of managers trained.

How the figures are made
------------------------
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

Small numbers: counts of waiting patients 1–4 are shown as ``<5``, and so are shares and
changes computed from such counts (they would give the small count away). Production,
money, beds, bed-days and the managers' training are not counts of patients and are shown
as they are.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, case, distinct, func, select

from arshjul.charts import BarChart, bar_chart
from arshjul.config import Config
from arshjul.documents import Provenance, write_unit_documents
from arshjul.models import Capacity, Production, Training, WaitingSnapshot
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period, month_span_sv, next_month
from arshjul.render import MONTHS_SV, number

FILE_NAME = "uppskjuten-vard.html"
TITLE = "Uppskjuten vård"
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

Key = tuple[str, ...]


# --- figures of a unit or a subtree ---------------------------------------------------------


@dataclass
class Figures:
    """Additive figures of one unit (own rows) or of a subtree (rolled up).

    ``sums`` keys: ``("wait", which, activity, bucket)`` at the period end;
    ``("wait_month", month_iso, bucket)`` for the period's chart; ``("prod", which, measure,
    field)`` over the period; ``("prod_month", measure, field)`` in its last month;
    ``("unit_cost", which, measure, "cost"|"volume")``: the whole cost of the units measured
    per ``measure`` (see ``COST_PER``) and their volume of it; ``("cap", which, field)``;
    ``("train", course)`` and ``("managers",)``.
    """

    sums: Counter[Key] = field(default_factory=Counter)
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
        if kind == "waiting":
            expected &= {end}
        fig = _figures(own, unit_id)
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
    return own


def roll_up(tree: OrgTree, own: dict[str, Figures]) -> dict[str, Figures]:
    """Figures of every unit's subtree: its own plus everything below it."""

    return tree.sum_up(own, Figures)


def gather(conn: Connection, tree: OrgTree, period: Period) -> dict[str, Figures]:
    return roll_up(tree, count_own(conn, tree, period))


# --- what a document shows ------------------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _change(current: float | None, before: float | None) -> float | None:
    """Relative change, ``0.25`` for +25 %; None without a base."""
    if current is None or not before:
        return None
    return current / before - 1


@dataclass(frozen=True)
class Coverage:
    """How complete a kind's data is for a subtree: ``reporting`` units expected, of which
    ``missing`` lack months (unit id -> months); ``ended`` units stopped with a successor."""

    reporting: int
    missing: dict[str, tuple[date, ...]]
    months: tuple[date, ...]
    ended: dict[str, date]

    @property
    def state(self) -> str:
        """``none`` (nothing to report), ``missing`` (all expected units lack data),
        ``partial`` (some do) or ``ok``."""
        if not self.reporting:
            return "none"
        if len(self.missing) == self.reporting:
            return "missing"
        return "partial" if self.missing else "ok"


def coverage(f: Figures, kind: str, which: str = CUR) -> Coverage:
    key = (kind, which)
    return Coverage(
        reporting=len(f.reporting.get(key, ())),
        missing=dict(f.missing.get(key, {})),
        months=tuple(sorted(f.months.get(key, ()))),
        ended=dict(f.ended.get(key, {})),
    )


def coverage_note(tree: OrgTree, cov: Coverage, period: Period, kind: str, *, leaf: bool) -> str:
    """What a reader must know about the data behind a figure, in Swedish; "" if complete.

    A unit (leaf) names its missing months; a parent counts the units that lack data and
    names them. A unit that ended says so; one with data for part of the period (it started
    during it) is shown with its months. Waiting is a state at the period end, so only
    missing or ended matter for it."""
    if cov.missing:
        if leaf:
            (months,) = cov.missing.values()
            return f"saknas: {month_span_sv(months)}"
        named = "; ".join(
            f"{tree[u].name}: {month_span_sv(m)}" for u, m in sorted(cov.missing.items())
        )
        return f"{len(cov.missing)} av {cov.reporting} enheter saknar data ({named})"
    if leaf and cov.ended:
        (last,) = cov.ended.values()
        if kind == "waiting":
            return f"upphörde efter {MONTHS_SV[last.month - 1]} {last.year}"
        return f"{month_span_sv(cov.months)} (upphörde)"
    if kind != "waiting" and cov.reporting and set(cov.months) != set(period.months):
        return month_span_sv(cov.months)
    return ""


@dataclass(frozen=True)
class WaitLine:
    """Patients waiting at the period end for one activity (or all); None: no data.
    Counts 1–4 and what is computed from them are ``small`` and shown as ``<5``."""

    label: str
    total: int | None
    chosen: int | None
    guarantee: int | None  # waiting excluding patient-chosen waits
    over_90: int | None
    over_180: int | None
    share_90: float | None  # waited ≤ 90 days, of ``guarantee``
    prev_guarantee: int | None
    prev_over_90: int | None
    prev_share_90: float | None
    change_over_90: int | None  # None also when either count is small
    change_share_90: float | None  # in percentage points as a fraction (0.05 = 5 p.e.)


def _small(n: int | None, below: int) -> bool:
    return n is not None and 0 < n < below


def wait_line(f: Figures, label: str, activities: list[str], below: int) -> WaitLine:
    cur_ok = coverage(f, "waiting").state in ("ok", "partial")
    prev_ok = coverage(f, "waiting", PREV).state in ("ok", "partial")

    def total(which: str, *buckets: str) -> int:
        return sum(f.sums["wait", which, a, b] for a in activities for b in buckets)

    def share(which: str) -> float | None:
        base = total(which, *WAIT_BUCKETS[1:])
        return None if _small(base, below) else _ratio(total(which, "le90"), base)

    guarantee = total(CUR, *WAIT_BUCKETS[1:]) if cur_ok else None
    over_90 = total(CUR, "d91_180", "gt180") if cur_ok else None
    prev_over_90 = total(PREV, "d91_180", "gt180") if prev_ok else None
    share_90 = share(CUR) if cur_ok else None
    prev_share = share(PREV) if prev_ok else None
    change = (
        None
        if over_90 is None
        or prev_over_90 is None
        or _small(over_90, below)
        or _small(prev_over_90, below)
        else over_90 - prev_over_90
    )
    return WaitLine(
        label=label,
        total=total(CUR, *WAIT_BUCKETS) if cur_ok else None,
        chosen=total(CUR, "pvv") if cur_ok else None,
        guarantee=guarantee,
        over_90=over_90,
        over_180=total(CUR, "gt180") if cur_ok else None,
        share_90=share_90,
        prev_guarantee=total(PREV, *WAIT_BUCKETS[1:]) if prev_ok else None,
        prev_over_90=prev_over_90,
        prev_share_90=prev_share,
        change_over_90=change,
        change_share_90=None if share_90 is None or prev_share is None else share_90 - prev_share,
    )


@dataclass(frozen=True)
class ProductionLine:
    """One measure against plan: the period's last month and the period so far, last year's
    same period, and cost per production unit where the measure has one."""

    measure: str
    month_planned: float | None
    month_actual: float | None
    month_deviation: float | None  # actual / planned - 1
    planned: float | None
    actual: float | None
    deviation: float | None
    prev_actual: float | None
    change: float | None
    cost: float | None
    prev_cost: float | None
    cost_per: str | None  # "per DRG-poäng", "per besök"
    unit_cost: float | None
    prev_unit_cost: float | None
    unit_cost_change: float | None


def production_line(f: Figures, measure: str) -> ProductionLine:
    s = f.sums

    def value(which: str, name: str) -> float | None:
        return s["prod", which, measure, name] if s["has", which, measure, name] else None

    planned, actual, cost = (value(CUR, n) for n in PRODUCTION_FIELDS)
    prev_actual, prev_cost = value(PREV, "actual"), value(PREV, "cost")
    has_month = bool(s["prod_month", measure, "has"])
    m_planned = s["prod_month", measure, "planned"] if has_month else None
    m_actual = s["prod_month", measure, "actual"] if has_month else None
    per = COST_PER.get(measure)
    unit_cost, prev_unit_cost = (
        _ratio(s["unit_cost", which, measure, "cost"], s["unit_cost", which, measure, "volume"])
        if per and s["unit_cost", which, measure, "volume"]
        else None
        for which in (CUR, PREV)
    )
    return ProductionLine(
        measure=measure,
        month_planned=m_planned,
        month_actual=m_actual,
        month_deviation=_change(m_actual, m_planned),
        planned=planned,
        actual=actual,
        deviation=_change(actual, planned),
        prev_actual=prev_actual,
        change=_change(actual, prev_actual),
        cost=cost,
        prev_cost=prev_cost,
        cost_per=per,
        unit_cost=unit_cost,
        prev_unit_cost=prev_unit_cost,
        unit_cost_change=_change(unit_cost, prev_unit_cost),
    )


def measures_of(f: Figures, order: Iterable[str]) -> list[str]:
    """The measures the subtree has rows of, in the code list's order, then others by name."""
    found = {k[2] for k in f.sums if k[0] == "prod"}
    known = [m for m in order if m in found]
    return known + sorted(found - set(known))


def activities_of(f: Figures, order: Iterable[str]) -> list[str]:
    found = {k[2] for k in f.sums if k[0] == "wait"}
    known = [a for a in order if a in found]
    return known + sorted(found - set(known))


@dataclass(frozen=True)
class CapacityLine:
    """Beds and their use. ``beds`` is the mean of disposable beds per month with data;
    per 100 beds = bed-days over the period / the sum of each month's beds × 100, that is
    overcrowding (or outlying) days per 100 disposable beds and month."""

    beds: float | None
    overcrowding: float | None
    outlying: float | None
    overcrowding_per_100: float | None
    outlying_per_100: float | None
    prev_overcrowding_per_100: float | None
    prev_outlying_per_100: float | None


def capacity_line(f: Figures) -> CapacityLine:
    def per_100(which: str, name: str) -> float | None:
        share = _ratio(f.sums["cap", which, name], f.sums["cap", which, "beds"])
        return None if share is None else share * 100

    months = len(f.months.get(("capacity", CUR), ()))
    has = months > 0
    return CapacityLine(
        beds=f.sums["cap", CUR, "beds"] / months if has else None,
        overcrowding=f.sums["cap", CUR, "overcrowding_days"] if has else None,
        outlying=f.sums["cap", CUR, "outlying_days"] if has else None,
        overcrowding_per_100=per_100(CUR, "overcrowding_days"),
        outlying_per_100=per_100(CUR, "outlying_days"),
        prev_overcrowding_per_100=per_100(PREV, "overcrowding_days"),
        prev_outlying_per_100=per_100(PREV, "outlying_days"),
    )


@dataclass(frozen=True)
class TrainingLine:
    course: str
    managers: int
    trained: int
    share: float | None
    meets_target: bool


def training_lines(f: Figures, courses: Iterable[str], target: float) -> list[TrainingLine]:
    managers = int(f.sums["managers",])
    lines = []
    for course in courses:
        trained = int(f.sums["train", course])
        share = _ratio(trained, managers)
        lines.append(
            TrainingLine(course, managers, trained, share, share is not None and share >= target)
        )
    return lines


def waiting_charts(
    f: Figures, period: Period, below: int
) -> tuple[BarChart | None, BarChart | None]:
    """Waiting (excluding patient-chosen waits) and waiting > 90 days at each month's end;
    None instead of a chart in which a month's count is small (1–4): its bar would show it."""

    def series(*buckets: str) -> BarChart | None:
        def at(m: date) -> int:
            return sum(f.sums["wait_month", m.isoformat(), b] for b in buckets)

        values = [(MONTHS_SV[m.month - 1], at(m)) for m in period.months]
        if any(_small(n, below) for _, n in values):
            return None
        return bar_chart(values)

    return series(*WAIT_BUCKETS[1:]), series("d91_180", "gt180")


# --- the generated summary ------------------------------------------------------------------


@dataclass(frozen=True)
class Comparable:
    """A figure with a value this period and a non-zero value the same period last year."""

    label: str
    current: float
    before: float
    #: a count: the units' differences add up to their parent's
    additive: bool
    decimals: int
    #: some unit lacks data in one of the two periods
    incomplete: bool


def comparables(
    f: Figures, activities: list[str], measures: list[str], below: int
) -> dict[str, Comparable]:
    """The figures the summary compares, leaving out small counts (1–4), whose change would
    give them away, and figures without data in either period."""
    out: dict[str, Comparable] = {}

    def partial(kind: str) -> bool:
        return any(coverage(f, kind, w).state in ("partial", "missing") for w in (CUR, PREV))

    def put(
        label: str, cur: float | None, before: float | None, additive: bool, dec: int, kind: str
    ) -> None:
        if cur is None or not before:
            return
        if additive and (_small(int(cur), below) or _small(int(before), below)):
            return
        out[label] = Comparable(label, cur, before, additive, dec, partial(kind))

    wait = wait_line(f, "", activities, 0)
    put(
        "Väntande (exkl. patientvald väntan)",
        wait.guarantee,
        wait.prev_guarantee,
        True,
        0,
        "waiting",
    )
    put("Väntande mer än 90 dagar", wait.over_90, wait.prev_over_90, True, 0, "waiting")
    for m in measures:
        line = production_line(f, m)
        put(f"Utfall {m}", line.actual, line.prev_actual, False, 0, "production")
        if line.cost_per:
            put(
                f"Kostnad {line.cost_per}",
                line.unit_cost,
                line.prev_unit_cost,
                False,
                0,
                "production",
            )
    cap = capacity_line(f)
    put(
        "Överbeläggningar per 100 vårdplatser",
        cap.overcrowding_per_100,
        cap.prev_overcrowding_per_100,
        False,
        1,
        "capacity",
    )
    return out


@dataclass(frozen=True)
class Change:
    """One figure's change against the same period last year, and the enheter that moved it
    most in the same direction."""

    label: str
    relative: float
    text: str
    drivers: tuple[str, ...]
    #: a unit lacks data in one of the periods (the document says so beside the change)
    incomplete: bool


def _signed(value: float, decimals: int = 0) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "") + number(abs(value), decimals)


def summary(
    tree: OrgTree,
    totals: dict[str, Figures],
    unit: Unit,
    period: Period,
    activities: list[str],
    measures: list[str],
    below: int,
    limit: int = 4,
) -> list[Change]:
    """The ``limit`` largest relative changes against the same period last year, each with
    the two enheter below ``unit`` that drive it: for counts, the largest differences in the
    same direction; for ratios (production, cost per unit, overcrowding), the largest
    relative changes in the same direction. Enheter without both years (new or ended units)
    are not named: they have no change of their own."""
    enheter = [u for u in tree.walk(unit.id) if u.id != unit.id and not tree.children(u.id)]
    theirs = {u.id: comparables(totals[u.id], activities, measures, below) for u in enheter}
    found = []
    for fig in comparables(totals[unit.id], activities, measures, below).values():
        relative = fig.current / fig.before - 1
        if not relative:
            continue
        moved = []
        for u in enheter:
            g = theirs[u.id].get(fig.label)
            if g is None:
                continue
            d = g.current - g.before if fig.additive else g.current / g.before - 1
            if d and (d > 0) == (relative > 0):
                shown = _signed(d) if fig.additive else _signed(d * 100, 1) + "\u00a0%"
                moved.append((-abs(d), u.name, f"{u.name} ({shown})"))
        text = (
            f"{fig.label}: {number(fig.current, fig.decimals)} mot"
            f" {number(fig.before, fig.decimals)} samma period {period.year - 1}"
        )
        drivers = tuple(t for *_, t in sorted(moved)[:2])
        found.append(Change(fig.label, relative, text, drivers, fig.incomplete))
    return sorted(found, key=lambda c: (-abs(c.relative), c.label))[:limit]


# --- documents -----------------------------------------------------------------------------


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    period: Period,
    totals: dict[str, Figures],
    unit_ids: Iterable[str],
    origin: Provenance,
) -> list[Path]:
    """The deferred-care section of each unit in ``unit_ids``: HTML, DOCX, its tables as CSV
    and as one XLSX workbook for the controllers; returns the HTML files written."""
    codes = config.codes
    below = config.settings.targets.suppress_below
    target = config.settings.targets.training_coverage

    def context(unit: Unit) -> dict[str, Any]:
        f = totals[unit.id]
        leaf = not tree.children(unit.id)
        activities = activities_of(f, codes.waiting_activities)
        measures = measures_of(f, codes.production_measures)
        charts = waiting_charts(f, period, below)

        def notes(g: Figures, is_leaf: bool, which: str = CUR) -> dict[str, str]:
            per = period if which == CUR else period.previous
            return {
                kind: coverage_note(tree, coverage(g, kind, which), per, kind, leaf=is_leaf)
                for kind in KINDS
            }

        def child_row(c: Unit) -> dict[str, Any]:
            g = totals[c.id]
            return dict(
                unit=c,
                wait=wait_line(g, c.name, activities_of(g, codes.waiting_activities), below),
                production=[production_line(g, m) for m in measures_of(g, measures)],
                capacity=capacity_line(g),
                training=training_lines(g, codes.training_courses, target),
                notes=notes(g, not tree.children(c.id)),
                states={k: coverage(g, k).state for k in KINDS},
            )

        return dict(
            region=config.settings.region,
            period=period,
            below=below,
            target=target,
            guarantee_days=GUARANTEE_DAYS,
            long_wait_days=LONG_WAIT_DAYS,
            waiting=[wait_line(f, a, [a], below) for a in activities],
            waiting_total=wait_line(f, "Totalt", activities, below),
            production=[production_line(f, m) for m in measures],
            capacity=capacity_line(f),
            training=training_lines(f, codes.training_courses, target),
            notes=notes(f, leaf),
            notes_before=notes(f, leaf, PREV),
            states={k: coverage(f, k).state for k in KINDS},
            waiting_chart=charts[0],
            over_90_chart=charts[1],
            changes=summary(tree, totals, unit, period, activities, measures, below),
            children=[child_row(c) for c in tree.children(unit.id)],
            origin=origin,
        )

    return write_unit_documents(
        out, period.label, tree, unit_ids, FILE_NAME, "interim.html.j2", context, xlsx=True
    )

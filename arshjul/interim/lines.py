"""What the deferred-care section shows of a unit's figures: each table's lines, how complete
the data behind them is, and the charts; counts 1–4 and what is computed from them marked
small."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from arshjul.charts import BarChart, bar_chart
from arshjul.interim.figures import (
    COST_PER,
    CUR,
    PREV,
    PRODUCTION_FIELDS,
    WAIT_BUCKETS,
    WAITING_MONTHS,
    Figures,
)
from arshjul.org import OrgTree
from arshjul.periods import Period, month_span_sv
from arshjul.render import MONTHS_SV, counted


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
        of = counted(cov.reporting, "enhet", "enheter")
        return f"{len(cov.missing)} av {of} saknar data ({named})"
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


def small(n: int | None, below: int) -> bool:
    return n is not None and 0 < n < below


def wait_line(f: Figures, label: str, activities: list[str], below: int) -> WaitLine:
    cur_ok = coverage(f, "waiting").state in ("ok", "partial")
    prev_ok = coverage(f, "waiting", PREV).state in ("ok", "partial")

    def total(which: str, *buckets: str) -> int:
        return sum(f.sums["wait", which, a, b] for a in activities for b in buckets)

    def share(which: str) -> float | None:
        base = total(which, *WAIT_BUCKETS[1:])
        return None if small(base, below) else _ratio(total(which, "le90"), base)

    guarantee = total(CUR, *WAIT_BUCKETS[1:]) if cur_ok else None
    over_90 = total(CUR, "d91_180", "gt180") if cur_ok else None
    prev_over_90 = total(PREV, "d91_180", "gt180") if prev_ok else None
    share_90 = share(CUR) if cur_ok else None
    prev_share = share(PREV) if prev_ok else None
    change = (
        None
        if over_90 is None
        or prev_over_90 is None
        or small(over_90, below)
        or small(prev_over_90, below)
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
    """Beds and their use. ``beds``: disposable beds per month over the period, summed over
    the units (each unit's mean of its months with data, for the part of the period it
    existed; see ``figures._mean_beds``), so a parent's is the sum of its children's; per
    100 beds = bed-days over the period / the sum of each month's beds × 100, that is
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
        beds=f.mean_beds if has else None,
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


@dataclass(frozen=True)
class WaitMonth:
    """Waiting (excluding patient-chosen waits) and waiting > 90 days at one month's end:
    the units' last snapshots of the month. None: none of the ``expected`` units has a
    snapshot in the month (missing, never zero); ``lacking``: those of them that have none
    (the month is then incomplete)."""

    month: date
    waiting: int | None
    over_90: int | None
    lacking: tuple[str, ...]
    expected: int


def waiting_months(f: Figures, period: Period) -> list[WaitMonth]:
    missing = f.missing.get((WAITING_MONTHS, CUR), {})

    def total(m: date, *buckets: str) -> int:
        return sum(f.sums["wait_month", m.isoformat(), b] for b in buckets)

    out = []
    for m in period.months:
        lacking = tuple(sorted(u for u, months in missing.items() if m in months))
        expected = f.sums["wait_expected", CUR, m.isoformat()]
        known = len(lacking) < expected
        out.append(
            WaitMonth(
                m,
                total(m, *WAIT_BUCKETS[1:]) if known else None,
                total(m, "d91_180", "gt180") if known else None,
                lacking,
                expected,
            )
        )
    return out


def waiting_month_note(tree: OrgTree, w: WaitMonth) -> str:
    """What is missing behind one month of the waiting chart, in Swedish; "" if nothing."""
    if w.waiting is None:
        return "saknas: ingen mätning"
    if not w.lacking:
        return ""
    names = ", ".join(tree[u].name for u in w.lacking)
    of = counted(w.expected, "enhet", "enheter")
    return f"ofullständig: {len(w.lacking)} av {of} saknar mätning ({names})"


def waiting_charts(months: list[WaitMonth], below: int) -> tuple[BarChart | None, BarChart | None]:
    """Waiting and waiting > 90 days at each month's end, a missing month as a gap; None
    instead of a chart in which a month's count is small (1–4): its bar would show it."""

    def series(values: list[tuple[str, int | None]]) -> BarChart | None:
        if any(small(n, below) for _, n in values):
            return None
        return bar_chart(values)

    def label(w: WaitMonth) -> str:
        # an incomplete month is marked; the table under the chart says what it lacks
        return MONTHS_SV[w.month.month - 1] + ("*" if w.lacking and w.waiting is not None else "")

    return (
        series([(label(w), w.waiting) for w in months]),
        series([(label(w), w.over_90) for w in months]),
    )

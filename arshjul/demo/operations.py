"""Waiting lists, production and capacity of the demo region, as CSV rows with Swedish headers.

- waiting: one snapshot on the last day of every month up to the last full month before today,
  for the enheter that keep waiting lists (:func:`~arshjul.demo.services.waiting_activities`),
  one row per unit, activity, days waited and PvV with its count of patients. Waits are
  roughly exponential around a unit's mean wait; the backlog grows over the summer holidays
  and is worked down in the autumn, and the region's backlog shrinks from the first year to
  the default data year with a setback after it. Most patients wait within the care
  guarantee's 90 days; a few units, and patients who chose to wait (PvV), wait longer.
- capacity: every vårdavdelning, every month: beds (fewer in the summer), patient days at
  80–105 % occupancy, överbeläggningar when occupancy is high, utlokaliseringar with them.
- production: every enhet, every month, the measures that fit it (services.py): planned,
  actual and cost. Wards' vårddagar are their capacity file's patient days. The cost is the
  unit's whole cost, on its main measure's row only (empty on DRG-poäng), so summing costs
  never counts one twice.

The planted features (:class:`~arshjul.demo.services.Planted`) are drawn in here too.
"""

from __future__ import annotations

import random
from calendar import monthrange
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate, repeat
from math import ceil, exp, log
from operator import mul

from arshjul.demo.organisation import DemoUnit, Scale
from arshjul.demo.records import YEARS_BACK, Row, poisson
from arshjul.demo.services import (
    DRG,
    OPERATION,
    PROCEDURE,
    VISIT,
    Planted,
    is_inpatient,
    production_profile,
    waiting_activities,
)

WAITING_HEADER = ("Mätdatum", "Enhet HSA-id", "Vårdåtgärd", "Väntetid dagar", "PvV", "Antal")
PRODUCTION_HEADER = ("Månad", "Enhet HSA-id", "Mått", "Plan", "Utfall", "Kostnad")
CAPACITY_HEADER = (
    "Månad", "Enhet HSA-id", "Disponibla vårdplatser", "Vårddagar", "Överbeläggningar",
    "Utlokaliseringar",
)  # fmt: skip

# --- waiting -------------------------------------------------------------------------------

#: new patients per day and mean wait in days of an ordinary unit, per activity
REFERRALS_PER_DAY = {VISIT: (1.5, 6.0), OPERATION: (0.8, 3.0), PROCEDURE: (0.5, 2.0)}
MEAN_WAIT_DAYS = {VISIT: (25, 50), OPERATION: (35, 60), PROCEDURE: (20, 45)}
#: referrals in the large region, so that a snapshot there has about 100,000 rows (SPEC §7)
REFERRAL_SCALE: dict[Scale, float] = {"small": 1.0, "large": 1.35}
#: share of units with a long list (mean wait this many times longer)
TROUBLED_SHARE, TROUBLED_WAIT = 0.15, (1.8, 2.5)
#: the planted long-wait unit: mean wait in the default data year and its yearly growth
LONG_WAIT_DAYS, LONG_WAIT_GROWTH = 115, 0.35
#: patients who chose to wait (PvV): their share, and how much longer they wait
CHOSEN_SHARE, CHOSEN_LONGER = (0.04, 0.10), 1.8
#: mean wait by month: grows over the summer holidays, worked down in the autumn
WAIT_SEASON = (1.00, 0.97, 0.95, 0.94, 0.96, 1.04, 1.22, 1.30, 1.18, 1.06, 0.99, 1.03)
#: the region's backlog by year from the first: high after the pandemic, worked down, a setback
REGION_BACKLOG = (1.15, 1.02, 0.93, 0.96)
#: nobody on the lists has waited longer than two years
MAX_WAIT_DAYS = 730


def months(today: date) -> list[date]:
    """First days of the months from January three years back up to the last full month."""
    first_year = today.year - YEARS_BACK
    count = YEARS_BACK * 12 + today.month - 1
    return [date(first_year + i // 12, i % 12 + 1, 1) for i in range(count)]


def month_end(month: date) -> date:
    return month.replace(day=monthrange(month.year, month.month)[1])


@dataclass(frozen=True)
class Queue:
    """One unit's waiting list for one activity."""

    unit_id: str
    activity: str
    referrals_per_day: float
    #: days, in an ordinary month of the default data year
    mean_wait: float
    #: yearly change of the mean wait
    growth: float
    chosen_share: float


def plan_queues(
    rng: random.Random, organisation: list[DemoUnit], planted: Planted, scale: Scale
) -> list[Queue]:
    queues = []
    for unit in organisation:
        for activity in waiting_activities(unit.name) if unit.level == "unit" else ():
            wait = rng.uniform(*MEAN_WAIT_DAYS[activity])
            growth = rng.uniform(-0.08, 0.08)
            if rng.random() < TROUBLED_SHARE:
                wait *= rng.uniform(*TROUBLED_WAIT)
            if unit.id == planted.long_waits:
                wait, growth = LONG_WAIT_DAYS, LONG_WAIT_GROWTH
            referrals = rng.uniform(*REFERRALS_PER_DAY[activity]) * REFERRAL_SCALE[scale]
            queues.append(
                Queue(unit.id, activity, referrals, wait, growth, rng.uniform(*CHOSEN_SHARE))
            )
    return queues


def waiting_rows(rng: random.Random, queues: Sequence[Queue], today: date) -> Iterator[Row]:
    """Rows of ``WAITING_HEADER``, snapshot by snapshot."""
    first_year, base_year = today.year - YEARS_BACK, today.year - 1
    for month in months(today):
        snapshot = month_end(month).isoformat()
        backlog = REGION_BACKLOG[month.year - first_year] * WAIT_SEASON[month.month - 1]
        for q in queues:
            wait = q.mean_wait * backlog * (1 + q.growth) ** (month.year - base_year)
            unit, activity, per_day = q.unit_id, q.activity, q.referrals_per_day
            for chosen, came, waits in (
                ("nej", per_day * (1 - q.chosen_share), wait),
                ("ja", per_day * q.chosen_share, wait * CHOSEN_LONGER),
            ):
                yield from [
                    (snapshot, unit, activity, _TEXT[d], chosen, _TEXT[n])
                    for d, n in _waits(rng, came, waits)
                ]


#: numbers as text, so the CSV writer does not convert each (counts and days are below 731)
_TEXT = tuple(str(i) for i in range(MAX_WAIT_DAYS + 1))


def _waits(rng: random.Random, per_day: float, wait: float) -> list[tuple[int, int]]:
    """``(days waited, patients)`` in order of days: ``per_day`` came each day, and a share
    ``exp(-d / wait)`` of those who came ``d`` days ago still wait.

    Where a day expects a patient or more, its count is rounded at random (unbiased). The thin
    tail beyond holds a Poisson number of patients, each placed a geometric number of days
    further on, which gives every day its expected count while the work follows the rows
    written, not the days spanned.
    """
    decay, chance = exp(-1 / wait), rng.random
    head = min(MAX_WAIT_DAYS + 1, ceil(wait * log(per_day))) if per_day > 1 else 0
    expected = accumulate(repeat(decay, head - 1), mul, initial=per_day) if head else ()
    counts = [(d, int(e + chance())) for d, e in enumerate(expected)]
    # from day `head` on the expected counts are start, start * decay, …: in all start/(1-decay)
    patients = poisson(rng, per_day * decay**head / (1 - decay))
    log_decay = log(decay)
    tail = sorted(head + int(log(1.0 - chance()) / log_decay) for _ in range(patients))
    counts += [(d, n) for d, n in Counter(tail).items() if d <= MAX_WAIT_DAYS]
    return counts


# --- capacity ------------------------------------------------------------------------------

#: available beds by month relative to the year's: wards close beds over the summer holidays
BED_SEASON = (1.0, 1.0, 1.0, 1.0, 1.0, 0.88, 0.72, 0.82, 1.0, 1.0, 1.0, 0.95)
#: occupancy by month relative to the ward's: winter infections, fewer beds in the summer
OCCUPANCY_SEASON = (1.05, 1.05, 1.02, 1.0, 0.98, 0.98, 1.01, 1.01, 0.98, 1.0, 1.02, 1.02)
OCCUPANCY = (0.84, 0.93)
OVERCROWDED_OCCUPANCY = (0.99, 1.03)
#: kept inside 80–105 % also after rounding to whole patient days
OCCUPANCY_LIMITS = (0.81, 1.04)
#: överbeläggningar per occupied bed day above this occupancy
CROWDING_FROM, CROWDING_RATE = 0.85, 0.35
#: planned patient days per available bed day
PLANNED_OCCUPANCY = 0.90


@dataclass(frozen=True)
class WardMonth:
    unit_id: str
    month: date
    beds: int
    patient_days: int
    planned_days: int
    overcrowding_days: int
    outlying_days: int


def ward_months(
    rng: random.Random, organisation: list[DemoUnit], planted: Planted, today: date
) -> list[WardMonth]:
    """Every vårdavdelning's months in order of month then unit; the planted missing months
    are left out."""
    wards = [u.id for u in organisation if u.level == "unit" and is_inpatient(u.name)]
    all_months = months(today)
    years = sorted({m.year for m in all_months})
    beds = {w: _yearly_beds(rng, years) for w in wards}
    occupancy = {
        w: rng.uniform(*(OVERCROWDED_OCCUPANCY if w in planted.overcrowded else OCCUPANCY))
        for w in wards
    }
    outlying_share = {w: rng.uniform(0.2, 0.6) for w in wards}
    missing = {(planted.missing_unit, m) for m in planted.missing_months}
    low, high = OCCUPANCY_LIMITS
    result = []
    for month in all_months:
        days = monthrange(month.year, month.month)[1]
        for w in wards:
            available = round(beds[w][month.year] * BED_SEASON[month.month - 1])
            seasonal = occupancy[w] * OCCUPANCY_SEASON[month.month - 1] + rng.gauss(0, 0.015)
            used = min(high, max(low, seasonal))
            bed_days = available * days
            excess = max(0.0, used - CROWDING_FROM)
            crowding = round(bed_days * excess * CROWDING_RATE * rng.uniform(0.8, 1.2))
            if (w, month) in missing:  # drawn all the same: the other months stay as they are
                continue
            result.append(
                WardMonth(
                    unit_id=w,
                    month=month,
                    beds=available,
                    patient_days=round(bed_days * used),
                    planned_days=round(bed_days * PLANNED_OCCUPANCY),
                    overcrowding_days=crowding,
                    outlying_days=round(crowding * outlying_share[w] + 3 * rng.random()),
                )
            )
    return result


def _yearly_beds(rng: random.Random, years: list[int]) -> dict[int, int]:
    """A ward's beds year by year: 12–28, a bed or two more or fewer some years."""
    beds, by_year = rng.randint(12, 28), {}
    for year in years:
        beds = max(8, beds + rng.choice((-2, -1, 0, 0, 0, 1)))
        by_year[year] = beds
    return by_year


def capacity_rows(wards: Sequence[WardMonth]) -> Iterator[Row]:
    """Rows of ``CAPACITY_HEADER``."""
    for w in wards:
        yield (
            w.month.isoformat()[:7],
            w.unit_id,
            w.beds,
            w.patient_days,
            w.overcrowding_days,
            w.outlying_days,
        )


# --- production ----------------------------------------------------------------------------

#: volume by month relative to an ordinary month: the summer holidays, Christmas
PRODUCTION_SEASON = (1.02, 1.05, 1.08, 1.0, 1.03, 0.92, 0.58, 0.82, 1.05, 1.08, 1.05, 0.88)
#: actual / planned of an ordinary unit in a year, and of the planted ones
PERFORMANCE, PERFORMANCE_LIMITS = 0.03, (0.93, 1.07)
OVER_PLAN, UNDER_PLAN, BEFORE_UNDER_PLAN = (1.08, 1.12), (0.80, 0.86), (0.96, 1.00)
#: yearly change of planned volume and of cost per unit (wages, prices)
VOLUME_GROWTH, COST_GROWTH = (-0.03, 0.05), 0.035
#: share of a unit's cost that follows its plan (staff, premises), the rest follows output
FIXED_COST = 0.7


@dataclass(frozen=True)
class _Producer:
    unit_id: str
    measures: tuple[str, ...]
    volume: float
    growth: float
    cost_per_unit: float
    drg_per_unit: float
    inpatient: bool


def production_rows(
    rng: random.Random,
    organisation: list[DemoUnit],
    wards: Sequence[WardMonth],
    planted: Planted,
    today: date,
) -> Iterator[Row]:
    """Rows of ``PRODUCTION_HEADER``, month by month; wards' vårddagar are their patient days
    in ``wards``, and a ward's month missing there is missing here too."""
    producers = [_producer(rng, u) for u in organisation if u.level == "unit"]
    ward_month = {(w.unit_id, w.month): w for w in wards}
    base_year = today.year - 1
    all_months = months(today)
    performance = {
        (p.unit_id, year): _performance(rng, p.unit_id, year, planted, base_year)
        for p in producers
        if not p.inpatient
        for year in sorted({m.year for m in all_months})
    }
    missing = {(planted.missing_unit, m) for m in planted.missing_months}
    for month in all_months:
        label, years_on = month.isoformat()[:7], month.year - base_year
        for p in producers:
            if (p.unit_id, month) in missing:
                continue
            if p.inpatient:
                ward = ward_month[p.unit_id, month]
                planned, actual = float(ward.planned_days), float(ward.patient_days)
            else:
                low, high = performance[p.unit_id, month.year]
                planned = p.volume * PRODUCTION_SEASON[month.month - 1] * (1 + p.growth) ** years_on
                planned, actual = round(planned), round(planned * rng.uniform(low, high))
            cost = p.cost_per_unit * (1 + COST_GROWTH) ** years_on
            cost *= FIXED_COST * planned + (1 - FIXED_COST) * actual
            yield (label, p.unit_id, p.measures[0], round(planned), round(actual), round(cost))
            if DRG in p.measures:
                points = actual * p.drg_per_unit * rng.uniform(0.98, 1.02)
                yield (
                    label,
                    p.unit_id,
                    DRG,
                    _decimal(planned * p.drg_per_unit),
                    _decimal(points),
                    "",
                )


def _producer(rng: random.Random, unit: DemoUnit) -> _Producer:
    profile = production_profile(unit.name)
    return _Producer(
        unit_id=unit.id,
        measures=profile.measures,
        volume=rng.uniform(*profile.volume),
        growth=rng.uniform(*VOLUME_GROWTH),
        cost_per_unit=rng.uniform(*profile.cost_per_unit),
        drg_per_unit=rng.uniform(*profile.drg_per_unit),
        inpatient=is_inpatient(unit.name),
    )


def _performance(
    rng: random.Random, unit_id: str, year: int, planted: Planted, base_year: int
) -> tuple[float, float]:
    """The range a unit's monthly actual / planned is drawn from in ``year``."""
    if unit_id == planted.over_plan:
        return OVER_PLAN
    if unit_id == planted.under_plan:
        return UNDER_PLAN if year >= base_year else BEFORE_UNDER_PLAN
    level = min(PERFORMANCE_LIMITS[1], max(PERFORMANCE_LIMITS[0], rng.gauss(1.0, PERFORMANCE)))
    return level - 0.02, level + 0.02


def _decimal(value: float) -> str:
    """One decimal with a decimal comma, as a Swedish export writes it."""
    return f"{value:.1f}".replace(".", ",")

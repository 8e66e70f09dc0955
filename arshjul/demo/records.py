"""Deviations and complaints for the demo region, as CSV rows with Swedish headers.

Fast enough for 800,000 rows: every unit's yearly count is one draw, its dates and codes are
drawn in bulk with cumulative weights, and dates are formatted from a table, not per row.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from math import ceil, exp, sqrt
from operator import itemgetter
from statistics import NormalDist

from arshjul.config import Codes
from arshjul.demo.organisation import DemoUnit, Scale, silent_units
from arshjul.demo.profiles import (
    ALL_UNIT_TYPES,
    CHANNEL_WEIGHTS,
    COMPLAINT_CATEGORY_WEIGHTS,
    CONSEQUENCE_WEIGHTS,
    DESCRIPTIONS,
    DEVIATION_CATEGORY_WEIGHTS,
    GENERIC_DESCRIPTIONS,
    LEX_MARIA_CHANCE,
    PROBABILITY_WEIGHTS,
    REPORT_LAG_DAYS,
    REPORT_LAG_WEIGHTS,
    SEASON,
    UnitType,
    category_weights,
    cumulative,
    unit_type,
)

DEVIATION_HEADER = (
    "Avvikelse-ID", "Enhet HSA-id", "Händelsedatum", "Rapporteringsdatum", "Händelsetyp",
    "Konsekvens", "Sannolikhet", "Lex Maria", "Vårdkedja", "Status", "Avslutad datum",
    "Händelsebeskrivning",
)  # fmt: skip
COMPLAINT_HEADER = (
    "Ärende-ID", "Enhet HSA-id", "Inkommet datum", "Kanal", "Kategori", "Besvarat datum",
    "Status",
)  # fmt: skip

Row = tuple[str | int, ...]

#: the demo starts on 1 January this many years before today's year
YEARS_BACK = 3

YES_NO = ("nej", "ja")
GRADES = (1, 2, 3, 4)  # consequence and probability
#: a report younger than this that is still open is Ny; older open ones are Pågående
NEW_DAYS = 7
#: complaints: median days to an answer (the target is 28), and how long an answered
#: complaint stays Besvarad before it is closed
ANSWER_MEDIAN_DAYS = 16
CLOSE_AFTER_ANSWER_DAYS = 30
#: share of complaints closed without an answer (withdrawn) and answered but never closed
WITHDRAWN = 0.02
LEFT_ANSWERED = 0.15
#: complaints arrive on weekends too (1177), a little less
COMPLAINT_WEEKEND = 0.4


@dataclass(frozen=True)
class Volume:
    #: deviations per year in the whole region; None keeps the unit types' own rates
    deviations_per_year: int | None
    complaints_per_deviation: float


VOLUMES: Mapping[Scale, Volume] = {
    "small": Volume(None, 0.2),
    "large": Volume(200_000, 0.3),
}


@dataclass(frozen=True)
class UnitPlan:
    """How much and how fast one enhet reports, fixed for all years."""

    id: str
    kind: UnitType
    deviations_per_month: float
    complaints_per_month: float
    #: yearly change in reporting, so the analyses have trends to find
    growth: float
    #: median days from report to closure: some units are slow
    closure_days: float
    silent: bool


def plan_units(rng: random.Random, organisation: list[DemoUnit], scale: Scale) -> list[UnitPlan]:
    volume = VOLUMES[scale]
    silent = silent_units(organisation)
    units = [u for u in organisation if u.level == "unit"]
    kinds = [unit_type(u.name) for u in units]
    rates = [rng.uniform(*kind.monthly_deviations) for kind in kinds]
    reporting = sum(r for u, r in zip(units, rates, strict=True) if u.id not in silent)
    per_year = volume.deviations_per_year
    deviation_scale = 1.0 if per_year is None else per_year / (12 * reporting)
    # silent units still get complaints: patients complain whether or not staff report
    complaint_scale = (
        volume.complaints_per_deviation
        * deviation_scale
        * reporting
        / sum(r * k.complaint_weight for r, k in zip(rates, kinds, strict=True))
    )
    return [
        UnitPlan(
            id=unit.id,
            kind=kind,
            deviations_per_month=rate * deviation_scale,
            complaints_per_month=rate * kind.complaint_weight * complaint_scale,
            growth=rng.uniform(-0.06, 0.12),
            closure_days=rng.uniform(21, 56),
            silent=unit.id in silent,
        )
        for unit, kind, rate in zip(units, kinds, rates, strict=True)
    ]


class Calendar:
    """The covered days, 1 January three years back up to ``today``, as ordinals: the default
    data year (last year) has two full years before it for trends."""

    def __init__(self, today: date):
        self.years = range(today.year - YEARS_BACK, today.year + 1)
        self.first = date(self.years[0], 1, 1).toordinal()
        self.last = today.toordinal()
        #: the default data year: units report at their planned rates in it
        self.base_year = today.year - 1
        covered = range(self.first, self.last + 1)
        #: ordinal -> ISO date: one dict lookup per date instead of formatting
        self.iso = {d: date.fromordinal(d).isoformat() for d in covered}
        #: ordinal of a report -> its status if it is still open today
        self.open_status = {d: "Ny" if self.last - d < NEW_DAYS else "Pågående" for d in covered}
        self._days: dict[tuple[int, float], tuple[range, list[float], float]] = {}

    def days(self, year: int, weekend: float) -> tuple[range, list[float], float]:
        """The year's covered days, their cumulative weights (season, fewer reports on
        weekends) and the share of a full year's weight they cover."""
        key = (year, weekend)
        if key not in self._days:
            self._days[key] = self._weigh_days(year, weekend)
        return self._days[key]

    def _weigh_days(self, year: int, weekend: float) -> tuple[range, list[float], float]:
        start = date(year, 1, 1).toordinal()
        full = range(start, date(year, 12, 31).toordinal() + 1)
        weights = cumulative([_day_weight(date.fromordinal(d), weekend) for d in full])
        covered = full[: max(0, min(len(full), self.last - start + 1))]
        share = weights[len(covered) - 1] / weights[-1] if covered else 0.0
        return covered, weights[: len(covered)], share


def _day_weight(day: date, weekend: float) -> float:
    return SEASON[day.month - 1] * (weekend if day.weekday() >= 5 else 1.0)


def _spread(sigma: float, steps: int = 1000) -> tuple[float, ...]:
    """Quantiles of a lognormal with median 1: drawing from them uniformly is a lognormal draw,
    several times cheaper than ``random.lognormvariate``."""
    normal = NormalDist(0, sigma)
    return tuple(exp(normal.inv_cdf((i + 0.5) / steps)) for i in range(steps))


#: handling times (closing a deviation, answering a complaint) around their median:
#: most within a factor of two, a long tail of slow cases
HANDLING_SPREAD = _spread(0.6)


def poisson(rng: random.Random, mean: float) -> int:
    if mean >= 30:  # the normal approximation is close enough and does not loop
        return max(0, round(rng.gauss(mean, sqrt(mean))))
    # Knuth: count uniforms until their product falls below e^-mean
    limit, count, product = exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _dates(
    rng: random.Random, calendar: Calendar, year: int, weekend: float, yearly: float | None
) -> list[int]:
    """Report dates in ``year`` for ``yearly`` expected events over a full year, or for
    0..3 events in all when ``yearly`` is None (a silent unit)."""
    days, weights, share = calendar.days(year, weekend)
    if not days:
        return []
    count = rng.randint(0, 3) if yearly is None else poisson(rng, yearly * share)
    return rng.choices(days, cum_weights=weights, k=count)


def _yearly(per_month: float, plan: UnitPlan, calendar: Calendar, year: int) -> float:
    return 12 * per_month * (1 + plan.growth) ** (year - calendar.base_year)


class _Mix:
    """Cumulative weights of the codes, per unit type, for ``random.choices``."""

    def __init__(self, codes: Codes):
        self.codes = codes
        self.channels = category_weights(codes.complaint_channels, CHANNEL_WEIGHTS, {})
        self.consequence = cumulative(CONSEQUENCE_WEIGHTS)
        self.probability = cumulative(PROBABILITY_WEIGHTS)
        self.lag = cumulative(REPORT_LAG_WEIGHTS)
        self.deviation_categories = {
            kind.name: category_weights(
                codes.deviation_categories, DEVIATION_CATEGORY_WEIGHTS, kind.deviation_boost
            )
            for kind in ALL_UNIT_TYPES
        }
        self.complaint_categories = {
            kind.name: category_weights(
                codes.complaint_categories, COMPLAINT_CATEGORY_WEIGHTS, kind.complaint_boost
            )
            for kind in ALL_UNIT_TYPES
        }


def deviation_rows(
    rng: random.Random, plans: Sequence[UnitPlan], calendar: Calendar, codes: Codes
) -> Iterator[Row]:
    """Rows of ``DEVIATION_HEADER``, year by year, numbered in order of report."""
    mix = _Mix(codes)
    for year in calendar.years:
        drafts: list[tuple[int, ...]] = []
        for index, plan in enumerate(plans):
            yearly = (
                None if plan.silent else _yearly(plan.deviations_per_month, plan, calendar, year)
            )
            reported = _dates(rng, calendar, year, plan.kind.weekend_activity, yearly)
            drafts += _draft_deviations(rng, index, plan, reported, mix)
        drafts.sort(key=itemgetter(0))
        yield from _deviation_rows(rng, year, drafts, plans, calendar, codes)


def _draft_deviations(
    rng: random.Random, index: int, plan: UnitPlan, reported: list[int], mix: _Mix
) -> list[tuple[int, ...]]:
    """``(reported, unit index, lag, category index, consequence, probability, lex Maria,
    care chain, day it is closed)`` with everything drawn, nothing formatted."""
    n = len(reported)
    categories = range(len(mix.codes.deviation_categories))
    lags = rng.choices(REPORT_LAG_DAYS, cum_weights=mix.lag, k=n)
    kinds = rng.choices(categories, cum_weights=mix.deviation_categories[plan.kind.name], k=n)
    consequences = rng.choices(GRADES, cum_weights=mix.consequence, k=n)
    probabilities = rng.choices(GRADES, cum_weights=mix.probability, k=n)
    spreads = rng.choices(HANDLING_SPREAD, k=n)
    chance, care_chain, median = rng.random, plan.kind.care_chain, plan.closure_days
    return [
        (
            day,
            index,
            lag,
            kind,
            c,
            p,
            chance() < LEX_MARIA_CHANCE[c - 1],
            chance() < care_chain,
            day + ceil(median * spread),
        )
        for day, lag, kind, c, p, spread in zip(
            reported, lags, kinds, consequences, probabilities, spreads, strict=True
        )
    ]


def _deviation_rows(
    rng: random.Random,
    year: int,
    drafts: list[tuple[int, ...]],
    plans: Sequence[UnitPlan],
    calendar: Calendar,
    codes: Codes,
) -> list[Row]:
    categories = codes.deviation_categories
    descriptions = [DESCRIPTIONS.get(name, GENERIC_DESCRIPTIONS) for name in categories]
    ids = [plan.id for plan in plans]
    iso, open_status, chance = calendar.iso, calendar.open_status, rng.random
    first, last = calendar.first, calendar.last
    # one comprehension, no call per row: this is the hot loop of the large demo
    return [
        (
            f"AVV-{year}-{number:06d}",
            ids[unit],
            iso[max(day - lag, first)],
            iso[day],
            categories[kind],
            c,
            p,
            YES_NO[lex],
            YES_NO[chain],
            "Avslutad" if closed <= last else open_status[day],
            iso[closed] if closed <= last else "",
            descriptions[kind][int(chance() * len(descriptions[kind]))],
        )
        for number, (day, unit, lag, kind, c, p, lex, chain, closed) in enumerate(drafts, 1)
    ]


def complaint_rows(
    rng: random.Random, plans: Sequence[UnitPlan], calendar: Calendar, codes: Codes
) -> Iterator[Row]:
    """Rows of ``COMPLAINT_HEADER``, year by year, numbered in order of arrival."""
    mix = _Mix(codes)
    for year in calendar.years:
        drafts: list[tuple[int, ...]] = []
        for index, plan in enumerate(plans):
            yearly = _yearly(plan.complaints_per_month, plan, calendar, year)
            received = _dates(rng, calendar, year, COMPLAINT_WEEKEND, yearly)
            drafts += _draft_complaints(rng, index, plan, received, mix)
        drafts.sort(key=itemgetter(0))
        yield from _complaint_rows(rng, year, drafts, plans, calendar, codes)


def _draft_complaints(
    rng: random.Random, index: int, plan: UnitPlan, received: list[int], mix: _Mix
) -> list[tuple[int, ...]]:
    """``(received, unit index, channel index, category index, day it is answered)``."""
    n = len(received)
    channels = range(len(mix.codes.complaint_channels))
    categories = range(len(mix.codes.complaint_categories))
    via = rng.choices(channels, cum_weights=mix.channels, k=n)
    about = rng.choices(categories, cum_weights=mix.complaint_categories[plan.kind.name], k=n)
    spreads = rng.choices(HANDLING_SPREAD, k=n)
    return [
        (day, index, channel, category, day + ceil(ANSWER_MEDIAN_DAYS * spread))
        for day, channel, category, spread in zip(received, via, about, spreads, strict=True)
    ]


def _complaint_rows(
    rng: random.Random,
    year: int,
    drafts: list[tuple[int, ...]],
    plans: Sequence[UnitPlan],
    calendar: Calendar,
    codes: Codes,
) -> list[Row]:
    channels, categories = codes.complaint_channels, codes.complaint_categories
    return [
        (
            f"KS-{year}-{number:05d}",
            plans[unit].id,
            calendar.iso[day],
            channels[channel],
            categories[category],
            *_complaint_outcome(rng.random(), day, answer, calendar),
        )
        for number, (day, unit, channel, category, answer) in enumerate(drafts, 1)
    ]


def _complaint_outcome(fate: float, day: int, answer: int, calendar: Calendar) -> tuple[str, str]:
    """Answer date and status: most are answered within four weeks, a few are withdrawn,
    some are left Besvarad, the recent ones are still open."""
    last = calendar.last
    if answer > last:
        return "", calendar.open_status[day]
    if fate < WITHDRAWN:
        return "", "Avslutad"
    if fate < WITHDRAWN + LEFT_ANSWERED or last - answer < CLOSE_AFTER_ANSWER_DAYS:
        return calendar.iso[answer], "Besvarad"
    return calendar.iso[answer], "Avslutad"

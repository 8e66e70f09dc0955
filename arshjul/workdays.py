"""Swedish working days and the wheel's date rules."""

from __future__ import annotations

import calendar as _stdcal
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from holidays.countries.sweden import Sweden

from arshjul.config import DateRule, Deadline, Milestone, Wheel


@lru_cache(maxsize=64)
def non_working_days(year: int) -> frozenset[date]:
    """Public holidays plus the eves that are not working days in practice.

    Midsommarafton, julafton and nyårsafton are not public holidays by law but nobody is at
    work to meet a deadline on them.
    """
    days = set(Sweden(years=year, include_sundays=False).keys())
    midsummer_eve = next(date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == 4)
    days |= {midsummer_eve, date(year, 12, 24), date(year, 12, 31)}
    return frozenset(days)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in non_working_days(day.year)


def previous_working_day(day: date) -> date:
    """``day`` itself if it is a working day, else the closest working day before it."""
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def working_days_in_month(year: int, month: int) -> list[date]:
    last = _stdcal.monthrange(year, month)[1]
    return [d for d in (date(year, month, n) for n in range(1, last + 1)) if is_working_day(d)]


def rule_dates(rule: DateRule, calendar_year: int) -> list[date]:
    """Every date ``rule`` gives in ``calendar_year``, in order."""
    year = calendar_year + rule.year_offset
    out = []
    for month in rule.all_months:
        if rule.day is not None:
            last = _stdcal.monthrange(year, month)[1]
            day = date(year, month, min(rule.day, last))
            out.append(day if rule.shift == "none" else previous_working_day(day))
        elif rule.last_working_day:
            out.append(working_days_in_month(year, month)[-1])
        else:
            assert rule.nth_working_day is not None
            out.append(nth_working_day(year, month, rule.nth_working_day))
    return out


def nth_working_day(year: int, month: int, n: int) -> date:
    """The ``n``-th working day of the month, or its last one if the month has fewer.

    Config allows n up to 23 but a December has about 20 working days: clamping, as a day
    of month 31 is clamped to the month's length, beats failing in the middle of a run.
    """
    days = working_days_in_month(year, month)
    return days[min(n, len(days)) - 1]


@dataclass(frozen=True)
class Due:
    """One deadline of one milestone on one date, for one level of the organisation."""

    milestone: Milestone
    deadline: Deadline
    date: date
    calendar_year: int
    #: 0-based index among the dates of the same deadline in the year (follow-ups, monthly)
    occurrence: int

    @property
    def data_year(self) -> int:
        return self.calendar_year - 1

    @property
    def title(self) -> str:
        return self.milestone.title.format(
            data_year=self.calendar_year - 1,
            year=self.calendar_year,
            next_year=self.calendar_year + 1,
        )


def wheel_dates(wheel: Wheel, calendar_year: int) -> list[Due]:
    """Every deadline of the wheel in ``calendar_year``, sorted by date."""
    out = [
        Due(m, d, day, calendar_year, i)
        for m in wheel.milestones
        for d in m.deadlines
        for i, day in enumerate(rule_dates(d.due, calendar_year))
    ]
    return sorted(out, key=lambda due: (due.date, due.milestone.id, due.deadline.level))

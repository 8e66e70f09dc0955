"""Periods: ``2026-T1`` (jan–apr), ``2026-T2`` (jan–aug, cumulative, as the delårsrapport
counts it) and ``2026`` (the full year, årsredovisningen). The interim reports cover any of the
three; the cycle's steps a data year, which is the full year (``Period.full_year(2025)``).

A period is reported on only once it has ended: a report "as of" a day inside the period would
show a half month as if it were the period, so a period not yet over is refused as a usage
error, as is anything that is not one of the three forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from arshjul.errors import UsageError
from arshjul.render import MONTHS_SV

Part = Literal["T1", "T2", "year"]

#: the last month of each kind of period (all periods start in January)
LAST_MONTH: dict[Part, int] = {"T1": 4, "T2": 8, "year": 12}
_LAST_DAY = {4: 30, 8: 31, 12: 31}
_FORM = re.compile(r"^(?P<year>\d{4})(?:-(?P<part>T1|T2))?$")


@dataclass(frozen=True)
class Period:
    """January 1 of ``year`` up to the end of April, August or December."""

    year: int
    part: Part

    @classmethod
    def full_year(cls, year: int) -> Period:
        """January to December of ``year``: a data year of the cycle."""
        return cls(year, "year")

    @property
    def label(self) -> str:
        """``2026-T1``, ``2026-T2`` or ``2026``: the CLI's form, the folder, the lock's and
        ``step_run``'s key."""
        return str(self.year) if self.part == "year" else f"{self.year}-{self.part}"

    @property
    def first(self) -> date:
        return date(self.year, 1, 1)

    @property
    def last(self) -> date:
        """The period's last day: 30 April, 31 August or 31 December."""
        month = LAST_MONTH[self.part]
        return date(self.year, month, _LAST_DAY[month])

    @property
    def months(self) -> tuple[date, ...]:
        """The first day of each month of the period, in order."""
        return tuple(date(self.year, m, 1) for m in range(1, LAST_MONTH[self.part] + 1))

    @property
    def last_month(self) -> date:
        return self.months[-1]

    @property
    def previous(self) -> Period:
        """The same period last year, which every change is measured against."""
        return Period(self.year - 1, self.part)

    @property
    def title_sv(self) -> str:
        """``januari–april 2026``, ``januari–augusti 2026`` or ``helåret 2026``."""
        return {
            "T1": f"januari–april {self.year}",
            "T2": f"januari–augusti {self.year}",
            "year": f"helåret {self.year}",
        }[self.part]

    @property
    def short_sv(self) -> str:
        """``jan–apr 2026`` for table headings."""
        return f"jan–{MONTHS_SV[LAST_MONTH[self.part] - 1]} {self.year}"

    def __str__(self) -> str:
        return self.label


def period_of(label: str) -> Period | None:
    """The period ``label`` names (``2026-T1``, ``2026-T2``, ``2026``: a folder's name), or
    None."""
    match = _FORM.match(label)
    if match is None:
        return None
    part: Part = "T1" if match["part"] == "T1" else "T2" if match["part"] == "T2" else "year"
    return Period(int(match["year"]), part)


def parse_period(text: str, today: date) -> Period:
    """The period named by ``--period``; refused (exit 2) when malformed or not yet ended
    on ``today`` (a period ending 30 April can be reported from 1 May)."""
    period = period_of(text.strip())
    if period is None:
        raise UsageError(
            f"{text!r} is not a period: give YYYY-T1 (jan–apr), YYYY-T2 (jan–aug)"
            " or YYYY (the full year)",
            "period",
        )
    if period.year < 1900:
        raise UsageError(f"{text!r}: the year {period.year} is out of range", "period")
    if period.last >= today:
        raise UsageError(
            f"{text!r} has not ended yet: it ends {period.last.isoformat()}"
            f" and today is {today.isoformat()}",
            "period",
        )
    return period


def month_span_sv(months: list[date] | tuple[date, ...]) -> str:
    """Months as Swedish short names, runs joined: ``jan–apr, jun``."""
    ordered = sorted(set(months))
    runs: list[list[date]] = []
    for m in ordered:
        if runs and next_month(runs[-1][-1]) == m:
            runs[-1].append(m)
        else:
            runs.append([m])

    def name(d: date) -> str:
        return MONTHS_SV[d.month - 1]

    return ", ".join(name(r[0]) if len(r) == 1 else f"{name(r[0])}–{name(r[-1])}" for r in runs)


def next_month(month: date) -> date:
    """The first day of the month after ``month`` (itself a first day)."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def latest_period(today: date) -> Period:
    """The period that ended last before ``today``: what a report started without
    ``--period`` is about (in September and later: this year's T2)."""
    candidates = [
        Period.full_year(today.year - 1),
        Period(today.year, "T1"),
        Period(today.year, "T2"),
    ]
    return max((p for p in candidates if p.last < today), key=lambda p: p.last)


def sections_due(year: int, today: date) -> list[Period]:
    """The periods whose deferred-care sections a run of data year ``year``'s cycle writes on
    ``today``, in the order they end: of the data year's tertials and the year itself (its
    status page judges them) and of this calendar year's tertials (the wheel of the calendar
    page judges them), those that have ended: a run that writes everything leaves none of the
    interim deadlines behind it "inte skrivet"."""
    candidates = {
        Period(year, "T1"),
        Period(year, "T2"),
        Period.full_year(year),
        Period(today.year, "T1"),
        Period(today.year, "T2"),
    }
    return sorted((p for p in candidates if p.last < today), key=lambda p: p.last)

"""When the server runs the wheel's steps by themselves: dates from the wheel, not cron.

A step runs ``schedule.lead_working_days`` working days before its milestone's earliest
deadline (or on the milestone's own ``run`` rule), at ``schedule.at`` in the wheel's timezone,
with the parameters that deadline is about: the data year for the cycle's steps, the period for
the interim reports. Dates are laid out for a few calendar years ahead, because the wheel's
working-day rules have no cron equivalent; the schedules are renewed whenever the server starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from arshjul.config import Milestone, Wheel
from arshjul.workdays import is_working_day, rule_dates


@dataclass(frozen=True)
class StepRun:
    """One scheduled run of a step."""

    step: str
    milestone: str
    at: datetime
    parameters: dict[str, Any]

    @property
    def slug(self) -> str:
        """Unique among a deployment's schedules: the milestone and the day it runs."""
        return f"{self.milestone}-{self.at.date().isoformat()}"


def working_days_before(day: date, n: int) -> date:
    """The ``n``-th working day before ``day`` (``day`` itself, moved back to a working day,
    when ``n`` is 0)."""
    while not is_working_day(day):
        day -= timedelta(days=1)
    for _ in range(n):
        day -= timedelta(days=1)
        while not is_working_day(day):
            day -= timedelta(days=1)
    return day


def run_day(wheel: Wheel, milestone: Milestone, calendar_year: int) -> date:
    if milestone.run is not None:
        return rule_dates(milestone.run, calendar_year)[0]
    first = min(day for d in milestone.deadlines for day in rule_dates(d.due, calendar_year))
    return working_days_before(first, wheel.schedule.lead_working_days)


def parameters(milestone: Milestone, calendar_year: int) -> dict[str, Any]:
    """What the milestone's deadline in ``calendar_year`` is about (see SPEC §6)."""
    if milestone.step == "interim_report":
        if milestone.period in ("T1", "T2"):
            return {"period": f"{calendar_year}-{milestone.period}"}
        return {"period": str(calendar_year - 1)}
    return {"year": calendar_year - 1}


def step_runs(wheel: Wheel, *, now: datetime) -> list[StepRun]:
    """Every run of every step from ``now`` to the end of ``schedule.years_ahead`` years on,
    in time order."""
    zone = ZoneInfo(wheel.timezone)
    hour, minute = map(int, wheel.schedule.at.split(":"))
    start = now.astimezone(zone)
    runs = []
    for calendar_year in range(start.year, start.year + wheel.schedule.years_ahead + 1):
        for milestone in wheel.milestones:
            if milestone.step is None or milestone.removed:
                continue
            day = run_day(wheel, milestone, calendar_year)
            at = datetime.combine(day, time(hour, minute), tzinfo=zone)
            if at > start:
                params = parameters(milestone, calendar_year)
                runs.append(StepRun(milestone.step, milestone.id, at, params))
    return sorted(runs, key=lambda r: (r.at, r.milestone))

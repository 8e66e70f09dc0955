"""Whether a unit has met a deadline of the wheel: done, overdue or upcoming.

A deadline is done for a unit when a run of the milestone's step finished for that unit and
the step's period; milestones without a step have no status.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from arshjul.models import RunState, StepRun
from arshjul.workdays import Due


class Progress(enum.StrEnum):
    DONE = "done"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"


PROGRESS_SV = {Progress.DONE: "klar", Progress.OVERDUE: "försenad", Progress.UPCOMING: "kommande"}


def step_period(due: Due) -> str | None:
    """The period a deadline's step is recorded under: the data year, or ``2026-T1``."""
    milestone = due.milestone
    if milestone.step is None:
        return None
    if milestone.step == "interim_report" and milestone.period in ("T1", "T2"):
        return f"{due.calendar_year}-{milestone.period}"
    # the cycle and the annual report of calendar year C are about data year C-1
    return str(due.data_year)


def periods_of(calendar_years: Iterable[int]) -> set[str]:
    return {p for y in calendar_years for p in (str(y - 1), f"{y}-T1", f"{y}-T2")}


@dataclass(frozen=True)
class Tally:
    """How many of the units a deadline concerns have done it."""

    progress: Progress
    done: int
    total: int


@dataclass(frozen=True)
class FirstRun:
    """The first successful run of a step for a unit and period: when (in the wheel's
    timezone) it finished, and which run it was."""

    at: datetime
    run_id: str


@dataclass(frozen=True)
class StatusBook:
    #: (step, period, unit id) -> its first successful run
    first_runs: Mapping[tuple[str, str, str], FirstRun]
    today: date

    def first_run(self, due: Due, unit_id: str) -> FirstRun | None:
        period = step_period(due)
        if period is None or due.milestone.step is None:
            return None
        return self.first_runs.get((due.milestone.step, period, unit_id))

    def finished_on(self, due: Due, unit_id: str) -> date | None:
        first = self.first_run(due, unit_id)
        return first.at.date() if first else None

    def progress(self, due: Due, unit_id: str) -> Progress | None:
        if due.milestone.step is None:
            return None
        if self.finished_on(due, unit_id) is not None:
            return Progress.DONE
        return self._open(due)

    def tally(self, due: Due, unit_ids: Collection[str]) -> Tally | None:
        """The deadline's progress over many units: done only when every one is done."""
        if due.milestone.step is None:
            return None
        done = sum(self.finished_on(due, unit_id) is not None for unit_id in unit_ids)
        progress = Progress.DONE if unit_ids and done == len(unit_ids) else self._open(due)
        return Tally(progress, done, len(unit_ids))

    def _open(self, due: Due) -> Progress:
        return Progress.OVERDUE if due.date < self.today else Progress.UPCOMING


def load_status(
    conn: Connection, calendar_years: Iterable[int], *, now: datetime, timezone: str
) -> StatusBook:
    """Every finished step run of the periods the calendar years' deadlines are about; a
    deadline before ``now``'s day in the wheel's ``timezone`` is overdue if not done."""
    rows = conn.execute(
        select(StepRun.step, StepRun.period, StepRun.unit_id, StepRun.finished_at, StepRun.run_id)
        .where(
            StepRun.state == RunState.DONE,
            StepRun.period.in_(periods_of(calendar_years)),
            StepRun.finished_at.is_not(None),
        )
        # newest first: the first run to finish is the one left in the dict
        .order_by(StepRun.finished_at.desc())
    )
    zone = ZoneInfo(timezone)
    first_runs = {
        (step, period, unit_id): FirstRun(at.astimezone(zone), run_id)
        for step, period, unit_id, at, run_id in rows
    }
    return StatusBook(first_runs, now.astimezone(zone).date())

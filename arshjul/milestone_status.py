"""Whether a unit has met a deadline of the wheel: done, overdue or upcoming, and why not.

A deadline is done for a unit when the evidence of its milestone exists (:mod:`arshjul.evidence`:
a current document, answered findings, an approved version, followed-up actions, a training
roster); otherwise it is overdue once its date has passed, upcoming before. A milestone with
neither a step nor an evidence has no status. The status page, ``arshjul status``, the wheel,
the feeds and the reminders all ask this one book.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from arshjul.config import Config
from arshjul.evidence import Evidence, day
from arshjul.org import OrgTree
from arshjul.render import agree, number
from arshjul.workdays import Due


class Progress(enum.StrEnum):
    DONE = "done"  # the evidence exists
    OVERDUE = "overdue"  # no evidence, and the deadline has passed
    UPCOMING = "upcoming"  # no evidence yet, the deadline is ahead


PROGRESS_SV = {Progress.DONE: "klar", Progress.OVERDUE: "försenad", Progress.UPCOMING: "kommande"}
#: a deadline done late is done, but a reader counting "klara" must not take it for done in
#: time: every page and line that says klar says which (the status page defines both)
ON_TIME_SV = "i tid"
LATE_SV = "sent"


def progress_sv(progress: Progress, late: bool) -> str:
    """``klar i tid``, ``klar sent``, ``försenad`` or ``kommande``."""
    if progress is Progress.DONE:
        return f"klar {LATE_SV if late else ON_TIME_SV}"
    return PROGRESS_SV[progress]


@dataclass(frozen=True)
class UnitStatus:
    """One unit's state for one deadline."""

    progress: Progress
    #: when the evidence was complete, in the wheel's timezone: a datetime, or a day for a
    #: follow-up (None: not done, or done with nothing to do)
    at: date | None
    #: the run that wrote the document or recorded the approval
    run_id: str | None
    #: why it is not done ("3 fynd utan åtgärd"), or how it is done when that needs saying
    reason: str
    #: done after the deadline's date
    late: bool = False

    @property
    def line(self) -> str:
        """The status in one Swedish sentence, for a calendar event."""
        if self.progress is Progress.DONE:
            when = f" {self.at:%Y-%m-%d}" if self.at else ""
            late = ", efter sista dagen" if self.late else ""
            return f"Status: klar{when}{late}" + (f" ({self.reason})." if self.reason else ".")
        state = "försenad" if self.progress is Progress.OVERDUE else "kommande"
        return f"Status: {state}, inte klar" + (f": {self.reason}." if self.reason else ".")


@dataclass(frozen=True)
class Tally:
    """How many of the units a deadline concerns have done it."""

    progress: Progress
    done: int
    total: int
    #: for a deadline of one unit (the region's), why it is not done
    reason: str = ""
    #: of the ``done``, how many were done after the deadline's date
    late: int = 0

    @property
    def counted(self) -> str:
        """``3 av 5 klara, 1 av dem sent``: how many are done, and how many of those late."""
        late = f", {number(self.late)} av dem sent" if self.late else ""
        klara = agree(self.done, "klar", "klara")
        return f"{number(self.done)} av {number(self.total)} {klara}{late}"


class StatusBook:
    """The status of any deadline of some calendar years for any unit, judged once."""

    def __init__(self, evidence: Evidence, today: date):
        self.evidence = evidence
        self.today = today
        self._states: dict[tuple[str, str, int, int, str], UnitStatus | None] = {}

    def status(self, due: Due, unit_id: str) -> UnitStatus | None:
        """``unit_id``'s state for ``due``; None for a milestone that has no status."""
        key = (due.milestone.id, due.deadline.level, due.calendar_year, due.occurrence, unit_id)
        if key not in self._states:
            verdict = self.evidence.verdict(due, unit_id)
            self._states[key] = (
                None
                if verdict is None
                else UnitStatus(
                    Progress.DONE if verdict.done else self._open(due),
                    verdict.at,
                    verdict.run_id,
                    verdict.reason,
                    verdict.done and verdict.at is not None and day(verdict.at) > due.date,
                )
            )
        return self._states[key]

    def progress(self, due: Due, unit_id: str) -> Progress | None:
        state = self.status(due, unit_id)
        return state.progress if state else None

    def tally(self, due: Due, unit_ids: Collection[str]) -> Tally | None:
        """The deadline's progress over many units: done only when every one is done."""
        if due.milestone.judged_by is None:
            return None
        states = [self.status(due, unit_id) for unit_id in unit_ids]
        done = [s for s in states if s is not None and s.progress is Progress.DONE]
        progress = Progress.DONE if unit_ids and len(done) == len(unit_ids) else self._open(due)
        only = states[0] if len(states) == 1 else None
        reason = only.reason if only is not None and progress is not Progress.DONE else ""
        return Tally(progress, len(done), len(unit_ids), reason, sum(s.late for s in done))

    def _open(self, due: Due) -> Progress:
        return Progress.OVERDUE if due.date < self.today else Progress.UPCOMING


def load_status(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    calendar_years: Iterable[int],
    *,
    now: datetime,
) -> StatusBook:
    """The evidence of every deadline of ``calendar_years``; a deadline before ``now``'s day
    in the wheel's timezone is overdue if not done."""
    zone = ZoneInfo(config.wheel.timezone)
    today = now.astimezone(zone).date()
    return StatusBook(Evidence(conn, tree, calendar_years, zone=zone, today=today), today)

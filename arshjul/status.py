"""Which unit has done which step, when, and why not: the evidence the auditors ask for.

Steps record their runs (:func:`record_done`); :func:`step_status` turns the evidence in the
database (:mod:`arshjul.evidence`: documents current for their data, findings answered,
versions approved, actions followed up, rosters imported) and the wheel into one row per unit
and deadline of a data year's cycle: done (when, by which run) or not and why, and overdue
when its date has passed.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection, insert, select

from arshjul.config import LEVEL_SV, LEVELS, Config
from arshjul.documents import Provenance
from arshjul.evidence import step_period
from arshjul.files import inside, write_text_atomic
from arshjul.milestone_status import Progress, load_status, progress_sv
from arshjul.models import OrgLevel, RunState, StepRun
from arshjul.org import OrgTree
from arshjul.render import render
from arshjul.workdays import Due, wheel_dates


def record_done(
    conn: Connection,
    *,
    step: str,
    period: str,
    unit_documents: Iterable[tuple[str, int, str | None]],
    run_id: str,
    started_at: datetime,
    finished_at: datetime,
) -> int:
    """Record ``step`` as done for each (unit id, documents written, the run whose documents
    it found unchanged when it wrote none: :class:`arshjul.documents.Kept`); returns how many of
    those units had not done it for ``period`` before (a rerun: none), which is when what the
    calendars and status pages show changes."""
    unit_documents = list(unit_documents)
    done_before = set(
        conn.execute(
            select(StepRun.unit_id).where(
                StepRun.step == step, StepRun.period == period, StepRun.state == RunState.DONE
            )
        ).scalars()
    )
    rows = [
        {
            "step": step,
            "period": period,
            "unit_id": unit_id,
            "run_id": run_id,
            "state": RunState.DONE,
            "started_at": started_at,
            "finished_at": finished_at,
            "documents": documents,
            "unchanged_since": unchanged_since,
        }
        for unit_id, documents, unchanged_since in unit_documents
    ]
    if rows:
        conn.execute(insert(StepRun), rows)
    return len({unit_id for unit_id, _, _ in unit_documents} - done_before)


@dataclass(frozen=True)
class StatusRow:
    """One unit's state for one deadline."""

    unit_id: str
    unit_name: str
    level: str
    milestone: str
    title: str
    owner_role: str
    due_date: date
    progress: Progress
    #: when the evidence was complete for this unit (Stockholm time), or for a follow-up the
    #: day the unit wrote; None when not done, or done with nothing to do
    finished_at: date | None
    run_id: str | None
    #: why it is not done ("3 fynd utan åtgärd"), or how it is done when that needs saying
    reason: str
    #: done, but after the deadline's date
    late: bool

    @property
    def status_sv(self) -> str:
        """``klar i tid``, ``klar sent``, ``försenad`` or ``kommande``."""
        return progress_sv(self.progress, self.late)


def cycle_periods(year: int) -> set[str]:
    """The periods of data year ``year``'s cycle: the year, and its two interim periods."""
    return {str(year), f"{year}-T1", f"{year}-T2"}


def cycle_dues(config: Config, year: int) -> list[Due]:
    """Every deadline with a status about data year ``year``: the cycle and its follow-ups
    (in calendar year ``year + 1``), the interim reports of ``year`` and its annual report."""
    periods = cycle_periods(year)
    dues = [
        due
        for calendar_year in (year, year + 1)
        for due in wheel_dates(config.wheel, calendar_year)
        if not due.milestone.removed
        and due.milestone.judged_by is not None
        and step_period(due) in periods
    ]
    # on one date, the enheter first and the region last, as the deadlines usually run
    return sorted(dues, key=lambda d: (d.date, d.milestone.id, -LEVELS.index(d.deadline.level)))


def step_status(
    conn: Connection, config: Config, tree: OrgTree, year: int, *, now: datetime
) -> list[StatusRow]:
    """Every unit at every level a deadline of ``year``'s cycle concerns, in deadline order,
    then in the organisation's order."""
    # the calendar years whose deadlines are about data year ``year``
    book = load_status(conn, config, tree, (year, year + 1), now=now)
    order = {u.id: i for i, u in enumerate(tree.walk(tree.root.id))}
    rows = []
    for due in cycle_dues(config, year):
        level = OrgLevel(due.deadline.level)
        units = [tree.root] if level == OrgLevel.REGION else tree.at_level(level)
        for unit in sorted(units, key=lambda u: order[u.id]):
            state = book.status(due, unit.id)
            assert state is not None  # every due of the cycle has a status
            rows.append(
                StatusRow(
                    unit.id,
                    unit.name,
                    LEVEL_SV[level.value],
                    due.milestone.id,
                    due.title,
                    due.deadline.owner_role,
                    due.date,
                    state.progress,
                    state.at,
                    state.run_id,
                    state.reason,
                    state.late,
                )
            )
    return rows


# --- formats -------------------------------------------------------------------------------

FIELDS = (
    "unit_id",
    "unit_name",
    "level",
    "milestone",
    "due_date",
    "status",
    "late",
    "reason",
    "finished_at",
    "run_id",
    "owner_role",
    "title",
)


def _when(at: date | None, form: str) -> str | None:
    """A time in ``form``, or a day as it is (a follow-up's has no time of day)."""
    if isinstance(at, datetime):
        return at.strftime(form) if "%" in form else at.isoformat(timespec=form)
    return at.isoformat() if at else None


def _record(row: StatusRow) -> dict[str, str | bool | None]:
    fields = asdict(row)
    return {
        **{name: str(fields[name]) for name in ("unit_id", "unit_name", "level", "milestone")},
        "due_date": row.due_date.isoformat(),
        "status": row.progress.value,
        "late": row.late,
        "reason": row.reason,
        "finished_at": _when(row.finished_at, "seconds"),
        "run_id": row.run_id,
        "owner_role": row.owner_role,
        "title": row.title,
    }


def as_csv(rows: Iterable[StatusRow]) -> str:
    """Comma-separated with a header, one line per unit and deadline; late is true or
    false, as in JSON."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({**_record(r), "late": str(r.late).lower()} for r in rows)
    return buffer.getvalue()


def as_json(rows: Iterable[StatusRow]) -> str:
    """A list of objects with the CSV's fields; null where not done."""
    return json.dumps([_record(r) for r in rows], ensure_ascii=False, indent=1) + "\n"


def as_table(rows: list[StatusRow]) -> str:
    """Aligned columns for a terminal: milestone, due date, status, unit, when done, why."""
    lines = [
        (
            r.milestone,
            r.due_date.isoformat(),
            r.status_sv,
            r.level,
            f"{r.unit_name} ({r.unit_id})",
            _when(r.finished_at, "%Y-%m-%d %H:%M") or "",
            r.reason,
        )
        for r in rows
    ]
    header = ("milstolpe", "datum", "status", "nivå", "enhet", "klar", "förklaring")
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        + "\n"
        for cells in [header, *lines]
    )


def write_status_document(
    out: Path, config: Config, year: int, rows: list[StatusRow], origin: Provenance
) -> Path:
    """``out/<year>/status.html``: per deadline, how many units are done, and every unit."""
    by_deadline: dict[tuple[str, str, date], list[StatusRow]] = {}
    for row in rows:
        by_deadline.setdefault((row.milestone, row.level, row.due_date), []).append(row)
    sections = [
        (group[0], Counter(r.status_sv for r in group), group) for group in by_deadline.values()
    ]
    html = render(
        "status.html.j2",
        year=year,
        region_name=config.settings.region.name,
        sections=sections,
        on_time=progress_sv(Progress.DONE, late=False),
        late=progress_sv(Progress.DONE, late=True),
        overdue=progress_sv(Progress.OVERDUE, late=False),
        upcoming=progress_sv(Progress.UPCOMING, late=False),
        origin=origin,
    )
    return write_text_atomic(inside(out, str(year)) / "status.html", html)

"""What shows a deadline of the wheel met for a unit: its evidence in the database.

A step is done for a unit when its evidence exists, not when a run of it finished:

* compile, analyse — a run of the step wrote the unit's document for the data year, and no
  import after that run added or changed deviations, complaints or capacity figures of that
  year of the unit or of a unit below it (the document counts those too; a closed deviation
  is a change); otherwise the document is out of date ("inaktuell: nya data importerade
  <datum>"). Done when the first run after the last such import finished.
* action_plan — the plan was written for the unit (a run of the step, after a run of the
  analysis), and every finding of severity Medel or Hög in the unit's analysis is answered: by
  an action that is not struck out, or by the unit's decision Ingen åtgärd, which the import
  takes only with its reason ("3 fynd utan åtgärd"). Done when the later of the plan and the
  last answer was imported. The region's plan must also be fastställd: its latest decided
  version approved.
* safety_report — the latest decided version is approved ("väntar på fastställande" when
  none is decided, "återremitterad <datum>" when it was returned). Done when approved.
* interim_report — a run wrote the section for the period.
* follow_up (15 May, 15 Sep, 15 Dec) — every action of the unit that was open (Planerad or
  Pågår) at the window's start has a status update *dated* in the window: a row of a returned
  worksheet whose Statusdatum, the day the enhetschef wrote, is in it, whether or not the
  status changed ("2 öppna åtgärder utan daterad uppföljning"). When a worksheet was imported
  does not count: a row without a Statusdatum follows nothing up (it still tells the action's
  status, as of its import's day), and a worksheet imported again byte for byte adds no update
  but holds the same days, so the verdict is the same. The window runs from the day after the
  previous follow-up deadline; a Statusdatum after the deadline still counts, as done late.
  Done on the day of the last of those updates; with no open action, done with nothing to
  follow up once the window has begun.
* training (31 Oct) — a training roster listing the unit was imported in the calendar year
  ("ingen utbildningsdata <år>"). Done at the first such import.

Roll-ups: a verksamhet, område or the region is done with its action plan, follow-up or
training only when it is done itself and so is every unit below it that the milestone has a
deadline for (its plan, its follow-up, its managers include theirs), judged by the roll-up's
own deadline. A roll-up's compilation or analysis counts its units' data itself: its own
current document is its evidence.

Everything is read in a few queries per status (:class:`Evidence`) and judged in Python.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select
from sqlalchemy.sql.elements import ColumnElement

from arshjul.action_rules import ANSWERS, MUST_ANSWER, OPEN
from arshjul.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Capacity,
    Complaint,
    Deviation,
    Finding,
    ImportBatch,
    RunState,
    SignOff,
    SignOffState,
    StepRun,
    TrainingImport,
)
from arshjul.org import OrgTree, Unit
from arshjul.render import agree, counted, number
from arshjul.workdays import Due, rule_dates

#: milestones whose roll-ups are done only when every unit below them is (see the docstring)
ROLLED_UP = frozenset({"action_plan", "follow_up", "training"})
#: documents signed off at the region: their step is done when the latest decided version
#: is approved
SIGNED = frozenset({"action_plan", "safety_report"})
#: the data a compilation and an analysis count: (kind of import, unit, batch, the date that
#: puts a row in a year) of each table
_YEAR_DATA: tuple[tuple[str, Any, Any, Any], ...] = (
    ("deviations", Deviation.unit_id, Deviation.batch_id, Deviation.reported_date),
    ("complaints", Complaint.unit_id, Complaint.batch_id, Complaint.received_date),
    ("capacity", Capacity.unit_id, Capacity.batch_id, Capacity.month),
)


@dataclass(frozen=True)
class Verdict:
    """Whether one unit has the evidence of one deadline."""

    done: bool
    #: when the evidence was complete (in the wheel's timezone): a datetime, or for a
    #: follow-up the day the unit wrote (no time of day is known); None when not done, or
    #: when nothing was to be done
    at: date | None = None
    #: the run that wrote the document or recorded the decision, when one did
    run_id: str | None = None
    #: why it is not done ("3 fynd utan åtgärd"), or how it is done when that needs saying
    reason: str = ""


@dataclass(frozen=True)
class Run:
    at: datetime
    run_id: str


@dataclass(frozen=True)
class Decision:
    """The latest decided version of a signed-off document."""

    version: int
    state: SignOffState
    at: datetime
    run_id: str


@dataclass(frozen=True)
class Update:
    """One status update of an action: a row of a returned worksheet, imported."""

    #: the day the status held: the Statusdatum written in the row, else the import's day
    on: date
    #: the Statusdatum written in the row (None: none given, which follows up nothing)
    written: date | None
    #: when the row was imported
    at: datetime
    status: ActionStatus


def update(status: ActionStatus, written: date | None, at: datetime, zone: ZoneInfo) -> Update:
    """A status update from a row imported at ``at``, read in ``zone``: a row without a
    Statusdatum held on its import's local day (an import at 00:30 in Stockholm is that day's,
    not the day before's as in UTC)."""
    held = at.astimezone(zone)
    return Update(written or held.date(), written, held, status)


def status_updates(
    conn: Connection, zone: ZoneInfo, *, of: ColumnElement[bool] | None = None
) -> dict[str, list[Update]]:
    """action id -> its status updates, in the order of the days they held (rows without a
    Statusdatum by their import's day in ``zone``), then as imported; ``of``: only of the
    actions meeting this condition on ``action`` (all updates when None)."""
    query = (
        select(
            ActionUpdate.action_id,
            ActionUpdate.status,
            ActionUpdate.status_date,
            ImportBatch.imported_at,
        )
        .join(ImportBatch, ImportBatch.id == ActionUpdate.batch_id)
        .order_by(ImportBatch.imported_at, ActionUpdate.id)
    )
    if of is not None:
        query = query.where(ActionUpdate.action_id.in_(select(Action.action_id).where(of)))
    updates: dict[str, list[Update]] = defaultdict(list)
    for action_id, status, written, at in conn.execute(query):
        updates[action_id].append(update(status, written, at, zone))
    for listed in updates.values():
        listed.sort(key=lambda u: u.on)  # stable: one day's updates stay as imported
    return updates


def action_histories(
    conn: Connection, zone: ZoneInfo, *, of: ColumnElement[bool] | None = None
) -> dict[str, list[Update]]:
    """Like :func:`status_updates`, for every action (of ``of``), with an action stored without
    its history (before ``action_update``) given its own row as its one update."""
    updates = status_updates(conn, zone, of=of)
    query = select(
        Action.action_id, Action.status, Action.status_date, ImportBatch.imported_at
    ).join(ImportBatch, ImportBatch.id == Action.batch_id)
    if of is not None:
        query = query.where(of)
    return {
        action_id: updates.get(action_id) or [update(status, written, at, zone)]
        for action_id, status, written, at in conn.execute(query)
    }


def action_states(
    conn: Connection, zone: ZoneInfo, on: date, *, of: ColumnElement[bool] | None = None
) -> dict[str, ActionStatus]:
    """action id -> its status on day ``on``: that of its last update (:func:`action_histories`)
    held on or before it. An action with none by then is absent: it was not yet in a returned
    worksheet, as far as the units wrote."""
    states = {}
    for action_id, history in action_histories(conn, zone, of=of).items():
        if held := held_by(history, on):
            states[action_id] = held[-1].status
    return states


def held_by(history: list[Update], on: date) -> list[Update]:
    """The updates of ``history`` (in the order of their days) that held on or before day
    ``on``: its last is the action's status on that day."""
    return history[: bisect_right([u.on for u in history], on)]


_Time = TypeVar("_Time", bound=date)


def day(at: date) -> date:
    """The day of a verdict's time, which is a datetime or already a day."""
    return at.date() if isinstance(at, datetime) else at


def _latest(times: Iterable[_Time | None]) -> _Time | None:
    """The latest of times of one kind: datetimes, or days (a follow-up's)."""
    return max((t for t in times if t is not None), default=None)


class Evidence:
    """The evidence of every deadline of the wheels of ``calendar_years`` (the cycle of data
    year C-1 and the interim reports of C, for calendar year C), read from ``conn`` at once;
    :meth:`verdict` judges one unit and deadline."""

    def __init__(
        self,
        conn: Connection,
        tree: OrgTree,
        calendar_years: Iterable[int],
        *,
        zone: ZoneInfo,
        today: date,
    ):
        self.tree, self.zone, self.today = tree, zone, today
        calendar = sorted(set(calendar_years))
        years = [c - 1 for c in calendar]
        periods = {p for c in calendar for p in (str(c - 1), f"{c}-T1", f"{c}-T2")}
        self.runs = self._runs(conn, periods)
        self.changed = self._changed(conn, years)
        self.findings = self._findings(conn, years)
        self.unit_actions, self.answers = self._actions(conn)
        self.updates = status_updates(conn, zone)
        self.decisions = self._decisions(conn, periods)
        self.rosters = self._rosters(conn)
        self._verdicts: dict[tuple[str, str, int, int, str], Verdict] = {}
        self._subtree_changed: dict[tuple[int, str], datetime | None] = {}

    # --- loading ---------------------------------------------------------------------------

    def _local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def _runs(self, conn: Connection, periods: set[str]) -> dict[tuple[str, str, str], list[Run]]:
        """(step, period, unit) -> its finished runs, oldest first."""
        rows = conn.execute(
            select(
                StepRun.step, StepRun.period, StepRun.unit_id, StepRun.finished_at, StepRun.run_id
            )
            .where(
                StepRun.state == RunState.DONE,
                StepRun.period.in_(sorted(periods)),
                StepRun.finished_at.is_not(None),
            )
            .order_by(StepRun.finished_at, StepRun.id)
        )
        runs: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
        for step, period, unit_id, at, run_id in rows:
            runs[step, period, unit_id].append(Run(self._local(at), run_id))
        return runs

    def _changed(self, conn: Connection, years: list[int]) -> dict[tuple[int, str], datetime]:
        """(data year, unit) -> when data of that year for the unit last changed in an import
        after the year's first compilation or analysis. Earlier imports, and imports that
        changed no record, cannot make any of its documents out of date: a year's records are
        many, and only those of the few imports that could are read (usually none)."""
        first: dict[str, datetime] = {}
        for (step, period, _), runs in self.runs.items():
            if step in ("compile", "analyse"):
                first[period] = min(first.get(period, runs[0].at), runs[0].at)
        changed: dict[tuple[int, str], datetime] = {}
        for year in years:
            if str(year) not in first:
                continue
            for kind, unit, batch, day in _YEAR_DATA:
                later = {
                    batch_id: self._local(at)
                    for batch_id, at in conn.execute(
                        select(ImportBatch.id, ImportBatch.imported_at).where(
                            ImportBatch.kind == kind,
                            ImportBatch.imported_at > first[str(year)],
                            ImportBatch.inserted + ImportBatch.updated > 0,
                        )
                    )
                }
                if not later:
                    continue
                rows = conn.execute(
                    select(unit, batch)
                    .where(
                        batch.in_(sorted(later)), day.between(date(year, 1, 1), date(year, 12, 31))
                    )
                    .group_by(unit, batch)
                )
                for unit_id, batch_id in rows:
                    at = later[batch_id]
                    if (year, unit_id) not in changed or at > changed[year, unit_id]:
                        changed[year, unit_id] = at
        return changed

    def _findings(self, conn: Connection, years: list[int]) -> dict[tuple[int, str], list[str]]:
        """(data year, unit) -> the ids of its findings that must be answered."""
        rows = conn.execute(
            select(Finding.year, Finding.unit_id, Finding.id)
            .where(Finding.year.in_(years), Finding.severity >= MUST_ANSWER)
            .order_by(Finding.id)
        )
        findings: dict[tuple[int, str], list[str]] = defaultdict(list)
        for year, unit_id, finding_id in rows:
            findings[year, unit_id].append(finding_id)
        return findings

    @staticmethod
    def _actions(conn: Connection) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """unit -> its action ids; finding id -> the ids of the actions (and decisions) of its
        unit that answer it now."""
        rows = conn.execute(
            select(Action.action_id, Action.unit_id, Action.finding_id, Action.status).order_by(
                Action.action_id
            )
        )
        unit_actions: dict[str, list[str]] = defaultdict(list)
        answers: dict[str, list[str]] = defaultdict(list)
        for action_id, unit_id, finding_id, status in rows:
            unit_actions[unit_id].append(action_id)
            if finding_id is not None and status in ANSWERS:
                answers[finding_id].append(action_id)
        return unit_actions, answers

    def _decisions(
        self, conn: Connection, periods: set[str]
    ) -> dict[tuple[str, str, str], Decision]:
        """(document, period, unit) -> its latest decided version."""
        rows = conn.execute(
            select(
                SignOff.document,
                SignOff.period,
                SignOff.unit_id,
                SignOff.version,
                SignOff.state,
                SignOff.at,
                SignOff.run_id,
            )
            .where(SignOff.period.in_(sorted(periods)))
            .order_by(SignOff.version)
        )
        return {
            (document, period, unit_id): Decision(version, state, self._local(at), run_id)
            for document, period, unit_id, version, state, at, run_id in rows
        }

    def _rosters(self, conn: Connection) -> dict[str, list[datetime]]:
        """unit -> when training rosters listing it were imported, oldest first."""
        rows = conn.execute(
            select(TrainingImport.unit_id, ImportBatch.imported_at)
            .join(ImportBatch, ImportBatch.id == TrainingImport.batch_id)
            .order_by(ImportBatch.imported_at)
        )
        rosters: dict[str, list[datetime]] = defaultdict(list)
        for unit_id, at in rows:
            rosters[unit_id].append(self._local(at))
        return rosters

    # --- judging ---------------------------------------------------------------------------

    def verdict(self, due: Due, unit_id: str) -> Verdict | None:
        """Whether ``unit_id`` has the evidence of ``due``; None for a milestone without."""
        judged_by = due.milestone.judged_by
        if judged_by is None:
            return None
        own = self._own(due, unit_id)
        if judged_by not in ROLLED_UP:
            return own
        levels = {d.level for d in due.milestone.deadlines}
        below = [self._own(due, u.id) for u in self._below(unit_id) if u.level.value in levels]
        missing = sum(not v.done for v in below)
        reasons = [own.reason] if own.reason and not own.done else []
        if missing:
            klara = agree(missing, "klar", "klara")
            reasons.append(f"{number(missing)} av {number(len(below))} underliggande inte {klara}")
        if own.done and not missing:
            at = _latest([own.at, *(v.at for v in below)])
            # "nothing to do" is the roll-up's own; units below may have had something
            note = own.reason if own.at is not None or at is None else ""
            return Verdict(True, at, own.run_id, note)
        return Verdict(False, reason="; ".join(reasons))

    def _children(self, unit_id: str) -> list[Unit]:
        # a region scope before an organisation is imported is no unit of the tree
        return self.tree.children(unit_id) if unit_id in self.tree else []

    def _below(self, unit_id: str) -> list[Unit]:
        """Every unit under ``unit_id``, at any depth."""
        return [u for child in self._children(unit_id) for u in self.tree.walk(child.id)]

    def _own(self, due: Due, unit_id: str) -> Verdict:
        milestone = due.milestone
        key = (milestone.id, due.deadline.level, due.calendar_year, due.occurrence, unit_id)
        if key not in self._verdicts:
            judged_by = milestone.judged_by
            if judged_by in ("compile", "analyse"):
                verdict = self._document(judged_by, due.data_year, unit_id)
            elif judged_by == "interim_report":
                verdict = self._written("interim_report", step_period(due), unit_id)
            elif judged_by == "action_plan":
                verdict = self._plan(due.data_year, unit_id)
            elif judged_by == "safety_report":
                verdict = self._approved("safety_report", str(due.data_year), unit_id)
            elif judged_by == "follow_up":
                verdict = self._follow_up(due, unit_id)
            else:
                verdict = self._training(due.calendar_year, unit_id)
            self._verdicts[key] = verdict
        return self._verdicts[key]

    def _written(self, step: str, period: str, unit_id: str) -> Verdict:
        runs = self.runs.get((step, period, unit_id))
        if not runs:
            return Verdict(False, reason="inte skrivet")
        return Verdict(True, runs[0].at, runs[0].run_id)

    def _changed_below(self, year: int, unit_id: str) -> datetime | None:
        """When data of ``year`` last changed for the unit or any unit below it."""
        key = (year, unit_id)
        if key not in self._subtree_changed:
            self._subtree_changed[key] = _latest(
                [
                    self.changed.get((year, unit_id)),
                    *(self._changed_below(year, c.id) for c in self._children(unit_id)),
                ]
            )
        return self._subtree_changed[key]

    def _document(self, step: str, year: int, unit_id: str) -> Verdict:
        runs = self.runs.get((step, str(year), unit_id))
        if not runs:
            return Verdict(False, reason="inte skrivet")
        changed = self._changed_below(year, unit_id)
        current = [r for r in runs if changed is None or r.at >= changed]
        if not current:
            assert changed is not None
            return Verdict(False, reason=f"inaktuell: nya data importerade {changed:%Y-%m-%d}")
        return Verdict(True, current[0].at, current[0].run_id)

    def _approved(self, document: str, period: str, unit_id: str) -> Verdict:
        decision = self.decisions.get((document, period, unit_id))
        runs = self.runs.get((document, period, unit_id), [])
        if decision is not None and decision.state is SignOffState.APPROVED:
            return Verdict(
                True, decision.at, decision.run_id, f"fastställd version {decision.version}"
            )
        if decision is None:
            return Verdict(False, reason="väntar på fastställande" if runs else "inte skrivet")
        returned = f"version {decision.version} återremitterad {decision.at:%Y-%m-%d}"
        if any(r.at > decision.at for r in runs):
            return Verdict(False, reason=f"väntar på fastställande ({returned})")
        return Verdict(False, reason=returned)

    def _plan(self, year: int, unit_id: str) -> Verdict:
        period = str(year)
        if not self.runs.get(("analyse", period, unit_id)):
            return Verdict(False, reason="analysen saknas")
        written = self._written("action_plan", period, unit_id)
        if not written.done:
            return written
        findings = self.findings.get((year, unit_id), [])
        unanswered = [f for f in findings if not self.answers.get(f)]
        if unanswered:
            return Verdict(False, reason=f"{number(len(unanswered))} fynd utan åtgärd")
        answered_at: list[date | None] = [self._first_answer(f) for f in findings]
        reasons = []
        run_id = written.run_id
        if self._is_region(unit_id):
            signed = self._approved("action_plan", period, unit_id)
            if not signed.done:
                return signed
            answered_at.append(signed.at)
            run_id = signed.run_id
            reasons.append(signed.reason)
        return Verdict(True, _latest([written.at, *answered_at]), run_id, "; ".join(reasons))

    def _is_region(self, unit_id: str) -> bool:
        """The top of the tree (or the region's scope before an organisation is imported)."""
        unit = self.tree.units.get(unit_id)
        return unit is None or unit.parent_id is None

    def _first_answer(self, finding_id: str) -> datetime | None:
        """When the finding was first answered by an action or decision answering it now."""
        return min(
            (
                u.at
                for action_id in self.answers[finding_id]
                for u in self.updates.get(action_id, [])
                if u.status in ANSWERS
            ),
            default=None,
        )

    def _follow_up(self, due: Due, unit_id: str) -> Verdict:
        start = follow_up_window_start(due)
        if self.today <= start:
            return Verdict(False, reason=f"perioden börjar {start + timedelta(days=1)}")
        followed_up: list[date] = []
        missing = 0
        for action_id in self.unit_actions.get(unit_id, []):
            updates = self.updates.get(action_id, [])
            before = bisect_right([u.on for u in updates], start)
            if before == 0 or updates[before - 1].status not in OPEN:
                continue  # not there yet, or closed, at the window's start
            # the first day the unit wrote after the window began; an import in the window
            # of a row it did not date is no follow-up
            written = [u.written for u in updates[before:] if u.written is not None]
            if written:
                followed_up.append(min(written))
            else:
                missing += 1
        if missing:
            actions = counted(missing, "öppen åtgärd", "öppna åtgärder")
            return Verdict(False, reason=f"{actions} utan daterad uppföljning")
        if not followed_up:
            return Verdict(True, reason="inga öppna åtgärder att följa upp")
        return Verdict(True, max(followed_up))

    def _training(self, calendar_year: int, unit_id: str) -> Verdict:
        imported = [at for at in self.rosters.get(unit_id, []) if at.year == calendar_year]
        if not imported:
            return Verdict(False, reason=f"ingen utbildningsdata {calendar_year}")
        return Verdict(True, imported[0])


def follow_up_window_start(due: Due) -> date:
    """The previous deadline of the same milestone and level: a follow-up's window runs from
    the day after it."""
    rule = due.deadline.due
    if due.occurrence > 0:
        return rule_dates(rule, due.calendar_year)[due.occurrence - 1]
    return rule_dates(rule, due.calendar_year - 1)[-1]


def step_period(due: Due) -> str:
    """The period a deadline's evidence is about: the data year, or ``2026-T1`` for the
    interim report of a tertial."""
    milestone = due.milestone
    if milestone.step == "interim_report" and milestone.period in ("T1", "T2"):
        return f"{due.calendar_year}-{milestone.period}"
    # the cycle and the annual report of calendar year C are about data year C-1
    return str(due.data_year)

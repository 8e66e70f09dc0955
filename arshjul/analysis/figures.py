"""What the analysis of a year reads from the database: each unit's subtree figures of the
year and the two before it (:mod:`arshjul.figures`), its risk matrix and the follow-up of its
last action plan, as of the analysis's day in the wheel (:func:`as_of`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, SQLColumnExpression, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from arshjul.action_rules import OPEN
from arshjul.config import Step, Wheel
from arshjul.evidence import action_states
from arshjul.figures import Figures, StoredCounts, count_own, roll_up
from arshjul.models import Action, ActionStatus, Deviation
from arshjul.org import OrgTree
from arshjul.workdays import wheel_dates

K = TypeVar("K")

#: the judged effect of a carried-out action that made no difference (codes.action_effects)
NO_EFFECT = "Ingen effekt"


@dataclass(frozen=True)
class AsOf:
    """The day a document of a data year (the analysis, the patientsäkerhetsberättelse)
    judges the actions (and the complaints still in time) on, so that it says the same
    whenever it is run again."""

    day: date
    #: the document's earliest deadline in the wheel, in the year after the data year; None:
    #: the wheel has none
    milestone: date | None

    @property
    def at_milestone(self) -> bool:
        return self.day == self.milestone

    @property
    def answers_on(self) -> date | None:
        """The day complaints not yet answered are dated by ("inte besvarade per …"): the
        run's, before the milestone; none at it, for the complaints are counted as imported
        and one answered after the milestone was not answered on it."""
        return None if self.at_milestone else self.day


def as_of(wheel: Wheel, year: int, today: date, step: Step) -> AsOf:
    """The earliest deadline of ``step``'s milestone in the wheel of the year its document of
    data year ``year`` is written in (``year`` + 1), or ``today`` when that is earlier (a run
    before it shows what is known now) or when the wheel has none."""
    milestone = min(
        (
            due.date
            for due in wheel_dates(wheel, year + 1)
            if due.milestone.step == step and not due.milestone.removed
        ),
        default=None,
    )
    return AsOf(min(today, milestone or today), milestone)


@dataclass(frozen=True)
class ActionFollowUp:
    """A unit's own actions in last year's action plan, with their statuses as of the
    analysis's day (:class:`AsOf`): an action the units had not yet written into a returned
    worksheet by then is not counted."""

    total: int = 0
    #: Planerad or Pågår on the day, with the due date before it
    overdue: int = 0
    #: Klar on the day, with the effect judged "Ingen effekt" (the effect as it is now: it
    #: has no dated history)
    without_effect: int = 0


@dataclass(frozen=True)
class UnitData:
    """A unit's subtree figures for the analysed year and the two before it."""

    years: tuple[Figures, ...]  # oldest first
    risk: Counter[tuple[Any, Any]]  # (consequence, probability) -> deviations, analysed year
    actions: ActionFollowUp  # the unit's own plan (not its subtree's)


@dataclass(frozen=True)
class Data:
    year: int
    years: tuple[int, ...]  # the analysed year last
    #: the years the database holds any record of (a year never imported is no baseline)
    with_data: frozenset[int]
    units: dict[str, UnitData]
    as_of: AsOf | None  # None: last year's actions were not read


def gather(
    conn: Connection,
    tree: OrgTree,
    year: int,
    *,
    wheel: Wheel,
    today: date | None = None,
    stored: StoredCounts | None = None,
) -> Data:
    """The figures the analysis of ``year`` needs, run on ``today``: last year's actions are
    judged as of the analysis's day in ``wheel`` (:func:`as_of`), their import days read in
    its timezone; ``today`` None: the actions are not read (for callers that only re-measure
    findings). ``stored``: a run's stored counts (:func:`arshjul.figures.count_own`)."""
    years = (year - 2, year - 1, year)
    figures = [roll_up(tree, count_own(conn, y, stored)) for y in years]
    risk = roll_up_counters(tree, count_risk(conn, year))
    on = None if today is None else as_of(wheel, year, today, "analyse")
    actions = {}
    if on is not None:
        actions = count_actions(conn, year - 1, on.day, ZoneInfo(wheel.timezone))
    root = tree.root.id
    with_data = frozenset(
        y for y, f in zip(years, figures, strict=True) if f[root].deviations + f[root].complaints
    )
    units = {
        uid: UnitData(tuple(f[uid] for f in figures), risk[uid], actions.get(uid, ActionFollowUp()))
        for uid in tree.units
    }
    return Data(year, years, with_data, units, on)


def _in_year(column: SQLColumnExpression[date], year: int) -> ColumnElement[bool]:
    return column.between(date(year, 1, 1), date(year, 12, 31))


def count_risk(conn: Connection, year: int) -> dict[str, Counter[tuple[Any, Any]]]:
    """Each unit's own deviations of ``year`` by (consequence, probability)."""
    own: dict[str, Counter[tuple[Any, Any]]] = {}
    rows = conn.execute(
        select(Deviation.unit_id, Deviation.consequence, Deviation.probability, func.count())
        .where(_in_year(Deviation.reported_date, year))
        .group_by(Deviation.unit_id, Deviation.consequence, Deviation.probability)
    )
    for unit_id, consequence, probability, n in rows:
        own.setdefault(unit_id, Counter())[consequence, probability] += n
    return own


def count_actions(
    conn: Connection, plan_year: int, on: date, zone: ZoneInfo
) -> dict[str, ActionFollowUp]:
    """Each unit's own actions of the plan on data year ``plan_year`` (those answering a
    finding of that year, or numbered ``{unit}-{plan_year}-nnn`` as the worksheet numbers
    them) with their statuses on day ``on`` (:func:`arshjul.evidence.action_states`)."""
    in_plan = or_(
        Action.finding_id.like(f"{plan_year}:%"), Action.action_id.like(f"%-{plan_year}-%")
    )
    states = action_states(conn, zone, on, of=in_plan)
    rows = conn.execute(
        select(Action.action_id, Action.unit_id, Action.due_date, Action.effect).where(in_plan)
    )
    totals: dict[str, Counter[str]] = {}
    for action_id, unit_id, due, effect in rows:
        status = states.get(action_id)
        # not yet written by then, or the unit's decision Ingen åtgärd, which is no action
        if status is None or status is ActionStatus.NO_ACTION:
            continue
        counts = totals.setdefault(unit_id, Counter())
        counts["total"] += 1
        counts["overdue"] += status in OPEN and due is not None and due < on
        counts["without_effect"] += status is ActionStatus.DONE and effect == NO_EFFECT
    return {
        uid: ActionFollowUp(c["total"], c["overdue"], c["without_effect"])
        for uid, c in totals.items()
    }


def roll_up_counters(tree: OrgTree, own: dict[str, Counter[K]]) -> dict[str, Counter[K]]:
    """Like ``figures.roll_up`` for a single counter per unit."""
    total: dict[str, Counter[K]] = {}
    for unit in reversed(list(tree.walk(tree.root.id))):
        c: Counter[K] = Counter(own.get(unit.id, {}))
        for child in tree.children(unit.id):
            c.update(total[child.id])
        total[unit.id] = c
    return total

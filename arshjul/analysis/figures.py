"""What the analysis of a year reads from the database: each unit's subtree figures of the
year and the two before it (:mod:`arshjul.figures`), its risk matrix and the follow-up of its
last action plan."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Connection, SQLColumnExpression, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from arshjul.figures import Figures, StoredCounts, count_own, roll_up
from arshjul.models import Action, ActionStatus, Deviation
from arshjul.org import OrgTree

K = TypeVar("K")

#: the judged effect of a carried-out action that made no difference (codes.action_effects)
NO_EFFECT = "Ingen effekt"


@dataclass(frozen=True)
class ActionFollowUp:
    """A unit's own actions in last year's action plan, as of the day of the analysis."""

    total: int = 0
    #: Planerad or Pågår with the due date passed
    overdue: int = 0
    #: Klar with the effect judged "Ingen effekt"
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
    today: date | None  # None: last year's actions were not read


def gather(
    conn: Connection,
    tree: OrgTree,
    year: int,
    *,
    today: date | None = None,
    stored: StoredCounts | None = None,
) -> Data:
    """The figures the analysis of ``year`` needs. ``today`` decides which of last year's
    actions are late; None: the actions are not read (for callers that only re-measure
    findings). ``stored``: a run's stored counts (:func:`arshjul.figures.count_own`)."""
    years = (year - 2, year - 1, year)
    figures = [roll_up(tree, count_own(conn, y, stored)) for y in years]
    risk = roll_up_counters(tree, count_risk(conn, year))
    actions = count_actions(conn, year - 1, today) if today else {}
    root = tree.root.id
    with_data = frozenset(
        y for y, f in zip(years, figures, strict=True) if f[root].deviations + f[root].complaints
    )
    units = {
        uid: UnitData(tuple(f[uid] for f in figures), risk[uid], actions.get(uid, ActionFollowUp()))
        for uid in tree.units
    }
    return Data(year, years, with_data, units, today)


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


def count_actions(conn: Connection, plan_year: int, today: date) -> dict[str, ActionFollowUp]:
    """Each unit's own actions of the plan on data year ``plan_year``: those answering a
    finding of that year, or numbered ``{unit}-{plan_year}-nnn`` as the worksheet numbers
    them."""
    in_plan = or_(
        Action.finding_id.like(f"{plan_year}:%"), Action.action_id.like(f"%-{plan_year}-%")
    )
    late = and_(
        Action.status.in_((ActionStatus.PLANNED, ActionStatus.IN_PROGRESS)),
        Action.due_date < today,
    )
    no_effect = and_(Action.status == ActionStatus.DONE, Action.effect == NO_EFFECT)
    rows = conn.execute(
        select(
            Action.unit_id,
            func.count(),
            func.sum(case((late, 1), else_=0)),
            func.sum(case((no_effect, 1), else_=0)),
        )
        # a decision Ingen åtgärd is no action
        .where(in_plan, Action.status != ActionStatus.NO_ACTION)
        .group_by(Action.unit_id)
    )
    return {
        uid: ActionFollowUp(n, overdue or 0, ineffective or 0)
        for uid, n, overdue, ineffective in rows
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

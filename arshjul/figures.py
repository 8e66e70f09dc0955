"""The year's counts: each unit's own deviations, complaints, patient days and training
roster, and their roll-ups over the tree.

Counting happens in the database (GROUP BY per unit), roll-ups in Python over the tree, so the
cost grows with the number of units, not of records. The compilation, the analysis and the
patientsäkerhetsberättelse all show these figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Integer, and_, case, cast, extract, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from arshjul.config import KnowledgeAreas
from arshjul.models import (
    Capacity,
    Complaint,
    ComplaintStatus,
    Deviation,
    DeviationStatus,
    Training,
)
from arshjul.org import OrgTree

#: the patient-safety course whose coverage the compilation and the analysis follow up
SAFETY_COURSE = "patientsäkerhet"
#: roles of the training roster, as the documents name them
TRAINING_ROLES_SV = {"chef": "Chefer", "medarbetare": "Medarbetare"}


@dataclass(frozen=True)
class Durations:
    """How long things took, from a histogram of days (None: not done yet)."""

    total: int
    done: int
    median_days: float | None  # of the done ones
    within_target: int

    @property
    def share_within(self) -> float | None:
        """Share of all (not only of the done ones) done within the target."""
        return self.within_target / self.total if self.total else None


def median_of(days: Counter[int]) -> float | None:
    """The median of a histogram without expanding it (a region has 100,000s of records)."""
    n = sum(days.values())
    if not n:
        return None
    ranks = ((n - 1) // 2, n // 2)
    found: list[int] = []
    seen = 0
    for d in sorted(days):
        seen += days[d]
        found += [d for r in ranks[len(found) :] if r < seen]
        if len(found) == 2:
            break
    return (found[0] + found[1]) / 2


def durations(days: Counter[int] | Counter[int | None], target_days: int) -> Durations:
    """Median and share within ``target_days`` of a histogram of days (None: not done)."""
    done: Counter[int] = Counter({d: n for d, n in days.items() if d is not None})
    return Durations(
        total=sum(days.values()),
        done=sum(done.values()),
        median_days=median_of(done),
        within_target=sum(n for d, n in done.items() if d <= target_days),
    )


@dataclass
class Figures:
    """The counts of one unit (own records) or of a subtree (rolled up).

    Everything is a count or a histogram, so a roll-up is exact: medians of a subtree come
    from its histogram of days, never from the medians of its parts.
    """

    deviations: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_consequence: Counter[int] = field(default_factory=Counter)
    by_status: Counter[DeviationStatus] = field(default_factory=Counter)
    by_month: Counter[int] = field(default_factory=Counter)
    #: consequence × probability -> deviations; 0: not assessed
    by_risk_score: Counter[int] = field(default_factory=Counter)
    lex_maria: int = 0
    care_chain: int = 0
    #: closed deviations by days from report to closure
    closure_days: Counter[int] = field(default_factory=Counter)
    #: deviations not closed, by report date (their age depends on the day one asks)
    open_reported: Counter[date] = field(default_factory=Counter)
    #: patient days (capacity data) per month, of the units that have them
    patient_days_by_month: Counter[int] = field(default_factory=Counter)
    #: deviations per month of the units in the months they have patient days
    exposed_by_month: Counter[int] = field(default_factory=Counter)
    #: units with patient days in the year
    capacity_units: int = 0
    complaints: int = 0
    complaints_by_channel: Counter[str] = field(default_factory=Counter)
    complaints_by_category: Counter[str] = field(default_factory=Counter)
    complaints_by_month: Counter[int] = field(default_factory=Counter)
    #: complaints by days to the answer (None: not answered); withdrawn ones are left out
    answer_days: Counter[int | None] = field(default_factory=Counter)
    #: (course, role) -> persons on the training roster, and those who completed by year end
    training_rostered: Counter[tuple[str, str]] = field(default_factory=Counter)
    training_completed: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, other: Figures) -> None:
        for name, value in vars(other).items():
            if isinstance(value, Counter):
                getattr(self, name).update(value)
            else:
                setattr(self, name, getattr(self, name) + value)

    @property
    def patient_days(self) -> int:
        return sum(self.patient_days_by_month.values())

    @property
    def exposed_deviations(self) -> int:
        """Deviations of the units and months that have patient days."""
        return sum(self.exposed_by_month.values())

    @property
    def reporting_rate(self) -> float | None:
        """Deviations per 1,000 patient days, from the units and months with capacity data
        only; None without any."""
        days = self.patient_days
        return 1000 * self.exposed_deviations / days if days else None

    def closure(self, target_days: int) -> Durations:
        return durations(self.closure_days, target_days)

    def open_older_than(self, today: date, days: int) -> int:
        """Deviations still open more than ``days`` after their report, as of ``today``."""
        return sum(n for d, n in self.open_reported.items() if (today - d).days > days)

    def answers(self, target_days: int) -> Durations:
        return durations(self.answer_days, target_days)

    def training_coverage(self, role: str, course: str = SAFETY_COURSE) -> float | None:
        rostered = self.training_rostered.get((course, role), 0)
        return self.training_completed.get((course, role), 0) / rostered if rostered else None

    def by_knowledge_area(self, mapping: KnowledgeAreas) -> Counter[str]:
        """Deviations per knowledge area; one in several areas counts in each."""
        areas: Counter[str] = Counter()
        for category, n in self.by_category.items():
            for area in mapping.areas_of(category):
                areas[area] += n
        return areas


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def days_between(conn: Connection, start: Any, end: Any) -> ColumnElement[int]:
    """Whole days from ``start`` to ``end``, computed by the database."""
    if conn.dialect.name == "sqlite":
        return cast(func.julianday(end) - func.julianday(start), Integer)
    return cast(end - start, Integer)  # PostgreSQL: date minus date is a number of days


def month_number(day: Any) -> ColumnElement[int]:
    """The month (1-12) of a date column, an int on every database (PostgreSQL's EXTRACT
    gives a Decimal)."""
    return cast(extract("month", day), Integer)


def count_own(conn: Connection, year: int) -> dict[str, Figures]:
    """Each unit's own records of ``year``: deviations by report date, complaints by receipt,
    patient days by month, and the training roster with courses completed by the year's end.

    Each table is read a few times, grouped in the database; counters that are not listed
    in an order of their own share a query (status and month; channel and month)."""
    first, last = _year_bounds(year)
    own: dict[str, Figures] = {}

    def fig(unit_id: str) -> Figures:
        f = own.get(unit_id)
        if f is None:
            f = own[unit_id] = Figures()
        return f

    def tally(counter: str, unit_id: Any, key: Any, *where: ColumnElement[bool]) -> None:
        """Add each unit's records by ``key`` to its ``counter``, grouped in the database."""
        rows = conn.execute(select(unit_id, key, func.count()).where(*where).group_by(unit_id, key))
        for uid, k, n in rows:
            getattr(fig(uid), counter)[k] += n

    _count_deviations(conn, Deviation.reported_date.between(first, last), fig, tally)
    _count_complaints(conn, Complaint.received_date.between(first, last), fig, tally)
    _count_patient_days(conn, first, last, fig)
    _count_training(conn, last, fig)
    return own


#: ``tally(counter, unit column, key, *conditions)`` of :func:`count_own`
Tally = Callable[..., None]


def _count_deviations(
    conn: Connection, reported: ColumnElement[bool], fig: Callable[[str], Figures], tally: Tally
) -> None:
    """The deviations ``reported`` in the year: four grouped queries over the year's rows."""
    d = Deviation
    tally("by_category", d.unit_id, d.category, reported)
    # consequence first, as ``by_consequence`` is listed in that order
    consequence = func.coalesce(d.consequence, 0)
    rows = conn.execute(
        select(d.unit_id, consequence, d.consequence, d.probability, func.count())
        .where(reported)
        .group_by(d.unit_id, consequence, d.consequence, d.probability)
    )
    for unit_id, key, c, p, n in rows:
        f = fig(unit_id)
        f.by_consequence[key] += n
        f.by_risk_score[0 if c is None or p is None else c * p] += n
    month = month_number(d.reported_date)
    rows = conn.execute(
        select(
            d.unit_id,
            d.status,
            month,
            func.count(),
            func.sum(cast(d.lex_maria, Integer)),
            func.sum(cast(d.care_chain, Integer)),
        )
        .where(reported)
        .group_by(d.unit_id, d.status, month)
    )
    for unit_id, status, m, n, lex_maria, care_chain in rows:
        f = fig(unit_id)
        f.by_status[status] += n
        f.by_month[m] += n
        f.deviations += n
        f.lex_maria += lex_maria or 0
        f.care_chain += care_chain or 0
    # closed ones by days to closure, open ones by report date: one query
    closed = d.status == DeviationStatus.CLOSED
    days = case(
        (
            and_(closed, d.closed_date.is_not(None)),
            days_between(conn, d.reported_date, d.closed_date),
        )
    )
    open_since = case((d.status != DeviationStatus.CLOSED, d.reported_date))
    rows = conn.execute(
        select(d.unit_id, days, open_since, func.count())
        .where(reported)
        .group_by(d.unit_id, days, open_since)
    )
    for unit_id, closure, reported_on, n in rows:
        if closure is not None:
            fig(unit_id).closure_days[closure] += n
        elif reported_on is not None:
            fig(unit_id).open_reported[reported_on] += n


def _count_complaints(
    conn: Connection, received: ColumnElement[bool], fig: Callable[[str], Figures], tally: Tally
) -> None:
    """The complaints ``received`` in the year: three grouped queries over the year's rows."""
    c = Complaint
    month = month_number(c.received_date)
    rows = conn.execute(
        select(c.unit_id, c.channel, month, func.count())
        .where(received)
        .group_by(c.unit_id, c.channel, month)
    )
    for unit_id, channel, m, n in rows:
        f = fig(unit_id)
        f.complaints_by_channel[channel] += n
        f.complaints_by_month[m] += n
        f.complaints += n
    tally("complaints_by_category", c.unit_id, c.category, received)
    # complaints closed without an answer (withdrawn) have nothing to answer
    tally(
        "answer_days",
        c.unit_id,
        days_between(conn, c.received_date, c.answered_date),
        received,
        or_(c.answered_date.is_not(None), c.status != ComplaintStatus.CLOSED),
    )


def _count_patient_days(
    conn: Connection, first: date, last: date, fig: Callable[[str], Figures]
) -> None:
    """Patient days per unit and month, and the deviations of the months that have them."""
    month = month_number(Capacity.month)
    rows = conn.execute(
        select(Capacity.unit_id, month, func.sum(Capacity.patient_days))
        .where(Capacity.month.between(first, last), Capacity.patient_days > 0)
        .group_by(Capacity.unit_id, month)
    )
    units: set[str] = set()
    for unit_id, m, days in rows:
        fig(unit_id).patient_days_by_month[m] += days or 0
        units.add(unit_id)
    for unit_id in units:
        f = fig(unit_id)
        f.capacity_units = 1
        f.exposed_by_month.update({m: f.by_month[m] for m in f.patient_days_by_month})


def _count_training(conn: Connection, last: date, fig: Callable[[str], Figures]) -> None:
    """The roster per unit, course and role, and how many on it completed by ``last``."""
    completed = case((Training.completed_date <= last, 1), else_=0)
    rows = conn.execute(
        select(
            Training.unit_id, Training.course, Training.role, func.count(), func.sum(completed)
        ).group_by(Training.unit_id, Training.course, Training.role)
    )
    for unit_id, course, role, n, done in rows:
        f = fig(unit_id)
        f.training_rostered[course, role] += n
        f.training_completed[course, role] += done or 0


def roll_up(tree: OrgTree, own: dict[str, Figures]) -> dict[str, Figures]:
    """Figures of every unit's subtree: its own records plus everything below it."""

    return tree.sum_up(own, Figures)

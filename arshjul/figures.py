"""The year's counts: each unit's own deviations, complaints, patient days and training
roster, and their roll-ups over the tree.

Counting happens in the database (GROUP BY per unit), roll-ups in Python over the tree, so the
cost grows with the number of units, not of records. The compilation, the analysis and the
patientsäkerhetsberättelse all show these figures.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Integer, and_, case, cast, extract, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from arshjul import unit_data
from arshjul.config import KnowledgeAreas
from arshjul.models import (
    Capacity,
    Complaint,
    ComplaintStatus,
    Deviation,
    DeviationStatus,
    Training,
    UnitFigures,
)
from arshjul.org import OrgTree

#: what documents of the year's figures are built from: the imported organisation, deviations,
#: complaints, capacity (patient days), training rosters and actions
SOURCES = ("organisation", "deviations", "complaints", "capacity", "training", "actions")
#: the patient-safety course whose coverage the compilation and the analysis follow up
SAFETY_COURSE = "patientsäkerhet"
#: roles of the training roster, as the documents name them
TRAINING_ROLES_SV = {"chef": "Chefer", "medarbetare": "Medarbetare"}


class YearEndStatus(enum.Enum):
    """A deviation's state on 31 December of its data year, read from its closing date: the
    data hold only today's status, so an open deviation's status then (Ny or Pågående) is
    not known."""

    CLOSED = "closed"  # closed_date on or before 31 December
    OPEN = "open"  # not closed by then: closed later, or not closed at all
    CLOSED_UNDATED = "closed_undated"  # Avslutad without a closed_date: when is not known


@dataclass(frozen=True)
class Durations:
    """How long things took, from a histogram of days (None: not done, or done at an unknown
    day; both count in ``total`` and as not done within the target)."""

    total: int
    done: int
    median_days: float | None  # of the done ones
    within_target: int

    @property
    def share_within(self) -> float | None:
        """Share of all (not only of the done ones) done within the target."""
        return self.within_target / self.total if self.total else None


@dataclass(frozen=True)
class Answers:
    """The answers to a year's complaints as of ``today``.

    The share answered in time is of *every* complaint received: one closed without an
    answer date (withdrawn, or the date never entered) and one not answered yet count as not
    answered in time; ``still_in_time`` of the unanswered ones were received fewer than the
    target days before ``today`` and may still be."""

    received: int
    answered: int
    within_target: int
    median_days: float | None  # of the answered ones
    closed_unanswered: int
    unanswered: int
    still_in_time: int

    @property
    def late(self) -> int:
        return self.answered - self.within_target

    @property
    def share_within(self) -> float | None:
        return self.within_target / self.received if self.received else None


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
    #: today's status (as recorded in the data)
    by_status: Counter[DeviationStatus] = field(default_factory=Counter)
    #: the status on 31 December of the data year, from the closing dates
    by_year_end_status: Counter[YearEndStatus] = field(default_factory=Counter)
    #: deviations open on 31 December (see ``YearEndStatus.OPEN``), by report date
    open_at_year_end: Counter[date] = field(default_factory=Counter)
    by_month: Counter[int] = field(default_factory=Counter)
    #: consequence × probability -> deviations; 0: not assessed
    by_risk_score: Counter[int] = field(default_factory=Counter)
    lex_maria: int = 0
    care_chain: int = 0
    #: every deviation by days from report to closure; None: not closed today, or closed
    #: without a closing date
    closure_days: Counter[int | None] = field(default_factory=Counter)
    #: deviations not closed today, by report date (their age depends on the day one asks)
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
    #: every complaint by days to the answer (None: no answer date)
    answer_days: Counter[int | None] = field(default_factory=Counter)
    #: complaints closed (Avslutad) without an answer date
    closed_unanswered: int = 0
    #: complaints neither answered nor closed, by the day they came in
    unanswered_received: Counter[date] = field(default_factory=Counter)
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
        """Days from report to closure of the deviations closed today, the share of *all*
        closed within ``target_days``."""
        return durations(self.closure_days, target_days)

    @property
    def open_today(self) -> int:
        return sum(self.open_reported.values())

    def open_older_than(self, today: date, days: int) -> int:
        """Deviations open today more than ``days`` after their report, as of ``today``."""
        return _older_than(self.open_reported, today, days)

    def open_at_year_end_older_than(self, year: int, days: int) -> int:
        """Deviations open on 31 December of ``year`` more than ``days`` after their report."""
        return _older_than(self.open_at_year_end, date(year, 12, 31), days)

    def answers(self, target_days: int, today: date | None) -> Answers:
        """The complaints' answers as of ``today`` (None: none counted as ``still_in_time``)."""
        timed = durations(self.answer_days, target_days)
        unanswered = sum(self.unanswered_received.values())
        in_time = (
            0
            if today is None
            else sum(
                n for d, n in self.unanswered_received.items() if (today - d).days <= target_days
            )
        )
        return Answers(
            received=timed.total,
            answered=timed.done,
            within_target=timed.within_target,
            median_days=timed.median_days,
            closed_unanswered=self.closed_unanswered,
            unanswered=unanswered,
            still_in_time=in_time,
        )

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


def _older_than(reported: Counter[date], day: date, days: int) -> int:
    """Of records by report date, those more than ``days`` old on ``day``."""
    return sum(n for d, n in reported.items() if (day - d).days > days)


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


def count_own(
    conn: Connection, year: int, stored: StoredCounts | None = None
) -> dict[str, Figures]:
    """Each unit's own records of ``year``: deviations by report date, complaints by receipt,
    patient days by month, and the training roster with courses completed by the year's end.

    With ``stored`` (a step's run), a unit whose records did not change since its counts were
    stored (:mod:`arshjul.unit_data`) is not counted again: its stored counts are read, the
    others counted and handed to ``stored`` to be kept. Every figure is a count or a
    histogram (:class:`Figures`), so roll-ups of stored and fresh counts are exact."""
    if stored is None:
        return _count(conn, year, None)
    # the versions first: on PostgreSQL each statement sees what was committed when it began,
    # so counts read after them may be newer than the version stored with them, never older
    held = unit_data.batches(conn, COUNTED)
    versions = {
        unit_id: unit_data.version(held, unit_id, _CODE)
        for unit_id in sorted({u for units in held.values() for u in units})
    }
    own = stored.load(conn, year, versions)
    changed = [u for u in versions if u not in own]
    if changed:
        fresh = _count(conn, year, changed if len(changed) <= PARTIAL else None)
        for unit_id in changed:
            figures = fresh.get(unit_id, Figures())
            stored.keep(year, unit_id, versions[unit_id], figures)
            own[unit_id] = figures
    # a unit with records of other years only has none of this one (as :func:`_count` says)
    return {u: f for u, f in own.items() if f != Figures()}


#: the kinds :func:`count_own` counts
COUNTED = ("deviations", "complaints", "capacity", "training")
#: at most this many changed units are counted by their ids (``IN (…)``, within every
#: database's limit of bound parameters); more are counted with all the others
PARTIAL = 500
#: stored counts are of this code: a change to how units are counted counts every unit again
_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _count(conn: Connection, year: int, units: list[str] | None) -> dict[str, Figures]:
    """The counts of :func:`count_own`, of ``units`` only (None: every unit). Each table is
    read a few times, grouped in the database; counters that are not listed in an order of
    their own share a query (status and month; channel and month)."""
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

    def of(table: Any) -> ColumnElement[bool]:
        return true() if units is None else table.unit_id.in_(units)

    reported = and_(Deviation.reported_date.between(first, last), of(Deviation))
    _count_deviations(conn, reported, last, fig, tally)
    received = and_(Complaint.received_date.between(first, last), of(Complaint))
    _count_complaints(conn, received, fig, tally)
    _count_patient_days(conn, and_(Capacity.month.between(first, last), of(Capacity)), fig)
    _count_training(conn, last, of(Training), fig)
    return own


class StoredCounts:
    """Each unit's own counts of a year as a run stored them, with the version of the unit's
    records they are of (``unit_figures``); the counts a run made fresh wait in
    :attr:`fresh` until :meth:`store` (the step runner's store, after the gather)."""

    def __init__(self) -> None:
        #: (year, unit) -> (version, figures as stored)
        self.fresh: dict[tuple[int, str], tuple[str, str]] = {}

    def load(self, conn: Connection, year: int, versions: dict[str, str]) -> dict[str, Figures]:
        """The stored counts of ``year`` of the units whose version is still ``versions``'."""
        rows = conn.execute(
            select(UnitFigures.unit_id, UnitFigures.version, UnitFigures.figures).where(
                UnitFigures.year == year
            )
        )
        return {
            unit_id: decode(text)
            for unit_id, version, text in rows
            if versions.get(unit_id) == version
        }

    def keep(self, year: int, unit_id: str, version: str, figures: Figures) -> None:
        self.fresh[year, unit_id] = (version, encode(figures))

    def store(self, conn: Connection) -> int:
        """Store the fresh counts, replacing older ones; returns how many."""
        if not self.fresh:
            return 0
        rows = [
            {"year": year, "unit_id": unit_id, "version": version, "figures": text}
            for (year, unit_id), (version, text) in self.fresh.items()
        ]
        insert = _INSERTS[conn.dialect.name](UnitFigures)
        for start in range(0, len(rows), PARTIAL):
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["year", "unit_id"],
                    set_={"version": insert.excluded.version, "figures": insert.excluded.figures},
                ),
                rows[start : start + PARTIAL],
            )
        self.fresh.clear()
        return len(rows)


_INSERTS: dict[str, Callable[[Any], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}

#: how the keys of a counter that JSON does not keep are read back, by the counter's name
_KEYS: dict[str, Callable[[Any], Any]] = {
    "by_status": DeviationStatus,
    "by_year_end_status": YearEndStatus,
    "open_at_year_end": date.fromisoformat,
    "open_reported": date.fromisoformat,
    "unanswered_received": date.fromisoformat,
    "training_rostered": tuple,
    "training_completed": tuple,
}


def _key(key: Any) -> Any:
    if isinstance(key, enum.Enum):
        return key.value
    if isinstance(key, date):
        return key.isoformat()
    return key  # int, str, None; a tuple becomes a list


def encode(figures: Figures) -> str:
    """``figures`` as JSON, each counter as its (key, count) pairs in its own order (a
    document lists keys of equal counts in the order they were counted)."""
    return json.dumps(
        {
            name: [[_key(k), n] for k, n in value.items()] if isinstance(value, Counter) else value
            for name, value in vars(figures).items()
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def decode(text: str) -> Figures:
    figures = Figures()
    for name, value in json.loads(text).items():
        if isinstance(value, list):
            read = _KEYS.get(name)
            counter: Counter[Any] = getattr(figures, name)
            for k, n in value:
                counter[k if read is None or k is None else read(k)] = n
        else:
            setattr(figures, name, value)
    return figures


#: ``tally(counter, unit column, key, *conditions)`` of :func:`count_own`
Tally = Callable[..., None]


def year_end_status(last: date) -> ColumnElement[str]:
    """A deviation's :class:`YearEndStatus` on ``last`` (the data year's 31 December), by
    value: closed by its closing date whatever its status today (one reopened later was
    closed then)."""
    d = Deviation
    return case(
        (d.closed_date <= last, YearEndStatus.CLOSED.value),
        (
            and_(d.closed_date.is_(None), d.status == DeviationStatus.CLOSED),
            YearEndStatus.CLOSED_UNDATED.value,
        ),
        else_=YearEndStatus.OPEN.value,
    )


def _count_deviations(
    conn: Connection,
    reported: ColumnElement[bool],
    last: date,
    fig: Callable[[str], Figures],
    tally: Tally,
) -> None:
    """The deviations ``reported`` in the year (which ends on ``last``): five grouped queries
    over the year's rows."""
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
    at_year_end = year_end_status(last)
    rows = conn.execute(
        select(
            d.unit_id,
            d.status,
            at_year_end,
            month,
            func.count(),
            func.sum(cast(d.lex_maria, Integer)),
            func.sum(cast(d.care_chain, Integer)),
        )
        .where(reported)
        .group_by(d.unit_id, d.status, at_year_end, month)
    )
    for unit_id, status, end_status, m, n, lex_maria, care_chain in rows:
        f = fig(unit_id)
        f.by_status[status] += n
        f.by_year_end_status[YearEndStatus(end_status)] += n
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
        fig(unit_id).closure_days[closure] += n
        if reported_on is not None:
            fig(unit_id).open_reported[reported_on] += n
    tally(
        "open_at_year_end",
        d.unit_id,
        d.reported_date,
        reported,
        at_year_end == YearEndStatus.OPEN.value,
    )


def _count_complaints(
    conn: Connection, received: ColumnElement[bool], fig: Callable[[str], Figures], tally: Tally
) -> None:
    """The complaints ``received`` in the year: four grouped queries over the year's rows."""
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
    tally("answer_days", c.unit_id, days_between(conn, c.received_date, c.answered_date), received)
    # the unanswered ones: closed (None) or still open, by the day they came in
    open_since = case((c.status != ComplaintStatus.CLOSED, c.received_date))
    rows = conn.execute(
        select(c.unit_id, open_since, func.count())
        .where(received, c.answered_date.is_(None))
        .group_by(c.unit_id, open_since)
    )
    for unit_id, received_on, n in rows:
        if received_on is None:
            fig(unit_id).closed_unanswered += n
        else:
            fig(unit_id).unanswered_received[received_on] += n


def _count_patient_days(
    conn: Connection, months: ColumnElement[bool], fig: Callable[[str], Figures]
) -> None:
    """Patient days per unit and month of ``months``, and the deviations of the months that
    have them."""
    month = month_number(Capacity.month)
    rows = conn.execute(
        select(Capacity.unit_id, month, func.sum(Capacity.patient_days))
        .where(months, Capacity.patient_days > 0)
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


def _count_training(
    conn: Connection, last: date, rostered: ColumnElement[bool], fig: Callable[[str], Figures]
) -> None:
    """The roster per unit, course and role (of the rows ``rostered``), and how many on it
    completed by ``last``."""
    completed = case((Training.completed_date <= last, 1), else_=0)
    rows = conn.execute(
        select(Training.unit_id, Training.course, Training.role, func.count(), func.sum(completed))
        .where(rostered)
        .group_by(Training.unit_id, Training.course, Training.role)
    )
    for unit_id, course, role, n, done in rows:
        f = fig(unit_id)
        f.training_rostered[course, role] += n
        f.training_completed[course, role] += done or 0


def roll_up(tree: OrgTree, own: dict[str, Figures]) -> dict[str, Figures]:
    """Figures of every unit's subtree: its own records plus everything below it."""

    return tree.sum_up(own, Figures)

"""What each kind of input file holds: its columns, their types, the checks across them.

A kind is data: adding one is one more :class:`Kind` in ``_ALL``. Its key may be several
columns (a waiting-list row is identified by its date, unit, activity, days and PvV). A column
names its parser; the parser is made per import from the
:class:`~arshjul.importers.records.Context` (the region's code lists, today, the organisation,
the database for checks against stored records).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import compress
from operator import attrgetter, lt
from typing import Any, cast

from sqlalchemy import Table

from arshjul.config import LEVEL_SV
from arshjul.errors import Problem
from arshjul.importers import actions, history, tree
from arshjul.importers import values as v
from arshjul.importers.records import Context, Records
from arshjul.models import (
    Action,
    Base,
    Capacity,
    Complaint,
    ComplaintStatus,
    Deviation,
    DeviationStatus,
    OrgLevel,
    OrgUnit,
    Production,
    Training,
    WaitingSnapshot,
)

ParserFactory = Callable[[Context], v.Parser]
#: a check across columns or records: the problems it finds
Check = Callable[[Records, Context], list[Problem]]
#: which of a sheet's rows are filled in, from its raw cells by column name (a column the
#: file lacks is absent) and its number of rows
FilledIn = Callable[[Mapping[str, Sequence[str]], int], list[bool]]


@dataclass(frozen=True)
class Column:
    name: str
    parser: ParserFactory
    #: the header must be there and no cell empty
    required: bool = False
    #: the header must be there, but a cell may be empty
    in_header: bool = False
    #: the value of an empty cell, or of every cell when the column is missing
    default: Any = None
    #: the table column it is stored in, when that has another name
    stored_as: str | None = None

    @property
    def field(self) -> str:
        return self.stored_as or self.name


@dataclass(frozen=True)
class Kind:
    name: str
    table: Table
    #: the columns that together identify a record (a unique index of ``table``); a later
    #: file updates the records with the same key
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    #: checks across columns; each sees the records of one sheet of the file (a few MB),
    #: all of them with ``whole_file``
    checks: tuple[Check, ...] = ()
    #: the checks need every record of the file at once (a tree): read in one sheet
    whole_file: bool = False
    #: rows that are not filled in are skipped: not stored, and no problem (the prefilled
    #: rows of a worksheet nobody wrote in)
    filled_in: FilledIn | None = None
    #: what an import keeps besides the records, which the upsert by key overwrites: a dated
    #: history of what each file said (:mod:`arshjul.importers.history`)
    history: history.History | None = None
    #: a column of counts: a file without it lists one row per counted thing (a patient), so
    #: each row counts one and rows with the same key are added up
    tally: str | None = None
    #: the file is filled in by hand by Swedish staff (the action worksheet): its problems
    #: are told in Swedish, each reason put by this
    swedish: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        # rows with the same key are added up in the database: nothing else to choose from
        if self.tally is not None and {c.name for c in self.columns} != {*self.key, self.tally}:
            raise ValueError(f"{self.name}: a tally kind has its key and its tally, no more")

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The table columns the key is stored in."""
        field = {c.name: c.field for c in self.columns}
        return tuple(field[name] for name in self.key)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _fixed(parser: v.Parser) -> ParserFactory:
    return lambda _: parser


def _text(max_length: int) -> ParserFactory:
    return _fixed(v.text(max_length))


def _published(max_length: int) -> ParserFactory:
    """Text of the action plan's worksheet that the action plan publishes."""
    return _fixed(v.published_text(max_length, v.IN_THE_ACTION_PLAN))


def _date(context: Context) -> v.Parser:
    return v.iso_date(context.today)


def _month(context: Context) -> v.Parser:
    return v.month(context.today)


def _code(list_name: str, what: str) -> ParserFactory:
    names = attrgetter(list_name)
    return lambda context: v.code(names(context.codes), what)


def _scale(scale_name: str) -> ParserFactory:
    labels = attrgetter(scale_name)
    return lambda context: v.scale(labels(context.codes), scale_name)


def _unit(context: Context) -> v.Parser:
    """An id of the organisation in the database; close ids or names are suggested."""
    units = context.units
    suggest = v.Suggester.of_units({u.id: u.name for u in units.values()})

    def parse(value: str) -> str:
        if value in units:
            return value
        raise ValueError(f"unknown unit: not in the organisation{suggest(value)}")

    return parse


#: a date, or for an empty one the earliest or the latest date there is
_EARLIEST = cast(Callable[[Any, Any], date], {None: date.min}.get)
_LATEST = cast(Callable[[Any, Any], date], {None: date.max}.get)


def _not_before(later: str, earlier: str, reason: str) -> Check:
    def check(records: Records, context: Context) -> list[Problem]:
        firsts, seconds = records.values[earlier], records.values[later]
        # compared at C speed, an empty date never before another
        before = list(map(lt, map(_LATEST, seconds, seconds), map(_EARLIEST, firsts, firsts)))
        if not any(before):
            return []
        named = records.headers.get(earlier, earlier)
        return [
            records.problem(i, later, seconds[i].isoformat(), f"{reason}: {named} is {firsts[i]}")
            for i in compress(range(len(before)), before)
        ]

    return check


LEVELS = {**{sv: OrgLevel(en) for en, sv in LEVEL_SV.items()}, **{m.value: m for m in OrgLevel}}
DEVIATION_STATUS = {
    "Ny": DeviationStatus.NEW,
    "Pågående": DeviationStatus.IN_PROGRESS,
    "Avslutad": DeviationStatus.CLOSED,
    **{m.value: m for m in DeviationStatus},
}
COMPLAINT_STATUS = {
    "Ny": ComplaintStatus.NEW,
    "Pågående": ComplaintStatus.IN_PROGRESS,
    "Besvarad": ComplaintStatus.ANSWERED,
    "Avslutad": ComplaintStatus.CLOSED,
    **{m.value: m for m in ComplaintStatus},
}
_ID = _text(64)
_COUNT = _fixed(v.count)
_AMOUNT = _fixed(v.amount)

_ALL = (
    Kind(
        name="organisation",
        table=_table(OrgUnit),
        key=("unit_id",),
        columns=(
            Column("unit_id", _ID, required=True, stored_as="id"),
            # published in every document and calendar: no contact details
            Column("name", _fixed(v.published_text(200, v.IN_EVERY_DOCUMENT)), required=True),
            Column(
                "level",
                _fixed(v.choice(LEVELS, "level (region/område/verksamhet/enhet)")),
                required=True,
            ),
            Column("parent_id", _ID),
        ),
        checks=(tree.check,),
        whole_file=True,
    ),
    Kind(
        name="deviations",
        table=_table(Deviation),
        key=("source_id",),
        columns=(
            Column("source_id", _ID, required=True),
            Column("unit_id", _unit, required=True),
            Column("event_date", _date),
            Column("reported_date", _date, required=True),
            Column("category", _code("deviation_categories", "category"), required=True),
            Column("consequence", _scale("consequence")),
            Column("probability", _scale("probability")),
            Column("lex_maria", _fixed(v.boolean), default=False),
            Column("care_chain", _fixed(v.boolean), default=False),
            Column(
                "status",
                _fixed(v.choice(DEVIATION_STATUS, "status (Ny/Pågående/Avslutad)")),
                required=True,
            ),
            Column("closed_date", _date),
        ),
        checks=(
            _not_before("reported_date", "event_date", "reported before the event"),
            _not_before("closed_date", "reported_date", "closed before it was reported"),
        ),
    ),
    Kind(
        name="complaints",
        table=_table(Complaint),
        key=("source_id",),
        columns=(
            Column("source_id", _ID, required=True),
            Column("unit_id", _unit, required=True),
            Column("received_date", _date, required=True),
            Column("channel", _code("complaint_channels", "channel"), required=True),
            Column("category", _code("complaint_categories", "category"), required=True),
            Column("answered_date", _date),
            Column(
                "status",
                _fixed(v.choice(COMPLAINT_STATUS, "status (Ny/Pågående/Besvarad/Avslutad)")),
                required=True,
            ),
        ),
        checks=(_not_before("answered_date", "received_date", "answered before it came in"),),
    ),
    Kind(
        name="waiting",
        table=_table(WaitingSnapshot),
        key=("snapshot_date", "unit_id", "activity", "wait_days", "patient_chosen"),
        columns=(
            Column("snapshot_date", _date, required=True),
            Column("unit_id", _unit, required=True),
            Column("activity", _code("waiting_activities", "activity"), required=True),
            Column("wait_days", _COUNT, required=True),
            Column("patient_chosen", _fixed(v.boolean), default=False),
            Column("count", _COUNT, default=1),
        ),
        tally="count",
    ),
    Kind(
        name="production",
        table=_table(Production),
        key=("month", "unit_id", "measure"),
        columns=(
            Column("month", _month, required=True),
            Column("unit_id", _unit, required=True),
            Column("measure", _code("production_measures", "measure"), required=True),
            Column("planned", _AMOUNT),
            Column("actual", _AMOUNT),
            Column("cost_sek", _AMOUNT),
        ),
    ),
    Kind(
        name="capacity",
        table=_table(Capacity),
        key=("month", "unit_id"),
        columns=(
            Column("month", _month, required=True),
            Column("unit_id", _unit, required=True),
            Column("beds", _AMOUNT),
            Column("patient_days", _COUNT),
            Column("overcrowding_days", _COUNT),
            Column("outlying_days", _COUNT),
        ),
    ),
    Kind(
        name="training",
        table=_table(Training),
        key=("person_key", "course"),
        columns=(
            # a pseudonym: a personnummer here is refused like in any column
            Column("person_key", _ID, required=True),
            Column("unit_id", _unit, required=True),
            Column("role", _code("training_roles", "role"), required=True),
            Column("course", _code("training_courses", "course"), required=True),
            # empty: on the roster, not completed yet (the denominator of coverage)
            Column("completed_date", _date),
        ),
        history=history.training_units,
    ),
    Kind(
        name="actions",
        table=_table(Action),
        key=("action_id",),
        columns=(
            # published in the action plan, as its title: no contact details
            Column("action_id", _published(64), required=True),
            Column("unit_id", _unit, required=True),
            Column("finding_id", _text(200)),
            # empty in a decision Ingen åtgärd, required otherwise (actions.actions_and_decisions)
            Column("title", _published(300), in_header=True, default=""),
            # messages in Swedish: the worksheet is filled in by enhetschefer
            Column("owner_role", actions.owner_role, required=True),
            Column("due_date", actions.due_date),
            Column(
                "status", _fixed(actions.status(v.choice(actions.STATUS, "status"))), required=True
            ),
            # Statusdatum: what dates the row as a follow-up (an empty cell dates nothing)
            Column("status_date", actions.status_date),
            Column("effect", actions.effect),
            # Motivering: required for a decision Ingen åtgärd
            Column("reason", _published(500), default=""),
        ),
        checks=(
            actions.findings_of_the_unit,
            actions.ids_stay_with_their_unit,
            actions.actions_and_decisions,
        ),
        filled_in=actions.filled_in,
        history=history.action_updates,
        swedish=actions.in_swedish,
    ),
)

BY_NAME = {kind.name: kind for kind in _ALL}
#: the kinds in the order a data folder is imported (the organisation first)
KINDS = tuple(BY_NAME)

"""What each kind of input file holds: its columns, their types, the checks across columns.

A kind is data: adding one (waiting lists, production, …) is one more :class:`Kind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Table

from arshjul.config import Config
from arshjul.importers import values as v
from arshjul.models import (
    Complaint,
    ComplaintStatus,
    Deviation,
    DeviationStatus,
    OrgLevel,
    OrgUnit,
)

Row = dict[str, Any]
#: a check across the columns of one row: (column, reason) for each thing wrong
RowCheck = Callable[[Row], list[tuple[str, str]]]


@dataclass(frozen=True)
class Column:
    name: str
    convert: v.Converter
    required: bool = True
    #: the value when the cell is empty and the column optional
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
    #: the columns that identify a record; a later file updates records with the same key
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    checks: tuple[RowCheck, ...] = ()
    #: whether rows carry a unit_id that must exist in the organisation
    has_unit: bool = True


def _not_before(later: str, earlier: str, reason: str) -> RowCheck:
    def check(row: Row) -> list[tuple[str, str]]:
        a, b = row.get(later), row.get(earlier)
        return [(later, reason)] if a is not None and b is not None and a < b else []

    return check


LEVELS = {
    "region": OrgLevel.REGION,
    "område": OrgLevel.AREA,
    "area": OrgLevel.AREA,
    "verksamhet": OrgLevel.DEPARTMENT,
    "department": OrgLevel.DEPARTMENT,
    "enhet": OrgLevel.UNIT,
    "unit": OrgLevel.UNIT,
}
DEVIATION_STATUS = {
    "Ny": DeviationStatus.NEW,
    "Pågående": DeviationStatus.IN_PROGRESS,
    "Avslutad": DeviationStatus.CLOSED,
    "new": DeviationStatus.NEW,
    "in_progress": DeviationStatus.IN_PROGRESS,
    "closed": DeviationStatus.CLOSED,
}
COMPLAINT_STATUS = {
    "Ny": ComplaintStatus.NEW,
    "Pågående": ComplaintStatus.IN_PROGRESS,
    "Besvarad": ComplaintStatus.ANSWERED,
    "Avslutad": ComplaintStatus.CLOSED,
    "new": ComplaintStatus.NEW,
    "in_progress": ComplaintStatus.IN_PROGRESS,
    "answered": ComplaintStatus.ANSWERED,
    "closed": ComplaintStatus.CLOSED,
}


def _codes(names: tuple[str, ...], what: str) -> v.Converter:
    return v.choice({n: n for n in names}, what)


def kinds(config: Config, today: date) -> dict[str, Kind]:
    """Every kind, with converters bound to the region's code lists and today's date."""
    codes = config.codes
    day = v.iso_date(today)
    ident = v.text(64)
    return {
        k.name: k
        for k in (
            Kind(
                name="organisation",
                table=OrgUnit.__table__,  # type: ignore[arg-type]
                key=("id",),
                has_unit=False,
                columns=(
                    Column("unit_id", ident, stored_as="id"),
                    Column("name", v.text(200)),
                    Column("level", v.choice(LEVELS, "level (region/område/verksamhet/enhet)")),
                    Column("parent_id", ident, required=False),
                ),
            ),
            Kind(
                name="deviations",
                table=Deviation.__table__,  # type: ignore[arg-type]
                key=("source_id",),
                columns=(
                    Column("source_id", ident),
                    Column("unit_id", ident),
                    Column("event_date", day, required=False),
                    Column("reported_date", day),
                    Column("category", _codes(codes.deviation_categories, "category")),
                    Column("consequence", v.scale(codes.consequence, "consequence"), False),
                    Column("probability", v.scale(codes.probability, "probability"), False),
                    Column("lex_maria", v.boolean, required=False, default=False),
                    Column("care_chain", v.boolean, required=False, default=False),
                    Column("status", v.choice(DEVIATION_STATUS, "status (Ny/Pågående/Avslutad)")),
                    Column("closed_date", day, required=False),
                ),
                checks=(
                    _not_before("reported_date", "event_date", "reported before the event"),
                    _not_before("closed_date", "reported_date", "closed before it was reported"),
                ),
            ),
            Kind(
                name="complaints",
                table=Complaint.__table__,  # type: ignore[arg-type]
                key=("source_id",),
                columns=(
                    Column("source_id", ident),
                    Column("unit_id", ident),
                    Column("received_date", day),
                    Column("channel", _codes(codes.complaint_channels, "channel")),
                    Column("category", _codes(codes.complaint_categories, "category")),
                    Column("answered_date", day, required=False),
                    Column(
                        "status",
                        v.choice(COMPLAINT_STATUS, "status (Ny/Pågående/Besvarad/Avslutad)"),
                    ),
                ),
                checks=(
                    _not_before("answered_date", "received_date", "answered before it came in"),
                ),
            ),
        )
    }


#: the kinds in the order a data folder is imported (the organisation first)
KINDS = ("organisation", "deviations", "complaints")

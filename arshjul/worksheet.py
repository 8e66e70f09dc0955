"""The action-plan worksheet (XLSX): a unit's findings prefilled, filled in, imported back.

One workbook per unit, ``handlingsplan-arbetsblad.xlsx`` in the unit's folder. Its first sheet
is what ``arshjul import actions`` reads (header in row 1, a row without an Åtgärd is not
filled in and is skipped): one row per finding of the year (or one per action already
imported for it, so a rerun shows the current state and loses nothing), the year's other
actions, the open actions carried over from earlier years, then empty rows with ids ready.
Status, Ansvarig and Effekt are drop-downs whose lists live on a hidden sheet (a list typed
into the validation itself breaks on commas and at 255 characters); Klart senast only takes a
date. The ids are locked (the sheet protection has no password: it prevents slips, it is no
security); everything else stays editable, also below the prepared rows.

The bytes depend only on the content and the run's clock: the workbook's dates are set from
``now`` and every zip entry gets the same fixed time stamp.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from arshjul.action_plan import STATUS_SV, Plan, PlannedAction
from arshjul.config import Codes
from arshjul.documents import unit_dir
from arshjul.files import write_bytes_atomic
from arshjul.models import ActionStatus
from arshjul.org import OrgTree, Unit
from arshjul.tables import set_value

FILE_NAME = "handlingsplan-arbetsblad.xlsx"
SHEET = "Handlingsplan"
LISTS_SHEET = "Listor"
#: the worksheet's columns: Swedish header (an alias the importer accepts), width
COLUMNS = (
    ("Åtgärds-ID", 22),
    ("Enhet HSA-id", 18),
    ("Fynd-ID", 34),
    ("Fynd", 60),
    ("Åtgärd", 50),
    ("Ansvarig", 28),
    ("Klart senast", 14),
    ("Status", 12),
    ("Effekt", 14),
)
HEADERS = tuple(name for name, _ in COLUMNS)
#: empty rows with ids prepared for actions beyond one per finding
EMPTY_ROWS = 10
#: the validations reach this row, so rows a unit adds below the prepared ones are checked too
LAST_VALIDATED_ROW = 500
#: the dates Klart senast accepts
DATE_RANGE = (date(2000, 1, 1), date(2099, 12, 31))
#: every zip entry's time stamp (the zip format starts in 1980)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_HEADER_FILL = PatternFill("solid", start_color="DCE6F0")
_LOCKED_FILL = PatternFill("solid", start_color="F2F2F2")
_UNLOCKED = Protection(locked=False)
_DATE_FORMAT = "yyyy-mm-dd"
#: columns (1-based) that are locked in every prepared row, and in rows with a finding
_ID_COLUMNS = (1, 2)
_FINDING_COLUMNS = (3, 4)
_DATE_COLUMN = HEADERS.index("Klart senast") + 1


@dataclass(frozen=True)
class Row:
    """One row of the worksheet."""

    action_id: str
    unit_id: str
    finding_id: str
    finding: str
    title: str = ""
    owner_role: str = ""
    due_date: date | None = None
    status: str = STATUS_SV[ActionStatus.PLANNED]
    effect: str = ""

    @property
    def finding_fixed(self) -> bool:
        """The finding is given (prefilled or imported): its columns are locked."""
        return bool(self.finding_id)

    def cells(self) -> tuple[str | date | None, ...]:
        return (
            self.action_id,
            self.unit_id,
            self.finding_id or None,
            self.finding or None,
            self.title or None,
            self.owner_role or None,
            self.due_date,
            self.status or None,
            self.effect or None,
        )


def _from_action(a: PlannedAction, finding: str) -> Row:
    return Row(
        action_id=a.action_id,
        unit_id=a.unit_id,
        finding_id=a.finding_id or "",
        finding=finding,
        title=a.title,
        owner_role=a.owner_role,
        due_date=a.due_date,
        status=STATUS_SV[a.status],
        effect=a.effect or "",
    )


def _new_ids(unit_id: str, year: int, taken: Iterable[str]) -> Iterator[str]:
    """``{unit_id}-{year}-nnn`` after the highest number already used (from 001): ids only
    grow, so a row left empty in an older worksheet rarely meets its id again elsewhere."""
    prefix = f"{unit_id}-{year}-"
    used = [
        int(t[len(prefix) :]) for t in taken if t.startswith(prefix) and t[len(prefix) :].isdigit()
    ]
    n = max(used, default=0)
    while True:
        n += 1
        yield f"{prefix}{n:03d}"


def rows(plan: Plan) -> list[Row]:
    """The worksheet's rows for ``plan``: findings with their actions (or a new row each),
    the year's other actions, carried-over ones, and ``EMPTY_ROWS`` empty rows."""
    uid, year = plan.unit_id, plan.year
    ids = _new_ids(uid, year, {a.action_id for a in plan.actions})
    out: list[Row] = []
    for f, actions in plan.findings:
        out += [_from_action(a, f.title) for a in actions] or [Row(next(ids), uid, f.id, f.title)]
    out += [_from_action(a, plan.finding_title(a)) for a in plan.other]
    for a in plan.carried:
        title = plan.finding_title(a)
        note = f"Överförd från {a.year}" + (f": {title}" if title else "")
        out.append(_from_action(a, note))
    out += [Row(next(ids), uid, "", "") for _ in range(EMPTY_ROWS)]
    return out


# --- the workbook --------------------------------------------------------------------------


def _list_range(column: int, values: Sequence[str]) -> str:
    letter = get_column_letter(column)
    return f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(values) + 1}"


def _list_validation(
    column: int, values: Sequence[str], what: str, first_row: int
) -> DataValidation:
    letter = get_column_letter(HEADERS.index(what) + 1)
    dv = DataValidation(
        type="list",
        formula1=_list_range(column, values),
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=f"Ogiltigt värde för {what}",
        error=f"Välj ett värde i listan för {what}.",
        promptTitle=what,
        prompt="Välj i listan.",
        showInputMessage=True,
    )
    dv.add(f"{letter}{first_row}:{letter}{LAST_VALIDATED_ROW}")
    return dv


def _date_validation() -> DataValidation:
    letter = get_column_letter(_DATE_COLUMN)
    first, last = (int(to_excel(d)) for d in DATE_RANGE)
    dv = DataValidation(
        type="date",
        operator="between",
        formula1=str(first),
        formula2=str(last),
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Ogiltigt datum",
        error="Klart senast är ett datum, ÅÅÅÅ-MM-DD.",
        promptTitle="Klart senast",
        prompt="Datum då åtgärden ska vara genomförd, ÅÅÅÅ-MM-DD.",
        showInputMessage=True,
    )
    dv.add(f"{letter}2:{letter}{LAST_VALIDATED_ROW}")
    return dv


def _write_lists(book: Workbook, lists: Sequence[tuple[str, Sequence[str]]]) -> None:
    sheet = book.create_sheet(LISTS_SHEET)
    for column, (name, values) in enumerate(lists, start=1):
        sheet.cell(1, column, name).font = Font(bold=True)
        for row, value in enumerate(values, start=2):
            set_value(sheet.cell(row, column), value)
    sheet.sheet_state = "hidden"


def _style(cell: Cell, locked: bool) -> None:
    """Style a cell of the worksheet: locked ones grey; Fynd and Åtgärd wrap; dates ISO."""
    column = HEADERS[cell.column - 1]
    cell.alignment = Alignment(wrap_text=column in ("Fynd", "Åtgärd"), vertical="top")
    cell.protection = Protection(locked=locked)
    if locked:
        cell.fill = _LOCKED_FILL
    if column == "Klart senast":
        cell.number_format = _DATE_FORMAT


def build_workbook(unit: Unit, plan: Plan, codes: Codes, now: datetime) -> Workbook:
    """The worksheet of ``unit`` for ``plan`` (see the module docstring)."""
    book = Workbook()
    sheet: Worksheet = book.active  # type: ignore[assignment]
    sheet.title = SHEET
    for column, (name, width) in enumerate(COLUMNS, start=1):
        cell = sheet.cell(1, column, name)
        cell.font, cell.fill, cell.protection = Font(bold=True), _HEADER_FILL, Protection()
        dimension = sheet.column_dimensions[get_column_letter(column)]
        dimension.width = width
        dimension.protection = _UNLOCKED  # rows typed below the prepared ones stay editable
    prepared = rows(plan)
    for r, row in enumerate(prepared, start=2):
        locked = set(_ID_COLUMNS) | (set(_FINDING_COLUMNS) if row.finding_fixed else set())
        for column, value in enumerate(row.cells(), start=1):
            cell = sheet.cell(r, column)
            set_value(cell, value)  # a title like "=HYPERLINK(…)" stays text
            _style(cell, column in locked)
    sheet.freeze_panes = "A2"
    sheet.protection.sheet = True
    # resizing rows and columns is allowed; the ids are what the protection is for
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False

    finding_ids = [f.id for f, _ in plan.findings]
    statuses = list(STATUS_SV.values())
    lists = [
        ("Status", statuses),
        ("Ansvarig", codes.action_owner_roles),
        ("Effekt", codes.action_effects),
        ("Fynd-ID", finding_ids),
    ]
    _write_lists(book, lists)
    sheet.add_data_validation(_list_validation(1, statuses, "Status", 2))
    sheet.add_data_validation(_list_validation(2, codes.action_owner_roles, "Ansvarig", 2))
    sheet.add_data_validation(_list_validation(3, codes.action_effects, "Effekt", 2))
    sheet.add_data_validation(_date_validation())
    if finding_ids:  # a new row may answer any of the year's findings
        first_free = len(prepared) - EMPTY_ROWS + 2
        sheet.add_data_validation(_list_validation(4, finding_ids, "Fynd-ID", first_free))

    stamp = now.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    book.properties.created = book.properties.modified = stamp
    book.properties.creator = book.properties.lastModifiedBy = "arshjul"
    book.properties.title = f"Handlingsplan {plan.year} – {unit.name}"
    return book


def workbook_bytes(book: Workbook) -> bytes:
    """The XLSX file of ``book``, the same bytes for the same content."""
    raw = io.BytesIO()
    archive = ZipFile(raw, "w", ZIP_DEFLATED)
    ExcelWriter(book, archive).save()  # closes the archive; keeps the workbook's dates
    fixed = io.BytesIO()
    with ZipFile(raw) as source, ZipFile(fixed, "w", ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = ZipInfo(info.filename, ZIP_TIME)
            entry.external_attr = info.external_attr
            target.writestr(entry, source.read(info), compress_type=ZIP_DEFLATED)
    return fixed.getvalue()


def write_worksheets(
    out: Path,
    tree: OrgTree,
    year: int,
    plans: dict[str, Plan],
    codes: Codes,
    unit_ids: Iterable[str],
    now: datetime,
) -> list[Path]:
    """Each unit's worksheet into its folder; returns the files written."""
    written = []
    for uid in unit_ids:
        unit = tree[uid]
        data = workbook_bytes(build_workbook(unit, plans[uid], codes, now))
        written.append(write_bytes_atomic(unit_dir(out, year, unit) / FILE_NAME, data))
    return written

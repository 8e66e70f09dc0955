"""The action-plan worksheet (XLSX): a unit's findings prefilled, filled in, imported back.

One workbook per unit, ``handlingsplan-arbetsblad.xlsx`` in the unit's folder. Its first sheet
is what ``arshjul import actions`` reads (header in row 1, a row with neither an Åtgärd nor a
decision Ingen åtgärd is not filled in and is skipped): one row per finding of the year (or
one per action already imported for it, so a rerun shows the current state and loses
nothing), the year's other actions, the open actions carried over from earlier years, then
empty rows with ids ready.
A finding that needs no action is answered by Status *Ingen åtgärd* and a Motivering (the
import refuses the decision without one). Status, Ansvarig and Effekt are drop-downs whose
lists live on a hidden sheet (a list typed into the validation itself breaks on commas and at
255 characters); Klart senast and Statusdatum only take a date. Statusdatum is the day the
enhetschef wrote or checked the row's status: the follow-ups are judged by it, not by the day
the worksheet was imported. The ids are locked (the sheet protection has
no password: it prevents slips, it is no security); everything else stays editable, also below
the prepared rows.

The workbook is written by ``arshjul.formats.xlsx``; its bytes depend only on the content and
the run's clock (``now`` is its properties' time and every zip entry's time stamp).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from arshjul.action_plan.plans import STATUS_SV, Plan, PlannedAction
from arshjul.config import Codes
from arshjul.documents import unit_dir
from arshjul.files import write_bytes_atomic
from arshjul.formats.xlsx import (
    Cell,
    Column,
    Printing,
    Sheet,
    Style,
    Validation,
    Workbook,
    column_letter,
    excel_date,
    list_range,
    whole_columns,
    workbook_bytes,
)
from arshjul.models import ActionStatus
from arshjul.org import OrgTree, Unit
from arshjul.parallel import map_units
from arshjul.periods import Period

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
    ("Statusdatum", 14),
    ("Effekt", 14),
    ("Motivering", 40),
)
HEADERS = tuple(name for name, _ in COLUMNS)
#: empty rows with ids prepared for actions beyond one per finding
EMPTY_ROWS = 10
#: the validations reach this row, so rows a unit adds below the prepared ones are checked too
LAST_VALIDATED_ROW = 500
#: the dates Klart senast and Statusdatum accept
DATE_RANGE = (date(2000, 1, 1), date(2099, 12, 31))
#: the date columns: (header, what the cell's prompt says)
DATE_COLUMNS = (
    ("Klart senast", "Datum då åtgärden ska vara genomförd, ÅÅÅÅ-MM-DD."),
    (
        "Statusdatum",
        "Dagen då du skrev eller kontrollerade statusen, ÅÅÅÅ-MM-DD. Uppföljningen räknas"
        " efter detta datum, inte efter när arbetsbladet lästes in.",
    ),
)
_HEADER = Style(bold=True, fill="DCE6F0")
_BOLD = Style(bold=True)
_LOCKED_FILL = "F2F2F2"
_UNLOCKED = Style(locked=False)
_DATE_FORMAT = "yyyy-mm-dd"
#: columns (1-based) that are locked in every prepared row, and in rows with a finding
_ID_COLUMNS = (1, 2)
_FINDING_COLUMNS = (3, 4)


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
    status_date: date | None = None
    effect: str = ""
    reason: str = ""

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
            self.status_date,
            self.effect or None,
            self.reason or None,
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
        status_date=a.status_date,
        effect=a.effect or "",
        reason=a.reason or "",
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


def _list_validation(column: int, values: Sequence[str], what: str, first_row: int) -> Validation:
    """A drop-down on ``what``'s column from ``first_row`` down, listing column ``column`` of
    the list sheet."""
    letter = column_letter(HEADERS.index(what) + 1)
    return Validation(
        f"{letter}{first_row}:{letter}{LAST_VALIDATED_ROW}",
        "list",
        list_range(LISTS_SHEET, column, 2, len(values) + 1),
        prompt_title=what,
        prompt="Välj i listan.",
        error_title=f"Ogiltigt värde för {what}",
        error=f"Välj ett värde i listan för {what}.",
    )


def _date_validation(name: str, prompt: str) -> Validation:
    letter = column_letter(HEADERS.index(name) + 1)
    first, last = (str(excel_date(d)) for d in DATE_RANGE)
    return Validation(
        f"{letter}2:{letter}{LAST_VALIDATED_ROW}",
        "date",
        first,
        last,
        operator="between",
        prompt_title=name,
        prompt=prompt,
        error_title="Ogiltigt datum",
        error=f"{name} är ett datum, ÅÅÅÅ-MM-DD.",
    )


def _lists_sheet(lists: Sequence[tuple[str, Sequence[str]]]) -> Sheet:
    """The hidden sheet of the drop-downs' values, a column per list under its name."""
    depth = max(len(values) for _, values in lists)
    body = [
        [Cell(values[i]) if i < len(values) else None for _, values in lists] for i in range(depth)
    ]
    return Sheet(LISTS_SHEET, [[Cell(name, _BOLD) for name, _ in lists], *body], hidden=True)


#: a cell's style by (column, locked): locked ones grey; the texts wrap; dates ISO
_STYLES = {
    (column, locked): Style(
        fill=_LOCKED_FILL if locked else None,
        number_format=_DATE_FORMAT if name in dict(DATE_COLUMNS) else "General",
        locked=locked,
        wrap=name in ("Fynd", "Åtgärd", "Motivering"),
        vertical="top",
    )
    for column, name in enumerate(HEADERS, start=1)
    for locked in (False, True)
}


def build_workbook(unit: Unit, plan: Plan, codes: Codes, now: datetime) -> Workbook:
    """The worksheet of ``unit`` for ``plan`` (see the module docstring)."""
    header = [Cell(name, _HEADER) for name in HEADERS]
    prepared = rows(plan)
    body = []
    for row in prepared:
        locked = set(_ID_COLUMNS) | (set(_FINDING_COLUMNS) if row.finding_fixed else set())
        body.append(
            [
                Cell(value, _STYLES[column, column in locked])  # "=HYPERLINK(…)" stays text
                for column, value in enumerate(row.cells(), start=1)
            ]
        )
    finding_ids = [f.id for f, _ in plan.findings]
    statuses = list(STATUS_SV.values())
    validations = [
        _list_validation(1, statuses, "Status", 2),
        _list_validation(2, codes.action_owner_roles, "Ansvarig", 2),
        _list_validation(3, codes.action_effects, "Effekt", 2),
        *(_date_validation(name, prompt) for name, prompt in DATE_COLUMNS),
    ]
    if finding_ids:  # a new row may answer any of the year's findings
        first_free = len(prepared) - EMPTY_ROWS + 2
        validations.append(_list_validation(4, finding_ids, "Fynd-ID", first_free))
    sheet = Sheet(
        SHEET,
        [header, *body],
        # rows typed below the prepared ones stay editable
        {column: Column(width, _UNLOCKED) for column, (_, width) in enumerate(COLUMNS, start=1)},
        freeze_header=True,
        protected=True,
        validations=validations,
        # on paper: landscape, every column on one page's width (the ids whole), the header
        # row on every page; whole columns, so that the rows a unit adds below the prepared
        # ones print too
        printing=Printing(whole_columns(len(COLUMNS))),
    )
    lists = _lists_sheet(
        [
            ("Status", statuses),
            ("Ansvarig", codes.action_owner_roles),
            ("Effekt", codes.action_effects),
            ("Fynd-ID", finding_ids),
        ]
    )
    return Workbook([sheet, lists], f"Handlingsplan {plan.year} – {unit.name}", now)


def write_worksheets(
    out: Path,
    tree: OrgTree,
    period: Period,
    plans: dict[str, Plan],
    codes: Codes,
    unit_ids: Iterable[str],
    now: datetime,
) -> list[Path]:
    """Each unit's worksheet into its folder (units in parallel: :mod:`arshjul.parallel`);
    returns the files written."""

    def write_one(uid: str) -> Path:
        unit = tree[uid]
        data = workbook_bytes(build_workbook(unit, plans[uid], codes, now))
        return write_bytes_atomic(unit_dir(out, period, unit) / FILE_NAME, data)

    return map_units(write_one, list(unit_ids))

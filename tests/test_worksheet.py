"""The action-plan worksheet, read back with openpyxl as a unit's Excel would see it."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from arshjul.action_plan import worksheet
from arshjul.action_plan.plans import Plan, PlannedAction
from arshjul.analysis.findings import Finding
from arshjul.config import Config
from arshjul.models import ActionStatus, OrgLevel
from arshjul.org import Unit
from tests.conftest import NOW
from tests.tools import pdf_pages, require_calc, require_program

UNIT = Unit("SE-E1", "Enhet Ett", OrgLevel.UNIT, "SE-V1")


def finding(key: str, severity: int, year: int = 2025) -> Finding:
    return Finding(year, "SE-E1", "trend", key, f"Ökning av {key}", key, 9, 4, severity)


RISE = finding("avvikelser", 3)
COMPLAINTS = finding("klagomal", 1)
OLD = finding("avvikelser", 2, year=2024)
#: imported earlier for the complaints finding: the worksheet keeps showing it
IMPORTED = PlannedAction(
    "SE-E1-2025-001",
    "SE-E1",
    COMPLAINTS.id,
    "Svarsmall för klagomål",
    "Enhetschef",
    date(2026, 5, 31),
    ActionStatus.IN_PROGRESS,
    None,
)
CARRIED = PlannedAction(
    "SE-E1-2024-004",
    "SE-E1",
    OLD.id,
    "Fallriskbedömning vid inskrivning",
    "Vårdutvecklare",
    date(2025, 6, 30),
    ActionStatus.PLANNED,
    None,
)
PLAN = Plan(
    unit_id="SE-E1",
    year=2025,
    findings=((RISE, ()), (COMPLAINTS, (IMPORTED,))),
    other=(),
    carried=(CARRIED,),
    effects=(),
    earlier_findings={OLD.id: OLD},
)


@pytest.fixture
def sheet(tmp_path: Path, config: Config) -> Worksheet:
    path = tmp_path / worksheet.FILE_NAME
    path.write_bytes(
        worksheet.workbook_bytes(worksheet.build_workbook(UNIT, PLAN, config.codes, NOW))
    )
    book = load_workbook(path)
    assert book.sheetnames == [worksheet.SHEET, worksheet.LISTS_SHEET]
    return book.worksheets[0]


def values(sheet: Worksheet) -> list[tuple[object, ...]]:
    return [tuple(r) for r in sheet.iter_rows(values_only=True)]


def test_header_and_prefilled_rows(sheet: Worksheet):
    rows = values(sheet)
    assert rows[0] == (
        "Åtgärds-ID",
        "Enhet HSA-id",
        "Fynd-ID",
        "Fynd",
        "Åtgärd",
        "Ansvarig",
        "Klart senast",
        "Status",
        "Statusdatum",
        "Effekt",
        "Motivering",
    )
    # the finding without an action gets a new id; 001 is taken by the imported action
    assert rows[1] == (
        "SE-E1-2025-002",
        "SE-E1",
        RISE.id,
        RISE.title,
        None,
        None,
        None,
        "Planerad",
        None,
        None,
        None,
    )
    assert rows[2][:8] == (
        "SE-E1-2025-001",
        "SE-E1",
        COMPLAINTS.id,
        COMPLAINTS.title,
        "Svarsmall för klagomål",
        "Enhetschef",
        NOW.replace(2026, 5, 31, 0, 0, tzinfo=None),  # openpyxl reads dates as datetimes
        "Pågår",
    )
    assert rows[3][:4] == (
        "SE-E1-2024-004",
        "SE-E1",
        OLD.id,
        "Överförd från 2024: Ökning av avvikelser",
    )
    assert rows[3][7] == "Planerad"
    empty = rows[4:]
    assert len(empty) == worksheet.EMPTY_ROWS
    assert [r[0] for r in empty] == [f"SE-E1-2025-{n:03d}" for n in range(3, 13)]
    assert all(r[2:5] == (None, None, None) for r in empty)


def test_drop_downs_point_at_the_hidden_list_sheet(sheet: Worksheet, config: Config):
    book = sheet.parent
    lists = book[worksheet.LISTS_SHEET]
    assert lists.sheet_state == "hidden"
    by_column = {str(dv.sqref)[0]: dv for dv in sheet.data_validations.dataValidation}
    expected = {
        "H": ["Planerad", "Pågår", "Klar", "Struken", "Ingen åtgärd"],
        "F": list(config.codes.action_owner_roles),
        "J": list(config.codes.action_effects),
        "C": [RISE.id, COMPLAINTS.id],
    }
    for column, wanted in expected.items():
        dv = by_column[column]
        assert dv.type == "list"
        # a range on the list sheet, never an inline "a,b,c" list
        sheet_name, cells = dv.formula1.split("!")
        assert sheet_name.strip("'") == worksheet.LISTS_SHEET
        listed = [c.value for row in lists[cells.replace("$", "")] for c in row]
        assert listed == wanted
        assert str(dv.sqref).endswith(str(worksheet.LAST_VALIDATED_ROW))
    # a new action may answer any finding: only the empty rows choose one
    assert str(by_column["C"].sqref) == f"C5:C{worksheet.LAST_VALIDATED_ROW}"
    for dated in ("G", "I"):  # Klart senast, Statusdatum
        due = by_column[dated]
        assert (due.type, due.operator, due.formula1, due.formula2) == (
            "date",
            "between",
            "36526",
            "73050",
        )  # 2000-01-01 .. 2099-12-31 as Excel serials
    assert by_column["I"].promptTitle == "Statusdatum"
    assert "inte efter när arbetsbladet lästes in" in by_column["I"].prompt


def test_ids_are_locked_the_rest_editable_and_the_header_frozen(sheet: Worksheet):
    assert sheet.protection.sheet and sheet.freeze_panes == "A2"
    assert sheet["A2"].protection.locked and sheet["B2"].protection.locked
    assert sheet["C2"].protection.locked and sheet["D2"].protection.locked  # a given finding
    for cell in ("E2", "F2", "G2", "H2", "I2", "C5", "D5", "E5"):
        assert not sheet[cell].protection.locked, cell
    assert sheet["A5"].protection.locked  # the prepared ids too
    assert sheet["G2"].number_format == "yyyy-mm-dd"
    assert sheet.column_dimensions["D"].width == 60
    # rows a unit types below the prepared ones stay editable
    assert not sheet.column_dimensions["E"].protection.locked
    assert not sheet.protection.formatColumns and not sheet.protection.formatRows


def test_header_bold_on_blue_locked_cells_grey_long_texts_wrap(sheet: Worksheet):
    assert all(c.font.b and c.fill.fgColor.rgb.endswith("DCE6F0") for c in sheet[1])
    assert sheet["A2"].fill.fgColor.rgb.endswith("F2F2F2") and sheet["E2"].fill.fill_type is None
    assert sheet["D2"].alignment.wrap_text and sheet["E2"].alignment.wrap_text
    assert not sheet["A2"].alignment.wrap_text and sheet["A2"].alignment.vertical == "top"
    lists = sheet.parent[worksheet.LISTS_SHEET]
    assert all(c.font.b for c in lists[1]) and not lists["A2"].font.b


def test_same_content_gives_the_same_bytes(config: Config):
    def build() -> bytes:
        return worksheet.workbook_bytes(worksheet.build_workbook(UNIT, PLAN, config.codes, NOW))

    assert build() == build()


def test_prints_landscape_on_one_page_width_with_the_header_on_every_page(sheet: Worksheet):
    # whole columns: the rows a unit adds below the prepared ones print too
    assert sheet.print_area == "'Handlingsplan'!$A$1:$K$1048576"
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)


def test_libreoffice_prints_a_row_the_unit_added_on_landscape_pages_ids_whole(
    sheet: Worksheet, tmp_path: Path
):
    """The worksheet as LibreOffice prints it after a unit typed an action below the
    prepared rows (issue 17.8): the new row is on the paper, one A4 landscape page, each
    action id whole (a print area of fixed rows left the row out)."""
    soffice = require_calc()
    added = sheet.max_row + 1
    sheet.cell(added, 1, "SE-E1-2025-099")
    sheet.cell(added, 5, "Tillagd av enhetschefen")
    filled = tmp_path / "ifylld" / worksheet.FILE_NAME
    filled.parent.mkdir()
    sheet.parent.save(filled)
    subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(filled)],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    pdf = tmp_path / filled.with_suffix(".pdf").name
    pages = pdf_pages(pdf)
    assert len(pages) == 1, "the empty rows of the whole columns print nothing"
    text = pages[0]
    assert "Tillagd av enhetschefen" in text
    for action_id in ("SE-E1-2025-001", "SE-E1-2024-004", "SE-E1-2025-099"):
        assert action_id in text, action_id
    info = subprocess.run(
        [require_program("pdfinfo"), str(pdf)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    width, height = re.findall(r"Page size: +([\d.]+) x ([\d.]+)", info)[0]
    assert (round(float(width)), round(float(height))) == (842, 595)  # A4 landscape, points


def test_a_decision_ingen_atgard_shows_its_status_and_reason(config: Config, tmp_path: Path):
    decision = PlannedAction(
        "SE-E1-2025-001",
        "SE-E1",
        RISE.id,
        "",
        "Enhetschef",
        None,
        ActionStatus.NO_ACTION,
        None,
        "Ökningen är nya rapportörer, inte fler händelser",
    )
    plan = Plan("SE-E1", 2025, ((RISE, (decision,)),), (), (), ())
    path = tmp_path / worksheet.FILE_NAME
    path.write_bytes(
        worksheet.workbook_bytes(worksheet.build_workbook(UNIT, plan, config.codes, NOW))
    )
    row = values(load_workbook(path).worksheets[0])[1]
    assert row[2] == RISE.id and row[4] is None
    assert row[7:] == (
        "Ingen åtgärd",
        None,
        None,
        "Ökningen är nya rapportörer, inte fler händelser",
    )

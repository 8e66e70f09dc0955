"""The XLSX writer, read back with openpyxl (any warning it gives fails the test) and lxml."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta

import pytest
from lxml import etree
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook as ReadBook

from arshjul.formats import xlsx
from arshjul.formats.xlsx import Cell, Column, Sheet, Style, Validation, Workbook
from tests.conftest import NOW

FORMULAS = ["=1+1", "+A1", "-A1", "@SUM(A1)", "\tx", '=HYPERLINK("http://x.example","x")']


def book(*sheets: Sheet, created: datetime = NOW) -> Workbook:
    return Workbook(sheets, "Prov & <titel>", created, language="sv-SE")


def read(data: bytes) -> ReadBook:
    return load_workbook(io.BytesIO(data))


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {n: archive.read(n) for n in archive.namelist()}


def column_a(data: bytes) -> list[object]:
    return [c.value for c in read(data).worksheets[0]["A"]]


def test_every_part_is_well_formed_xml_and_the_properties_are_read_back():
    data = xlsx.workbook_bytes(book(Sheet("Ett", [[Cell("a")]])))
    written = parts(data)
    assert list(written)[0] == "[Content_Types].xml"
    for content in written.values():
        etree.fromstring(content)  # raises on anything malformed
    props = read(data).properties
    assert (props.title, props.creator, props.lastModifiedBy, props.language) == (
        "Prov & <titel>",
        "arshjul",
        "arshjul",
        "sv-SE",
    )
    assert props.created == props.modified == datetime(2026, 11, 23, 8, 30)  # UTC


def test_text_is_escaped_and_kept_as_written():
    texts = [
        "a & b < c > d \"e\" 'f'",
        "  leading and trailing  ",
        "two\nlines",
        "tab\there",
        "cr\r\nlf",
        "Åtgärd – ≤ 90 dagar ✓ 😀",
        "]]> <![CDATA[",
    ]
    data = xlsx.workbook_bytes(book(Sheet("Ett", [[Cell(t)] for t in texts])))
    assert column_a(data) == texts


def test_control_characters_are_dropped_and_the_rest_of_the_text_kept():
    data = xlsx.workbook_bytes(
        book(Sheet("Ett", [[Cell("a\x00b\x08c\x0bd\x1fe\ufffef")], [Cell("\x01")]]))
    )
    assert column_a(data) == ["abcdef", None]  # nothing left: an empty cell


def test_numbers_are_numbers_and_text_that_looks_like_one_or_a_formula_stays_text():
    texts = ["12", "-3", "1e5", "#N/A", "TRUE", "0012", *FORMULAS]
    numbers = [12, -3.5, 0.125, 1e-7, 740.0, 10**15, -0.0]
    rows = [[Cell(t), Cell(n)] for t, n in zip(texts, numbers + [None] * len(texts), strict=False)]
    data = xlsx.workbook_bytes(book(Sheet("Ett", rows)))
    assert b"<f>" not in b"".join(parts(data).values())
    sheet = read(data).worksheets[0]
    assert [c.value for c in sheet["A"]] == texts
    assert {c.data_type for c in sheet["A"]} == {"s"}
    # Excel's quote prefix exactly on the text that would start a formula
    assert [c.quotePrefix for c in sheet["A"]] == [False, True, False, False, False, False] + [
        True
    ] * len(FORMULAS)
    read_numbers = [c.value for c in sheet["B"][: len(numbers)]]
    assert read_numbers == numbers
    assert {c.data_type for c in sheet["B"][: len(numbers)]} == {"n"}
    assert isinstance(read_numbers[4], int)  # a whole float is written as a whole number


def test_values_a_workbook_cannot_hold_are_refused():
    for value, error in [
        (True, TypeError),
        (datetime(2026, 1, 1, 12, 0), TypeError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
    ]:
        with pytest.raises(error):
            xlsx.workbook_bytes(book(Sheet("Ett", [[Cell(value)]])))
    with pytest.raises(ValueError, match="first sheet"):
        xlsx.workbook_bytes(book(Sheet("Ett", [[Cell("a")]], hidden=True)))
    with pytest.raises(ValueError, match="first sheet"):
        xlsx.workbook_bytes(book())


def test_dates_are_serials_shown_with_their_format():
    assert xlsx.excel_date(date(2000, 1, 1)) == 36526
    assert xlsx.excel_date(date(2099, 12, 31)) == 73050
    iso = Style(number_format="yyyy-mm-dd")
    data = xlsx.workbook_bytes(book(Sheet("Ett", [[Cell(date(2026, 5, 31), iso)]])))
    cell = read(data).worksheets[0]["A1"]
    assert (cell.value, cell.number_format) == (datetime(2026, 5, 31), "yyyy-mm-dd")


def test_styles_widths_frozen_header_and_protection():
    header = Style(bold=True, fill="DCE6F0")
    grey = Style(fill="F2F2F2", wrap=True, vertical="top")
    open_ = Style(locked=False, number_format="0.0 %")
    rows = [
        [Cell("Namn", header), Cell("Andel", header)],
        [Cell("låst", grey), Cell(0.125, open_)],
        [Cell(1234.5, Style(number_format="#,##0.0")), Cell(None, open_), None, Cell("d")],
    ]
    columns = {1: Column(22), 2: Column(12.5, Style(locked=False))}
    sheet = Sheet("Ett", rows, columns, freeze_header=True, protected=True)
    ws = read(xlsx.workbook_bytes(book(sheet))).worksheets[0]
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb.endswith("DCE6F0")
    assert not ws["A2"].font.b and ws["A2"].fill.fgColor.rgb.endswith("F2F2F2")
    assert ws["A2"].alignment.wrap_text and ws["A2"].alignment.vertical == "top"
    assert ws["A2"].protection.locked and not ws["B2"].protection.locked
    assert (ws["B2"].value, ws["B2"].number_format) == (0.125, "0.0 %")
    assert ws["A3"].number_format == "#,##0.0" and ws["A3"].fill.fill_type is None
    assert ws["B3"].value is None and not ws["B3"].protection.locked  # a styled empty cell
    assert ws["C3"].value is None and ws["D3"].value == "d"  # a gap where a span was
    assert ws.column_dimensions["A"].width == 22 and ws.column_dimensions["B"].width == 12.5
    assert not ws.column_dimensions["B"].protection.locked  # rows typed below stay editable
    assert ws.freeze_panes == "A2"
    assert ws.protection.sheet and ws.protection.password is None
    assert not ws.protection.formatColumns and not ws.protection.formatRows  # resizing allowed
    plain = read(xlsx.workbook_bytes(book(Sheet("Ett", [[Cell("a")]])))).worksheets[0]
    assert plain.freeze_panes is None and not plain.protection.sheet


def test_a_hidden_list_sheet_and_validations_that_refer_to_it():
    values = ["Planerad", "Pågår", "Klar"]
    lists = Sheet(
        "Listor & 'mer'",
        [[Cell("Status", Style(bold=True))], *[[Cell(v)] for v in values]],
        hidden=True,
    )
    choose = Validation(
        "B2:B500",
        "list",
        xlsx.list_range(lists.name, 1, 2, 4),
        prompt_title="Status",
        prompt="Välj i listan.",
        error_title="Ogiltigt värde",
        error="Välj ett värde <i listan> & försök igen.",
    )
    due = Validation(
        "C2:C500",
        "date",
        str(xlsx.excel_date(date(2000, 1, 1))),
        str(xlsx.excel_date(date(2099, 12, 31))),
        operator="between",
    )
    main = Sheet("Plan", [[Cell("Id"), Cell("Status"), Cell("Klart")]], validations=[choose, due])
    wb = read(xlsx.workbook_bytes(book(main, lists)))
    assert wb.sheetnames == ["Plan", "Listor & 'mer'"]
    assert [ws.sheet_state for ws in wb.worksheets] == ["visible", "hidden"]
    found = {str(dv.sqref): dv for dv in wb["Plan"].data_validations.dataValidation}
    status = found["B2:B500"]
    assert (status.type, status.formula1) == ("list", "'Listor & ''mer'''!$A$2:$A$4")
    assert status.allow_blank and status.showErrorMessage and status.showInputMessage
    assert (status.promptTitle, status.prompt, status.errorTitle, status.error) == (
        "Status",
        "Välj i listan.",
        "Ogiltigt värde",
        "Välj ett värde <i listan> & försök igen.",
    )
    listed = [c.value for c in wb.worksheets[1]["A"][1:4]]
    assert listed == values
    date_check = found["C2:C500"]
    assert (date_check.type, date_check.operator, date_check.formula1, date_check.formula2) == (
        "date",
        "between",
        "36526",
        "73050",
    )


def test_sheet_names_that_need_escaping():
    names = ["A & B", "<C>", 'D "E"']
    data = xlsx.workbook_bytes(book(*(Sheet(n, [[Cell(n)]]) for n in names)))
    wb = read(data)
    assert wb.sheetnames == names
    assert [ws["A1"].value for ws in wb.worksheets] == names


def test_column_letters():
    assert [xlsx.column_letter(n) for n in (1, 26, 27, 52, 702, 703, 16384)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "ZZ",
        "AAA",
        "XFD",
    ]


def test_the_same_workbook_gives_the_same_bytes_and_the_clock_is_its_only_time():
    def make(created: datetime) -> bytes:
        rows = [[Cell("Namn", Style(bold=True)), Cell(1.5)], [Cell("=x"), Cell(date(2026, 1, 2))]]
        return xlsx.workbook_bytes(book(Sheet("Ett", rows), created=created))

    first = make(NOW)
    assert make(NOW) == first
    later = make(NOW + timedelta(hours=1))
    assert later != first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 11, 23, 9, 30, 0)}  # local

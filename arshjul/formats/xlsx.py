"""XLSX workbooks written as SpreadsheetML directly, without openpyxl's object model.

openpyxl builds an object for every cell, style and part: about 30 ms of CPU for one of our
workbooks (xlsxwriter 4–5 times this module's: bench/formats.py), and the large region writes
thousands (each document's tables, each unit's action
worksheet). What we write is small and always of one kind: sheets of text, numbers and dates
with a few cell styles (bold, a solid fill, a number format, wrapping and top alignment,
locked or not), column widths, a frozen header row, a hidden sheet, sheet protection without
a password and data validations. This module writes exactly that as XML strings, with only
the styles used and no theme part (optional; Excel falls back to its defaults), and zips it
with :func:`arshjul.formats.zips.stable_zip`: the same workbook gives the same bytes, ~2 ms
for a unit's.

Text is always a string cell (an inline string): there are no formulas here at all, so text
from the data never runs as one. Text that starts like a formula (``=``, ``+``, ``-``, ``@``,
tab, carriage return) also gets Excel's quote prefix, so that editing the cell in Excel keeps
it text. Control characters XML cannot hold are dropped (the rest of the text is kept).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import NamedTuple, TypeAlias

from arshjul.formats.zips import Deflated, deflate, stable_zip

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "application/vnd.openxmlformats-officedocument"
_PACKAGE_TYPE = "application/vnd.openxmlformats-package"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
#: control characters (and the two non-characters) an XML document cannot hold
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: white space at either end of a text is kept only when its element says so (xml:space)
_SPACE = frozenset(" \t\n\r")
#: Excel's day 0 (1900 date system, with its leap-year bug: serials from 1900-03-01 on)
_EPOCH = date(1899, 12, 30).toordinal()
#: formats Excel has built in, by id; any other gets an id from 164 on
_BUILTIN_FORMATS = {"General": 0, "0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9}

#: what makes Excel read a cell as a formula (tab and carriage return: OWASP's list)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Value: TypeAlias = str | int | float | date | None


class Style(NamedTuple):
    """A cell's look; the default is Excel's (General, not bold, locked)."""

    bold: bool = False
    #: a solid fill's colour, RGB hex (``DCE6F0``)
    fill: str | None = None
    number_format: str = "General"
    #: protected when the sheet is (Excel's default for every cell)
    locked: bool = True
    wrap: bool = False
    #: ``top``, ``center`` or ``bottom``; None is Excel's default (bottom)
    vertical: str | None = None
    #: Excel's quote prefix: set by the writer on text that starts like a formula
    quote_prefix: bool = False


PLAIN = Style()


class Cell(NamedTuple):
    """A cell: text, a number, a date (with a date format to show as one) or nothing (a styled
    empty cell)."""

    value: Value
    style: Style = PLAIN


class Column(NamedTuple):
    width: float
    #: the style of the column's cells that are not written (e.g. unlocked for new rows)
    style: Style | None = None


class Validation(NamedTuple):
    """A data validation on ``cells`` (``H2:H500``): ``kind`` ``list`` (``formula1`` a range,
    see ``list_range``) or ``date`` with ``operator`` between ``formula1`` and ``formula2``
    (``excel_date`` serials). Blank cells are allowed; a wrong value is refused with
    ``error_title``/``error``, and ``prompt_title``/``prompt`` shows when the cell is chosen."""

    cells: str
    kind: str
    formula1: str
    formula2: str | None = None
    operator: str | None = None
    prompt_title: str = ""
    prompt: str = ""
    error_title: str = ""
    error: str = ""


#: a sheet's last row (Excel's and LibreOffice's)
LAST_ROW = 1_048_576


def whole_columns(last_column: int) -> str:
    """Columns A to ``last_column`` (1 = A) from the first row to the last, as a print area:
    rows typed below the written ones print too. Excel shows it as ``$A:$K``; not written
    so, because openpyxl (the region's scripts, these tests) reads no whole-column print
    area and drops it. Neither Excel nor LibreOffice prints the empty rows."""
    return f"A1:{column_letter(last_column)}{LAST_ROW}"


class Printing(NamedTuple):
    """How a sheet prints: ``area`` (``A1:I40``; whole columns are ``A1:I1048576``,
    :func:`whole_columns`) on A4 pages ``landscape`` or not, scaled to one page's width (as
    many pages down as it takes), the first ``title_rows`` rows repeated on every page."""

    area: str
    landscape: bool = True
    title_rows: int = 1


@dataclass(frozen=True)
class Sheet:
    """A worksheet: ``rows`` from row 1, each a sequence of cells from column A, None where a
    row has no cell (e.g. the columns a spanning cell covers)."""

    name: str
    rows: Sequence[Sequence[Cell | None]]
    #: by column number (1 = A)
    columns: Mapping[int, Column] = field(default_factory=dict)
    #: row 1 stays in view when scrolling
    freeze_header: bool = False
    hidden: bool = False
    #: locked cells cannot be changed (no password: it prevents slips); rows and columns may
    #: still be resized
    protected: bool = False
    validations: Sequence[Validation] = ()
    printing: Printing | None = None


@dataclass(frozen=True)
class Workbook:
    sheets: Sequence[Sheet]
    title: str
    #: the properties' created and modified time, and every zip entry's time stamp
    created: datetime
    #: the content's language (``sv-SE``), None to leave it unsaid
    language: str | None = None


def clean(text: str) -> str:
    """``text`` without the characters XML cannot hold."""
    return _NOT_IN_XML.sub("", text)


def _text(text: str) -> str:
    """Element content: cleaned and escaped."""
    return _escape(clean(text))


def _escape(text: str) -> str:
    """Clean text as element content: escaped, carriage returns as references (XML would read
    them as line feeds)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _attr(text: str) -> str:
    """An attribute value, quoted; whitespace other than spaces as references (XML would read
    them as spaces)."""
    escaped = _text(text).replace('"', "&quot;")
    return '"' + escaped.replace("\n", "&#10;").replace("\t", "&#9;") + '"'


@cache
def column_letter(column: int) -> str:
    """1 → ``A``, 27 → ``AA``."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def quote_sheet(name: str) -> str:
    """A sheet name as a formula refers to it: ``'Listor'``."""
    return "'" + name.replace("'", "''") + "'"


def list_range(sheet: str, column: int, first_row: int, last_row: int) -> str:
    """An absolute range of one column: ``'Listor'!$A$2:$A$5``."""
    letter = column_letter(column)
    return f"{quote_sheet(sheet)}!${letter}${first_row}:${letter}${last_row}"


def excel_date(day: date) -> int:
    """``day`` as Excel's serial number (2000-01-01 → 36526)."""
    if isinstance(day, datetime):
        raise TypeError(f"{day!r}: a date, not a datetime, is written to a workbook")
    return day.toordinal() - _EPOCH


def _number(value: int | float) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r}: a workbook cell holds finite numbers only")
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    return str(value)


class _Styles:
    """The cell formats a workbook uses, numbered in order of first use (0: the default)."""

    def __init__(self) -> None:
        self.ids: dict[Style, int] = {PLAIN: 0}

    def id(self, style: Style) -> int:
        found = self.ids.get(style)
        if found is None:
            found = self.ids[style] = len(self.ids)
        return found

    def xml(self) -> bytes:
        formats: dict[str, int] = {}
        fills: dict[str | None, int] = {None: 0}  # and 1: the gray125 pattern Excel expects
        xfs = []
        for style in self.ids:
            fmt = _BUILTIN_FORMATS.get(style.number_format)
            if fmt is None:
                fmt = formats.setdefault(style.number_format, 164 + len(formats))
            fill = fills.setdefault(style.fill, len(fills) + 1)
            xf = f'<xf numFmtId="{fmt}" fontId="{int(style.bold)}" fillId="{fill}" borderId="0"'
            xf += ' xfId="0"'
            xf += ' applyNumberFormat="1"' if fmt else ""
            xf += ' applyFont="1"' if style.bold else ""
            xf += ' applyFill="1"' if fill else ""
            xf += ' quotePrefix="1"' if style.quote_prefix else ""
            inner = ""
            if style.wrap or style.vertical:
                xf += ' applyAlignment="1"'
                inner += "<alignment"
                inner += f' vertical="{style.vertical}"' if style.vertical else ""
                inner += ' wrapText="1"/>' if style.wrap else "/>"
            if not style.locked:
                xf += ' applyProtection="1"'
                inner += '<protection locked="0"/>'
            xfs.append(f"{xf}>{inner}</xf>" if inner else f"{xf}/>")
        num_fmts = "".join(
            f'<numFmt numFmtId="{i}" formatCode={_attr(code)}/>' for code, i in formats.items()
        )
        solid = "".join(
            f'<fill><patternFill patternType="solid"><fgColor rgb="FF{rgb}"/>'
            '<bgColor indexed="64"/></patternFill></fill>'
            for rgb in fills
            if rgb is not None
        )
        font = '<sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        return (
            f'{_DECLARATION}<styleSheet xmlns="{MAIN}">'
            + (f'<numFmts count="{len(formats)}">{num_fmts}</numFmts>' if formats else "")
            + f'<fonts count="2"><font>{font}<font><b/>{font}</fonts>'
            + f'<fills count="{len(fills) + 1}"><fill><patternFill patternType="none"/></fill>'
            + f'<fill><patternFill patternType="gray125"/></fill>{solid}</fills>'
            + '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            + '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
            + f'borderId="0"/></cellStyleXfs><cellXfs count="{len(xfs)}">{"".join(xfs)}'
            + '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
            + "</cellStyles></styleSheet>"
        ).encode()


def _cell(ref: str, cell: Cell, styles: _Styles) -> str:
    value, style = cell
    if isinstance(value, str):
        text = clean(value)
        if text:
            if text.startswith(FORMULA_START):
                style = style._replace(quote_prefix=True)
            s = styles.id(style)
            escaped = _escape(text)
            space = ' xml:space="preserve"' if text[0] in _SPACE or text[-1] in _SPACE else ""
            attrs = f' s="{s}"' if s else ""
            return f'<c r="{ref}"{attrs} t="inlineStr"><is><t{space}>{escaped}</t></is></c>'
        value = None  # Excel has no empty text: an empty cell
    s = styles.id(style)
    attrs = f' s="{s}"' if s else ""
    if value is None:
        return f'<c r="{ref}"{attrs}/>'
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f'<c r="{ref}"{attrs}><v>{_number(value)}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}"{attrs}><v>{excel_date(value)}</v></c>'
    raise TypeError(f"{ref}: {value!r}: a workbook cell holds text, numbers or dates")


def _sheet_xml(sheet: Sheet, styles: _Styles, selected: bool) -> bytes:
    out = []
    width = max((len(row) for row in sheet.rows), default=0)
    letters = [column_letter(c) for c in range(1, width + 1)]
    for r, row in enumerate(sheet.rows, start=1):
        out.append(f'<row r="{r}">')
        number = str(r)
        for letter, cell in zip(letters, row, strict=False):
            if cell is not None:
                out.append(_cell(letter + number, cell, styles))
        out.append("</row>")
    last = f"{letters[-1]}{len(sheet.rows)}" if sheet.rows and width else "A1"
    view = '<sheetView workbookViewId="0"' + (' tabSelected="1"' if selected else "")
    if sheet.freeze_header:
        view += (
            '><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView>'
        )
    else:
        view += "/>"
    cols = "".join(
        f'<col min="{c}" max="{c}" width="{_number(col.width)}" customWidth="1"'
        + (f' style="{styles.id(col.style)}"/>' if col.style is not None else "/>")
        for c, col in sorted(sheet.columns.items())
    )
    protection = (
        '<sheetProtection sheet="1" formatColumns="0" formatRows="0"/>' if sheet.protected else ""
    )
    validations = "".join(_validation_xml(v) for v in sheet.validations)
    printing = sheet.printing
    # fit to one page's width (fitToHeight 0: as many pages down as the rows need), A4
    fit = '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>' if printing else ""
    setup = (
        '<pageSetup paperSize="9" fitToWidth="1" fitToHeight="0" '
        f'orientation="{"landscape" if printing.landscape else "portrait"}"/>'
        if printing
        else ""
    )
    return (
        f'{_DECLARATION}<worksheet xmlns="{MAIN}" xmlns:r="{REL}">{fit}'
        f'<dimension ref="A1:{last}"/><sheetViews>{view}</sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + f"<sheetData>{''.join(out)}</sheetData>{protection}"
        + (
            f'<dataValidations count="{len(sheet.validations)}">{validations}</dataValidations>'
            if validations
            else ""
        )
        + '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        f'footer="0.3"/>{setup}</worksheet>'
    ).encode()


def _validation_xml(v: Validation) -> str:
    attrs = f'type="{v.kind}"' + (f' operator="{v.operator}"' if v.operator else "")
    attrs += ' allowBlank="1" showInputMessage="1" showErrorMessage="1"'
    for name, text in (
        ("errorTitle", v.error_title),
        ("error", v.error),
        ("promptTitle", v.prompt_title),
        ("prompt", v.prompt),
    ):
        attrs += f" {name}={_attr(text)}" if text else ""
    formulas = f"<formula1>{_text(v.formula1)}</formula1>"
    if v.formula2 is not None:
        formulas += f"<formula2>{_text(v.formula2)}</formula2>"
    return f'<dataValidation {attrs} sqref="{v.cells}">{formulas}</dataValidation>'


def _content_types(sheets: int) -> bytes:
    def override(part: str, kind: str) -> str:
        return f'<Override PartName="{part}" ContentType="{kind}"/>'

    return (
        f'{_DECLARATION}<Types xmlns="{_PACKAGE}/content-types">'
        f'<Default Extension="rels" ContentType="{_PACKAGE_TYPE}.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + override("/xl/workbook.xml", f"{_OFFICE}.spreadsheetml.sheet.main+xml")
        + "".join(
            override(f"/xl/worksheets/sheet{i}.xml", f"{_OFFICE}.spreadsheetml.worksheet+xml")
            for i in range(1, sheets + 1)
        )
        + override("/xl/styles.xml", f"{_OFFICE}.spreadsheetml.styles+xml")
        + override("/docProps/core.xml", f"{_PACKAGE_TYPE}.core-properties+xml")
        + override("/docProps/app.xml", f"{_OFFICE}.extended-properties+xml")
        + "</Types>"
    ).encode()


_PACKAGE_RELS = deflate(
    (
        f'{_DECLARATION}<Relationships xmlns="{_PACKAGE}/relationships">'
        f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{_PACKAGE}/relationships/metadata/core-properties" '
        'Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{REL}/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"
    ).encode()
)
_APP = deflate(
    (
        f'{_DECLARATION}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/'
        '2006/extended-properties"><Application>arshjul</Application></Properties>'
    ).encode()
)


def _core(book: Workbook) -> bytes:
    stamp = book.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    language = f"<dc:language>{_text(book.language)}</dc:language>" if book.language else ""
    return (
        f'{_DECLARATION}<cp:coreProperties xmlns:cp="{_PACKAGE}/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{_text(book.title)}</dc:title><dc:creator>arshjul</dc:creator>{language}"
        "<cp:lastModifiedBy>arshjul</cp:lastModifiedBy>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    ).encode()


def _absolute(ref: str) -> str:
    """``A1:I40`` → ``$A$1:$I$40``."""
    return re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", ref)


def _print_names(index: int, sheet: Sheet) -> str:
    """Excel's names for a sheet's print area and the rows repeated on every printed page."""
    if sheet.printing is None:
        return ""
    quoted = _text(quote_sheet(sheet.name))
    area = f"{quoted}!{_absolute(sheet.printing.area)}"
    names = f'<definedName name="_xlnm.Print_Area" localSheetId="{index}">{area}</definedName>'
    if sheet.printing.title_rows:
        rows = f"{quoted}!$1:${sheet.printing.title_rows}"
        names += f'<definedName name="_xlnm.Print_Titles" localSheetId="{index}">{rows}'
        names += "</definedName>"
    return names


def _workbook_xml(sheets: Sequence[Sheet]) -> tuple[bytes, bytes]:
    """The workbook part and its relationships (the sheets, then the styles)."""
    listed = "".join(
        f'<sheet name={_attr(s.name)} sheetId="{i}"'
        + (' state="hidden"' if s.hidden else "")
        + f' r:id="rId{i}"/>'
        for i, s in enumerate(sheets, start=1)
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    styles = f'<Relationship Id="rId{len(sheets) + 1}" Type="{REL}/styles" Target="styles.xml"/>'
    names = "".join(_print_names(i, s) for i, s in enumerate(sheets))
    return (
        f'{_DECLARATION}<workbook xmlns="{MAIN}" xmlns:r="{REL}"><workbookPr/>'
        f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{listed}</sheets>'
        + (f"<definedNames>{names}</definedNames>" if names else "")
        + "</workbook>"
    ).encode(), (
        f'{_DECLARATION}<Relationships xmlns="{_PACKAGE}/relationships">{rels}{styles}'
        "</Relationships>"
    ).encode()


def workbook_bytes(book: Workbook) -> bytes:
    """The XLSX file of ``book`` (at least one sheet, the first one visible)."""
    if not book.sheets or book.sheets[0].hidden:
        raise ValueError(f"{book.title}: a workbook needs a first sheet that is shown")
    styles = _Styles()
    sheets = [
        (f"xl/worksheets/sheet{i}.xml", _sheet_xml(s, styles, selected=i == 1))
        for i, s in enumerate(book.sheets, start=1)
    ]
    workbook, rels = _workbook_xml(book.sheets)
    parts: list[tuple[str, bytes | Deflated]] = [
        ("[Content_Types].xml", _content_types(len(sheets))),
        ("_rels/.rels", _PACKAGE_RELS),
        ("docProps/core.xml", _core(book)),
        ("docProps/app.xml", _APP),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", rels),
        ("xl/styles.xml", styles.xml()),
        *sheets,
    ]
    return stable_zip(parts, book.created)

"""A document's tables as data: one CSV file per table and an XLSX workbook, for controllers.

The tables are read back from the document's rendered HTML (our own semantic subset), so the
Jinja template stays the one source of every format. Cells with class ``n`` hold numbers as the
``number`` and ``percent`` filters write them (``1 234``, ``12,5 %``); they become numbers
again here, while ``<5`` (a suppressed count) and ``–`` (no value) stay text. A chart (the
``bars`` macro's SVG) carries its data in ``<title>label: value</title>`` elements and becomes a
two-column table of its own, unless a table in the chart's section holds its figures.

CSV files are in the Swedish Excel dialect: ``;`` between fields, UTF-8 with a byte-order mark,
decimal comma. Workbooks are written deterministically (fixed properties and zip timestamps).

Text from the data (a unit's name, an action's title) is never a formula in what we write:
in a workbook it is a string cell, in CSV a text that would start one (``=``, ``+``, ``-``,
``@``) gets a leading apostrophe, so Excel shows it instead of running it (CSV injection).
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple, TypeAlias

from lxml import etree

from arshjul.files import write_bytes_atomic
from arshjul.formats import xlsx
from arshjul.formats.xlsx import FORMULA_START

HEADINGS = ("h1", "h2", "h3")
#: a number as the render filters write it, after whitespace (nbsp too) became plain spaces
_NUMBER = re.compile(r"([-−+]?)(\d{1,3}(?: \d{3})+|\d+)(?:,(\d+))?( ?%)?")
#: ``label: value`` in a chart element's <title>
_DATUM = re.compile(r"(.+): (\S.*)")


Element: TypeAlias = etree._Element


def parse_html(html: str) -> Element:
    """The document as a plain lxml tree (libxml2's HTML parser, without lxml.html's element
    classes: they cost a Python call for every element touched)."""
    return etree.HTML(html)


class Cell(NamedTuple):
    text: str
    #: the cell's number (of per cent, when ``percent``), or None for text
    value: Decimal | None = None
    percent: bool = False
    span: int = 1


#: ``Cell(*fields)`` without the Python call of a named tuple's ``__new__`` (all fields given):
#: a document has hundreds of cells
_new_cell = tuple.__new__


@dataclass(frozen=True)
class Table:
    title: str
    head: tuple[tuple[Cell, ...], ...]
    body: tuple[tuple[Cell, ...], ...]
    foot: tuple[tuple[Cell, ...], ...]

    @property
    def rows(self) -> tuple[tuple[Cell, ...], ...]:
        return self.head + self.body + self.foot


def text_of(el: Element) -> str:
    """The element's text with whitespace collapsed as a browser shows it (nbsp included)."""
    if len(el) == 0:  # most table cells: text only
        text = el.text
        if text is None:
            return ""
        return text if text.isalnum() else " ".join(text.split())
    return " ".join("".join(el.itertext()).split())


def hidden(el: Element) -> bool:
    """Present for screen readers only: the reading view does not show it."""
    return "visually-hidden" in (el.get("class") or "").split()


def parse_number(text: str) -> tuple[Decimal, bool] | None:
    """``1 234`` → 1234, ``-12,5 %`` → (-12.5, per cent), ``+3`` (a change) → 3; None for
    anything else."""
    m = _NUMBER.fullmatch(text)
    if m is None:
        return None
    sign, whole, fraction, pct = m.groups()
    digits = whole.replace(" ", "") + (f".{fraction}" if fraction else "")
    return Decimal(("-" if sign in "-−" and sign else "") + digits), pct is not None


def cell_of(el: Element) -> Cell:
    text = text_of(el)
    colspan = el.get("colspan")
    span = int(colspan) if colspan and colspan.isdigit() else 1
    classes = el.get("class")
    if classes and "n" in classes.split():
        if text.isdecimal():  # most numbers: a count below 1 000
            return _new_cell(Cell, (text, Decimal(text), False, span))
        if parsed := parse_number(text):
            return _new_cell(Cell, (text, parsed[0], parsed[1], span))
    return _new_cell(Cell, (text, None, False, span))


def chart_data(svg: Element) -> Element | None:
    """The chart's data as an HTML table captioned with the chart's title; None when its
    elements' titles carry no ``label: value`` data (a picture only), or when the chart's
    section (up to the headings around it) has a table already, which then holds the figures."""
    if any(
        el.tag == "table"
        for siblings in (svg.itersiblings(), svg.itersiblings(preceding=True))
        for el in _until_heading(siblings)
    ):
        return None
    titles = [t for t in svg.iter("title") if t.getparent() is not svg]
    # the raw text: a value keeps its no-break spaces, as the table cells show them
    data = [m.groups() for t in titles if (m := _DATUM.fullmatch("".join(t.itertext()).strip()))]
    if not data:
        return None
    table = etree.Element("table")
    etree.SubElement(table, "caption").text = chart_title(svg)
    _row(etree.SubElement(table, "thead"), "th", ("Kategori", "Värde"))
    body = etree.SubElement(table, "tbody")
    for label, value in data:
        _row(body, "td", (label, value))
    return table


def _row(parent: Element, tag: str, texts: tuple[str, str]) -> None:
    """A row of a label and a number (class ``n``)."""
    tr = etree.SubElement(parent, "tr")
    etree.SubElement(tr, tag).text = texts[0]
    etree.SubElement(tr, tag, {"class": "n"}).text = texts[1]


def _until_heading(siblings: Iterator[Element]) -> Iterator[Element]:
    for el in siblings:
        if el.tag in HEADINGS:
            return
        yield el


def chart_title(svg: Element) -> str:
    own = svg.find("title")
    return text_of(own) if own is not None else svg.get("aria-label", "Diagram")


def read_table(table: Element, heading: str) -> Table:
    caption = table.find("caption")
    title = text_of(caption) if caption is not None else heading
    sections: dict[str, list[tuple[Cell, ...]]] = {"thead": [], "tbody": [], "tfoot": []}
    body = sections["tbody"]
    for tr in table.iter("tr"):
        parent = tr.getparent()
        # rows straight under <table> count as the body
        rows = sections.get(parent.tag, body) if parent is not None else body
        rows.append(tuple([cell_of(c) for c in tr if c.tag == "td" or c.tag == "th"]))
    return Table(
        title, tuple(sections["thead"]), tuple(sections["tbody"]), tuple(sections["tfoot"])
    )


def read_tables(root: Element) -> list[Table]:
    """Every table and every chart with data, in document order; a table without a caption
    is named by the heading above it."""
    heading = "Tabell"
    tables = []
    for el in root.iter("table", "svg", *HEADINGS):
        if el.tag in HEADINGS:
            heading = text_of(el) or heading
        elif el.tag == "svg":
            if (chart := chart_data(el)) is not None:
                tables.append(read_table(chart, heading))
        else:
            tables.append(read_table(el, heading))
    return tables


def name_slug(title: str, limit: int = 60) -> str:
    """``Avvikelser per händelsetyp`` → ``avvikelser-per-handelsetyp`` (å, ä, ö lose their
    marks so that file names stay ASCII), at most ``limit`` characters."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    if len(cleaned) > limit:  # cut after a whole word
        cleaned = cleaned[: limit + 1].rsplit("-", 1)[0]
    return cleaned or "tabell"


def inert_text(text: str) -> str:
    """``text`` as a CSV field Excel shows as written: one that would start a formula gets a
    leading apostrophe; numbers (``-12``, ``+3``) and all other text are left as they are."""
    if text.startswith(FORMULA_START) and parse_number(text) is None:
        return "'" + text
    return text


def _csv_value(cell: Cell) -> str:
    return inert_text(cell.text) if cell.value is None else str(cell.value).replace(".", ",")


def csv_bytes(table: Table) -> bytes:
    """A cell spanning n columns is followed by n-1 empty fields, so columns stay aligned."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    for row in table.rows:
        fields: list[str] = []
        for cell in row:
            fields.append(_csv_value(cell))
            fields.extend([""] * (cell.span - 1))
        writer.writerow(fields)
    return buf.getvalue().encode("utf-8-sig")


def write_csv_tables(tables: list[Table], folder: Path) -> list[Path]:
    """``folder/NN-<caption>.csv`` for each table; CSV files of an earlier run that this one
    did not write are removed (and the folder, when nothing is left in it)."""
    names = [f"{i:02d}-{name_slug(t.title)}.csv" for i, t in enumerate(tables, start=1)]
    written = [
        write_bytes_atomic(folder / n, csv_bytes(t)) for n, t in zip(names, tables, strict=True)
    ]
    try:
        present = os.listdir(folder)  # one look at the folder: thousands are written
    except (FileNotFoundError, NotADirectoryError):
        return written
    stale = [n for n in present if n.endswith(".csv") and n not in names]
    for name in stale:
        (folder / name).unlink()
    if len(stale) == len(present):  # nothing written and nothing else left
        folder.rmdir()
    return written


_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")


def sheet_names(titles: Iterable[str]) -> list[str]:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``, unique ignoring case."""
    names: list[str] = []
    for title in titles:
        base = _SHEET_UNSAFE.sub("-", title).strip("' ")
        if len(base) > 31:  # cut after a whole word when one ends late enough
            cut = base[:32].rsplit(" ", 1)[0]
            base = (cut if len(cut) >= 20 else base[:31]).rstrip("' ")
        base = base or "Tabell"
        name, k = base, 2
        while name.casefold() in {n.casefold() for n in names}:
            suffix = f" ({k})"
            name, k = base[: 31 - len(suffix)] + suffix, k + 1
        names.append(name)
    return names


def _number_format(exponent: int | str, percent: bool) -> str:
    """The format that shows a number with as many decimals as the document (``exponent``:
    its Decimal's), as a per cent or with thousands separated."""
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    fraction = "." + "0" * decimals if decimals else ""
    return f"0{fraction} %" if percent else f"#,##0{fraction}"


def workbook(tables: list[Table], *, title: str, created: datetime) -> xlsx.Workbook:
    """One worksheet per table: numbers as numeric cells (per cents as fractions formatted
    ``0.0 %``), text as text, the header rows and the foot in bold, column widths from the
    content, the header row frozen when there is one."""
    text_style = {False: xlsx.PLAIN, True: xlsx.Style(bold=True)}
    number_styles: dict[tuple[bool, bool, int | str], xlsx.Style] = {}
    sheets = []
    for table, name in zip(tables, sheet_names(t.title for t in tables), strict=True):
        widths: dict[int, int] = {}
        rows: list[list[xlsx.Cell | None]] = []
        body_end = len(table.head) + len(table.body)
        for r, row in enumerate(table.rows, start=1):
            strong = r <= len(table.head) or r > body_end
            cells: list[xlsx.Cell | None] = []
            for cell in row:
                if cell.value is None:
                    cells.append(xlsx.Cell(cell.text, text_style[strong]))
                else:
                    exponent = cell.value.as_tuple().exponent
                    key = (strong, cell.percent, exponent)
                    if (style := number_styles.get(key)) is None:
                        fmt = _number_format(exponent, cell.percent)
                        style = number_styles[key] = xlsx.Style(bold=strong, number_format=fmt)
                    number = float(cell.value / 100 if cell.percent else cell.value)
                    cells.append(xlsx.Cell(number, style))
                if cell.span == 1:
                    column = len(cells)
                    widths[column] = max(widths.get(column, 0), len(cell.text))
                else:
                    cells.extend([None] * (cell.span - 1))
            rows.append(cells)
        columns = {c: xlsx.Column(min(max(w + 2, 8), 60)) for c, w in widths.items()}
        sheets.append(xlsx.Sheet(name, rows, columns, freeze_header=len(table.head) == 1))
    return xlsx.Workbook(sheets, title, created, language="sv-SE")


def workbook_bytes(tables: list[Table], *, title: str, created: datetime) -> bytes:
    return xlsx.workbook_bytes(workbook(tables, title=title, created=created))


def write_workbook(tables: list[Table], path: Path, *, title: str, created: datetime) -> Path:
    """``path`` as an XLSX workbook of ``tables`` (at least one: Excel needs a sheet)."""
    if not tables:
        raise ValueError(f"{path}: a workbook needs at least one table")
    return write_bytes_atomic(path, workbook_bytes(tables, title=title, created=created))

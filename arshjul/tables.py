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
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

from lxml import etree

from arshjul.clock import local
from arshjul.files import write_bytes_atomic

if TYPE_CHECKING:
    from openpyxl.cell import Cell as XlsxCell

HEADINGS = ("h1", "h2", "h3")
#: a number as the render filters write it, after whitespace (nbsp too) became plain spaces
_NUMBER = re.compile(r"([-−+]?)(\d{1,3}(?: \d{3})+|\d+)(?:,(\d+))?( ?%)?")
#: ``label: value`` in a chart element's <title>
_DATUM = re.compile(r"(.+): (\S.*)")
#: what makes Excel read a cell as a formula (tab and carriage return: OWASP's list)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: control characters an XLSX file cannot hold (openpyxl refuses them)
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


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
        return " ".join((el.text or "").split())
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
    span = int(el.get("colspan", "1")) if (el.get("colspan") or "").isdigit() else 1
    if "n" in (el.get("class") or "").split() and (parsed := parse_number(text)):
        return Cell(text, parsed[0], parsed[1], span)
    return Cell(text, span=span)


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
    for tr in table.iter("tr"):
        parent = tr.getparent()
        # rows straight under <table> count as the body
        section = parent.tag if parent is not None and parent.tag in sections else "tbody"
        sections[section].append(tuple(cell_of(c) for c in tr if c.tag in ("td", "th")))
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
    written = [
        write_bytes_atomic(folder / f"{i:02d}-{name_slug(t.title)}.csv", csv_bytes(t))
        for i, t in enumerate(tables, start=1)
    ]
    if folder.is_dir():
        for stale in set(folder.glob("*.csv")) - set(written):
            stale.unlink()
        if not any(folder.iterdir()):
            folder.rmdir()
    return written


class Deflated(NamedTuple):
    """A zip entry's data compressed once: parts every document shares are not compressed
    again for each one."""

    data: bytes
    crc: int
    size: int


def deflate(data: bytes) -> Deflated:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    return Deflated(packer.compress(data) + packer.flush(), zlib.crc32(data), len(data))


def stable_zip(entries: Iterable[tuple[str, bytes | Deflated]], when: datetime) -> bytes:
    """A zip archive (deflated entries, ASCII names) whose bytes depend only on its entries and
    ``when`` (in local time, which is what zip stores): no wall clock, no umask, no extras."""
    t = local(when)
    dos_time = t.hour << 11 | t.minute << 5 | t.second // 2
    dos_date = (t.year - 1980) << 9 | t.month << 5 | t.day
    out = io.BytesIO()
    directory = []
    for name, data in entries:
        entry = data if isinstance(data, Deflated) else deflate(data)
        encoded = name.encode("ascii")
        fields = (8, dos_time, dos_date, entry.crc, len(entry.data), entry.size, len(encoded))
        offset = out.tell()
        out.write(struct.pack("<4s3H2H3L2H", b"PK\x03\x04", 20, 0, *fields, 0))
        out.write(encoded)
        out.write(entry.data)
        directory.append(
            struct.pack(
                "<4s4H2H3L5H2L",
                b"PK\x01\x02",
                3 << 8 | 20,
                20,
                0,
                *fields,
                0,
                0,
                0,
                0,
                0o644 << 16,
                offset,
            )
            + encoded
        )
    start = out.tell()
    out.write(b"".join(directory))
    size = out.tell() - start
    out.write(
        struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(directory), len(directory), size, start, 0)
    )
    return out.getvalue()


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


def set_value(target: XlsxCell, value: object) -> None:
    """Put ``value`` into a workbook cell; text stays text. openpyxl makes any string that
    starts with ``=`` a formula and ``#N/A`` an error value: a string here is always a string
    cell, and one that starts like a formula is marked with Excel's quote prefix so that
    editing the cell in Excel does not turn it into a formula either."""
    if not isinstance(value, str):
        target.value = value
        return
    target.value = _NOT_IN_XML.sub("", value)
    target.data_type = "s"
    if value.startswith(FORMULA_START):
        target.quotePrefix = True


def _number_format(cell: Cell) -> str:
    assert cell.value is not None
    exponent = cell.value.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    fraction = "." + "0" * decimals if decimals else ""
    return f"0{fraction} %" if cell.percent else f"#,##0{fraction}"


def workbook_bytes(tables: list[Table], *, title: str, created: datetime) -> bytes:
    """One worksheet per table: numbers as numeric cells (per cents as fractions formatted
    ``0.0 %``), the header rows and the foot in bold, column widths from the content."""
    # openpyxl is imported here: only the documents asked for as XLSX need it
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for table, name in zip(tables, sheet_names(t.title for t in tables), strict=True):
        ws = wb.create_sheet(name)
        widths: dict[int, int] = {}
        for r, row in enumerate(table.rows, start=1):
            strong = r <= len(table.head) or r > len(table.head) + len(table.body)
            col = 1
            for cell in row:
                target = ws.cell(row=r, column=col)
                if cell.value is None:
                    set_value(target, cell.text)
                else:
                    target.value = float(cell.value / 100 if cell.percent else cell.value)
                    target.number_format = _number_format(cell)
                if strong:
                    target.font = bold
                if cell.span == 1:
                    widths[col] = max(widths.get(col, 0), len(cell.text))
                col += cell.span
        for col, width in widths.items():
            ws.column_dimensions[get_column_letter(col)].width = min(max(width + 2, 8), 60)
        if len(table.head) == 1:
            ws.freeze_panes = "A2"
    stamp = created.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    wb.properties.created = wb.properties.modified = stamp
    wb.properties.creator = wb.properties.lastModifiedBy = "arshjul"
    wb.properties.title = title
    wb.properties.language = "sv-SE"
    buf = io.BytesIO()
    # ExcelWriter, not Workbook.save: save stamps the wall clock into the properties
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as archive:
        return stable_zip(((n, archive.read(n)) for n in archive.namelist()), created)


def write_workbook(tables: list[Table], path: Path, *, title: str, created: datetime) -> Path:
    """``path`` as an XLSX workbook of ``tables`` (at least one: Excel needs a sheet)."""
    if not tables:
        raise ValueError(f"{path}: a workbook needs at least one table")
    return write_bytes_atomic(path, workbook_bytes(tables, title=title, created=created))

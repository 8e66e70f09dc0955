"""The first sheet of an XLSX workbook, row by row, as text: streamed, and within bounds that a
small hostile file cannot push.

A workbook is a zip archive of XML parts. A 2 KB file can declare a sheet of 16,384 columns by
1,048,576 rows, or hold a sheet that unpacks to gigabytes: readers that trust the declared size
(openpyxl's read-only mode pads every row to it) or build the sheet as one grid (calamine
aborts the whole process when the allocation fails) are taken down by it. This reader streams
the sheet's XML through expat and keeps only the cells that are there, so memory follows the
cells the file really holds; it refuses a part that unpacks to more than
:data:`LARGEST_PART` bytes (declared or found while reading), a cell outside Excel's own grid,
a header wider than :data:`WIDEST_HEADER` columns, and reading for longer than
:data:`SECONDS`. Document type declarations (entity expansion) are refused outright.

Cells come as text: numbers as written (``12``, ``12.5``), dates (numbers with a date format)
in ISO form, formulas as their text (``=IF(…)``), never evaluated; booleans ``TRUE``/``FALSE``.
Text escaped as a workbook escapes it (``_x2013_``) comes unescaped, as Excel shows it.
A whole number in a format of zeros and fixed characters (``000000-0000``, Excel's way to keep
a personnummer's leading zero) comes as Excel shows it, so that what a person sees is what is
checked: ``51224-1234`` stored as ``512241234`` is ``051224-1234``.
"""

from __future__ import annotations

import posixpath
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from datetime import time as time_of_day
from functools import partial
from pathlib import Path
from typing import IO
from xml.parsers import expat

#: uncompressed bytes of one part (a sheet, its shared strings, styles): a sheet of about
#: 500,000 rows of 11 columns. A part larger than this is refused before it is read.
LARGEST_PART = 256 << 20
#: Excel's own grid: a cell beyond it is no cell of a workbook Excel wrote
LAST_ROW = 1_048_576
LAST_COLUMN = 16_384
#: the header's columns: every kind has a dozen, exports a few dozen more
WIDEST_HEADER = 1_024
#: reading a workbook longer than this is refused (a part within the size bound is read in
#: well under a minute)
SECONDS = 300.0
#: bytes fed to the XML parser at a time
CHUNK = 1 << 16

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
#: Excel's built-in number formats that show a date or time (ECMA-376 18.8.30)
_BUILTIN_DATES = frozenset({*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)})
_WINDOWS_EPOCH = datetime(1899, 12, 30)
_MAC_EPOCH = datetime(1904, 1, 1)


class Unreadable(Exception):
    """The workbook cannot be read; the message says why, for a person."""


#: a row's number and its cells with text, by column number (A is 1)
Row = tuple[int, dict[int, str]]


def first_sheet_rows(path: Path) -> Iterator[Row]:
    """The first sheet's rows that have a cell with text, in order. Raises
    :class:`Unreadable`."""
    deadline = time.monotonic() + SECONDS
    try:
        with zipfile.ZipFile(path) as archive:
            book = _Book(archive, deadline)
            yield from book.rows()
    except Unreadable:
        raise
    except zlib.error:
        raise Unreadable("damaged compressed data") from None
    except (zipfile.BadZipFile, EOFError):
        raise Unreadable("not a zip archive, or one cut short") from None
    except (zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise Unreadable(f"{type(exc).__name__}: {exc}") from None
    except NotImplementedError as exc:  # a compression method zipfile cannot unpack
        raise Unreadable(str(exc)) from None


class _Book:
    def __init__(self, archive: zipfile.ZipFile, deadline: float):
        self.archive, self.deadline = archive, deadline
        names = set(archive.namelist())
        if "xl/workbook.xml" not in names:
            raise Unreadable("no xl/workbook.xml: not an Excel workbook")
        workbook = _Workbook()
        self._parse("xl/workbook.xml", workbook)
        targets = _Relationships()
        if "xl/_rels/workbook.xml.rels" in names:
            self._parse("xl/_rels/workbook.xml.rels", targets)
        if workbook.first_sheet is None:
            raise Unreadable("the workbook has no sheet")
        sheet = targets.by_id.get(workbook.first_sheet)
        if sheet is None or sheet not in names:
            raise Unreadable("the workbook has no sheet")
        self.sheet = sheet
        self.epoch = _MAC_EPOCH if workbook.date1904 else _WINDOWS_EPOCH
        self.shared: list[str] = []
        shared = targets.by_type.get("sharedStrings", "xl/sharedStrings.xml")
        if shared in names:
            strings = _SharedStrings()
            self._parse(shared, strings)
            self.shared = strings.strings
        self.date_styles: frozenset[int] = frozenset()
        self.padded: dict[int, list[Part]] = {}
        styles = targets.by_type.get("styles", "xl/styles.xml")
        if styles in names:
            found = _Styles()
            self._parse(styles, found)
            self.date_styles = found.date_styles()
            self.padded = found.padded_styles()

    def rows(self) -> Iterator[Row]:
        from openpyxl.utils.datetime import from_excel

        to_date = partial(from_excel, epoch=self.epoch)
        reader = _SheetReader(self.shared, self.date_styles, self.padded, to_date)
        parser = self._parser(reader, self.sheet)
        for chunk in self._chunks(self.sheet):
            _feed(parser, chunk, self.sheet)
            yield from reader.take()
        _feed(parser, b"", self.sheet, final=True)
        yield from reader.take()

    def _parse(self, name: str, handler: _Handler) -> None:
        parser = self._parser(handler, name)
        for chunk in self._chunks(name):
            _feed(parser, chunk, name)
        _feed(parser, b"", name, final=True)

    def _parser(self, handler: _Handler, name: str) -> expat.XMLParserType:
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.buffer_size = CHUNK
        parser.StartElementHandler = handler.start
        parser.EndElementHandler = handler.end
        parser.CharacterDataHandler = handler.text

        def no_doctype(*_: object) -> None:
            raise Unreadable(f"{name}: a document type declaration, which a workbook never has")

        parser.StartDoctypeDeclHandler = no_doctype
        return parser

    def _chunks(self, name: str) -> Iterator[bytes]:
        """The part's bytes, bounded by :data:`LARGEST_PART` and the deadline."""
        info = self.archive.getinfo(name)
        if info.file_size > LARGEST_PART:
            raise _too_large(name, info.file_size)
        read = 0
        stream: IO[bytes]
        with self.archive.open(info) as stream:
            while chunk := stream.read(CHUNK):
                read += len(chunk)
                if read > LARGEST_PART:  # the archive's declared size was false
                    raise _too_large(name, read)
                if time.monotonic() > self.deadline:
                    raise Unreadable(f"{name}: still not read after {SECONDS:.0f} s")
                yield chunk


def _too_large(name: str, size: int) -> Unreadable:
    return Unreadable(
        f"{name} unpacks to more than {LARGEST_PART >> 20} MB ({size >> 20} MB or more):"
        " save a smaller workbook, or the sheet as CSV"
    )


def _feed(parser: expat.XMLParserType, chunk: bytes, name: str, *, final: bool = False) -> None:
    try:
        parser.Parse(chunk, final)
    except expat.ExpatError as exc:
        raise Unreadable(f"broken XML in {name}: {expat.errors.messages[exc.code]}") from None


class _Handler:
    """Expat's callbacks; names come as ``namespace local`` (or ``local`` without one)."""

    def start(self, name: str, attributes: dict[str, str]) -> None:
        pass

    def end(self, name: str) -> None:
        pass

    def text(self, data: str) -> None:
        pass


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


class _Workbook(_Handler):
    def __init__(self) -> None:
        self.first_sheet: str | None = None
        self.date1904 = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = _local(name)
        if local == "sheet" and self.first_sheet is None:
            self.first_sheet = attributes.get(f"{_OFFICE_RELS} id")
        elif local == "workbookPr":
            self.date1904 = attributes.get("date1904", "0").lower() in ("1", "true")


class _Relationships(_Handler):
    """The workbook's parts: by relationship id, and by type (its last word)."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}
        self.by_type: dict[str, str] = {}

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name != f"{_PACKAGE_RELS} Relationship" or "Target" not in attributes:
            return
        target = attributes["Target"]
        # relative to xl/, or absolute from the archive's root
        path = target[1:] if target.startswith("/") else posixpath.join("xl", target)
        path = posixpath.normpath(path)
        self.by_id[attributes.get("Id", "")] = path
        self.by_type.setdefault(attributes.get("Type", "").rpartition("/")[2], path)


class _SharedStrings(_Handler):
    """Every ``<si>``'s text: its ``<t>``, or its runs' ``<t>``s, but not phonetic guides."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.parts: list[str] = []
        self.in_text = False
        self.phonetic = 0

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = _local(name)
        if local == "t":
            self.in_text = not self.phonetic
        elif local == "rPh":
            self.phonetic += 1

    def end(self, name: str) -> None:
        local = _local(name)
        if local == "t":
            self.in_text = False
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "si":
            self.strings.append(_unescaped("".join(self.parts)))
            self.parts = []

    def text(self, data: str) -> None:
        if self.in_text:
            self.parts.append(data)


class _Styles(_Handler):
    """Which cell formats (``cellXfs``, by position) show a number as a date or time."""

    def __init__(self) -> None:
        self.formats: dict[int, str] = {}
        self.cell_formats: list[int] = []
        self.in_cell_xfs = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = _local(name)
        if local == "numFmt":
            self.formats[_int(attributes.get("numFmtId"), "numFmtId")] = attributes.get(
                "formatCode", ""
            )
        elif local == "cellXfs":
            self.in_cell_xfs = True
        elif local == "xf" and self.in_cell_xfs:
            self.cell_formats.append(_int(attributes.get("numFmtId", "0"), "numFmtId"))

    def end(self, name: str) -> None:
        if _local(name) == "cellXfs":
            self.in_cell_xfs = False

    def date_styles(self) -> frozenset[int]:
        from openpyxl.styles.numbers import is_date_format  # imported only to read a workbook

        return frozenset(
            i
            for i, fmt in enumerate(self.cell_formats)
            if (fmt in self.formats and is_date_format(self.formats[fmt]))
            or (fmt not in self.formats and fmt in _BUILTIN_DATES)
        )

    def padded_styles(self) -> dict[int, list[Part]]:
        """The cell formats that show a whole number padded with zeros -> the format's parts
        (see :func:`_zeros_format`)."""
        parts = {i: _zeros_format(fmt) for i, fmt in self.formats.items()}
        return {i: found for i, fmt in enumerate(self.cell_formats) if (found := parts.get(fmt))}


#: a part of a number format: ``(True, "0000")`` a run of zeros, ``(False, "-")`` fixed text
Part = tuple[bool, str]
#: a number format's condition or colour (``[Red]``, ``[<=9999999]``), a quoted text, an
#: escaped character, a run of zeros, a character Excel shows as it is
_FORMAT_PART = re.compile(r'(\[[^\]]*\])|"([^"]*)"|\\(.)|(0+)|([ \-/():+])')


def _zeros_format(code: str) -> list[Part]:
    """A number format of zeros and fixed characters (``000000-0000``, ``"nr "000 00``) as its
    parts; its first section only (for numbers at or above zero). Empty for any other format
    (decimals, thousands, percent, text)."""
    section = code.split(";")[0]
    parts: list[Part] = []
    position = 0
    for match in _FORMAT_PART.finditer(section):
        if match.start() != position:
            return []  # a character of another kind of format
        position = match.end()
        condition, quoted, escaped, zeros, fixed = match.groups()
        if zeros:
            parts.append((True, zeros))
        elif condition is None:
            parts.append((False, next(t for t in (quoted, escaped, fixed) if t is not None)))
    if position != len(section) or not any(zeros for zeros, _ in parts):
        return []
    return parts


def _padded(number: int, parts: list[Part]) -> str:
    """``number`` as a format of :func:`_zeros_format` shows it: its digits fill the runs of
    zeros from the right, the first run takes what is left over."""
    runs = [i for i, (zeros, _) in enumerate(parts) if zeros]
    digits = str(number).rjust(sum(len(parts[i][1]) for i in runs), "0")
    shown: list[str] = []
    end = len(digits)
    for i in reversed(range(len(parts))):
        zeros, text = parts[i]
        if zeros:
            start = 0 if i == runs[0] else end - len(text)
            text, end = digits[start:end], start
        shown.append(text)
    return "".join(reversed(shown))


def _int(text: str | None, what: str) -> int:
    if text is None or not text.isdigit() or len(text) > 9:
        raise Unreadable(f"styles: {what} {text!r} is not a number")
    return int(text)


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


class _SheetReader(_Handler):
    """A sheet's rows as they are parsed; :meth:`take` hands over the rows finished so far.

    Called for every element of the sheet: the handlers are looked up by the element's full
    name, and a cell's column by its letters, once per column."""

    def __init__(
        self,
        shared: list[str],
        date_styles: frozenset[int],
        padded: dict[int, list[Part]],
        to_date: Callable[[float], datetime | time_of_day],
    ):
        self.shared, self.date_styles, self.to_date = shared, date_styles, to_date
        self.padded = padded
        self.done: list[Row] = []
        self.row_number = 0
        self.cells: dict[int, str] = {}
        self.column = 0
        self.kind = "n"
        self.style = "0"
        #: the text of the cell's ``<v>`` or inline ``<t>``, and of its ``<f>``
        self.value: list[str] = []
        self.formula: list[str] = []
        self.collect: list[str] | None = None
        self.phonetic = 0
        self.columns: dict[str, int] = {}
        self.starts: dict[str, Callable[[dict[str, str]], None]] = {
            f"{_MAIN} row": self._row,
            f"{_MAIN} c": self._cell,
            f"{_MAIN} v": self._value,
            f"{_MAIN} t": self._value,
            f"{_MAIN} f": self._formula,
            f"{_MAIN} rPh": self._phonetic,
        }
        self.ends: dict[str, Callable[[], None]] = {
            f"{_MAIN} row": self._end_row,
            f"{_MAIN} c": self._end_cell,
            f"{_MAIN} v": self._end_text,
            f"{_MAIN} t": self._end_text,
            f"{_MAIN} f": self._end_text,
            f"{_MAIN} rPh": self._end_phonetic,
        }

    def take(self) -> list[Row]:
        done, self.done = self.done, []
        return done

    def start(self, name: str, attributes: dict[str, str]) -> None:
        handle = self.starts.get(name)
        if handle is not None:
            handle(attributes)

    def end(self, name: str) -> None:
        handle = self.ends.get(name)
        if handle is not None:
            handle()

    def text(self, data: str) -> None:
        if self.collect is not None:
            self.collect.append(data)

    def _row(self, attributes: dict[str, str]) -> None:
        number = attributes.get("r")
        self.row_number = self.row_number + 1 if number is None else _int_in(number, LAST_ROW)
        self.cells = {}
        self.column = 0

    def _cell(self, attributes: dict[str, str]) -> None:
        ref = attributes.get("r")
        if ref is None:
            self.column += 1
        else:
            letters = ref.rstrip("0123456789")
            column = self.columns.get(letters)
            if column is None:
                column = self.columns[letters] = self._column_of(ref)
            self.column = column
        self.kind = attributes.get("t", "n")
        self.style = attributes.get("s", "0")
        self.value, self.formula = [], []

    def _column_of(self, ref: str) -> int:
        match = _REF.fullmatch(ref)
        if match is None:
            raise Unreadable(f"a cell named {ref[:20]!r}, which is no cell reference")
        column = _column_number(match[1])
        if column > LAST_COLUMN:
            raise Unreadable(f"cell {ref} is outside a worksheet (XFD{LAST_ROW} is the last)")
        return column

    def _value(self, _: dict[str, str]) -> None:
        self.collect = None if self.phonetic else self.value

    def _formula(self, _: dict[str, str]) -> None:
        self.collect = self.formula

    def _phonetic(self, _: dict[str, str]) -> None:
        self.phonetic += 1

    def _end_text(self) -> None:
        self.collect = None

    def _end_phonetic(self) -> None:
        self.phonetic -= 1

    def _end_cell(self) -> None:
        text = self._cell_text()
        if text:
            self.cells[self.column] = text

    def _end_row(self) -> None:
        if self.cells:
            self.done.append((self.row_number, self.cells))

    def _cell_text(self) -> str:
        if self.formula:  # as its text, never evaluated
            return "=" + "".join(self.formula)
        value = "".join(self.value)
        kind = self.kind
        if kind == "s":
            return self.shared[_int_in(value, len(self.shared) - 1)] if value else ""
        if kind == "b":
            return {"1": "TRUE", "0": "FALSE"}.get(value, value)
        if kind != "n" or not value:  # inlineStr, str, e (an error such as #N/A), d
            return _unescaped(value)
        # style 0, the default, is never a date nor padded
        style = int(self.style) if self.style.isdigit() else 0
        text = _number_text(value, self.to_date if style and style in self.date_styles else None)
        padded = style and self.padded.get(style)
        if padded and text.isdigit():  # a whole number at or above zero
            return _padded(int(text), padded)
        return text


#: a character a workbook's text escapes (ECMA-376 22.9.2.19): ``_x000B_`` is a vertical tab,
#: ``_x005F_`` an underscore. Excel shows the character, so the text is what Excel shows
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescaped(text: str) -> str:
    if "_x" not in text:
        return text
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _int_in(text: str, largest: int) -> int:
    if not text.isdigit() or len(text) > 9 or int(text) > largest:
        raise Unreadable(f"{text[:20]!r} is not a row or string number of a worksheet")
    return int(text)


def _number_text(value: str, to_date: Callable[[float], datetime | time_of_day] | None) -> str:
    """A number cell as text: a whole number without a decimal point, a date or time (in a
    date format) in ISO form."""
    try:
        number = float(value)
    except ValueError:
        raise Unreadable(f"{value[:20]!r} in a number cell is not a number") from None
    if to_date is not None:
        try:
            moment = to_date(number)
        except (OverflowError, ValueError):
            return value  # far outside the calendar: the date parser says why
        return moment.isoformat()
    if number.is_integer() and "e" not in value.lower() and "." not in value:
        return value.lstrip("+")
    return str(int(number)) if number.is_integer() and abs(number) < 1e16 else repr(number)

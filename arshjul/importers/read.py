"""Reading an input file into a header and rows, a chunk at a time: encodings, delimiters,
quoting, XLSX.

Accepted encodings: UTF-8 with or without a byte-order mark; Windows-1252 (Excel's "CSV
(semikolonavgränsad)"); UTF-16 *with* a byte-order mark (Excel's "Unicode text"). UTF-16
without one is refused, as is a file that is partly UTF-8 and partly Windows-1252 (rows pasted
together from two exports): either half would come out garbled. The delimiter (``,``, ``;`` or
tab) is the one the header line uses most. XLSX: the first sheet, cells as text (see
:mod:`~arshjul.importers.workbook`).

A large file is never held whole: :func:`survey` hashes it and settles its encoding in one pass
over its bytes, then :func:`sheets` reads it again as sheets of a few MB of text each. Every row
keeps the physical line it starts on (the header is line 1), so problems point at the line a
person sees in an editor even when a quoted cell spans several lines.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, overload

from arshjul.errors import Problem, UsageError
from arshjul.importers import workbook

if TYPE_CHECKING:
    # imported where used: importing polars costs ~0.13 s at every command's start and
    # sets _RJEM_MALLOC_CONF in the environment (nothing happens at import, test_package)
    import polars as pl

DELIMITERS = (";", "\t", ",")  # ties go to the earlier: Swedish exports use ;
#: bytes read at a time, and characters of text per sheet (~30,000–90,000 rows of an export)
BLOCK = 4 << 20
#: rows per sheet of a file that needs the csv module (quotes, blank or ragged lines)
ROWS = 50_000
#: characters of one line of a CSV file: a row of an export is a few KB. A longer line is
#: refused as soon as it is read (a file of one line of 500 MB, without a line break, was
#: held whole, copied block by block, and failed after 111 s and 6.4 GB)
LONGEST_LINE = 1 << 20
LONG_LINE = (
    f"a line longer than {LONGEST_LINE >> 20} MB ({LONGEST_LINE:_} characters), where a row of"
    " an export is a few KB: not a CSV export (or one without line breaks)?"
).replace("_", " ")
XLSX = "xlsx"
_QUOTED = re.compile(r'"[^"]*"')
#: a UTF-8 encoded non-ASCII character; in a file that is not UTF-8 it means mixed encodings
_UTF8_CHARACTER = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
#: the start of an OLE compound file: Excel 97-2003 (.xls), or an XLSX with a password
_OLE_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OLD_OR_LOCKED_WORKBOOK = (
    "an Excel 97-2003 (.xls) or password-protected workbook:"
    " save it as .xlsx (Excel-arbetsbok) without a password, or as CSV"
)
NUL_BYTES = "contains NUL bytes: UTF-16 without a byte-order mark? Save as UTF-8"
#: invisible characters that are never content: a byte-order mark in the middle of a file (two
#: exports joined), a zero-width space, a word joiner. Left out of every cell, so that
#: ``\ufeffATK-2`` is the id ``ATK-2`` a person sees, not another one
INVISIBLE = re.compile("[\ufeff\u200b\u2060]")


class Cells(Sequence[str]):
    """One column of a sheet: its text cells, held by polars, so that a plain file is split
    into columns and a column's distinct values are found without a Python string per cell.
    Reads like a list of ``str`` (and compares equal to one)."""

    __slots__ = ("series",)

    def __init__(self, series: pl.Series):
        self.series = series

    @classmethod
    def of(cls, cells: Sequence[str]) -> Cells:
        import polars as pl

        return cls(pl.Series(values=cells, dtype=pl.String))

    def rows_among(self, chosen: list[str]) -> list[tuple[int, str]]:
        """The rows (index, cell) whose cell is one of ``chosen``, in order."""
        import polars as pl

        at = self.series.is_in(pl.Series(chosen, dtype=pl.String)).arg_true()
        return list(zip(at.to_list(), self.series.gather(at).to_list(), strict=True))

    def where(self, keep: list[bool]) -> Cells:
        """The cells whose ``keep`` is true."""
        import polars as pl

        return Cells(self.series.filter(pl.Series(keep, dtype=pl.Boolean)))

    def __len__(self) -> int:
        return self.series.len()

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return self.series[index].to_list()
        return str(self.series[index])

    def __iter__(self) -> Iterator[str]:
        return iter(self.series.to_list())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Cells({self.series.to_list()!r})"


@dataclass
class Sheet:
    """A file's header and some of its rows, cells column by column, every column as long as
    the next."""

    file: str
    header: list[str]
    #: the cells of each header position
    columns: list[Cells] = field(default_factory=list)
    #: the physical line each row starts on
    lines: Sequence[int] = ()
    problems: list[Problem] = field(default_factory=list)
    #: rows refused for their number of fields, with their lines: still searched for
    #: personnummer, which must be reported wherever they are
    rejected: list[tuple[int, list[str]]] = field(default_factory=list)


@dataclass(frozen=True)
class Survey:
    """What one pass over a file's bytes tells: their SHA-256 and how to read them."""

    sha256: str
    #: :data:`XLSX`, or the codec of a text file; None when it cannot be read
    form: str | None
    #: why it cannot be read
    problem: Problem | None = None


def survey(path: Path, file: str) -> Survey:
    """Hash ``path`` and find its form: a workbook, or text in an accepted encoding, or the
    problem that makes it unreadable (of ``file``, the name it is shown by). Raises
    ``OSError`` when the file cannot be opened."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        head = stream.read(len(_OLE_FILE))
        if head.startswith(_OLE_FILE):
            problem = Problem(file, None, None, None, OLD_OR_LOCKED_WORKBOOK)
            return Survey(_sha256(stream), None, problem)
        if head.startswith(b"PK\x03\x04") or path.suffix.lower() == ".xlsx":
            return Survey(_sha256(stream), XLSX)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text: _Utf16 | _Utf8 = _Utf16()
        else:
            text = _Utf8(head.startswith(codecs.BOM_UTF8))
        for block in _blocks(stream):
            digest.update(block)
            text.feed(block)
    try:
        return Survey(digest.hexdigest(), text.codec(path))
    except _Unreadable as exc:
        problem = Problem(file, exc.line, None, None, exc.reason)
        return Survey(digest.hexdigest(), None, problem)


def _sha256(stream: io.BufferedIOBase) -> str:
    digest = hashlib.sha256()
    for block in _blocks(stream):
        digest.update(block)
    return digest.hexdigest()


def sheets(path: Path, surveyed: Survey, file: str, *, whole: bool = False) -> Iterator[Sheet]:
    """The file in sheets, all with the file's header (the first sheet's), none of more than a
    few MB of text; ``whole``: in one sheet. The sheets together carry every problem of
    reading, including an empty file or one with only a header, as problems of ``file`` (the
    name it is shown by)."""
    if surveyed.problem is not None:
        yield Sheet(file, [], problems=[surveyed.problem])
        return
    if surveyed.form == XLSX:
        parts: Iterable[Sheet] = _xlsx_sheets(path, file, None if whole else ROWS)
    else:
        assert surveyed.form is not None
        pieces = _pieces(_text(path, file, surveyed, whole))
        parts = _csv_sheets(pieces, file, None if whole else ROWS)
    header: list[str] | None = None
    rows = problems = False
    try:
        for sheet in parts:
            header = sheet.header if header is None else header
            rows = rows or bool(sheet.lines or sheet.rejected)
            problems = problems or bool(sheet.problems)
            yield sheet
    except _LongLine as exc:  # nothing after it is read
        problems = True
        yield Sheet(file, [], problems=[Problem(file, exc.line, None, None, LONG_LINE)])
    if not problems and not any(header or ()):
        yield Sheet(file, [], problems=[Problem(file, None, None, None, "empty file")])
    elif not rows and not problems:
        reason = "no data rows, only a header"
        yield Sheet(file, [], problems=[Problem(file, None, None, None, reason)])


# --- bytes and text ------------------------------------------------------------------------


class _Unreadable(Exception):
    def __init__(self, line: int | None, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _LongLine(Exception):
    def __init__(self, line: int):
        super().__init__(f"line {line}: {LONG_LINE}")
        self.line = line


def _blocks(stream: io.BufferedIOBase, skip: int = 0) -> Iterator[bytes]:
    stream.seek(skip)
    while block := stream.read(BLOCK):
        yield block


class _Utf16:
    """Checks UTF-16 text (with its byte-order mark) and finds a NUL character in it."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-16")()
        self.broken: str | None = None
        self.newlines = 0
        self.nul_line: int | None = None

    def feed(self, block: bytes) -> None:
        if self.broken is None:
            try:
                self._count(self.decoder.decode(block))
            except UnicodeDecodeError as exc:
                self.broken = exc.reason

    def _count(self, text: str) -> None:
        if self.nul_line is None:
            at = text.find("\0")
            if at >= 0:
                self.nul_line = self.newlines + text.count("\n", 0, at) + 1
            self.newlines += text.count("\n")

    def codec(self, _path: Path) -> str:
        if self.broken is None:
            try:
                self.decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                self.broken = exc.reason
        if self.broken is not None:
            raise _Unreadable(None, f"broken UTF-16 text: {self.broken}")
        if self.nul_line is not None:
            raise _Unreadable(self.nul_line, NUL_BYTES)
        return "utf-16"


class _Utf8:
    """Checks UTF-8 text, with or without a byte-order mark, and finds a NUL byte in it; a
    file that is not UTF-8 is read once more to tell Windows-1252 from mixed encodings."""

    def __init__(self, bom: bool):
        self.skip = len(codecs.BOM_UTF8) if bom else 0
        #: bytes of the body (after the byte-order mark) fed so far
        self.fed = 0
        #: an incomplete character at the end of the last block
        self.carry = b""
        #: the body's offset of the first byte that is not UTF-8
        self.bad: int | None = None
        self.newlines = 0
        self.nul_line: int | None = None

    def feed(self, block: bytes) -> None:
        body = block if self.fed else block[self.skip :]
        if self.nul_line is None:
            at = body.find(b"\0")
            if at >= 0:
                self.nul_line = self.newlines + body.count(b"\n", 0, at) + 1
            self.newlines += body.count(b"\n")
        if self.bad is None:
            data = self.carry + body
            try:
                _, used = codecs.utf_8_decode(data, "strict", False)
                self.carry = data[used:]
            except UnicodeDecodeError as exc:
                self.bad = self.fed - len(self.carry) + exc.start
        self.fed += len(body)

    def codec(self, path: Path) -> str:
        if self.bad is None and self.carry:
            self.bad = self.fed - len(self.carry)  # cut short inside a character
        if self.bad is not None:
            self._windows_1252(path)
        if self.nul_line is not None:
            raise _Unreadable(self.nul_line, NUL_BYTES)
        return "cp1252" if self.bad is not None else "utf-8-sig"

    def _windows_1252(self, path: Path) -> None:
        """Returns if the body is Windows-1252 text with no UTF-8 character in it."""
        assert self.bad is not None
        not_utf8 = _line_at(path, self.skip, self.bad)
        advice = f"line {not_utf8} is not UTF-8 (Windows-1252?); save the whole file as UTF-8"
        utf8 = _first_utf8_character(path, self.skip)
        if utf8 is not None:
            at, found = utf8
            char, garbled = found.decode("utf-8"), found.decode("cp1252", "replace")
            raise _Unreadable(
                not_utf8,
                f"mixed encodings: line {_line_at(path, self.skip, at)} has UTF-8 text"
                f" ({char!r}, which Windows-1252 shows as {garbled!r}) but {advice}",
            )
        if self.skip:
            raise _Unreadable(
                not_utf8,
                f"mixed encodings: the file starts with a UTF-8 byte-order mark but {advice}",
            )
        offset = 0
        with path.open("rb") as stream:
            for block in _blocks(stream):
                try:
                    block.decode("cp1252")  # one byte per character: blocks decode alone
                except UnicodeDecodeError as exc:
                    line = _line_at(path, 0, offset + exc.start)
                    raise _Unreadable(line, "neither UTF-8 nor Windows-1252 text") from None
                offset += len(block)


def _line_at(path: Path, skip: int, offset: int) -> int:
    """The line (``\\n``, ``\\r\\n`` or ``\\r`` ends one) of the byte at ``offset`` of the
    body that starts ``skip`` bytes into the file."""
    breaks, last = 0, b""
    with path.open("rb") as stream:
        stream.seek(skip)
        while offset > 0 and (block := stream.read(min(BLOCK, offset))):
            breaks += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            breaks -= last.endswith(b"\r") and block.startswith(b"\n")
            last, offset = block, offset - len(block)
    return breaks + 1


def _first_utf8_character(path: Path, skip: int) -> tuple[int, bytes] | None:
    """Where the body has its first UTF-8 encoded non-ASCII character, and its bytes."""
    offset, carry = 0, b""
    with path.open("rb") as stream:
        for block in _blocks(stream, skip):
            found = _UTF8_CHARACTER.search(carry + block)
            if found:
                return offset - len(carry) + found.start(), found.group()
            carry, offset = (carry + block)[-3:], offset + len(block)
    return None


def _text(path: Path, file: str, surveyed: Survey, whole: bool) -> Iterator[str]:
    """The file's text, decoded as surveyed, in blocks; a file that changes meanwhile is
    refused (what is stored must be what was hashed)."""
    assert surveyed.form is not None
    decoder = codecs.getincrementaldecoder(surveyed.form)()
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in [stream.read()] if whole else _blocks(stream):
            digest.update(block)
            yield _visible(decoder.decode(block))
    yield _visible(decoder.decode(b"", final=True))
    if digest.hexdigest() != surveyed.sha256:
        raise UsageError(f"{file}: the file changed while it was imported", "file")


def _pieces(texts: Iterable[str]) -> Iterator[str]:
    """The text in pieces that end at a line break (the last one may not), none blank but
    the last: a piece never ends between the ``\\r`` and ``\\n`` of one line break. Raises
    :class:`_LongLine` at a line longer than :data:`LONGEST_LINE`, before it is held whole."""
    carry = ""
    line = 1  # the line the carry starts on
    for text in texts:
        if not text:
            continue
        cut = max(carry.rfind("\n"), carry.rfind("\r", 0, len(carry) - 1)) + 1
        if cut and carry[:cut].strip():
            yield carry[:cut]
            line += _breaks(carry[:cut])
            carry = carry[cut:]
        carry += text
        long = _long_line(carry)
        if long is not None:
            raise _LongLine(line + _breaks(carry[:long]))
    if carry:
        yield carry


def _breaks(text: str) -> int:
    """The line breaks in ``text``: ``\\n``, ``\\r\\n`` or ``\\r``, as the csv module reads them."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _long_line(text: str) -> int | None:
    """Where the first line of ``text`` longer than :data:`LONGEST_LINE` starts, if it has one
    (its last line may go on in the next text). Such a line holds a whole one of the chunks
    of half that length from the start of ``text``, and a chunk without a line break is looked
    for in C (``find``): a few scans of each 4 MB block, nothing copied."""
    half = LONGEST_LINE // 2
    for chunk in range(0, len(text) - half + 1, half):
        end = chunk + half
        if text.find("\n", chunk, end) < 0 and text.find("\r", chunk, end) < 0:
            start = max(text.rfind("\n", 0, chunk), text.rfind("\r", 0, chunk)) + 1
            after = [at for at in (text.find("\n", end), text.find("\r", end)) if at >= 0]
            if min(after, default=len(text)) - start > LONGEST_LINE:
                return start
    return None


# --- CSV -----------------------------------------------------------------------------------


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most, not counting any inside quotes."""
    bare = _QUOTED.sub("", header_line)
    return max(DELIMITERS, key=bare.count)


def _quoting_reason(error: csv.Error) -> str:
    message = str(error)
    if "unexpected end of data" in message:
        return "broken quoting: a quote opened on this line is never closed"
    if "field larger than field limit" in message:
        return "broken quoting: a cell runs on for too long (a quote never closed?)"
    return f"broken quoting ({message})"


def _csv_sheets(pieces: Iterator[str], file: str, rows: int | None) -> Iterator[Sheet]:
    """Sheets of the pieces of a CSV file's text: split into columns by polars while the pieces
    allow it (no Python string per cell until the validator asks for them), with the csv module
    from the first piece that has a quote, a blank or a ragged line."""
    first = next(pieces, "")
    if not first.strip():
        yield Sheet(file, [])
        return
    delimiter = sniff_delimiter(re.split(r"\r\n?|\n", first, maxsplit=1)[0])
    header: list[str] | None = None
    line = 1  # the physical line the next piece starts on
    for piece in chain([first], pieces):
        columns = _plain_columns(piece, delimiter, header)
        if columns is None:
            yield from _quoted_sheets(chain([piece], pieces), file, delimiter, header, line, rows)
            return
        if header is None:
            header = [str(c[0]).strip() for c in columns]
            columns = [c[1:] for c in columns]
            line += 1
        count = columns[0].len()
        yield Sheet(file, header, list(map(Cells, columns)), range(line, line + count))
        line += count


def _plain_columns(text: str, delimiter: str, header: list[str] | None) -> list[pl.Series] | None:
    """The fields of the lines of ``text``, a series per position, split by polars, if it has
    no quotes, no blank and no ragged lines (the header's number of fields; without a header,
    the first line's), else None."""
    if '"' in text or text.count("\r") != text.count("\r\n"):  # quotes, or a line ends in \r
        return None
    import polars as pl

    lines = pl.Series([text]).str.split("\n").explode()
    if lines[-1] == "":
        lines = lines.head(-1)
    if lines.is_empty():
        return None
    lines = lines.str.strip_suffix("\r")
    width = str(lines[0]).count(delimiter) + 1 if header is None else len(header)
    fields = lines.str.count_matches(delimiter, literal=True)
    if not (fields == width - 1).all() or (lines == delimiter * (width - 1)).any():
        return None
    return lines.str.split_exact(delimiter, width - 1).struct.unnest().get_columns()


def _quoted_sheets(
    pieces: Iterable[str],
    file: str,
    delimiter: str,
    header: list[str] | None,
    first_line: int,
    rows: int | None,
) -> Iterator[Sheet]:
    """Sheets of the rows the csv module reads from ``pieces``, which start on physical line
    ``first_line``; a quoting error is reported for its row and reading goes on with the next
    line. Without a ``header``, the first row read is the header."""
    lines = (line for piece in pieces for line in io.StringIO(piece, newline=""))
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    read: list[list[str]] = []
    starts: list[int] = []
    problems: list[Problem] = []
    end = first_line - 1  # the last line read so far
    while True:
        try:
            for row in reader:
                start, end = end + 1, first_line - 1 + reader.line_num
                if header is None:
                    header = [h.strip() for h in row]
                    continue
                read.append(row)
                starts.append(start)
                if rows is not None and len(read) >= rows:
                    yield _sheet(file, header, read, starts, problems)
                    read, starts, problems = [], [], []
            break
        except csv.Error as exc:
            problems.append(Problem(file, end + 1, None, None, _quoting_reason(exc)))
            end = first_line - 1 + reader.line_num
    yield _sheet(file, header or [], read, starts, problems)


def _sheet(
    file: str,
    header: list[str],
    rows: list[list[str]],
    lines: Sequence[int],
    problems: list[Problem],
) -> Sheet:
    """The sheet of ``rows``, leaving out blank ones and refusing those with another number of
    fields than the header; empty cells past the header's width (a trailing delimiter) are
    dropped."""
    width = len(header)
    sheet = Sheet(file, header, problems=problems)
    if not set(map(len, rows)) <= {width} or [""] * width in rows:  # not the usual case
        kept, kept_lines = [], []
        for line, fields in zip(lines, rows, strict=True):
            if not any(fields):
                continue
            if len(fields) > width and not any(f.strip() for f in fields[width:]):
                fields = fields[:width]
            if len(fields) == width:
                kept.append(fields)
                kept_lines.append(line)
            else:
                reason = f"{len(fields)} fields where the header has {width}"
                sheet.problems.append(Problem(file, line, None, None, reason))
                sheet.rejected.append((line, fields))
        rows, lines = kept, kept_lines
    sheet.columns = [Cells.of(list(map(itemgetter(i), rows))) for i in range(width)]
    sheet.lines = lines
    return sheet


# --- workbooks -----------------------------------------------------------------------------


def _xlsx_sheets(path: Path, file: str, rows: int | None) -> Iterator[Sheet]:
    """Sheets of the first sheet of a workbook (see :mod:`~arshjul.importers.workbook`): the
    header is its first row with text, its width up to its last cell with text; a row with text
    beyond the header's last column is refused. A workbook that cannot be read, or stops being
    readable part way, is one more problem."""
    reading = workbook.first_sheet_rows(path)
    try:
        first = next(reading, None)
        if first is None:
            yield Sheet(file, [])
            return
        line, cells = first
        width = max(cells)
        if width > workbook.WIDEST_HEADER:
            reason = f"more than {workbook.WIDEST_HEADER} columns in the header ({width})"
            raise workbook.Unreadable(reason)
        header = [_visible(cells.get(i, "")).strip() for i in range(1, width + 1)]
        # memory stays within about a million cells, however wide the header
        per_sheet = max(1, min(rows or workbook.LAST_ROW, (1 << 20) // width))
        sheet, columns, lines = Sheet(file, header), _empty(width), list[int]()
        for line, cells in reading:
            last = max(cells)
            row = [_visible(cells.get(i, "")) for i in range(1, width + 1)]
            if last > width:
                sheet.problems.append(Problem(file, line, None, None, _beyond(last, width)))
                sheet.rejected.append((line, [*row, *(cells[i] for i in cells if i > width)]))
            elif any(row):
                for column, cell in zip(columns, row, strict=True):
                    column.append(cell)
                lines.append(line)
                if len(lines) >= per_sheet:
                    sheet.columns, sheet.lines = list(map(Cells.of, columns)), lines
                    yield sheet
                    sheet, columns, lines = Sheet(file, header), _empty(width), []
        sheet.columns, sheet.lines = list(map(Cells.of, columns)), lines
        yield sheet
    except workbook.Unreadable as exc:
        yield Sheet(file, [], problems=[_unreadable(file, str(exc))])


def _empty(width: int) -> list[list[str]]:
    return [[] for _ in range(width)]


def _visible(text: str) -> str:
    """``text`` without :data:`INVISIBLE` characters; three scans in C find none in most
    text, where the regular expression would take as long as the rest of reading it."""
    if text.isascii() or not ("\ufeff" in text or "\u200b" in text or "\u2060" in text):
        return text
    return INVISIBLE.sub("", text)


def _beyond(column: int, width: int) -> str:
    return (
        f"a cell in column {_letters(column)}, beyond the header's last column ({_letters(width)})"
    )


def _letters(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _unreadable(file: str, why: str) -> Problem:
    return Problem(file, None, None, None, f"not a readable XLSX workbook ({why})")

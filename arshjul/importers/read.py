"""Reading an input file into a header and rows: encodings, delimiters, quoting, XLSX.

Accepted: UTF-8 with or without BOM, UTF-16 with BOM, Windows-1252; delimiter ``,``, ``;`` or
tab, detected from the header line; XLSX (first sheet). Anything else is a problem located as
precisely as possible, and the whole file is refused.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from arshjul.errors import Problem

DELIMITERS = (";", ",", "\t")
#: UTF-8 read as Windows-1252 looks like this (Ã¤ for ä): the sign of a mixed-up file
_MOJIBAKE = re.compile("[ÃÂ][\u0080-\u00bf\u2018-\u203a\u0152\u0153\u0160\u0161\u017d\u017e]")


@dataclass
class Table:
    """A file's header and data rows, each row with its physical line number."""

    file: str
    header: list[str]
    rows: list[tuple[int, list[str]]]
    #: the decoded text (CSV only), scanned as a whole for personnummer
    text: str = ""
    problems: list[Problem] = field(default_factory=list)


def decode(data: bytes, file: str) -> tuple[str, list[Problem]]:
    """The text of ``data``, or the problems that make it unreadable."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as exc:
            return "", [Problem(file, None, None, None, f"broken UTF-16 text: {exc.reason}")]
    if b"\x00" in data[:4096]:
        reason = "contains NUL bytes: UTF-16 without a byte-order mark? Save as UTF-8"
        return "", [Problem(file, None, None, None, reason)]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        reason = "neither UTF-8 nor Windows-1252 text"
        return "", [Problem(file, bad_line, None, None, reason)]
    mixed = _MOJIBAKE.search(text)
    if mixed:
        line = text.count("\n", 0, mixed.start()) + 1
        reason = (
            f"mixed encodings: UTF-8 text here, but line {bad_line} is not UTF-8;"
            " save the whole file in one encoding (UTF-8)"
        )
        return "", [Problem(file, line, None, None, reason)]
    return text, []


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(text: str, file: str) -> Table:
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=sniff_delimiter(first_line), strict=True)
    table = Table(file=file, header=[], rows=[], text=text)
    start = 1
    try:
        for fields in reader:
            if not table.header:
                table.header = [h.strip() for h in fields]
            elif any(f.strip() for f in fields):
                table.rows.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as exc:
        table.problems.append(
            Problem(file, start, None, None, f"broken quoting ({exc}); nothing after it was read")
        )
    return table


def read_xlsx(data: bytes, file: str) -> Table:
    """The first sheet of a workbook; cells as text, formulas as their text, never evaluated."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        reason = f"not a readable XLSX workbook ({type(exc).__name__})"
        return Table(file, [], [], problems=[Problem(file, None, None, None, reason)])
    sheet = book.worksheets[0]
    table = Table(file=file, header=[], rows=[])
    for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        fields = [_cell_text(c) for c in cells]
        if not table.header:
            table.header = [h.strip() for h in fields]
        elif any(f.strip() for f in fields):
            table.rows.append((number, fields))
    book.close()
    return table


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "date") and hasattr(value, "hour"):  # datetime: keep the ISO date
        return str(value.isoformat())  # type: ignore[attr-defined]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table(path: Path, data: bytes) -> Table:
    file = path.name
    if data.startswith(b"PK\x03\x04") or path.suffix.lower() == ".xlsx":
        table = read_xlsx(data, file)
    else:
        text, problems = decode(data, file)
        table = read_csv(text, file) if not problems else Table(file, [], [], problems=problems)
    if not table.problems and not table.header:
        table.problems.append(Problem(file, None, None, None, "empty file"))
    elif not table.problems and not table.rows:
        table.problems.append(Problem(file, None, None, None, "no data rows, only a header"))
    return table

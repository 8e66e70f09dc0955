"""From sheets of text cells to checked records, collecting every problem on the way.

A file comes in sheets of a few MB (see :mod:`~arshjul.importers.read`); one
:class:`Validator` checks them all in turn. Each column is handled as a whole: its distinct
values are searched for personnummer and converted once, and the answers are spread back over
the rows. The answers are remembered from sheet to sheet (up to :data:`REMEMBERED` accepted
values per column; refused ones always, so each gets its one reason), so an export of 200,000
deviations, with a few thousand distinct dates, units and codes, costs dictionary lookups at C
speed. Rules across sheets — the same key twice — are the staging table's
(:func:`repeated_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import chain
from typing import Any

from arshjul.errors import ConfigError, Problem
from arshjul.importers import personnummer
from arshjul.importers.kinds import Column, Kind
from arshjul.importers.read import Cells, Sheet
from arshjul.importers.records import Context, Records
from arshjul.importers.store import Staging
from arshjul.importers.values import Parser, normalise

PERSONNUMMER = (
    "looks like a personnummer or samordningsnummer: personal identity numbers must not be"
    " imported; remove it (or the column) from the export"
)
REPEATED_HEADER = (
    "the header again, as a row: two files joined, each with its header? Remove this line, or"
    " import the files one at a time"
)
#: accepted values remembered per column: a column of ids has as many as rows
REMEMBERED = 50_000


@dataclass
class _Answers:
    """What a column's distinct cells have given so far."""

    #: the value of each accepted cell (forgotten when there are too many)
    values: dict[str, Any] = field(default_factory=dict)
    #: why each refused cell was refused
    refused: dict[str, str] = field(default_factory=dict)
    #: the personnummer, masked, in each cell that has one
    personnummer: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Found:
    """Every problem of a file, by what found it: sorted by line, problems on one line come in
    this order (a row's reading, the header, its cells, its key, checks across its columns)."""

    reading: list[Problem] = field(default_factory=list)
    header: list[Problem] = field(default_factory=list)
    cells: list[Problem] = field(default_factory=list)
    keys: list[Problem] = field(default_factory=list)
    checks: list[Problem] = field(default_factory=list)

    def all(self) -> list[Problem]:
        found = chain(self.reading, self.header, self.cells, self.keys, self.checks)
        return sorted(found, key=lambda p: p.line or 0)


class Validator:
    """Checks a file's sheets in turn against its kind; the file's header is the first
    sheet's."""

    def __init__(
        self,
        kind: Kind,
        header: list[str],
        file: str,
        aliases: Mapping[str, Sequence[str]],
        context: Context,
    ):
        self.kind, self.header, self.file, self.context = kind, header, file, context
        self.found = Found()
        self.skipped = 0
        self.positions: dict[str, int] = {}
        self.ignored: list[str] = []
        #: the header names every column of the kind it must: records can be made
        self.header_ok = False
        if not header:  # nothing readable; the reader says why
            return
        self.positions, self.ignored, self.found.header = match_header(kind, header, file, aliases)
        self.header_ok = not self.found.header
        self.found.cells += _personnummer_in_rows(file, header, [(1, header)])
        self.column_at = {
            self.positions[c.name]: c for c in kind.columns if c.name in self.positions
        }
        self.parsers: dict[int, Parser] = {
            i: column.parser(context) for i, column in self.column_at.items()
        }
        self.answers = [_Answers() for _ in header]
        #: column name -> its header as the file writes it
        self.headers = {name: header[i] for name, i in self.positions.items()}

    def check(self, sheet: Sheet) -> Records | None:
        """The records of ``sheet`` (None when the header does not allow any); its problems
        go to :attr:`found`."""
        self.found.reading += sheet.problems
        if not self.header or not sheet.header:  # or a sheet of the reader's last problems
            return None
        sheet = self._without_repeated_headers(sheet)
        unfilled: list[tuple[int, list[str]]] = []
        if self.kind.filled_in is not None:
            raw = {name: sheet.columns[i] for name, i in self.positions.items()}
            filled = self.kind.filled_in(raw, len(sheet.lines))
            sheet, unfilled = _without_unfilled(sheet, filled)
        self.skipped += len(unfilled)
        outside = [*sheet.rejected, *unfilled]
        self.found.cells += _personnummer_in_rows(self.file, self.header, outside)
        values: dict[str, list[Any]] = {}
        for i, cells in enumerate(sheet.columns):
            converted = self._column(sheet, i, cells)
            if i in self.column_at:
                values[self.column_at[i].name] = converted
        for column in self.kind.columns:
            values.setdefault(column.name, [column.default] * len(sheet.lines))
        if not self.header_ok:
            return None
        records = Records(self.file, sheet.lines, self.headers, values)
        for check in self.kind.checks:
            self.found.checks += check(records, self.context)
        return records

    def _without_repeated_headers(self, sheet: Sheet) -> Sheet:
        """The sheet without rows that are the header again (two exports joined with ``cat``,
        each with its header): each is one problem saying so, rather than a wrong value in
        every column."""
        if not sheet.columns or len(sheet.columns) != len(self.header):
            return sheet
        again = sheet.columns[0].series == self.header[0]
        if not again.any():  # the usual case, found at C speed
            return sheet
        for column, title in zip(sheet.columns[1:], self.header[1:], strict=True):
            again &= column.series == title
        repeated = again.to_list()
        self.found.reading += [
            Problem(self.file, line, None, None, REPEATED_HEADER)
            for line, header in zip(sheet.lines, repeated, strict=True)
            if header
        ]
        return _without_unfilled(sheet, [not header for header in repeated])[0]

    def _column(self, sheet: Sheet, position: int, cells: Cells) -> list[Any]:
        """The column's values (for a column of the kind), and a problem for every cell with a
        personnummer or refused."""
        answers = self.answers[position]
        column = self.column_at.get(position)
        known, refused, found = answers.values, answers.refused, answers.personnummer
        # in the order they first appear: which values get suggestions depends on it
        distinct = cells.series.unique(maintain_order=True).to_list()
        new = [c for c in distinct if c not in known and c not in refused]
        if new and len(known) > REMEMBERED:
            known.clear()
            new = [c for c in distinct if c not in refused]
        if new:
            found.update(personnummer.find_in(new))
            if column is not None:
                _convert(self.parsers[position], column, new, answers)
            else:  # searched, nothing more to do
                known.update(dict.fromkeys(new))
        header, lines = self.header[position], sheet.lines
        if found:
            self.found.cells += [
                Problem(self.file, lines[i], header, masked, PERSONNUMMER)
                for i, cell in _rows_with(cells, distinct, found)
                for masked in found[cell]
            ]
        if column is None:
            return []
        texts = cells.series.to_list()
        if refused and any(map(refused.__contains__, distinct)):
            self.found.cells += [
                Problem(self.file, lines[i], header, cell.strip(), refused[cell])
                for i, cell in _rows_with(cells, distinct, refused)
            ]
            return [None if cell in refused else known[cell] for cell in texts]
        return list(map(known.__getitem__, texts))


def _rows_with(
    cells: Cells, distinct: list[str], among: Mapping[str, Any]
) -> list[tuple[int, str]]:
    """The rows (index, cell) of ``cells`` whose cell is one of ``among``, in order;
    ``distinct`` are the column's distinct cells."""
    chosen = [c for c in distinct if c in among]
    if not chosen:
        return []
    return cells.rows_among(chosen)


def _convert(parse: Parser, column: Column, cells: list[str], answers: _Answers) -> None:
    values, refused = answers.values, answers.refused
    for cell in cells:
        text = cell.strip()
        if text:
            try:
                values[cell] = parse(text)
            except ValueError as exc:
                refused[cell] = str(exc)
        elif column.required:
            refused[cell] = "empty, but a value is required"
        else:
            values[cell] = column.default


def match_header(
    kind: Kind, header: list[str], file: str, aliases: Mapping[str, Sequence[str]]
) -> tuple[dict[str, int], list[str], list[Problem]]:
    """Column name -> position in the file; headers of no column; problems."""
    lookup = {normalise(c.name): c.name for c in kind.columns}
    for column_name, spellings in aliases.items():
        where = f"columns.yaml: {kind.name}.{column_name}"
        if column_name not in lookup.values():
            raise ConfigError(f"{where}: no such column of {kind.name}")
        for spelling in spellings:
            taken = lookup.setdefault(normalise(spelling), column_name)
            if taken != column_name:
                raise ConfigError(f"{where}: {spelling!r} already names column {taken!r}")
    found: dict[str, int] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for i, title in enumerate(header):
        name = lookup.get(normalise(title))
        if name is None:
            if title:
                ignored.append(title)
        elif name in found:
            reason = f"column {name!r} appears twice (also as {header[found[name]]!r})"
            problems.append(Problem(file, 1, title, None, reason))
        else:
            found[name] = i
    for column in kind.columns:
        if (column.required or column.in_header) and column.name not in found:
            accepted = ", ".join([column.name, *aliases.get(column.name, ())])
            reason = f"missing column {column.name!r} (accepted headers: {accepted})"
            problems.append(Problem(file, 1, None, None, reason))
    return found, ignored, problems


def _personnummer_in_rows(
    file: str, header: list[str], rows: list[tuple[int, list[str]]]
) -> list[Problem]:
    """In rows that are not converted: the header, rows refused for their number of fields,
    rows not filled in — none is stored, but a personnummer is reported wherever it is."""
    problems = []
    for line, fields in rows:
        found = personnummer.find_in(fields)
        for i, cell in enumerate(fields):
            title = header[i] if i < len(header) else None
            problems += [
                Problem(file, line, title, masked, PERSONNUMMER) for masked in found.get(cell, ())
            ]
    return problems


def _without_unfilled(
    sheet: Sheet, filled: list[bool]
) -> tuple[Sheet, list[tuple[int, list[str]]]]:
    """The sheet without the rows not ``filled`` in, and those rows."""
    keep = [i for i, f in enumerate(filled) if f]
    if len(keep) == len(filled):
        return sheet, []
    unfilled = [
        (sheet.lines[i], [column[i] for column in sheet.columns])
        for i, f in enumerate(filled)
        if not f
    ]
    columns = [column.where(filled) for column in sheet.columns]
    lines = [sheet.lines[i] for i in keep]
    return replace(sheet, columns=columns, lines=lines), unfilled


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "ja" if value else "nej"
    return value.isoformat() if isinstance(value, date) else str(value)


def repeated_keys(validator: Validator, staging: Staging) -> set[int]:
    """Identical repeated records count once: the later ones are dropped from ``staging``.
    The same key with other content is a problem. Returns the lines of the later records,
    whose checks are not reported (they were never records of the file)."""
    kind = validator.kind
    named = " and ".join(", ".join(kind.key).rsplit(", ", 1))
    name_of = {c.field: c.name for c in kind.columns}
    in_file = sorted(validator.positions, key=validator.positions.__getitem__)
    compared = [*in_file, *(c.name for c in kind.columns if c.name not in in_file)]
    header = validator.headers.get(kind.key[0], kind.key[0])
    firsts: dict[tuple[Any, ...], dict[str, Any]] = {}
    later: dict[int, int] = {}  # seq -> line
    for row in staging.repeated():
        values = {name: row[f] for f, name in name_of.items()}
        key = tuple(values[name] for name in kind.key)
        first = firsts.setdefault(key, {**values, "line": row["line"]})
        if first["line"] == row["line"]:
            continue
        later[row["seq"]] = row["line"]
        differing = [validator.headers.get(n, n) for n in compared if values[n] != first[n]]
        if differing:
            reason = (
                f"same {named} as line {first['line']} but different content"
                f" ({', '.join(differing)})"
            )
            shown = ", ".join(map(_shown, key))
            validator.found.keys.append(Problem(validator.file, row["line"], header, shown, reason))
    staging.discard(list(later))
    return set(later.values())

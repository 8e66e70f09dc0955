"""From a sheet of text cells to checked records, collecting every problem on the way.

Each column is handled as a whole: its distinct values are searched for personnummer and
converted once, and the answers are spread back over the rows. An export of 200,000
deviations has a few thousand distinct dates, units and codes, so almost all the work is
dictionary lookups at C speed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from arshjul.errors import ConfigError, Problem
from arshjul.importers import personnummer
from arshjul.importers.kinds import Column, Kind
from arshjul.importers.read import Sheet
from arshjul.importers.records import Context, Records
from arshjul.importers.values import normalise

PERSONNUMMER = (
    "looks like a personnummer or samordningsnummer: personal identity numbers must not be"
    " imported; remove it (or the column) from the export"
)


def validate(
    sheet: Sheet, kind: Kind, aliases: Mapping[str, Sequence[str]], context: Context
) -> tuple[Records, list[str], list[Problem]]:
    """The sheet's records, the headers left out (free text among them), every problem."""
    if not sheet.header:  # nothing readable; the reader said why
        return Records(sheet.file, [], {}, {}), [], sheet.problems
    positions, ignored, problems = match_header(kind, sheet.header, sheet.file, aliases)
    header_ok = not problems
    problems = sheet.problems + problems + _personnummer_outside_rows(sheet)
    column_at = {positions[c.name]: c for c in kind.columns if c.name in positions}
    values: dict[str, list[Any]] = {}
    for i, cells in enumerate(sheet.columns):
        distinct = dict.fromkeys(cells)
        problems += _personnummer_in_column(sheet, i, cells, distinct)
        if i in column_at:
            column = column_at[i]
            values[column.name], refused = _convert(sheet, i, column, cells, distinct, context)
            problems += refused
    for column in kind.columns:
        values.setdefault(column.name, [column.default] * len(sheet.lines))
    headers = {name: sheet.header[i] for name, i in positions.items()}
    records = Records(sheet.file, sheet.lines, headers, values)
    if header_ok:
        records, duplicates = drop_duplicates(kind, records)
        problems += duplicates
        for check in kind.checks:
            problems += check(records, context)
    return records, ignored, problems


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
        if column.required and column.name not in found:
            accepted = ", ".join([column.name, *aliases.get(column.name, ())])
            reason = f"missing column {column.name!r} (accepted headers: {accepted})"
            problems.append(Problem(file, 1, None, None, reason))
    return found, ignored, problems


def _convert(
    sheet: Sheet,
    position: int,
    column: Column,
    cells: list[str],
    distinct: dict[str, None],
    context: Context,
) -> tuple[list[Any], list[Problem]]:
    """The column's values, and a problem for every cell that is refused."""
    parse = column.parser(context)
    converted: dict[str, Any] = {}
    refused: dict[str, str] = {}
    for cell in distinct:
        text = cell.strip()
        if not text:
            converted[cell] = column.default
            if column.required:
                refused[cell] = "empty, but a value is required"
            continue
        try:
            converted[cell] = parse(text)
        except ValueError as exc:
            converted[cell] = None
            refused[cell] = str(exc)
    header = sheet.header[position]
    problems = (
        [
            Problem(sheet.file, line, header, cell.strip(), refused[cell])
            for line, cell in zip(sheet.lines, cells, strict=True)
            if cell in refused
        ]
        if refused
        else []
    )
    return list(map(converted.__getitem__, cells)), problems


def _personnummer_in_column(
    sheet: Sheet, position: int, cells: list[str], distinct: dict[str, None]
) -> list[Problem]:
    found = personnummer.find_in(distinct)
    if not found:
        return []
    header = sheet.header[position]
    return [
        Problem(sheet.file, line, header, masked, PERSONNUMMER)
        for line, cell in zip(sheet.lines, cells, strict=True)
        if cell in found
        for masked in found[cell]
    ]


def _personnummer_outside_rows(sheet: Sheet) -> list[Problem]:
    """In the header and in rows refused for their number of fields."""
    problems = []
    for line, fields in [(1, sheet.header), *sheet.rejected]:
        found = personnummer.find_in(fields)
        for i, cell in enumerate(fields):
            header = sheet.header[i] if i < len(sheet.header) else None
            problems += [
                Problem(sheet.file, line, header, masked, PERSONNUMMER)
                for masked in found.get(cell, ())
            ]
    return problems


def drop_duplicates(kind: Kind, records: Records) -> tuple[Records, list[Problem]]:
    """Identical repeated records count once; the same key with other content is a problem."""
    keys = records.values[kind.key]
    if len(set(keys)) == len(keys):
        return records, []
    first: dict[Any, int] = {}
    keep: list[int] = []
    problems: list[Problem] = []
    for i, key in enumerate(keys):
        j = first.setdefault(key, i) if key is not None else i
        if j == i:
            keep.append(i)
            continue
        differing = [
            records.headers.get(name, name)
            for name, column in records.values.items()
            if column[i] != column[j]
        ]
        if differing:
            reason = (
                f"same {kind.key} as line {records.lines[j]} but different content"
                f" ({', '.join(differing)})"
            )
            problems.append(records.problem(i, kind.key, str(key), reason))
    return records.select(keep), problems

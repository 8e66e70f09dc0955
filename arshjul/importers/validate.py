"""From a sheet of text cells to checked records, collecting every problem on the way.

Each column is handled as a whole: its distinct values are searched for personnummer and
converted once, and the answers are spread back over the rows. An export of 200,000
deviations has a few thousand distinct dates, units and codes, so almost all the work is
dictionary lookups at C speed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any, NamedTuple

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


class Validated(NamedTuple):
    records: Records
    #: headers of no column (free text among them): left out
    ignored: list[str]
    #: rows not filled in (see ``Kind.skip_when_empty``)
    skipped: int
    problems: list[Problem]


def validate(
    sheet: Sheet, kind: Kind, aliases: Mapping[str, Sequence[str]], context: Context
) -> Validated:
    """The sheet's records, the headers left out, the rows skipped, every problem."""
    if not sheet.header:  # nothing readable; the reader said why
        return Validated(Records(sheet.file, [], {}, {}), [], 0, sheet.problems)
    positions, ignored, problems = match_header(kind, sheet.header, sheet.file, aliases)
    header_ok = not problems
    unfilled: list[tuple[int, list[str]]] = []
    if kind.skip_when_empty in positions:
        sheet, unfilled = _without_unfilled(sheet, positions[kind.skip_when_empty])
    outside = [(1, sheet.header), *sheet.rejected, *unfilled]
    problems = sheet.problems + problems + _personnummer_in_rows(sheet, outside)
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
        if kind.tally is not None and kind.tally not in positions:
            records = add_up(kind, records, kind.tally)
        records, duplicates = drop_duplicates(kind, records)
        problems += duplicates
        for check in kind.checks:
            problems += check(records, context)
    return Validated(records, ignored, len(unfilled), problems)


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


def _personnummer_in_rows(sheet: Sheet, rows: list[tuple[int, list[str]]]) -> list[Problem]:
    """In rows that are not converted: the header, rows refused for their number of fields,
    rows not filled in — none is stored, but a personnummer is reported wherever it is."""
    problems = []
    for line, fields in rows:
        found = personnummer.find_in(fields)
        for i, cell in enumerate(fields):
            header = sheet.header[i] if i < len(sheet.header) else None
            problems += [
                Problem(sheet.file, line, header, masked, PERSONNUMMER)
                for masked in found.get(cell, ())
            ]
    return problems


def _without_unfilled(sheet: Sheet, position: int) -> tuple[Sheet, list[tuple[int, list[str]]]]:
    """The sheet without the rows whose cell at ``position`` is empty, and those rows."""
    cells = sheet.columns[position]
    keep = [i for i, cell in enumerate(cells) if cell.strip()]
    if len(keep) == len(cells):
        return sheet, []
    kept = set(keep)
    unfilled = [
        (sheet.lines[i], [column[i] for column in sheet.columns])
        for i in range(len(cells))
        if i not in kept
    ]
    columns = [[column[i] for i in keep] for column in sheet.columns]
    lines = [sheet.lines[i] for i in keep]
    return replace(sheet, columns=columns, lines=lines), unfilled


def _keys(kind: Kind, records: Records) -> list[tuple[Any, ...] | None]:
    """Each record's key; None where a part of it was refused (a problem already)."""
    columns = [records.values[name] for name in kind.key]
    keys: list[tuple[Any, ...] | None] = list(zip(*columns, strict=True))
    if any(None in column for column in columns):
        keys = [None if key is None or None in key else key for key in keys]
    return keys


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "ja" if value else "nej"
    return value.isoformat() if isinstance(value, date) else str(value)


def add_up(kind: Kind, records: Records, tally: str) -> Records:
    """One record per key, counting the rows with that key into ``tally``: a file without a
    count column lists one row per patient, and two patients may share every key column."""
    first: dict[tuple[Any, ...], int] = {}
    keep: list[int] = []
    totals: list[int] = []
    for i, key in enumerate(_keys(kind, records)):
        j = len(keep) if key is None else first.setdefault(key, len(keep))
        if j == len(keep):
            keep.append(i)
            totals.append(0)
        totals[j] += 1
    if len(keep) == len(records):
        return records
    added = records.select(keep)
    return replace(added, values={**added.values, tally: totals})


def drop_duplicates(kind: Kind, records: Records) -> tuple[Records, list[Problem]]:
    """Identical repeated records count once; the same key with other content is a problem."""
    keys = _keys(kind, records)
    if len(set(keys)) == len(keys):
        return records, []
    first: dict[tuple[Any, ...], int] = {}
    keep: list[int] = []
    problems: list[Problem] = []
    named = " and ".join(", ".join(kind.key).rsplit(", ", 1))
    for i, key in enumerate(keys):
        j = i if key is None else first.setdefault(key, i)
        if key is None or j == i:
            keep.append(i)
            continue
        differing = [
            records.headers.get(name, name)
            for name, column in records.values.items()
            if column[i] != column[j]
        ]
        if differing:
            reason = (
                f"same {named} as line {records.lines[j]} but different content"
                f" ({', '.join(differing)})"
            )
            shown = ", ".join(map(_shown, key))
            problems.append(records.problem(i, kind.key[0], shown, reason))
    return records.select(keep), problems

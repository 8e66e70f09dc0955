"""Validating a whole file and storing it all-or-nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from arshjul.config import Config
from arshjul.errors import InputError, Problem, UsageError
from arshjul.importers import personnummer
from arshjul.importers.kinds import Kind, Row, kinds
from arshjul.importers.read import Table as InputTable
from arshjul.importers.read import read_table
from arshjul.importers.values import normalise, suggest
from arshjul.models import ImportBatch, OrgLevel, OrgUnit

CHUNK = 5000
LEVEL_RANK = {OrgLevel.REGION: 0, OrgLevel.AREA: 1, OrgLevel.DEPARTMENT: 2, OrgLevel.UNIT: 3}


@dataclass(frozen=True)
class ImportResult:
    kind: str
    file: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    #: the same file (same bytes) was imported before: nothing was done
    already_imported: bool
    #: headers that are no column of this kind (free text among them): never stored
    ignored_columns: tuple[str, ...]


def import_file(
    conn: Connection, config: Config, kind: str, path: Path, *, now: datetime
) -> ImportResult:
    """Import one file of ``kind``: every row, or nothing and an :class:`InputError` that
    lists every problem found."""
    spec = kinds(config, now.date()).get(kind)
    if spec is None:
        raise UsageError(f"KIND: {kind!r} is not one of {', '.join(kinds(config, now.date()))}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"FILE: {path}: {exc.strerror}") from None
    sha256 = hashlib.sha256(data).hexdigest()
    seen = conn.execute(
        select(ImportBatch.rows).where(ImportBatch.kind == kind, ImportBatch.sha256 == sha256)
    ).first()
    if seen is not None:
        return ImportResult(kind, path.name, seen.rows, 0, 0, seen.rows, True, ())

    table = read_table(path, data)
    records, ignored, problems = validate(conn, config, spec, table)
    if problems:
        raise InputError(sorted(problems, key=lambda p: (p.line or 0, p.column or "")))
    with conn.begin_nested():
        inserted, updated = store(conn, spec, records, path.name, sha256, now)
    unchanged = len(records) - inserted - updated
    return ImportResult(
        kind, path.name, len(records), inserted, updated, unchanged, False, tuple(ignored)
    )


# --- validation ----------------------------------------------------------------------------


def validate(
    conn: Connection, config: Config, spec: Kind, table: InputTable
) -> tuple[list[Row], list[str], list[Problem]]:
    problems = list(table.problems) + scan_personnummer(table)
    if table.problems:
        return [], [], problems
    columns, ignored, header_problems = match_header(
        spec, table.header, table.file, config.columns.aliases.get(spec.name, {})
    )
    problems += header_problems
    if header_problems:
        return [], ignored, problems
    lines, records, row_problems = convert_rows(spec, table, columns)
    problems += row_problems
    unique_lines, unique, dup_problems = drop_duplicates(spec, table, lines, records)
    problems += dup_problems
    if spec.name == "organisation":
        parent = _header_of("parent_id", columns, table.header)
        problems += check_organisation(conn, table.file, parent, unique_lines, unique)
    elif spec.has_unit:
        known = set(conn.execute(select(OrgUnit.id)).scalars())
        unit = _header_of("unit_id", columns, table.header)
        problems += check_units(table.file, unit, unique_lines, unique, known)
    return unique, ignored, problems


def scan_personnummer(table: InputTable) -> list[Problem]:
    reason = "looks like a personnummer: personal identity numbers must not be imported"
    if table.text:
        fields_at = dict(table.rows)
        out = []
        for line, masked in personnummer.find(table.text):
            column = _column_containing(table.header, fields_at.get(line), masked[:-4])
            out.append(Problem(table.file, line, column, masked, reason))
        return out
    return [
        Problem(table.file, line, table.header[i] if i < len(table.header) else None, m, reason)
        for line, fields in table.rows
        for i, cell in enumerate(fields)
        for _, m in personnummer.find(cell)
    ]


def _column_containing(header: list[str], fields: list[str] | None, part: str) -> str | None:
    for i, cell in enumerate(fields or []):
        if part in cell and i < len(header):
            return header[i]
    return None


def match_header(
    spec: Kind, header: list[str], file: str, aliases: dict[str, tuple[str, ...]]
) -> tuple[dict[str, int], list[str], list[Problem]]:
    """Column name -> position in the file; unknown headers ignored; problems."""
    lookup = {normalise(c.name): c.name for c in spec.columns}
    for column_name, names in aliases.items():
        lookup.update({normalise(n): column_name for n in names})
    found: dict[str, int] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for i, name in enumerate(header):
        canonical = lookup.get(normalise(name))
        if canonical is None:
            if name:
                ignored.append(name)
        elif canonical in found:
            first = header[found[canonical]]
            reason = f"column {canonical!r} appears twice (also as {first!r})"
            problems.append(Problem(file, 1, name, None, reason))
        else:
            found[canonical] = i
    for column in spec.columns:
        if column.required and column.name not in found:
            accepted = ", ".join([column.name, *aliases.get(column.name, ())])
            reason = f"missing column {column.name!r} (accepted headers: {accepted})"
            problems.append(Problem(file, 1, None, None, reason))
    return found, ignored, problems


def convert_rows(
    spec: Kind, table: InputTable, positions: dict[str, int]
) -> tuple[list[int], list[Row], list[Problem]]:
    file, header, width = table.file, table.header, len(table.header)
    plan = [(c, positions[c.name]) for c in spec.columns if c.name in positions]
    absent = {c.field: c.default for c in spec.columns if c.name not in positions}
    lines: list[int] = []
    records: list[Row] = []
    problems: list[Problem] = []
    for line, fields in table.rows:
        if len(fields) != width and (len(fields) < width or any(f.strip() for f in fields[width:])):
            reason = f"{len(fields)} fields where the header has {width}"
            problems.append(Problem(file, line, None, None, reason))
            continue
        row: Row = dict(absent)
        ok = True
        for column, i in plan:
            raw = fields[i]
            try:
                value = column.convert(raw)
            except ValueError as exc:
                problems.append(Problem(file, line, header[i], raw, str(exc)))
                ok = False
                continue
            if value is None:
                if column.required:
                    problems.append(Problem(file, line, header[i], raw, "empty"))
                    ok = False
                value = column.default
            row[column.field] = value
        if ok:
            for name, reason in (issue for check in spec.checks for issue in check(row)):
                problems.append(
                    Problem(file, line, _header_of(name, positions, header), str(row[name]), reason)
                )
                ok = False
        if ok:
            lines.append(line)
            records.append(row)
    return lines, records, problems


def _header_of(name: str, positions: dict[str, int], header: list[str]) -> str:
    return header[positions[name]] if name in positions else name


def drop_duplicates(
    spec: Kind, table: InputTable, lines: list[int], records: list[Row]
) -> tuple[list[int], list[Row], list[Problem]]:
    """Identical repeated rows count once; the same key with other content is a problem."""
    key_fields = [
        next(c.field for c in spec.columns if c.field == k or c.name == k) for k in spec.key
    ]
    first: dict[tuple[Any, ...], tuple[int, Row]] = {}
    out_lines, out, problems = [], [], []
    for line, row in zip(lines, records, strict=True):
        key = tuple(row[k] for k in key_fields)
        if key in first:
            earlier, kept = first[key]
            if kept != row:
                reason = f"same {'/'.join(spec.key)} as line {earlier} but different content"
                problems.append(Problem(table.file, line, None, "/".join(map(str, key)), reason))
            continue
        first[key] = (line, row)
        out_lines.append(line)
        out.append(row)
    return out_lines, out, problems


def check_units(
    file: str, column: str, lines: Iterable[int], records: list[Row], known: set[str]
) -> list[Problem]:
    problems = []
    hints: dict[str, str] = {}
    for line, row in zip(lines, records, strict=True):
        unit = row["unit_id"]
        if unit not in known:
            if unit not in hints:
                hints[unit] = suggest(unit, known) if len(hints) < 50 else ""
            reason = f"unknown unit: not in the organisation{hints[unit]}"
            problems.append(Problem(file, line, column, unit, reason))
    return problems


def check_organisation(
    conn: Connection, file: str, column: str, lines: list[int], records: list[Row]
) -> list[Problem]:
    """Parents exist and sit above their children; one region at the top of everything."""
    existing = {
        r.id: (r.level, r.parent_id)
        for r in conn.execute(select(OrgUnit.id, OrgUnit.level, OrgUnit.parent_id))
    }
    merged = dict(existing)
    merged.update({r["id"]: (r["level"], r["parent_id"]) for r in records})
    problems = []
    for line, row in zip(lines, records, strict=True):
        level, parent = row["level"], row["parent_id"]
        if parent is None:
            if level != OrgLevel.REGION:
                problems.append(Problem(file, line, column, "", "only the region has no parent"))
            continue
        if parent not in merged:
            reason = f"parent not in this file nor the organisation{suggest(parent, merged)}"
            problems.append(Problem(file, line, column, parent, reason))
        elif LEVEL_RANK[merged[parent][0]] >= LEVEL_RANK[level]:
            reason = f"a {level.value} cannot sit under a {merged[parent][0].value}"
            problems.append(Problem(file, line, column, parent, reason))
    roots = sorted(uid for uid, (_, parent) in merged.items() if parent is None)
    if len(roots) > 1:
        reason = f"more than one region at the top: {', '.join(roots)}"
        problems.append(Problem(file, None, None, None, reason))
    return problems


# --- storing -------------------------------------------------------------------------------


def store(
    conn: Connection, spec: Kind, records: list[Row], file: str, sha256: str, now: datetime
) -> tuple[int, int]:
    """Upsert ``records`` by the kind's key; returns (inserted, updated). Rows whose values
    did not change are left alone, keeping the batch that last changed them."""
    inserted_key = conn.execute(
        insert(ImportBatch).values(
            kind=spec.name,
            file_name=file,
            sha256=sha256,
            rows=len(records),
            inserted=0,
            updated=0,
            imported_at=now,
        )
    ).inserted_primary_key
    assert inserted_key is not None
    batch_id = inserted_key[0]
    if spec.name == "organisation":  # parents before children, for the foreign key
        records = sorted(records, key=lambda r: LEVEL_RANK[r["level"]])
    table = spec.table
    before = _count(conn, table)
    touched = 0
    statement = _upsert(conn, table, spec.key, [c.field for c in spec.columns])
    for start in range(0, len(records), CHUNK):
        chunk = [{**r, "batch_id": batch_id} for r in records[start : start + CHUNK]]
        touched += max(conn.execute(statement, chunk).rowcount, 0)
    inserted = _count(conn, table) - before
    updated = max(touched - inserted, 0)
    conn.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id)
        .values(inserted=inserted, updated=updated)
    )
    return inserted, updated


def _count(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _upsert(conn: Connection, table: Table, key: tuple[str, ...], fields: list[str]) -> Any:
    dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(conn.dialect.name)
    if dialect is None:
        raise UsageError(f"database {conn.dialect.name!r} is not supported (SQLite, PostgreSQL)")
    statement = dialect.insert(table)
    data = [f for f in fields if f not in key]
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={f: statement.excluded[f] for f in [*data, "batch_id"]},
        where=or_(*(table.c[f].is_distinct_from(statement.excluded[f]) for f in data)),
    )

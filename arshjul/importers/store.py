"""Storing checked records: an import batch, then a bulk upsert by the kind's key.

The upsert is the dialect's ``INSERT … ON CONFLICT (key) DO UPDATE … WHERE`` *any column is
distinct from the new value*, so a record that did not change is not written and keeps the
batch that last changed it. It is compiled once and executed with ``executemany`` over chunks
of plain tuples (``exec_driver_sql``): SQLAlchemy's own per-row parameter handling would cost
more than the database does. The values are made ready for the driver by the columns' own
bind processors, once per distinct value, so SQLite and PostgreSQL store exactly what the ORM
would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Dialect, Table, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from arshjul.errors import UsageError
from arshjul.importers.kinds import Kind
from arshjul.importers.records import Records
from arshjul.models import ImportBatch

#: rows per executemany: large enough to amortise the call, small enough for memory
CHUNK = 10_000
_INSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def rows_of_earlier_import(conn: Connection, kind: str, sha256: str) -> int | None:
    """The row count of the batch that imported these very bytes before, if one did."""
    return conn.execute(
        select(ImportBatch.rows).where(ImportBatch.kind == kind, ImportBatch.sha256 == sha256)
    ).scalar_one_or_none()


def save(
    conn: Connection,
    kind: Kind,
    records: Records,
    *,
    file_name: str,
    sha256: str,
    now: datetime,
) -> tuple[int, int]:
    """Store ``records`` as one new batch; returns (inserted, updated)."""
    batch_key = conn.execute(
        insert(ImportBatch).values(
            kind=kind.name,
            file_name=file_name[:255],
            sha256=sha256,
            rows=len(records),
            inserted=0,
            updated=0,
            imported_at=now,
        )
    ).inserted_primary_key
    assert batch_key is not None
    batch_id = batch_key[0]
    if kind.order is not None:
        records = records.select(kind.order(records))
    fields = {column.field: records.values[column.name] for column in kind.columns}
    fields["batch_id"] = [batch_id] * len(records)
    before = _count(conn, kind.table)
    written = _upsert(conn, kind.table, kind.key_fields, fields)
    inserted = _count(conn, kind.table) - before
    updated = written - inserted
    conn.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id)
        .values(inserted=inserted, updated=updated)
    )
    return inserted, updated


def _count(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _upsert(
    conn: Connection, table: Table, key: tuple[str, ...], fields: dict[str, list[Any]]
) -> int:
    """Insert or update every row by its ``key`` columns (a unique index of ``table``);
    returns how many were written (inserted or changed)."""
    dialect = conn.dialect
    make_insert = _INSERTS.get(dialect.name)
    if make_insert is None:
        raise UsageError(f"database {dialect.name!r} is not supported (SQLite, PostgreSQL)")
    statement = make_insert(table)
    compared = [f for f in fields if f not in (*key, "batch_id")]
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={f: statement.excluded[f] for f in [*compared, "batch_id"]},
        where=or_(*(table.c[f].is_distinct_from(statement.excluded[f]) for f in compared)),
    )
    compiled = statement.compile(dialect=dialect, column_keys=list(fields))
    ready = {name: _for_driver(table.c[name], values, dialect) for name, values in fields.items()}
    rows: list[Any]
    if compiled.positiontup is not None:
        rows = list(zip(*(ready[name] for name in compiled.positiontup), strict=True))
    else:
        names = list(ready)
        rows = [dict(zip(names, row, strict=True)) for row in zip(*ready.values(), strict=True)]
    sql = str(compiled)
    return sum(
        conn.exec_driver_sql(sql, rows[start : start + CHUNK]).rowcount
        for start in range(0, len(rows), CHUNK)
    )


def _for_driver(column: Column[Any], values: list[Any], dialect: Dialect) -> list[Any]:
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    ready = {value: None if value is None else process(value) for value in set(values)}
    return list(map(ready.__getitem__, values))

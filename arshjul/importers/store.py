"""Storing checked records: staged in a temporary table, then stored by the kind's key.

A file's records go, a sheet at a time, into a TEMP table with no index and no constraint
(``executemany`` on SQLite, ``COPY`` on PostgreSQL: the cheapest way in), so memory holds one
sheet, never the file. The staging table also answers the one rule across sheets — the same
key twice (:meth:`Staging.repeated`). When the whole file is good, two statements store it
(:meth:`Staging.write`): ``UPDATE … FROM`` the staged records whose key is stored ``WHERE``
*any column is distinct from the new value*, so a record that did not change is not written
and keeps the batch that last changed it, and ``INSERT … SELECT`` those whose key is not.
The values are made ready for the driver by the columns' own bind processors, once per
distinct value, so SQLite and PostgreSQL store exactly what the ORM would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Dialect,
    Integer,
    MetaData,
    RowMapping,
    Table,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from arshjul.errors import UsageError
from arshjul.importers.kinds import Kind
from arshjul.importers.records import Records
from arshjul.models import ImportBatch, OrgUnit

#: sequence numbers per ``IN (…)``: below every database's limit on bound parameters
CHUNK = 500
#: SQLite's page cache while importing, for the table and for the staging table (KiB each):
#: the default 2 MB makes the upsert three times slower on a table of 10⁵–10⁶ rows
CACHE_KIB = 65_536
DIALECTS = ("sqlite", "postgresql")


def rows_of_earlier_import(conn: Connection, kind: str, sha256: str) -> int | None:
    """The row count of the batch that imported these very bytes before, if one did."""
    return conn.execute(
        select(ImportBatch.rows).where(ImportBatch.kind == kind, ImportBatch.sha256 == sha256)
    ).scalar_one_or_none()


@contextmanager
def page_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a page cache of :data:`CACHE_KIB` for the main and the temporary database
    while the block runs; as it was afterwards."""
    if conn.dialect.name != "sqlite":
        yield
        return
    schemas = ("main", "temp")
    before = [conn.exec_driver_sql(f"PRAGMA {s}.cache_size").scalar_one() for s in schemas]
    for schema in schemas:
        conn.exec_driver_sql(f"PRAGMA {schema}.cache_size = -{CACHE_KIB}")
    try:
        yield
    finally:
        for schema, size in zip(schemas, before, strict=True):
            conn.exec_driver_sql(f"PRAGMA {schema}.cache_size = {int(size)}")


class Staging:
    """One file's records on their way into ``kind``'s table, in the order they came.

    With ``tally`` (a file without the kind's count column: one row per counted thing), rows
    with the same key are one record counting them.
    """

    def __init__(self, conn: Connection, kind: Kind, *, tally: bool):
        if conn.dialect.name not in DIALECTS:
            raise UsageError(
                f"database {conn.dialect.name!r} is not supported (SQLite, PostgreSQL)"
            )
        self.conn, self.kind = conn, kind
        self.fields = [c.field for c in kind.columns]
        field_of = {c.name: c.field for c in kind.columns}
        self.tally = field_of[kind.tally] if tally and kind.tally is not None else None
        target = kind.table
        self.table = _staging_table(target, tuple(self.fields))
        self.size = 0
        quote = conn.dialect.identifier_preparer.quote
        name, fields = quote(self.table.name), ", ".join(map(quote, self.fields))
        self._columns = f"seq, line, {fields}"
        if conn.dialect.name == "sqlite":
            # no types: values are kept exactly as bound, and get the table's on the way in
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE {name} (seq INTEGER PRIMARY KEY, line INTEGER, {fields})"
            )
        else:
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE {name} AS SELECT CAST(NULL AS BIGINT) AS seq,"
                f" CAST(NULL AS INTEGER) AS line, {fields} FROM {quote(target.name)}"
                " WITH NO DATA"
            )

    def add(self, records: Records) -> None:
        """Stage ``records`` after those staged before."""
        if not len(records):
            return
        dialect = self.conn.dialect
        ready = [
            _for_driver(self.table.c[c.field], records.values[c.name], dialect)
            for c in self.kind.columns
        ]
        seqs = range(self.size, self.size + len(records))
        self.size += len(records)
        name = self.conn.dialect.identifier_preparer.quote(self.table.name)
        driver = self.conn.connection.driver_connection
        assert driver is not None
        if dialect.name == "sqlite":
            # an iterator, not a list: the driver takes a row at a time and zip reuses its tuple
            rows = zip(seqs, records.lines, *ready, strict=True)
            marks = ", ".join("?" * (len(self.fields) + 2))
            driver.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
            return
        # COPY's text format made column by column, once per distinct value, and joined at C
        # speed: five times faster than psycopg's write_row, which formats row by row
        columns = [map(str, seqs), map(str, records.lines), *map(_copy_text, ready)]
        text = "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {name} ({self._columns}) FROM STDIN") as copy,
        ):
            copy.write(text)

    def _key(self) -> list[Column[Any]]:
        return [self.table.c[f] for f in self.kind.key_fields]

    def repeated(self) -> Sequence[RowMapping]:
        """The staged rows whose key other rows have too, by line; a key with a part left
        empty (a value refused) is no key."""
        staged, key = self.table, self._key()
        keys = (
            select(*key)
            .where(*(part.is_not(None) for part in key))
            .group_by(*key)
            .having(func.count() > 1)
        )
        if self.conn.execute(keys.limit(1)).first() is None:
            return []
        shared = keys.subquery()
        rows = (
            select(staged)
            .join(shared, and_(*(part == shared.c[part.name] for part in key)))
            .order_by(staged.c.line)
        )
        return self.conn.execute(rows).mappings().all()

    def discard(self, seqs: list[int]) -> None:
        """Unstage these rows."""
        for start in range(0, len(seqs), CHUNK):
            chosen = self.table.c.seq.in_(seqs[start : start + CHUNK])
            self.conn.execute(self.table.delete().where(chosen))

    def records(self) -> int:
        """How many records the staged rows are."""
        if self.tally is None:
            return self.conn.execute(select(func.count()).select_from(self.table)).scalar_one()
        keys = select(*self._key()).group_by(*self._key()).subquery()
        return self.conn.execute(select(func.count()).select_from(keys)).scalar_one()

    def write(self, batch_id: int) -> tuple[int, int]:
        """Store every record by its key (a unique index of the kind's table), as written by
        batch ``batch_id``: update the stored records whose content differs, insert the others
        in the order they came. Returns (inserted, updated).

        Two statements rather than one ``INSERT … ON CONFLICT DO UPDATE``: on PostgreSQL the
        upsert took 20–35 % more of the server's CPU for the same rows (BENCHMARKS.md), and
        neither statement is a dialect's own. A table whose rows refer to its own (the
        organisation's parents) gets its new rows first: an updated row may name one."""
        staged, table = self.table, self.kind.table
        key = self.kind.key_fields
        if self.tally is None:
            source = select(staged).subquery()
        else:
            values = [
                func.sum(staged.c[f]) if f == self.tally else staged.c[f] for f in self.fields
            ]
            source = (
                select(
                    func.min(staged.c.seq).label("seq"),
                    *(v.label(f) for v, f in zip(values, self.fields, strict=True)),
                )
                .group_by(*self._key())
                .subquery()
            )
        same_key = and_(*(table.c[f] == source.c[f] for f in key))
        compared = [f for f in self.fields if f not in key]
        changed = (
            update(table)
            .where(same_key, or_(*(table.c[f].is_distinct_from(source.c[f]) for f in compared)))
            .values({**{f: source.c[f] for f in compared}, "batch_id": batch_id})
        )
        new = (
            select(*(source.c[f] for f in self.fields), literal(batch_id, Integer))
            .where(~exists().where(same_key))
            .order_by(source.c.seq)
        )
        add = insert(table).from_select([*self.fields, "batch_id"], new)
        # without preserve_rowcount, psycopg's result of an INSERT … SELECT says -1
        counted = {"preserve_rowcount": True}
        refers_to_itself = any(fk.column.table is table for fk in table.foreign_keys)
        if refers_to_itself:
            inserted = self.conn.execute(add.execution_options(**counted)).rowcount
        updated = self.conn.execute(changed.execution_options(**counted)).rowcount
        if not refers_to_itself:
            inserted = self.conn.execute(add.execution_options(**counted)).rowcount
        return int(inserted), int(updated)

    def drop(self) -> None:
        # not Table.drop: that would drop the enum types of its columns with it
        name = self.conn.dialect.identifier_preparer.quote(self.table.name)
        self.conn.exec_driver_sql(f"DROP TABLE {name}")


#: one staging table definition per table and columns, made once: a definition made anew
#: for each file made every statement on it a new one to compile (SQLAlchemy caches compiled
#: statements by their tables), which was most of a small file's import (a worksheet's)
_STAGING_TABLES: dict[tuple[Table, tuple[str, ...]], Table] = {}


def _staging_table(target: Table, fields: tuple[str, ...]) -> Table:
    """The staging table of ``fields`` of ``target``: a sequence number and the line first."""
    found = _STAGING_TABLES.get((target, fields))
    if found is None:
        found = _STAGING_TABLES[target, fields] = Table(
            f"staging_{target.name}",
            MetaData(),
            Column("seq", BigInteger),
            Column("line", Integer),
            *(Column(f, target.c[f].type.copy()) for f in fields),
        )
    return found


def store(
    conn: Connection, staging: Staging, *, file_name: str, sha256: str, now: datetime
) -> tuple[int, int, int]:
    """Store the staged records as one new batch; returns (records, inserted, updated)."""
    records = staging.records()
    batch_key = conn.execute(
        insert(ImportBatch).values(
            kind=staging.kind.name,
            file_name=file_name[:255],
            sha256=sha256,
            rows=records,
            inserted=0,
            updated=0,
            imported_at=now,
        )
    ).inserted_primary_key
    assert batch_key is not None
    batch_id = batch_key[0]
    _units_exist(conn, staging)
    inserted, updated = staging.write(batch_id)
    if staging.kind.history is not None:
        staging.kind.history(conn, staging.table, batch_id)
    conn.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id)
        .values(inserted=inserted, updated=updated)
    )
    staging.drop()
    return records, inserted, updated


def _units_exist(conn: Connection, staging: Staging) -> None:
    """Every staged unit id is a unit: the check a foreign key would make row by row (the
    imported tables have none, see ``models.IMPORTED_UNIT_ID``), once for the file. The
    validator has refused unknown units already, so failing here is a defect, not bad input."""
    staged = staging.table.c.get("unit_id")
    if staged is None:  # the organisation: its parents keep their foreign key
        return
    # the distinct ids first: PostgreSQL planned the anti-join of 768k staged rows as one index
    # lookup per row, 1.0 s of server CPU against 0.14 s this way (BENCHMARKS.md)
    units = select(staged).distinct().subquery()
    unit = units.c[staged.name]
    unknown = select(unit).where(~exists().where(OrgUnit.id == unit)).limit(1)
    missing = conn.execute(unknown).scalar()
    if missing is not None:
        raise RuntimeError(f"{staging.kind.name}: unit {missing!r} was staged but is no unit")


def _for_driver(column: Column[Any], values: list[Any], dialect: Dialect) -> list[Any]:
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    ready = {value: None if value is None else process(value) for value in set(values)}
    return list(map(ready.__getitem__, values))


#: what COPY's text format escapes
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_ESCAPED = re.compile(r"[\\\t\n\r]")
_NULL = cast(Callable[[Any, Any], str], {None: "\\N"}.get)


def _copy_text(values: list[Any]) -> list[str]:
    """``values`` (ready for the driver) as COPY's text format writes them."""
    if set(map(type, values)) <= {str, type(None)}:  # text: as it is, if nothing to escape
        if not _ESCAPED.search("".join(filter(None, values))):
            return list(map(_NULL, values, values))
    as_text = {value: _copy_value(value) for value in set(values)}
    return list(map(as_text.__getitem__, values))


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # int, float: their repr reads back exactly

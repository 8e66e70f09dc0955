"""The deviations import against what each database can do at all, measured in one run.

Usage: ``python -m bench.imports --data DIR`` (a folder ``arshjul demo`` wrote; ``make bench``
runs it on its own demo). For SQLite and, when its binaries are here, PostgreSQL (a throwaway
cluster, ``tests/postgres.py``):

- *import*: ``import_file`` of ``deviations.csv`` into a fresh database (the organisation
  imported first), including its commit;
- *ceiling*: the same rows, read back from the table the import filled, written once more
  into that table emptied, in one transaction and nothing else: on SQLite a bare prepared
  ``executemany`` of ready tuples (what any Python importer pays at least, reading and
  checking aside); on PostgreSQL ``INSERT … SELECT`` from a TEMP table holding them (the
  server's own cost of adding the rows to the table and its four indexes, with no client).

Each row gives wall time, this process's CPU and, on PostgreSQL, the CPU of the server process
that did the work (``/proc/<pid>/stat`` of the session's backend). On a shared machine the wall
time says how busy it was; the CPU times are what to compare.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from arshjul.importers import import_file
from arshjul.importers.store import CACHE_KIB
from arshjul.workspace import Workspace, open_workspace

#: the columns an import writes into ``deviation`` (all but its generated id)
FIELDS = (
    "source_id, unit_id, event_date, reported_date, category, consequence, probability,"
    " lex_maria, care_chain, status, closed_date, batch_id"
)


SQLITE_IMPORT = "SQLite: import"
SQLITE_CEILING = "SQLite: ceiling, bare executemany"
POSTGRESQL_IMPORT = "PostgreSQL: import"
POSTGRESQL_CEILING = "PostgreSQL: ceiling, INSERT … SELECT"


@dataclass(frozen=True)
class Timing:
    what: str
    rows: int
    wall: float
    #: CPU seconds of this process (on SQLite the database's work is in it)
    cpu: float
    #: CPU seconds of the PostgreSQL server process, None on SQLite
    server_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.wall

    def row(self) -> tuple[str, ...]:
        server = "" if self.server_cpu is None else f"{self.server_cpu:.2f}"
        cpu_rate = self.rows / (self.cpu + (self.server_cpu or 0.0))
        return (
            self.what,
            f"{self.rows:,}",
            f"{self.wall:.2f}",
            f"{self.rate:,.0f}",
            f"{self.cpu:.2f}",
            server,
            f"{cpu_rate:,.0f}",
        )


HEADER = (
    "run",
    "rows",
    "wall s",
    "rows/s (wall)",
    "this process, CPU s",
    "PostgreSQL server, CPU s",
    "rows per CPU-s (both)",
)


def measure(data: Path, folder: Path, now: datetime) -> list[Timing]:
    """Import and ceiling on SQLite, then on PostgreSQL when a server can be started."""
    return [*_sqlite(data, folder, now), *_postgresql(data, folder, now)]


def _sqlite(data: Path, folder: Path, now: datetime) -> list[Timing]:
    database, empty = folder / "imports.sqlite", folder / "imports-empty.sqlite"
    ws = open_workspace(database_url=f"sqlite:///{database}", out=folder / "imports-out")
    try:
        with ws.engine.begin() as conn:
            import_file(conn, ws.config, "organisation", data / "organisation.csv", now=now)
        # through SQLite, not a file copy: the database's last writes may be in its WAL file
        with sqlite3.connect(database) as source, sqlite3.connect(empty) as target:
            source.backup(target)
        imported = _import(ws, data, now, SQLITE_IMPORT)
    finally:
        ws.engine.dispose()
    with sqlite3.connect(database) as db:
        rows = db.execute(f"SELECT {FIELDS} FROM deviation ORDER BY id").fetchall()
    db = sqlite3.connect(empty, isolation_level=None)
    try:
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # as the importer has it
        marks = ", ".join("?" * len(FIELDS.split(",")))
        statement = f"INSERT INTO deviation ({FIELDS}) VALUES ({marks})"

        def bare() -> None:
            db.execute("BEGIN")
            db.executemany(statement, rows)
            db.execute("COMMIT")

        ceiling = _timed(SQLITE_CEILING, len(rows), bare)
    finally:
        db.close()
    return [imported, ceiling]


def _postgresql(data: Path, folder: Path, now: datetime) -> list[Timing]:
    from tests.postgres import PostgresServer, Unavailable

    try:
        server = PostgresServer.start()
    except Unavailable:
        return []
    try:
        url = server.create_database()
        ws = open_workspace(
            database_url=url.render_as_string(hide_password=False), out=folder / "imports-out"
        )
        try:
            with ws.engine.begin() as conn:
                import_file(conn, ws.config, "organisation", data / "organisation.csv", now=now)
            imported = _import(ws, data, now, POSTGRESQL_IMPORT)
            with ws.engine.connect() as conn:
                conn.exec_driver_sql(
                    f"CREATE TEMP TABLE ceiling AS SELECT {FIELDS} FROM deviation ORDER BY id"
                )
                conn.exec_driver_sql("TRUNCATE deviation")
                conn.commit()
                statement = f"INSERT INTO deviation ({FIELDS}) SELECT {FIELDS} FROM ceiling"

                def insert() -> None:
                    conn.exec_driver_sql(statement)
                    conn.commit()

                with _server_cpu(conn) as spent:
                    ceiling = _timed(POSTGRESQL_CEILING, imported.rows, insert)
                ceiling = Timing(ceiling.what, ceiling.rows, ceiling.wall, ceiling.cpu, spent())
            return [imported, ceiling]
        finally:
            ws.engine.dispose()
            server.drop_database(url)
    finally:
        server.stop()


def _import(ws: Workspace, data: Path, now: datetime, what: str) -> Timing:
    with ws.engine.connect() as conn:
        rows = 0

        def deviations() -> None:
            nonlocal rows
            with conn.begin():
                rows = import_file(
                    conn, ws.config, "deviations", data / "deviations.csv", now=now
                ).rows

        if ws.engine.dialect.name == "sqlite":
            return _timed(what, 0, deviations, rows_after=lambda: rows)
        with _server_cpu(conn) as spent:
            timing = _timed(what, 0, deviations, rows_after=lambda: rows)
        return Timing(timing.what, timing.rows, timing.wall, timing.cpu, spent())


def _timed(
    what: str, rows: int, work: Callable[[], None], *, rows_after: Callable[[], int] | None = None
) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Timing(what, rows_after() if rows_after else rows, wall, cpu)


@contextmanager
def _server_cpu(conn: Connection) -> Iterator[Callable[[], float]]:
    """CPU seconds the session's backend spends in the block (the cluster runs here)."""
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    conn.commit()
    before = _process_cpu(pid)
    spent = 0.0
    yield lambda: spent
    spent = _process_cpu(pid) - before


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table(timings: list[Timing]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|---|" + "---:|" * (len(HEADER) - 1)]
    lines += ["| " + " | ".join(t.row()) + " |" for t in timings]
    return "\n".join(lines)


def main() -> None:
    from bench.run import NOW

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="a folder arshjul demo wrote")
    args = parser.parse_args()
    print("load average before:", Path("/proc/loadavg").read_text().strip())
    with tempfile.TemporaryDirectory(prefix="arshjul-imports-") as tmp:
        print(table(measure(args.data, Path(tmp), NOW)))
    print("load average after:", Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    main()

"""Where the pipeline's time goes, function by function: cProfile over the plain calls.

Usage: ``python -m bench.profile [--scale small|large] [--top 30]``. Writes the demo region
into a scratch folder, runs :func:`bench.plain.run` under cProfile and prints the functions
with the most time of their own, and those with the most time including what they call.
(cProfile slows Python code about twofold; the shares, not the seconds, are the point.)

``--import KIND`` profiles one file's import instead (the organisation imported first), on
SQLite or, with ``--postgresql``, on a throwaway PostgreSQL cluster: the import is timed once
as it runs (wall and this process's CPU: the database server's CPU is not in the latter), then
once more under cProfile, which splits it into the importer's phases. ``--data DIR`` takes the
files from a demo folder written before (``arshjul demo --scale large --out DIR`` takes minutes).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from arshjul.config import load_config
from arshjul.demo import write_demo
from arshjul.importers import import_file
from arshjul.workspace import Workspace, open_workspace
from bench import plain
from bench.run import NOW, YEAR

#: the importer's phases: the functions whose time (with what they call) each one is
IMPORT_PHASES = {
    "read: bytes to text cells (read.sheets)": ("importers/read.py", "sheets"),
    "check: cells to values (Validator.check)": ("importers/validate.py", "check"),
    "  of which personnummer search (find_in)": ("importers/personnummer.py", "find_in"),
    "stage: values into the TEMP table (Staging.add)": ("importers/store.py", "add"),
    "same key twice (repeated_keys)": ("importers/validate.py", "repeated_keys"),
    "store: batch, upsert, counts (store)": ("importers/store.py", "store"),
    "  of which update and insert (Staging.write)": ("importers/store.py", "write"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=("small", "large"), default="small")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--import", dest="kind", help="profile this kind's import only")
    parser.add_argument("--postgresql", action="store_true", help="(--import) on PostgreSQL")
    parser.add_argument(
        "--data", type=Path, help="(--import) a demo folder written before: not written again"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arshjul-profile-") as tmp:
        folder = Path(tmp)
        if args.kind and args.data:
            (folder / "data").symlink_to(args.data.resolve())
        else:
            write_demo(folder / "data", load_config(), today=NOW.date(), scale=args.scale)
        if args.kind:
            profile_import(folder, args.kind, postgresql=args.postgresql)
            return
        ws = open_workspace(database_url=f"sqlite:///{folder / 'db.sqlite'}", out=folder / "out")
        profiler = cProfile.Profile()
        profiler.runcall(plain.run, ws, folder / "data", YEAR, NOW, plain.Steps())
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


def profile_import(folder: Path, kind: str, *, postgresql: bool) -> None:
    data = folder / "data"
    [path] = sorted(data.glob(f"{kind}*"))
    profiler = cProfile.Profile()
    for profiled in (False, True):
        with _workspace(folder, postgresql) as ws:
            with ws.engine.begin() as conn:
                import_file(conn, ws.config, "organisation", data / "organisation.csv", now=NOW)
            wall, cpu = time.perf_counter(), time.process_time()
            with ws.engine.connect() as conn, conn.begin() as transaction:
                run: Callable[[], object] = lambda: import_file(  # noqa: E731
                    conn, ws.config, kind, path, now=NOW
                )
                result = profiler.runcall(run) if profiled else run()
                committing = time.perf_counter()
                transaction.commit()
                commit = time.perf_counter() - committing
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not profiled:
            rows = getattr(result, "rows", 0)
            where = "PostgreSQL" if postgresql else "SQLite"
            print(
                f"{kind} on {where}: {rows:,} rows in {wall:.2f} s wall ({rows / wall:,.0f} rows/s)"
            )
            print(f"  this process's CPU {cpu:.2f} s; the commit {commit:.2f} s wall")
    _print_phases(pstats.Stats(profiler))


def _print_phases(stats: pstats.Stats) -> None:
    """Each phase's cumulative seconds under cProfile and its share of the import."""
    found: dict[tuple[str, str], float] = {}
    total = 0.0
    for (file, _, name), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        for suffix, function in IMPORT_PHASES.values():
            if name == function and file.endswith(suffix):
                found[(suffix, function)] = found.get((suffix, function), 0.0) + cumulative
        if name == "import_file" and file.endswith("importers/importer.py"):
            total = cumulative
    print("\n| phase (under cProfile) | s | share |\n|---|---:|---:|")
    for label, key in IMPORT_PHASES.items():
        seconds = found.get(key, 0.0)
        print(f"| {label} | {seconds:.2f} | {seconds / total:.0%} |")
    print(f"| import_file | {total:.2f} | 100% |")


@contextmanager
def _workspace(folder: Path, postgresql: bool) -> Iterator[Workspace]:
    """A fresh migrated database: an SQLite file, or a database on a throwaway cluster."""
    if not postgresql:
        database = folder / f"import-{time.monotonic_ns()}.sqlite"
        ws = open_workspace(database_url=f"sqlite:///{database}", out=folder / "out")
        try:
            yield ws
        finally:
            ws.engine.dispose()
        return
    from tests.postgres import PostgresServer

    server = PostgresServer.start()
    try:
        url = server.create_database()
        ws = open_workspace(database_url=url.render_as_string(hide_password=False), out=folder)
        try:
            yield ws
        finally:
            ws.engine.dispose()
            server.drop_database(url)
    finally:
        server.stop()


if __name__ == "__main__":
    main()

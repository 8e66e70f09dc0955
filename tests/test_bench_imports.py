"""bench.imports: the import and each database's ceiling write the same rows, and its rates
are what the table's header says they are."""

from __future__ import annotations

from pathlib import Path

from bench import imports
from tests.conftest import NOW
from tests.fixtures.imports.cases import DEV_HEADER, ORGANISATION, lines


def test_rates_are_rows_over_seconds() -> None:
    timing = imports.Timing("x", 1_000, wall=2.0, cpu=1.0, server_cpu=3.0)
    # rows/s of the wall time; rows per CPU second of both processes: 1,000 / (1 + 3)
    assert timing.rate == 500
    assert timing.row() == ("x", "1,000", "2.00", "500", "1.00", "3.00", "250")
    assert imports.Timing("y", 10, wall=4.0, cpu=2.5).row()[-2:] == ("", "4")


def test_the_import_and_the_ceiling_write_the_same_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "organisation.csv").write_bytes(ORGANISATION.read_bytes())
    rows = [
        f"D{i};E1;2025-01-03;2025-01-05;Fall;1;2;nej;nej;Avslutad;2025-02-01" for i in range(50)
    ]
    (data / "deviations.csv").write_bytes(lines(DEV_HEADER, *rows))
    timings = imports.measure(data, tmp_path, NOW)
    what = [t.what for t in timings]
    assert what[:2] == [imports.SQLITE_IMPORT, imports.SQLITE_CEILING]
    assert what[2:] in ([], [imports.POSTGRESQL_IMPORT, imports.POSTGRESQL_CEILING])
    assert {t.rows for t in timings} == {50}
    assert all(t.wall > 0 and t.cpu >= 0 for t in timings)
    assert all((t.server_cpu is None) == t.what.startswith("SQLite") for t in timings)
    assert imports.table(timings).count("\n") == len(timings) + 1

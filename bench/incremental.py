"""A rerun of the cycle after one file changed (issue 18.3), as plain calls (:mod:`bench.plain`).

Usage::

    python -m bench.incremental --data DIR --work DIR --prepare   # once: the first run
    python -m bench.incremental --data DIR --work DIR             # the reruns, on a copy

``--prepare`` imports the demo files of ``DIR`` (``arshjul demo --scale S --out DIR``) and runs
the whole cycle once into ``WORK/base`` (database and documents): the first run of a year,
which no incremental count can make cheaper. Each later call copies ``WORK/base`` to
``WORK/rerun`` and measures, one after another:

1. the cycle again on the same data (the four steps of the data year, the interim report of
   the year and of the latest period, the calendars);
2. a file of one row imported (one deviation of the middle enhet closed, or reopened if it was
   closed: a source system's correction), then the cycle again;
3. that enhet's compile step with its roll-ups (``arshjul compile --unit``), the step's own
   work of a coordinator's rerun on a served deployment.

For each: wall seconds, CPU seconds of this process and of the forked document writers
(``getrusage``), the slowest pieces, and the files whose bytes or mtime changed in ``out``.
The machine is shared: report ``uptime`` with the figures, and compare CPU seconds.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from arshjul.importers import import_file
from arshjul.periods import Period
from arshjul.workspace import Workspace, open_workspace
from bench import plain
from bench.run import NOW, YEAR, rerun_unit

#: the rerun's clock: a day after the first run (documents are about their run's day)
LATER = NOW + timedelta(hours=1)


def cpu_seconds() -> float:
    """CPU of this process and of its children that were waited for (the forked writers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def snapshot(out: Path) -> dict[Path, tuple[int, int]]:
    """Every file under ``out`` by (mtime in ns, size)."""
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.rglob("*") if p.is_file()}


@dataclass
class Measured:
    label: str
    wall: float
    cpu: float
    steps: plain.Steps
    changed: int
    files: int

    def report(self, top: int = 8) -> str:
        slowest = sorted(self.steps.seconds.items(), key=lambda kv: -kv[1])[:top]
        pieces = ", ".join(f"{k} {v:.2f}" for k, v in slowest)
        load = os.getloadavg()
        return (
            f"{self.label}: wall {self.wall:.1f} s, CPU {self.cpu:.1f} s, "
            f"{self.changed:,} of {self.files:,} files written; load "
            f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n    slowest (wall s): {pieces}"
        )


def measured(label: str, out: Path, work: Callable[[plain.Steps], object]) -> Measured:
    before = snapshot(out) if out.exists() else {}
    steps = plain.Steps()
    cpu, wall = cpu_seconds(), time.perf_counter()
    work(steps)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    after = snapshot(out)
    changed = sum(1 for p, s in after.items() if before.get(p) != s)
    return Measured(label, wall, cpu, steps, changed, len(after))


def cycle(ws: Workspace, now: datetime, steps: plain.Steps) -> None:
    """``plain.run`` without the imports."""
    plain.cycle(ws, YEAR, now, steps)
    plain.interim_reports(ws, YEAR, now, steps)
    plain.publish(ws, now, steps)


def one_deviation_changed(data: Path, unit: str, folder: Path) -> Path:
    """A deviations file of one row: the first deviation of ``unit`` reported in the data
    year, closed on 2026-01-15 if it was open, else reopened."""
    source = data / "deviations.csv"
    with source.open(encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f, delimiter=";")
        header = next(rows)
        col = {name: i for i, name in enumerate(header)}
        for row in rows:
            if row[col["Enhet HSA-id"]] == unit and row[col["Rapporteringsdatum"]].startswith(
                str(YEAR)
            ):
                break
        else:
            raise SystemExit(f"no deviation of {unit} in {YEAR}")
    if row[col["Status"]] == "Avslutad":
        row[col["Status"]], row[col["Avslutad datum"]] = "Pågående", ""
    else:
        row[col["Status"]], row[col["Avslutad datum"]] = "Avslutad", "2026-01-15"
    path = folder / "deviations-rattelse.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, delimiter=";")
        out.writerows([header, row])
    return path


def workspace(folder: Path) -> Workspace:
    return open_workspace(database_url=f"sqlite:///{folder / 'arshjul.sqlite'}", out=folder / "out")


def prepare(data: Path, base: Path) -> None:
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    ws = workspace(base)
    print(
        measured(
            "first run (imports and cycle)", ws.out, lambda s: plain.run(ws, data, YEAR, NOW, s)
        ).report()
    )


def reruns(data: Path, work: Path, *, same_data: bool = True) -> None:
    folder = work / "rerun"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(work / "base", folder)
    ws = workspace(folder)
    unit = rerun_unit(ws)
    if same_data:
        print(measured("cycle again, same data", ws.out, lambda s: cycle(ws, LATER, s)).report())
    changed = one_deviation_changed(data, unit, folder)

    def import_and_cycle(steps: plain.Steps) -> None:
        with ws.engine.begin() as conn:
            steps(
                "import one row",
                lambda: import_file(conn, ws.config, "deviations", changed, now=LATER),
            )
        cycle(ws, LATER, steps)

    print(measured(f"one deviation of {unit} changed, cycle", ws.out, import_and_cycle).report())
    print(
        measured(
            f"compile --unit {unit}",
            ws.out,
            lambda s: plain.one_step(
                ws, plain.compilation.STEP, Period.full_year(YEAR), unit, LATER, s
            ),
        ).report()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument(
        "--changed-only", action="store_true", help="skip the rerun on the same data"
    )
    args = parser.parse_args()
    if args.prepare:
        prepare(args.data, args.work / "base")
    else:
        reruns(args.data, args.work, same_data=not args.changed_only)


if __name__ == "__main__":
    main()

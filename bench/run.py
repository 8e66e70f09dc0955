"""``make bench``: the SPEC §7 figures for one demo scale, measured in one run.

Usage: ``python -m bench.run [--scale small|large ...] [--clients 50] [--seconds 5]``.
For each scale, in a scratch folder (never ``var/`` or ``out/``):

1. ``arshjul demo --scale S``, timed, in its own process;
2. the pipeline of ``arshjul run`` as plain calls in this process (:mod:`bench.plain`): import
   throughput per kind, and the wall time of every step, which is where the time goes;
3. Prefect's fixed cost: an empty flow in a fresh process, with a fresh and a warm PREFECT_HOME;
4. ``arshjul run --approve --data DIR``, the whole cycle with every document in every format,
   as a person starts it (ephemeral Prefect), with the peak RSS of each process of its tree;
5. one unit's compile step with its roll-ups, ``arshjul compile --year Y --unit ID``, the
   same as plain calls, and the same three times triggered as a coordinator does on a region's
   server (``prefect deployment run`` against ``arshjul serve``, :mod:`bench.servers`);
   then the deviations import on SQLite and on a throwaway PostgreSQL (when this machine has
   one), each with the database's own ceiling for the same rows (:mod:`bench.imports`);
6. ``arshjul calendar serve`` with concurrent keep-alive clients asking for the region's feed.

Prints Markdown tables for BENCHMARKS.md; with several scales (or a previous run's results kept
in the temp folder) also how the cost grows from ``small`` to ``large``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from arshjul.clock import STOCKHOLM
from arshjul.models import OrgLevel
from arshjul.org import OrgTree
from arshjul.workspace import Workspace, open_workspace
from bench import feeds, formats, imports, plain, servers
from bench.measure import TreeRun, clean_env, run_tree, script, self_peak_mib, timed

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=STOCKHOLM)
YEAR = 2025
#: where each scale's figures are kept between ``make bench``'s two invocations
RESULTS = Path(tempfile.gettempdir()) / "arshjul-bench-results"

TARGETS = {
    "import_deviations_rows_s": 200_000,
    "cycle_seconds": 60.0,
    "cycle_peak_mib": 1024.0,
    "prefect_ratio": 1.2,
    "unit_rerun_seconds": 3.0,
    "feed_p95_ms": 20.0,
}


@dataclass
class Figures:
    scale: str
    demo_seconds: float = 0.0
    demo_peak_mib: float = 0.0
    input_rows: dict[str, int] = field(default_factory=dict)
    #: plain pipeline: label -> seconds (imports per kind, then each step)
    steps: dict[str, float] = field(default_factory=dict)
    plain_seconds: float = 0.0
    plain_peak_mib: float = 0.0
    noop_cold_seconds: float = 0.0
    noop_warm_seconds: float = 0.0
    cycle_seconds: float = 0.0
    #: (process, peak MiB) of every process of the ``arshjul run`` tree
    cycle_processes: list[tuple[str, float]] = field(default_factory=list)
    cycle_tree_peak_mib: float = 0.0
    cycle_peak_mib: float = 0.0
    files_by_suffix: dict[str, int] = field(default_factory=dict)
    units: int = 0
    unit_id: str = ""
    unit_rerun_seconds: float = 0.0
    unit_rerun_peak_mib: float = 0.0
    unit_plain_seconds: float = 0.0
    #: the rerun triggered on ``arshjul serve``, each of three runs: seconds from the flow
    #: run's creation to its Completed state
    unit_served_seconds: list[float] = field(default_factory=list)
    #: the deviations import and each database's ceiling for its rows (bench.imports); the
    #: PostgreSQL rows only if a server could be started
    imports: list[imports.Timing] = field(default_factory=list)
    feed: dict[str, float] = field(default_factory=dict)
    #: hand-written formats against their libraries on the run's output (bench.formats)
    formats: list[formats.Row] = field(default_factory=list)

    @property
    def prefect_ratio(self) -> float:
        return self.cycle_seconds / self.plain_seconds

    def import_timing(self, what: str) -> imports.Timing | None:
        return next((t for t in self.imports if t.what == what), None)

    @property
    def served_rerun_seconds(self) -> float:
        """The median of the runs: what a coordinator waits, typically."""
        return statistics.median(self.unit_served_seconds or [0.0])

    def import_rate(self, kind: str) -> float:
        return self.input_rows[kind] / self.steps[f"import {kind}"]


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def arshjul_env(folder: Path, name: str) -> dict[str, str]:
    """A clean environment for the arshjul script working on ``folder/name.sqlite`` and
    ``folder/name-out``, with the benchmark's clock and its own Prefect home."""
    return clean_env(
        ARSHJUL_HOME=str(folder),
        ARSHJUL_NOW=NOW.strftime("%Y-%m-%dT%H:%M"),
        ARSHJUL_DATABASE_URL=f"sqlite:///{folder / name}.sqlite",
        ARSHJUL_OUT=str(folder / f"{name}-out"),
        ARSHJUL_PREFECT_SERVER_LOG=str(folder / "prefect-server.log"),
        PREFECT_HOME=str(folder / "prefect-home"),
    )


def rerun_unit(ws: Workspace) -> str:
    """The unit whose compile step is rerun: the middle one of the region's enheter."""
    with ws.engine.connect() as conn:
        units = OrgTree.load(conn).at_level(OrgLevel.UNIT)
    return units[len(units) // 2].id


def count_files(out: Path) -> dict[str, int]:
    return dict(sorted(Counter(p.suffix for p in out.rglob("*") if p.is_file()).items()))


def measure(scale: str, folder: Path, *, clients: int, seconds: float) -> Figures:
    figures = Figures(scale)
    data = folder / "data"

    progress(f"{scale}: arshjul demo")
    env = arshjul_env(folder, "cycle")
    demo = run_tree(
        [script(), "demo", "--scale", scale, "--out", str(data)], env=env, cwd=folder
    ).check()
    figures.demo_seconds, figures.demo_peak_mib = demo.seconds, demo.largest_mib

    progress(f"{scale}: the pipeline as plain calls")
    ws = open_workspace(
        database_url=f"sqlite:///{folder / 'plain.sqlite'}", out=folder / "plain-out"
    )
    steps = plain.Steps()
    figures.input_rows, figures.plain_seconds = timed(lambda: plain.run(ws, data, YEAR, NOW, steps))
    figures.steps = steps.seconds
    figures.plain_peak_mib = self_peak_mib()

    progress(f"{scale}: Prefect's fixed cost (empty flow, fresh then warm PREFECT_HOME)")
    noop = [sys.executable, "-m", "bench.prefect_noop"]
    repo = Path(__file__).resolve().parents[1]
    figures.noop_cold_seconds = run_tree(noop, env=env, cwd=repo).check().seconds
    figures.noop_warm_seconds = run_tree(noop, env=env, cwd=repo).check().seconds

    progress(f"{scale}: arshjul run --approve (Prefect, ephemeral server)")
    cycle = run_tree([script(), "run", "--approve", "--data", str(data)], env=env, cwd=folder)
    cycle.check()
    figures.cycle_seconds = cycle.seconds
    figures.cycle_processes = cycle.by_command()
    figures.cycle_tree_peak_mib = cycle.tree_peak_mib
    figures.cycle_peak_mib = cycle.largest_mib
    figures.files_by_suffix = count_files(folder / "cycle-out")

    progress(f"{scale}: hand-written formats against python-docx, xlsxwriter, icalendar")
    figures.formats = formats.measure(env["ARSHJUL_DATABASE_URL"], folder / "cycle-out", YEAR, NOW)

    with ws.engine.connect() as conn:
        figures.units = len(OrgTree.load(conn))
    unit = figures.unit_id = rerun_unit(ws)
    progress(f"{scale}: arshjul compile --unit {unit}")
    rerun: TreeRun = run_tree(
        [script(), "compile", "--year", str(YEAR), "--unit", unit], env=env, cwd=folder
    ).check()
    figures.unit_rerun_seconds, figures.unit_rerun_peak_mib = rerun.seconds, rerun.largest_mib
    _, figures.unit_plain_seconds = timed(
        lambda: plain.compile_step(ws, YEAR, unit, NOW, plain.Steps())
    )
    progress(f"{scale}: the same, three times, triggered on arshjul serve")
    served = servers.served_rerun(env, folder, {"year": str(YEAR), "unit": unit})
    figures.unit_served_seconds = [run.completed for run in served]

    progress(f"{scale}: deviations import and the databases' ceilings (SQLite, PostgreSQL)")
    (folder / "imports").mkdir()
    figures.imports = imports.measure(data, folder / "imports", NOW)

    progress(f"{scale}: {clients} clients on /calendar/region.ics for {seconds:g} s")
    load = feeds.measure(env, folder, path="/calendar/region.ics", clients=clients, seconds=seconds)
    figures.feed = {k: float(v) for k, v in asdict(load).items()} | {"per_second": load.per_second}
    return figures


# --- tables --------------------------------------------------------------------------------


def table(header: tuple[str, ...], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(measured: float, target: float, *, at_least: bool = False) -> str:
    met = measured >= target if at_least else measured <= target
    return "met" if met else "**not met**"


def targets_table(f: Figures) -> str:
    rate = f.import_rate("deviations")
    t = TARGETS
    ceiling = f.import_timing(imports.SQLITE_CEILING)
    on_postgres = f.import_timing(imports.POSTGRESQL_IMPORT)
    postgres_rate = on_postgres.rate if on_postgres else 0.0
    rows = [
        (
            "import throughput, deviations CSV",
            f"≥ {t['import_deviations_rows_s']:,} rows/s",
            f"{rate:,.0f} rows/s"
            + (f" (SQLite's own ceiling here: {ceiling.rate:,.0f})" if ceiling else ""),
            verdict(rate, t["import_deviations_rows_s"], at_least=True),
        ),
        (
            "the same on PostgreSQL (COPY)",
            f"≥ {t['import_deviations_rows_s']:,} rows/s",
            f"{postgres_rate:,.0f} rows/s" if on_postgres else "no PostgreSQL here",
            verdict(postgres_rate, t["import_deviations_rows_s"], at_least=True),
        ),
        (
            "whole cycle, all documents in all formats",
            f"≤ {t['cycle_seconds']:.0f} s wall",
            f"{f.cycle_seconds:.1f} s",
            verdict(f.cycle_seconds, t["cycle_seconds"]),
        ),
        (
            "peak memory of that run (largest process)",
            "≤ 1 GiB RSS",
            f"{f.cycle_peak_mib:,.0f} MiB (tree, PSS: {f.cycle_tree_peak_mib:,.0f} MiB)",
            verdict(f.cycle_peak_mib, t["cycle_peak_mib"]),
        ),
        (
            "Prefect overhead (run ÷ plain calls)",
            f"≤ {t['prefect_ratio']}×",
            f"{f.prefect_ratio:.2f}× ({f.cycle_seconds:.1f} s ÷ {f.plain_seconds:.1f} s)",
            verdict(f.prefect_ratio, t["prefect_ratio"]),
        ),
        (
            "rerun of one unit's compile step, with roll-ups",
            f"≤ {t['unit_rerun_seconds']:.0f} s",
            f"{f.unit_rerun_seconds:.2f} s (plain calls {f.unit_plain_seconds:.2f} s)",
            verdict(f.unit_rerun_seconds, t["unit_rerun_seconds"]),
        ),
        (
            "the same triggered on `arshjul serve` (median)",
            f"≤ {t['unit_rerun_seconds']:.0f} s",
            f"{f.served_rerun_seconds:.2f} s (runs: "
            + ", ".join(f"{s:.2f}" for s in f.unit_served_seconds)
            + " s)",
            verdict(f.served_rerun_seconds, t["unit_rerun_seconds"]),
        ),
        (
            f"one calendar feed, {f.feed['clients']:.0f} concurrent clients",
            f"≤ {t['feed_p95_ms']:.0f} ms p95",
            f"p50 {f.feed['p50']:.1f} ms, p95 {f.feed['p95']:.1f} ms",
            verdict(f.feed["p95"], t["feed_p95_ms"]),
        ),
    ]
    return table(("figure", "target", f"measured ({f.scale})", ""), rows)


def detail_tables(f: Figures) -> str:
    parts = [f"### Scale `{f.scale}`: {f.units:,} units", ""]
    parts.append(targets_table(f))
    per_kind = [
        (kind, f"{rows:,}", f"{f.steps[f'import {kind}']:.2f}", f"{f.import_rate(kind):,.0f}")
        for kind, rows in f.input_rows.items()
    ]
    parts += ["", table(("import (plain call)", "rows", "s", "rows/s"), per_kind)]
    parts += ["", imports.table(f.imports)]
    steps = [
        (label, f"{s:.2f}", f"{100 * s / f.plain_seconds:.0f} %") for label, s in f.steps.items()
    ]
    steps.append(("**all (plain calls, one process)**", f"{f.plain_seconds:.2f}", "100 %"))
    parts += ["", table(("step (plain calls)", "s", "share"), steps)]
    runs = [
        ("arshjul demo", f"{f.demo_seconds:.1f}", f"{f.demo_peak_mib:,.0f}"),
        ("plain calls, this process", f"{f.plain_seconds:.1f}", f"{f.plain_peak_mib:,.0f}"),
        ("empty Prefect flow, fresh PREFECT_HOME", f"{f.noop_cold_seconds:.1f}", ""),
        ("empty Prefect flow, warm PREFECT_HOME", f"{f.noop_warm_seconds:.1f}", ""),
        (
            "arshjul run --approve (whole tree)",
            f"{f.cycle_seconds:.1f}",
            f"{f.cycle_peak_mib:,.0f} (tree PSS {f.cycle_tree_peak_mib:,.0f})",
        ),
        *((f"  process: `{name}`", "", f"{mib:,.0f}") for name, mib in f.cycle_processes),
        (
            f"arshjul compile --unit {f.unit_id}",
            f"{f.unit_rerun_seconds:.2f}",
            f"{f.unit_rerun_peak_mib:,.0f}",
        ),
        ("the same step as plain calls", f"{f.unit_plain_seconds:.2f}", ""),
    ]
    parts += ["", table(("run", "wall s", "peak RSS MiB"), runs)]
    files = ", ".join(f"{n:,} {suffix or '(none)'}" for suffix, n in f.files_by_suffix.items())
    feed = f.feed
    parts += [
        "",
        f"Files written by the run: {files}.",
        "",
        f"Feed: {feed['requests']:,.0f} requests in {feed['seconds']:.1f} s "
        f"({feed['per_second']:,.0f}/s) from {feed['clients']:.0f} keep-alive clients, "
        f"{feed['feed_bytes']:,.0f} bytes each; p50 {feed['p50']:.1f} ms, p95 {feed['p95']:.1f}"
        f" ms, p99 {feed['p99']:.1f} ms, worst {feed['worst']:.1f} ms; {feed['errors']:.0f}"
        " answers other than 200.",
        "",
        formats.table(f.formats),
    ]
    return "\n".join(parts)


def import_seconds(f: Figures) -> float:
    return sum(s for label, s in f.steps.items() if label.startswith("import "))


def growth_table(small: Figures, large: Figures) -> str:
    def row(label: str, a: float, b: float, fmt: str) -> tuple[str, str, str, str]:
        return (label, format(a, fmt), format(b, fmt), f"{b / a:.1f}×" if a else "")

    rows = [
        row("units", small.units, large.units, ","),
        row("input rows", sum(small.input_rows.values()), sum(large.input_rows.values()), ","),
        row("demo generation, s", small.demo_seconds, large.demo_seconds, ".1f"),
        row("imports, s", import_seconds(small), import_seconds(large), ".1f"),
        row("plain calls, whole pipeline, s", small.plain_seconds, large.plain_seconds, ".1f"),
        row("arshjul run, s", small.cycle_seconds, large.cycle_seconds, ".1f"),
        row(
            "Prefect overhead, s",
            small.cycle_seconds - small.plain_seconds,
            large.cycle_seconds - large.plain_seconds,
            ".1f",
        ),
        row("peak RSS, largest process, MiB", small.cycle_peak_mib, large.cycle_peak_mib, ",.0f"),
        row("one unit's rerun, s", small.unit_rerun_seconds, large.unit_rerun_seconds, ".2f"),
        row("feed p95, ms", small.feed["p95"], large.feed["p95"], ".1f"),
    ]
    return "### `small` against `large`\n\n" + table(("", "small", "large", "growth"), rows)


def load_figures(path: Path) -> Figures:
    raw = json.loads(path.read_text("utf-8"))
    raw["cycle_processes"] = [tuple(p) for p in raw["cycle_processes"]]
    raw["formats"] = [formats.Row(**r) for r in raw.get("formats", [])]
    raw["imports"] = [imports.Timing(**t) for t in raw.get("imports", [])]
    raw.pop("postgres_deviations", None)  # kept by runs before bench.imports
    return Figures(**raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=("small", "large"), nargs="+", default=["small"])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0, help="of feed load")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    for scale in args.scale:
        if args.keep:
            folder = args.keep / scale
            folder.mkdir(parents=True, exist_ok=False)
            figures = measure(scale, folder, clients=args.clients, seconds=args.seconds)
        else:
            with tempfile.TemporaryDirectory(prefix=f"arshjul-bench-{scale}-") as tmp:
                figures = measure(scale, Path(tmp), clients=args.clients, seconds=args.seconds)
        (RESULTS / f"{scale}.json").write_text(json.dumps(asdict(figures), indent=1), "utf-8")
        print("\n" + detail_tables(figures) + "\n", flush=True)
    if "large" in args.scale and (RESULTS / "small.json").is_file():
        small, large = (load_figures(RESULTS / f"{s}.json") for s in ("small", "large"))
        print(growth_table(small, large) + "\n")


if __name__ == "__main__":
    main()

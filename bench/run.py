"""``make bench``: import throughput and the compile step on the demo region, per scale.

Usage: ``python -m bench.run [--scale small|large] [--keep DIR]``. Prints a Markdown table
for BENCHMARKS.md. Works on a scratch SQLite database; never touches ``var/``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from arshjul import compilation
from arshjul.clock import STOCKHOLM
from arshjul.config import load_config
from arshjul.db import make_engine, migrate
from arshjul.demo import write_demo
from arshjul.documents import provenance
from arshjul.importers import import_file
from arshjul.org import OrgTree

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=STOCKHOLM)
T = TypeVar("T")


def timed(label: str, rows: list[tuple[str, str]], fn: Callable[[], T], count: int = 0) -> T:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    rate = f"{count / seconds:,.0f} rows/s" if count else ""
    rows.append((label, f"{seconds:.2f} s {rate}".strip()))
    return result


def run(scale: str, folder: Path) -> list[tuple[str, str]]:
    config = load_config()
    rows: list[tuple[str, str]] = []
    files = timed(
        f"demo --scale {scale}",
        rows,
        lambda: write_demo(folder, config, today=NOW.date(), scale=scale),
    )  # type: ignore[arg-type]
    engine = make_engine(f"sqlite:///{folder / 'bench.sqlite'}")
    migrate(engine)
    for kind, path in files.by_kind().items():
        lines = sum(1 for _ in path.open("rb")) - 1
        with engine.begin() as conn:
            timed(
                f"import {kind} ({lines:,} rows)",
                rows,
                lambda conn=conn, kind=kind, path=path: import_file(
                    conn, config, kind, path, now=NOW
                ),
                lines,
            )
    with engine.connect() as conn:
        tree = OrgTree.load(conn)
        own = timed("compile: count (SQL)", rows, lambda: compilation.count_own(conn, 2025))
        totals = timed("compile: roll up", rows, lambda: compilation.roll_up(tree, own))
        origin = provenance(conn, ("deviations",), now=NOW, run_id="bench")
    out = folder / "out"
    written = timed(
        f"compile: write {len(tree):,} HTML documents",
        rows,
        lambda: compilation.write_documents(
            out, config, tree, 2025, totals, list(tree.units), origin
        ),
    )
    assert len(written) == len(tree)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak RSS of this process", f"{peak:,.0f} MiB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=("small", "large"), default="small")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arshjul-bench-") as tmp:
        rows = run(args.scale, Path(tmp))
    print(f"\n| {args.scale} | measured |\n|---|---|")
    for label, figure in rows:
        print(f"| {label} | {figure} |")


if __name__ == "__main__":
    main()

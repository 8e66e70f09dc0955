"""Where the pipeline's time goes, function by function: cProfile over the plain calls.

Usage: ``python -m bench.profile [--scale small|large] [--top 30]``. Writes the demo region
into a scratch folder, runs :func:`bench.plain.run` under cProfile and prints the functions
with the most time of their own, and those with the most time including what they call.
(cProfile slows Python code about twofold; the shares, not the seconds, are the point.)
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
from pathlib import Path

from arshjul.config import load_config
from arshjul.demo import write_demo
from arshjul.workspace import open_workspace
from bench import plain
from bench.run import NOW, YEAR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=("small", "large"), default="small")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arshjul-profile-") as tmp:
        folder = Path(tmp)
        write_demo(folder / "data", load_config(), today=NOW.date(), scale=args.scale)
        ws = open_workspace(database_url=f"sqlite:///{folder / 'db.sqlite'}", out=folder / "out")
        profiler = cProfile.Profile()
        profiler.runcall(plain.run, ws, folder / "data", YEAR, NOW, plain.Steps())
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()

"""The statistics of the analysis, pure functions: trends against earlier years (Poisson),
control charts (SPC), Pareto, the risk matrix and the peers a unit is compared with."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from math import sqrt
from typing import Any

from arshjul.config import Codes
from arshjul.org import OrgTree

#: |observed - expected| / sqrt(expected) above this is a significant change (Poisson)
Z_SIGNAL = 3.0
#: a yearly total must reach this (this year or the baseline) before its trend is judged
MIN_TREND_COUNT = 10
#: SPC: this many consecutive points on one side of the centre line is a signal
RUN_LENGTH = 8
SIGMA_LIMIT = 3.0
#: Pareto: the vital few are the categories that together reach this share
PARETO_CUTOFF = 0.8
MIN_PEERS = 3


def poisson_z(observed: float, expected: float) -> float:
    # expected floored at 1: a rise from nothing is measurable without dividing by zero
    return (observed - expected) / sqrt(max(expected, 1.0))


@dataclass(frozen=True)
class Trend:
    """A yearly count against the mean of the previous years that have data."""

    key: str
    label: str
    counts: tuple[int | None, ...]  # oldest first, None for a year without data
    baseline: float | None
    z: float | None
    significant: bool

    @property
    def current(self) -> int:
        return self.counts[-1] or 0

    @property
    def change(self) -> float | None:
        return (self.current - self.baseline) / self.baseline if self.baseline else None

    @property
    def rising(self) -> bool:
        return self.significant and (self.z or 0.0) > 0


def trend(
    key: str, label: str, counts: Sequence[int | None], min_count: int = MIN_TREND_COUNT
) -> Trend:
    """Significant when |z| > ``Z_SIGNAL`` and this year or the baseline reaches
    ``min_count`` (small counts swing widely by chance)."""
    previous = [c for c in counts[:-1] if c is not None]
    current = counts[-1] or 0
    if not previous:
        return Trend(key, label, tuple(counts), None, None, False)
    baseline = sum(previous) / len(previous)
    z = poisson_z(current, baseline)
    large_enough = max(current, baseline) >= min_count
    return Trend(key, label, tuple(counts), baseline, z, large_enough and abs(z) > Z_SIGNAL)


@dataclass(frozen=True)
class ControlChart:
    """An SPC u-chart; with every exposure 1 it is a c-chart of the counts."""

    values: tuple[float, ...]
    centre: float
    upper: tuple[float, ...]
    lower: tuple[float, ...]
    beyond: tuple[int, ...]  # indexes of points outside the limits
    runs: tuple[tuple[int, int], ...]  # first and last index of each long run on one side


def control_chart(counts: Sequence[int], exposure: Sequence[float] | None = None) -> ControlChart:
    """Centre line ū = Σc/Σn, limits ū ± 3·√(ū/nᵢ) (the lower one not below 0), and the two
    signals: a point beyond the limits, ``RUN_LENGTH`` points in a row on one side."""
    sizes = [1.0] * len(counts) if exposure is None else list(exposure)
    if len(sizes) != len(counts) or any(n <= 0 for n in sizes):
        raise ValueError("every point needs a positive exposure")
    centre = sum(counts) / sum(sizes) if sizes else 0.0
    values = tuple(c / n for c, n in zip(counts, sizes, strict=True))
    spread = [SIGMA_LIMIT * sqrt(centre / n) for n in sizes]
    upper = tuple(centre + s for s in spread)
    lower = tuple(max(0.0, centre - s) for s in spread)
    beyond = tuple(
        i
        for i, (v, lo, hi) in enumerate(zip(values, lower, upper, strict=True))
        if not lo <= v <= hi
    )
    return ControlChart(values, centre, upper, lower, beyond, long_runs(values, centre))


def long_runs(values: Sequence[float], centre: float) -> tuple[tuple[int, int], ...]:
    """Runs of at least ``RUN_LENGTH`` points strictly on one side of ``centre``; a point on
    the line ends a run (the cautious reading: it is not evidence of a shift)."""
    runs = []
    start, side = 0, 0
    for i, v in enumerate([*values, centre]):  # the sentinel on the line closes the last run
        s = (v > centre) - (v < centre)
        if s != side or s == 0:
            if side and i - start >= RUN_LENGTH:
                runs.append((start, i - 1))
            start, side = i, s
    return tuple(runs)


@dataclass(frozen=True)
class ParetoRow:
    name: str
    count: int
    share: float
    cumulative: float
    vital: bool


def pareto(counts: Counter[str], cutoff: float = PARETO_CUTOFF) -> list[ParetoRow]:
    """Categories largest first; the vital few are those needed to reach ``cutoff``."""
    total = sum(counts.values())
    rows, before = [], 0
    for name, n in sorted(((k, n) for k, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0])):
        rows.append(ParetoRow(name, n, n / total, (before + n) / total, before / total < cutoff))
        before += n
    return rows


@dataclass(frozen=True)
class RiskCell:
    consequence: int
    probability: int
    count: int
    score: int
    band: str


def risk_matrix(counts: Counter[tuple[Any, Any]], codes: Codes) -> list[list[RiskCell]]:
    """Rows by probability, highest first; columns by consequence, lowest first."""
    return [
        [
            RiskCell(c, p, counts.get((c, p), 0), c * p, codes.risk_band(c * p))
            for c in sorted(codes.consequence)
        ]
        for p in sorted(codes.probability, reverse=True)
    ]


def peer_medians(tree: OrgTree, counts: dict[str, int]) -> dict[str, tuple[float, int] | None]:
    """Each unit's peers' median count and how many peers: its siblings on the same level, or
    every other unit on its level when it has fewer than ``MIN_PEERS`` siblings."""
    by_level: dict[str, list[str]] = {}
    for u in tree.units.values():
        by_level.setdefault(u.level, []).append(u.id)
    out: dict[str, tuple[float, int] | None] = {}
    for unit in tree.units.values():
        if unit.parent_id is None:
            out[unit.id] = None
            continue
        siblings = [u.id for u in tree.children(unit.parent_id) if u.level == unit.level]
        peers = [u for u in siblings if u != unit.id]
        if len(peers) < MIN_PEERS:
            peers = [u for u in by_level[unit.level] if u != unit.id]
        enough = len(peers) >= MIN_PEERS
        out[unit.id] = (
            (statistics.median(counts.get(u, 0) for u in peers), len(peers)) if enough else None
        )
    return out

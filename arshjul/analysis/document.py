"""The analysis document of each unit: its findings, trends, control chart, Pareto and risk
matrix (``analysis.html.j2``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arshjul.analysis.findings import ANSWER_SHARE_TARGET, SEVERITY_SV, Analysis, month_sv
from arshjul.analysis.stats import PARETO_CUTOFF, ControlChart
from arshjul.config import Config
from arshjul.documents import Provenance, write_unit_documents
from arshjul.figures import TRAINING_ROLES_SV
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period


@dataclass(frozen=True)
class ChartDrawing:
    """Geometry of a control chart; the template draws it as SVG."""

    width: int
    height: int
    pad: int
    line: str  # SVG polyline points of the values
    upper: str
    lower: str
    centre_y: float
    beyond: tuple[tuple[float, float], ...]  # points outside the limits
    in_runs: tuple[tuple[float, float], ...]  # points in a long run
    ticks: tuple[tuple[float, str], ...]  # x and label at each January
    top: float


def draw_control_chart(
    chart: ControlChart,
    months: Sequence[tuple[int, int]],
    *,
    width: int = 640,
    height: int = 200,
    pad: int = 28,
) -> ChartDrawing:
    top = max([*chart.values, *chart.upper, 1.0])
    step = (width - 2 * pad) / max(len(chart.values) - 1, 1)
    plot_h = height - 2 * pad

    def xy(i: int, v: float) -> tuple[float, float]:
        return round(pad + i * step, 1), round(pad + plot_h * (1 - v / top), 1)

    def polyline(values: Sequence[float]) -> str:
        return " ".join("{},{}".format(*xy(i, v)) for i, v in enumerate(values))

    in_runs = sorted({i for s, e in chart.runs for i in range(s, e + 1)})
    return ChartDrawing(
        width=width,
        height=height,
        pad=pad,
        line=polyline(chart.values),
        upper=polyline(chart.upper),
        lower=polyline(chart.lower),
        centre_y=xy(0, chart.centre)[1],
        beyond=tuple(xy(i, chart.values[i]) for i in chart.beyond),
        in_runs=tuple(xy(i, chart.values[i]) for i in in_runs),
        ticks=tuple((xy(i, 0)[0], str(y)) for i, (y, m) in enumerate(months) if m == 1),
        top=top,
    )


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    period: Period,
    analyses: dict[str, Analysis],
    unit_ids: Iterable[str],
    origin: Provenance,
) -> list[Path]:
    """The analysis of each unit in ``unit_ids`` as HTML; returns the files written."""

    def context(unit: Unit) -> dict[str, Any]:
        a = analyses[unit.id]
        return dict(
            region=config.settings.region,
            year=period.year,
            a=a,
            findings=sorted(a.findings, key=lambda f: (-f.severity, f.kind, f.key)),
            severity_sv=SEVERITY_SV,
            drawing=draw_control_chart(a.chart, a.months) if a.chart else None,
            months=[month_sv(m) for m in a.months],
            children=[(c, analyses[c.id]) for c in tree.children(unit.id)],
            answer_target=ANSWER_SHARE_TARGET,
            pareto_cutoff=PARETO_CUTOFF,
            training_roles=TRAINING_ROLES_SV,
            origin=origin,
        )

    return write_unit_documents(
        out, period, tree, unit_ids, "analys.html", "analysis.html.j2", context
    )

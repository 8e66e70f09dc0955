"""Charts for the documents, drawn as data (no plotting library, no fonts needed).

Each function returns a chart's geometry; the templates (``macros.html.j2``) draw it as SVG
with a visible title, axes with their units, a legend, and the figures in a ``<desc>`` for
those who cannot see it. Every chart has the same frame: the title on the first line, the
legend on the second, the y axis's unit above the axis, the x axis's labels and unit under it.
Colours keep 3:1 against white for marks and 4.5:1 for text (WCAG 2.1 AA).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from arshjul.render import number, percent

WIDTH = 640
HEIGHT = 250
LEFT, RIGHT = 64, 24  # room for the y axis's labels, and the right end
RIGHT_AXIS = 52  # the right end with a second axis's labels
TOP, BOTTOM = 66, 44  # title, legend and the y axis's unit; x labels and the x axis's unit
LEGEND_Y = 38
#: marks: bars, the value line, the limits, signals (3:1 or more against white)
BAR = "#2f6f9f"
LINE = "#1a1a1a"
LIMIT = "#b03030"
RUN = "#b35c00"
CUMULATIVE = "#b35c00"
#: risk bands from lowest to highest: light fills under dark text (the band is also written)
BAND_FILLS = ("#cfe8cf", "#fff1a8", "#ffc98a", "#f5a3a3")


@dataclass(frozen=True)
class Tick:
    at: float  # pixels along the axis
    label: str


@dataclass(frozen=True)
class Legend:
    #: ``bar`` (a square), ``line``, ``dashed`` or ``dot``
    kind: str
    colour: str
    label: str
    x: float


@dataclass(frozen=True)
class Frame:
    """What every chart has: size, plot area, axes, legend (the texts come from the template
    when the chart's function does not know them)."""

    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    legend: tuple[Legend, ...] = ()
    #: a second y axis on the right (the Pareto chart's cumulative share)
    y2_ticks: tuple[Tick, ...] = ()


def nice_top(value: float, steps: int = 5) -> tuple[float, float]:
    """An axis's top and step: the step 1, 2, 2.5 or 5 × 10ⁿ that reaches ``value`` in at most
    ``steps`` steps (5 → (5, 1); 37 → (40, 10); 0 → (1, 0.2))."""
    if value <= 0:
        return 1.0, 0.2
    raw = value / steps
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * math.ceil(value / step - 1e-9), step


def _decimals(step: float) -> int:
    """Decimals enough to tell the ticks apart: 0 for 5, 1 for 0.5, 2 for 0.25."""
    for d in range(4):
        if abs(step * 10**d - round(step * 10**d)) < 1e-9:
            return d
    return 3


def y_ticks(top: float, step: float, bottom: float, height: float) -> tuple[Tick, ...]:
    count = round(top / step)
    decimals = _decimals(step)
    return tuple(
        Tick(round(bottom - height * i / count, 1), number(step * i, decimals))
        for i in range(count + 1)
    )


def legend(items: Sequence[tuple[str, str, str]], x: float = LEFT) -> tuple[Legend, ...]:
    """(kind, colour, label) in a row; a label's width estimated at 6.2 px a character."""
    out = []
    for kind, colour, label in items:
        out.append(Legend(kind, colour, label, x))
        x += 28 + 6.2 * len(label)
    return tuple(out)


def _frame(
    top: float,
    step: float,
    labels: Sequence[tuple[float, str]],
    items: Sequence[tuple[str, str, str]],
    right: float = RIGHT,
    **extra: tuple[Tick, ...],
) -> Frame:
    bottom = HEIGHT - BOTTOM
    return Frame(
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        WIDTH - right,
        bottom,
        y_ticks(top, step, bottom, bottom - TOP),
        tuple(Tick(round(x, 1), label) for x, label in labels),
        legend(items),
        **extra,
    )


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: missing, drawn as a gap (never as a zero)
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    """Bars of counts from 0; the template names the chart, its unit and the legend."""

    frame: Frame
    bars: tuple[Bar, ...]
    colour: str = BAR

    @property
    def figures(self) -> str:
        """The chart's data in words, for its text alternative."""
        return (
            "; ".join(
                f"{b.label}: {'saknas' if b.value is None else number(b.value)}" for b in self.bars
            )
            + "."
        )


def _bars(
    values: Sequence[tuple[str, float | None]], top: float, right: float = RIGHT
) -> tuple[Bar, ...]:
    slot = (WIDTH - right - LEFT) / max(len(values), 1)
    plot_h = HEIGHT - BOTTOM - TOP
    return tuple(
        Bar(
            label=label,
            value=value,
            x=round(LEFT + i * slot + slot * 0.15, 1),
            y=round(TOP + plot_h * (1 - (value or 0) / top), 1),
            width=round(slot * 0.7, 1),
            height=round(plot_h * (value or 0) / top, 1),
        )
        for i, (label, value) in enumerate(values)
    )


def bar_chart(values: Sequence[tuple[str, float | None]]) -> BarChart:
    """Bars of ``values``; a None is a missing value, a gap with the word "saknas"."""
    top, step = nice_top(max((v for _, v in values if v is not None), default=0))
    bars = _bars(values, top)
    labels = [(b.x + b.width / 2, b.label) for b in bars]
    return BarChart(_frame(top, step, labels, []), bars)


@dataclass(frozen=True)
class ControlChartDrawing:
    """An SPC chart: the values, the centre line, the limits (±3σ) and the two signals."""

    frame: Frame
    line: str  # SVG polyline points of the values
    points: tuple[tuple[float, float, str], ...]  # x, y, "label: value" of every month
    upper: str
    lower: str
    centre_y: float
    beyond: tuple[tuple[float, float], ...]  # points outside the limits
    in_runs: tuple[tuple[float, float], ...]  # points in a long run


def control_chart(
    values: Sequence[float],
    centre: float,
    upper: Sequence[float],
    lower: Sequence[float],
    beyond: Sequence[int],
    runs: Sequence[tuple[int, int]],
    months: Sequence[tuple[int, int]],
    month_names: Sequence[str],
    decimals: int,
) -> ControlChartDrawing:
    """``months`` (year, month) of the values, named ``month_names``; the x axis is labelled
    at each January and at the first month."""
    top, step = nice_top(max([*values, *upper, 0.0]))
    plot_w = WIDTH - RIGHT - LEFT
    gap = plot_w / max(len(values) - 1, 1)
    plot_h = HEIGHT - BOTTOM - TOP

    def xy(i: int, v: float) -> tuple[float, float]:
        return round(LEFT + i * gap, 1), round(TOP + plot_h * (1 - v / top), 1)

    def polyline(series: Sequence[float]) -> str:
        return " ".join("{},{}".format(*xy(i, v)) for i, v in enumerate(series))

    in_runs = sorted({i for s, e in runs for i in range(s, e + 1)} - set(beyond))
    labels = [
        (xy(i, 0)[0], f"{m_name}")
        for i, ((_, m), m_name) in enumerate(zip(months, month_names, strict=True))
        if m == 1 or i == 0
    ]
    items = [
        ("line", LINE, "värde per månad"),
        ("line", BAR, "medellinje"),
        ("dashed", LIMIT, "styrgränser"),  # ±3σ: the text under the chart says it
        ("dot", LIMIT, "utanför gränserna"),
        ("dot", RUN, "lång serie"),
    ]
    return ControlChartDrawing(
        frame=_frame(top, step, labels, items),
        line=polyline(values),
        points=tuple(
            (*xy(i, v), f"{name}: {number(v, decimals)}")
            for i, (v, name) in enumerate(zip(values, month_names, strict=True))
        ),
        upper=polyline(upper),
        lower=polyline(lower),
        centre_y=xy(0, centre)[1],
        beyond=tuple(xy(i, values[i]) for i in beyond),
        in_runs=tuple(xy(i, values[i]) for i in in_runs),
    )


@dataclass(frozen=True)
class ParetoChart:
    """Categories largest first as bars (left axis, counts), their cumulative share as a line
    (right axis, 0–100 %) and the cut-off of the vital few as a dashed line."""

    frame: Frame
    bars: tuple[Bar, ...]
    cumulative: str  # polyline points
    cutoff_y: float
    names: tuple[str, ...]

    @property
    def figures(self) -> str:
        return "; ".join(f"{i}. {b.label}: {number(b.value)}" for i, b in enumerate(self.bars, 1))


def pareto_chart(rows: Sequence[tuple[str, int, float]], cutoff: float) -> ParetoChart:
    """``rows``: (category, count, cumulative share), largest first. The x axis numbers the
    categories in that order (names are too long to stand under a bar; the table beside the
    chart and its text alternative name them)."""
    top, step = nice_top(max((n for _, n, _ in rows), default=0))
    bars = _bars([(name, n) for name, n, _ in rows], top, RIGHT_AXIS)
    plot_h = HEIGHT - BOTTOM - TOP
    bottom = HEIGHT - BOTTOM

    def share_y(share: float) -> float:
        return round(bottom - plot_h * share, 1)

    middles = [b.x + b.width / 2 for b in bars]
    line = " ".join(f"{x:.1f},{share_y(c)}" for x, (_, _, c) in zip(middles, rows, strict=True))
    right_ticks = tuple(Tick(share_y(s / 100), percent(s / 100, 0)) for s in range(0, 101, 20))
    items = [
        ("bar", BAR, "antal avvikelser"),
        ("line", CUMULATIVE, "kumulativ andel"),
        ("dashed", LINE, f"{percent(cutoff, 0)} (de få viktiga)"),
    ]
    labels = [(b.x + b.width / 2, str(i)) for i, b in enumerate(bars, 1)]
    return ParetoChart(
        _frame(top, step, labels, items, RIGHT_AXIS, y2_ticks=right_ticks),
        bars,
        line,
        share_y(cutoff),
        tuple(name for name, _, _ in rows),
    )


@dataclass(frozen=True)
class RiskBand:
    name: str
    fill: str
    #: the lowest and highest risk score (consequence × probability) in the band
    low: int
    high: int


def risk_bands(bands: Mapping[int, str]) -> tuple[RiskBand, ...]:
    """The bands (``codes.yaml``: upper bound -> name) lowest first, each with its fill from
    light green to light red; more than four bands share the four fills in order."""
    bounds = sorted(bands)
    last = len(BAND_FILLS) - 1
    return tuple(
        RiskBand(
            bands[bound],
            BAND_FILLS[round(i * last / max(len(bounds) - 1, 1))],
            bounds[i - 1] + 1 if i else 1,
            bound,
        )
        for i, bound in enumerate(bounds)
    )

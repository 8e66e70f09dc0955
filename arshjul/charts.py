"""Small SVG charts for the documents, drawn as data (no plotting library, no fonts needed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    """Geometry of a bar chart; the template draws it as SVG."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    max_value: float
    baseline: float


def bar_chart(
    values: Sequence[tuple[str, float]], *, width: int = 600, height: int = 180, pad: int = 24
) -> BarChart:
    top = max((v for _, v in values), default=0) or 1
    slot = (width - 2 * pad) / max(len(values), 1)
    plot_h = height - 2 * pad
    bars = tuple(
        Bar(
            label=label,
            value=value,
            x=pad + i * slot + slot * 0.15,
            y=pad + plot_h * (1 - value / top),
            width=slot * 0.7,
            height=plot_h * value / top,
        )
        for i, (label, value) in enumerate(values)
    )
    return BarChart(width=width, height=height, bars=bars, max_value=top, baseline=pad + plot_h)

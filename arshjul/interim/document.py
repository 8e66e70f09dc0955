"""The deferred-care section of each unit (``interim.html.j2``): HTML, DOCX, its tables as CSV
and as one XLSX workbook for the controllers."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from arshjul.config import Config
from arshjul.documents import Provenance, write_unit_documents
from arshjul.interim.figures import CUR, GUARANTEE_DAYS, KINDS, LONG_WAIT_DAYS, PREV, Figures
from arshjul.interim.lines import (
    activities_of,
    capacity_line,
    coverage,
    coverage_note,
    measures_of,
    production_line,
    training_lines,
    wait_line,
    waiting_charts,
)
from arshjul.interim.summary import summary
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period

FILE_NAME = "uppskjuten-vard.html"


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    period: Period,
    totals: dict[str, Figures],
    unit_ids: Iterable[str],
    origin: Provenance,
) -> list[Path]:
    """The deferred-care section of each unit in ``unit_ids``: HTML, DOCX, its tables as CSV
    and as one XLSX workbook for the controllers; returns the HTML files written."""
    codes = config.codes
    below = config.settings.targets.suppress_below
    target = config.settings.targets.training_coverage

    def context(unit: Unit) -> dict[str, Any]:
        f = totals[unit.id]
        leaf = not tree.children(unit.id)
        activities = activities_of(f, codes.waiting_activities)
        measures = measures_of(f, codes.production_measures)
        charts = waiting_charts(f, period, below)

        def notes(g: Figures, is_leaf: bool, which: str = CUR) -> dict[str, str]:
            per = period if which == CUR else period.previous
            return {
                kind: coverage_note(tree, coverage(g, kind, which), per, kind, leaf=is_leaf)
                for kind in KINDS
            }

        def child_row(c: Unit) -> dict[str, Any]:
            g = totals[c.id]
            return dict(
                unit=c,
                wait=wait_line(g, c.name, activities_of(g, codes.waiting_activities), below),
                production=[production_line(g, m) for m in measures_of(g, measures)],
                capacity=capacity_line(g),
                training=training_lines(g, codes.training_courses, target),
                notes=notes(g, not tree.children(c.id)),
                states={k: coverage(g, k).state for k in KINDS},
            )

        return dict(
            region=config.settings.region,
            period=period,
            below=below,
            target=target,
            guarantee_days=GUARANTEE_DAYS,
            long_wait_days=LONG_WAIT_DAYS,
            waiting=[wait_line(f, a, [a], below) for a in activities],
            waiting_total=wait_line(f, "Totalt", activities, below),
            production=[production_line(f, m) for m in measures],
            capacity=capacity_line(f),
            training=training_lines(f, codes.training_courses, target),
            notes=notes(f, leaf),
            notes_before=notes(f, leaf, PREV),
            states={k: coverage(f, k).state for k in KINDS},
            waiting_chart=charts[0],
            over_90_chart=charts[1],
            changes=summary(tree, totals, unit, period, activities, measures, below),
            children=[child_row(c) for c in tree.children(unit.id)],
            origin=origin,
        )

    return write_unit_documents(
        out, period, tree, unit_ids, FILE_NAME, "interim.html.j2", context, xlsx=True
    )

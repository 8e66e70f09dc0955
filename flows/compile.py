"""Flow ``compile``: the year's sammanställning for every unit, rolled up to område and region."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import compilation, figures
from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year
from arshjul.documents import write_year_index
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.workspace import Workspace, open_workspace
from flows.calendars import publish_calendars
from flows.steps import cycle_provenance, exclusive, record_step, step_task, unwalked

log = logging.getLogger("arshjul")


@step_task
def count_figures(ws: Workspace, period: Period) -> tuple[OrgTree, dict[str, figures.Figures]]:
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        totals = figures.roll_up(tree, figures.count_own(conn, period.year))
    return tree, totals


@step_task
def write_compilations(
    ws: Workspace,
    tree: OrgTree,
    totals: dict[str, figures.Figures],
    period: Period,
    unit_ids: list[str],
    now: datetime,
) -> list[Path]:
    origin = cycle_provenance(ws, now)
    written = compilation.write_documents(ws.out, ws.config, tree, period, totals, unit_ids, origin)
    write_year_index(ws.out, tree, period, ws.config.settings.region.name)
    return written


@flow(name="compile", log_prints=False)
def compile_flow(
    year: int | None = None,
    unit: str | None = None,
    now: datetime | None = None,
    publish: bool = True,
) -> list[Path]:
    """Compile ``year`` (default: last full year) for every unit, or for ``unit`` and the
    units above it. ``publish``: update the calendars if a unit met its deadline (a rerun
    does not)."""
    began = wall_clock()  # this run's own start, for the step log
    as_of = now or began  # what the documents are about (a cycle gives every step its start)
    period = Period.full_year(year or default_data_year(as_of.date()))
    ws = open_workspace()
    tree, totals = count_figures(ws, period)
    unit_ids = tree.affected(unit)
    with exclusive(ws, "compile", period, [unit] if unit else unit_ids):
        written = write_compilations(ws, tree, unwalked(totals), period, unit_ids, as_of)
        newly_done = record_step(ws, "compile", period, unit_ids, began, wall_clock())
    if publish and newly_done:
        publish_calendars(now=now)
    log.info("compiled %s: %d documents for %d units", period, len(written), len(unit_ids))
    return written

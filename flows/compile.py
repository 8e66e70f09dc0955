"""Flow ``compile``: the year's sammanställning for every unit, rolled up to område and region."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import compilation
from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year
from arshjul.documents import write_year_index
from arshjul.org import OrgTree
from arshjul.workspace import Workspace, open_workspace
from flows.calendars import publish_calendars
from flows.steps import cycle_provenance, exclusive, record_step, step_task, unwalked

log = logging.getLogger("arshjul")


@step_task
def count_figures(ws: Workspace, year: int) -> tuple[OrgTree, dict[str, compilation.Figures]]:
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        totals = compilation.roll_up(tree, compilation.count_own(conn, year))
    return tree, totals


@step_task
def write_compilations(
    ws: Workspace,
    tree: OrgTree,
    totals: dict[str, compilation.Figures],
    year: int,
    unit_ids: list[str],
    now: datetime,
) -> list[Path]:
    origin = cycle_provenance(ws, now)
    written = compilation.write_documents(ws.out, ws.config, tree, year, totals, unit_ids, origin)
    write_year_index(ws.out, tree, year, ws.config.settings.region.name)
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
    started = now or wall_clock()
    year = year or default_data_year(started.date())
    ws = open_workspace()
    tree, totals = count_figures(ws, year)
    unit_ids = compilation.affected(tree, unit)
    with exclusive(ws, "compile", str(year), [unit] if unit else unit_ids):
        written = write_compilations(ws, tree, unwalked(totals), year, unit_ids, started)
        newly_done = record_step(ws, "compile", year, unit_ids, started, now or wall_clock())
    if publish and newly_done:
        publish_calendars(now=now)
    log.info("compiled %s: %d documents for %d units", year, len(written), len(unit_ids))
    return written

"""Flow ``analyse``: patterns, trends and risks for every unit, stored as findings."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from prefect import flow

from arshjul import analysis, compilation
from arshjul.clock import local
from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year
from arshjul.documents import write_year_index
from arshjul.org import OrgTree
from arshjul.workspace import Workspace, open_workspace
from flows.calendars import publish_calendars
from flows.runtime import run_id
from flows.steps import cycle_provenance, exclusive, record_step, step_task, unwalked

log = logging.getLogger("arshjul")


@step_task
def analyse_units(
    ws: Workspace, year: int, today: date
) -> tuple[OrgTree, dict[str, analysis.Analysis]]:
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        data = analysis.gather(conn, tree, year, today=today)
    return tree, analysis.analyse(data, tree, ws.config)


@step_task
def store_findings(
    ws: Workspace, analyses: dict[str, analysis.Analysis], year: int, unit_ids: list[str]
) -> int:
    findings = [f for u in unit_ids for f in analyses[u].findings]
    with ws.engine.begin() as conn:
        return analysis.store_findings(conn, year, unit_ids, findings, run_id())


@step_task
def write_analyses(
    ws: Workspace,
    tree: OrgTree,
    analyses: dict[str, analysis.Analysis],
    year: int,
    unit_ids: list[str],
    now: datetime,
) -> list[Path]:
    origin = cycle_provenance(ws, now)
    written = analysis.write_documents(ws.out, ws.config, tree, year, analyses, unit_ids, origin)
    write_year_index(ws.out, tree, year, ws.config.settings.region.name)
    return written


@flow(name="analyse", log_prints=False)
def analyse_flow(
    year: int | None = None,
    unit: str | None = None,
    now: datetime | None = None,
    publish: bool = True,
) -> list[Path]:
    """Analyse ``year`` (default: last full year) for every unit, or for ``unit`` and the
    units above it; a unit's findings replace those of its previous analysis.
    ``publish``: update the calendars if a unit met its deadline (a rerun does not)."""
    started = now or wall_clock()
    year = year or default_data_year(started.date())
    ws = open_workspace()
    tree, analyses = analyse_units(ws, year, local(started).date())
    unit_ids = compilation.affected(tree, unit)
    with exclusive(ws, "analyse", str(year), [unit] if unit else unit_ids):
        stored = store_findings(ws, unwalked(analyses), year, unit_ids)
        written = write_analyses(ws, tree, unwalked(analyses), year, unit_ids, started)
        newly_done = record_step(ws, "analyse", year, unit_ids, started, now or wall_clock())
    if publish and newly_done:
        publish_calendars(now=now)
    log.info(
        "analysed %s: %d findings, %d documents for %d units",
        year,
        stored,
        len(written),
        len(unit_ids),
    )
    return written

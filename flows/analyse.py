"""Flow ``analyse``: patterns, trends and risks for every unit, stored as findings."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from prefect import flow

from arshjul.analysis import document, figures, findings
from arshjul.clock import local
from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year
from arshjul.documents import write_year_index
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.workspace import Workspace, open_workspace
from flows.calendars import publish_calendars
from flows.runtime import run_id
from flows.steps import cycle_provenance, exclusive, record_step, step_task, unwalked

log = logging.getLogger("arshjul")


@step_task
def analyse_units(
    ws: Workspace, period: Period, today: date
) -> tuple[OrgTree, dict[str, findings.Analysis]]:
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        data = figures.gather(conn, tree, period.year, today=today)
    return tree, findings.analyse(data, tree, ws.config)


@step_task
def store_findings(
    ws: Workspace, analyses: dict[str, findings.Analysis], period: Period, unit_ids: list[str]
) -> int:
    found = [f for u in unit_ids for f in analyses[u].findings]
    with ws.engine.begin() as conn:
        return findings.store_findings(conn, period.year, unit_ids, found, run_id())


@step_task
def write_analyses(
    ws: Workspace,
    tree: OrgTree,
    analyses: dict[str, findings.Analysis],
    period: Period,
    unit_ids: list[str],
    now: datetime,
) -> list[Path]:
    origin = cycle_provenance(ws, now)
    written = document.write_documents(ws.out, ws.config, tree, period, analyses, unit_ids, origin)
    write_year_index(ws.out, tree, period, ws.config.settings.region.name)
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
    began = wall_clock()  # this run's own start, for the step log
    as_of = now or began  # what the documents are about (a cycle gives every step its start)
    period = Period.full_year(year or default_data_year(as_of.date()))
    ws = open_workspace()
    tree, analyses = analyse_units(ws, period, local(as_of).date())
    unit_ids = tree.affected(unit)
    with exclusive(ws, "analyse", period, [unit] if unit else unit_ids):
        stored = store_findings(ws, unwalked(analyses), period, unit_ids)
        written = write_analyses(ws, tree, unwalked(analyses), period, unit_ids, as_of)
        newly_done = record_step(ws, "analyse", period, unit_ids, began, wall_clock())
    if publish and newly_done:
        publish_calendars(now=now)
    log.info(
        "analysed %s: %d findings, %d documents for %d units",
        period,
        stored,
        len(written),
        len(unit_ids),
    )
    return written

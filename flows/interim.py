"""Flow ``interim_report``: the deferred-care section (uppskjuten vård) for a period.

Run on the wheel's milestones ``ir-t1`` (period ``Y-T1``), ``ir-t2`` (``Y-T2``) and ``ir-year``
(``Y-1``, the full year), or by hand with ``arshjul report interim --period P``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul.clock import now as wall_clock
from arshjul.documents import provenance, write_year_index
from arshjul.interim import document, figures
from arshjul.org import OrgTree
from arshjul.periods import Period, latest_period, parse_period
from arshjul.workspace import Workspace, open_workspace
from flows.calendars import publish_calendars
from flows.runtime import run_id
from flows.steps import exclusive, record_step, step_task, unwalked

log = logging.getLogger("arshjul")

#: the imported data a section is built from, named in its footer
SOURCES = ("organisation", "waiting", "production", "capacity", "training")


@step_task
def gather_figures(ws: Workspace, period: Period) -> tuple[OrgTree, dict[str, figures.Figures]]:
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        return tree, figures.gather(conn, tree, period)


@step_task
def write_sections(
    ws: Workspace,
    tree: OrgTree,
    totals: dict[str, figures.Figures],
    period: Period,
    unit_ids: list[str],
    now: datetime,
) -> list[Path]:
    with ws.engine.connect() as conn:
        origin = provenance(conn, SOURCES, now=now, run_id=run_id())
    written = document.write_documents(ws.out, ws.config, tree, period, totals, unit_ids, origin)
    write_year_index(ws.out, tree, period, ws.config.settings.region.name)
    return written


@flow(name="interim_report", log_prints=False)
def interim_report_flow(
    period: str | None = None,
    unit: str | None = None,
    now: datetime | None = None,
    publish: bool = True,
) -> list[Path]:
    """Write the section for ``period`` (``2026-T1``, ``2026-T2`` or ``2026``; default: the
    latest ended) for every unit, or for ``unit`` and the units above it. A malformed period,
    or one that has not ended by ``now``, is a ``UsageError`` naming ``--period``.
    ``publish``: update the calendars if a unit met its deadline (a rerun does not)."""
    began = wall_clock()  # this run's own start, for the step log
    as_of = now or began  # what the documents are about (a cycle gives every step its start)
    today = as_of.date()
    chosen = parse_period(period, today) if period else latest_period(today)
    ws = open_workspace()
    tree, totals = gather_figures(ws, chosen)
    unit_ids = tree.affected(unit)
    with exclusive(ws, "interim_report", chosen, [unit] if unit else unit_ids):
        written = write_sections(ws, tree, unwalked(totals), chosen, unit_ids, as_of)
        newly_done = record_step(ws, "interim_report", chosen, unit_ids, began, wall_clock())
    if publish and newly_done:
        publish_calendars(now=now)
    log.info("interim report %s: %d documents for %d units", chosen, len(written), len(unit_ids))
    return written

"""Flow ``action_plan``: each unit's worksheet and action plan, rolled up to område and region,
and the region's plan put forward for sign-off."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import action_plan, signoff, worksheet
from arshjul.clock import local
from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year
from arshjul.documents import provenance, unit_dir, write_year_index
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.workspace import Workspace, open_workspace
from flows.calendars import publish_calendars
from flows.runtime import run_id
from flows.signoff import request_sign_off
from flows.steps import exclusive, record_step, step_task, unwalked

log = logging.getLogger("arshjul")

DOCUMENT = "action_plan"
#: what the plans are built from: the analysed records and the imported worksheets
SOURCES = ("organisation", "deviations", "complaints", "actions")


@step_task
def build_plans(ws: Workspace, period: Period) -> tuple[OrgTree, dict[str, action_plan.Plan]]:
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        return tree, action_plan.build_plans(conn, ws.config, tree, period.year)


@step_task
def write_worksheets(
    ws: Workspace,
    tree: OrgTree,
    plans: dict[str, action_plan.Plan],
    period: Period,
    unit_ids: list[str],
    now: datetime,
) -> list[Path]:
    return worksheet.write_worksheets(ws.out, tree, period, plans, ws.config.codes, unit_ids, now)


@step_task
def write_plans(
    ws: Workspace,
    tree: OrgTree,
    plans: dict[str, action_plan.Plan],
    period: Period,
    unit_ids: list[str],
    now: datetime,
) -> list[Path]:
    role = ws.config.settings.sign_off.role(DOCUMENT)
    with ws.engine.connect() as conn:
        origin = provenance(conn, SOURCES, now=now, run_id=run_id())
        stamp = signoff.draft_stamp(conn, DOCUMENT, period.label, tree.root.id, role)
    today = local(now).date()
    written = action_plan.write_documents(
        ws.out, ws.config, tree, period, plans, unit_ids, origin, today, stamp
    )
    write_year_index(ws.out, tree, period, ws.config.settings.region.name)
    return written


@flow(name="action_plan", log_prints=False)
def action_plan_flow(
    year: int | None = None,
    unit: str | None = None,
    now: datetime | None = None,
    publish: bool = True,
    approve: bool = False,
) -> list[Path]:
    """Write the worksheets and action plans of ``year`` (default: last full year) for every
    unit, or for ``unit`` and the units above it, from the findings and the imported actions;
    then ask for the region's plan to be approved (``approve``: approve it at once).
    ``publish``: update the calendars if a unit met its deadline (a rerun does not).
    Returns the documents, then the worksheets."""
    began = wall_clock()  # this run's own start, for the step log
    as_of = now or began  # what the documents are about (a cycle gives every step its start)
    period = Period.full_year(year or default_data_year(as_of.date()))
    ws = open_workspace()
    tree, plans = build_plans(ws, period)
    unit_ids = tree.affected(unit)
    with exclusive(ws, DOCUMENT, period, [unit] if unit else unit_ids):
        sheets = write_worksheets(ws, tree, unwalked(plans), period, unit_ids, as_of)
        written = write_plans(ws, tree, unwalked(plans), period, unit_ids, as_of)
        newly_done = record_step(ws, DOCUMENT, period, unit_ids, began, wall_clock())
    root = tree.root
    request_sign_off(
        ws,
        document=DOCUMENT,
        period=period.label,
        unit_id=root.id,
        path=unit_dir(ws.out, period, root) / action_plan.FILE_NAME,
        role=ws.config.settings.sign_off.role(DOCUMENT),
        approve=approve,
        now=as_of,
    )
    if publish and newly_done:
        publish_calendars(now=now)
    log.info(
        "action plans %s: %d documents and %d worksheets for %d units",
        period,
        len(written),
        len(sheets),
        len(unit_ids),
    )
    return written + sheets

"""Flow ``safety_report``: the region's patientsäkerhetsberättelse, written and signed off."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import safety_report, signoff
from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year
from arshjul.documents import Provenance, provenance, write_year_index
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.signoff import SignOffResult
from arshjul.workspace import Workspace, open_workspace
from flows.calendars import publish_calendars
from flows.runtime import run_id
from flows.signoff import request_sign_off
from flows.steps import record_step, step_task, unwalked

log = logging.getLogger("arshjul")

#: what the report is built from: the cycle's data plus training and the action plans
SOURCES = ("organisation", "deviations", "complaints", "training", "actions")


@step_task
def gather_report(
    ws: Workspace, year: int, now: datetime
) -> tuple[OrgTree, safety_report.ReportData, signoff.Stamp, Provenance]:
    role = ws.config.settings.sign_off.role(safety_report.DOCUMENT)
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        data = safety_report.gather(conn, ws.config, tree, year)
        stamp = signoff.draft_stamp(conn, safety_report.DOCUMENT, str(year), tree.root.id, role)
        origin = provenance(conn, SOURCES, now=now, run_id=run_id())
    return tree, data, stamp, origin


@step_task
def write_report(
    ws: Workspace,
    tree: OrgTree,
    data: safety_report.ReportData,
    stamp: signoff.Stamp,
    origin: Provenance,
) -> Path:
    written = safety_report.write_document(ws.out, ws.config, tree, data, stamp, origin)
    write_year_index(ws.out, tree, Period.full_year(data.year), ws.config.settings.region.name)
    # the HTML is the document signed off (DOCX and CSV beside it are copies for editing)
    return next(p for p in written if p.name == safety_report.FILE_NAME)


@flow(name="safety_report", log_prints=False)
def safety_report_flow(
    year: int | None = None,
    now: datetime | None = None,
    publish: bool = True,
    approve: bool = False,
) -> SignOffResult:
    """Write the patientsäkerhetsberättelse for ``year`` (default: last full year) and ask for
    its sign-off (``approve``: approve it automatically; see flows/signoff.py for waiting on a
    server and for ephemeral mode). ``publish``: update the calendars if the region met its
    deadline (a rerun does not)."""
    began = wall_clock()  # this run's own start, for the step log
    as_of = now or began  # what the documents are about (a cycle gives every step its start)
    year = year or default_data_year(as_of.date())
    ws = open_workspace()
    tree, data, stamp, origin = gather_report(ws, year, as_of)
    html = write_report(ws, tree, unwalked(data), stamp, origin)
    result = request_sign_off(
        ws,
        document=safety_report.DOCUMENT,
        period=str(year),
        unit_id=tree.root.id,
        path=html,
        role=stamp.role,
        approve=approve,
        now=as_of,
    )
    newly_done = record_step(
        ws, "safety_report", Period.full_year(year), [tree.root.id], began, wall_clock()
    )
    if publish and newly_done:
        publish_calendars(now=now)
    log.info("safety report %s: version %d %s", year, result.version, result.state)
    return result

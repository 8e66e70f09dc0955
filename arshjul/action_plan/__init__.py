"""Handlingsplan: each unit's actions against its findings, carried over and followed up.

:mod:`.plans` builds each unit's plan of a data year and their roll-ups, :mod:`.document`
writes each unit's plan, :mod:`.worksheet` the workbook the unit fills in and returns; the
region's plan is put forward for sign-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection

from arshjul.action_plan import document, worksheet
from arshjul.action_plan.plans import Plan, build_plans
from arshjul.clock import local
from arshjul.documents import Kept, unit_dir
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.steps import Gathered, Run, Signed, Step
from arshjul.workspace import Workspace

#: what the plans are built from: the analysed records and the imported worksheets
SOURCES = ("organisation", "deviations", "complaints", "actions")


def gather(conn: Connection, tree: OrgTree, period: Period, run: Run) -> dict[str, Plan]:
    """Every unit's plan (the roll-ups need them all; the queries are the same)."""
    return build_plans(conn, run.config, tree, period.year, run.counts)


def write(
    ws: Workspace, period: Period, gathered: Gathered[dict[str, Plan]], units: Sequence[str]
) -> list[Path | Kept]:
    """The plans of ``units``, then their worksheets; actions are overdue as of the day the
    documents are about. A worksheet follows its plan: it is built from the plan the document
    shows, so it is written again when the plan is (or when it is not there), else it is kept
    with its plan (its time stamps those of the plan's run)."""
    now = gathered.origin.generated_at
    plans = document.write_documents(
        ws.out,
        ws.config,
        gathered.tree,
        period,
        gathered.figures,
        units,
        gathered.origin,
        local(now).date(),
        gathered.stamp,
    )
    tree = gathered.tree
    kept = {d.path.parent for d in plans if isinstance(d, Kept)}
    sheets = [
        u
        for u in units
        if (folder := unit_dir(ws.out, period, tree[u])) not in kept
        or not (folder / worksheet.FILE_NAME).exists()
    ]
    written = worksheet.write_worksheets(
        ws.out, tree, period, gathered.figures, ws.config.codes, sheets, now
    )
    return [*plans, *written]


STEP = Step(
    name="action_plan",
    title_sv="Handlingsplan",
    sources=SOURCES,
    gather=gather,
    write=write,
    signed=Signed("action_plan", document.FILE_NAME),
)

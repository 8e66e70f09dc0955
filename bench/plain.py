"""The pipeline of ``arshjul run`` as plain function calls: no Prefect engine, no API server.

Each flow's tasks are called through ``task.fn`` (the undecorated function) in the order the
flows in ``flows/`` call them, so the work is the same as the Prefect run's and the difference
in wall time is Prefect's (engine, API calls, ephemeral server, process start-up). Each call is
timed, which is also the profile of where the cycle's time goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from arshjul.clock import local
from arshjul.documents import unit_dir
from arshjul.importers import KINDS, ImportResult
from arshjul.inputs import InputFile, find_input_files
from arshjul.periods import Period, latest_period, parse_period
from arshjul.workspace import Workspace
from flows import action_plan, analyse, calendars, importing, interim, safety_report
from flows import compile as compiling
from flows.signoff import request_sign_off
from flows.steps import exclusive, record_step

T = TypeVar("T")


class Steps:
    """Wall seconds per labelled call, in call order (a label seen again adds up)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, label: str, fn: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def import_all(ws: Workspace, folder: Path, now: datetime, steps: Steps) -> dict[str, int]:
    """flows.importing.import_data: every input file, one transaction each; rows per kind."""
    rows: dict[str, int] = {}

    def one(file: InputFile) -> ImportResult:
        return importing.import_one(ws, file, now)

    for file in find_input_files(folder, KINDS):
        result = steps(f"import {file.kind}", partial(one, file))
        rows[file.kind] = rows.get(file.kind, 0) + result.rows
    return rows


def compile_step(ws: Workspace, year: int, unit: str | None, now: datetime, steps: Steps) -> None:
    """flows.compile.compile_flow(publish=False)."""
    period = Period.full_year(year)
    tree, totals = steps("compile: count + roll up", lambda: compiling.count_figures.fn(ws, period))
    unit_ids = tree.affected(unit)
    with exclusive(ws, "compile", period, [unit] if unit else unit_ids):
        steps(
            "compile: write documents",
            lambda: compiling.write_compilations.fn(ws, tree, totals, period, unit_ids, now),
        )
        steps("record steps", lambda: record_step.fn(ws, "compile", period, unit_ids, now, now))


def cycle(ws: Workspace, year: int, now: datetime, steps: Steps) -> None:
    """flows.cycle.cycle_flow(approve=True, publish=False)."""
    compile_step(ws, year, None, now, steps)
    period = Period.full_year(year)

    tree, analyses = steps(
        "analyse: gather + analyse",
        lambda: analyse.analyse_units.fn(ws, period, local(now).date()),
    )
    unit_ids = tree.affected(None)
    with exclusive(ws, "analyse", period, unit_ids):
        steps(
            "analyse: store findings",
            lambda: analyse.store_findings.fn(ws, analyses, period, unit_ids),
        )
        steps(
            "analyse: write documents",
            lambda: analyse.write_analyses.fn(ws, tree, analyses, period, unit_ids, now),
        )
        steps("record steps", lambda: record_step.fn(ws, "analyse", period, unit_ids, now, now))

    tree, plans = steps("action plan: build", lambda: action_plan.build_plans.fn(ws, period))
    with exclusive(ws, action_plan.DOCUMENT, period, unit_ids):
        steps(
            "action plan: write XLSX worksheets",
            lambda: action_plan.write_worksheets.fn(ws, tree, plans, period, unit_ids, now),
        )
        steps(
            "action plan: write documents",
            lambda: action_plan.write_plans.fn(ws, tree, plans, period, unit_ids, now),
        )
        steps(
            "record steps",
            lambda: record_step.fn(ws, action_plan.DOCUMENT, period, unit_ids, now, now),
        )
    role = ws.config.settings.sign_off.role(action_plan.DOCUMENT)
    path = unit_dir(ws.out, period, tree.root) / action_plan.action_plan.FILE_NAME
    steps(
        "sign-offs",
        lambda: request_sign_off(
            ws,
            document=action_plan.DOCUMENT,
            period=period.label,
            unit_id=tree.root.id,
            path=path,
            role=role,
            approve=True,
            now=now,
        ),
    )

    tree, data, stamp, origin = steps(
        "safety report: gather", lambda: safety_report.gather_report.fn(ws, year, now)
    )
    html = steps(
        "safety report: write",
        lambda: safety_report.write_report.fn(ws, tree, data, stamp, origin),
    )
    steps(
        "sign-offs",
        lambda: request_sign_off(
            ws,
            document=safety_report.safety_report.DOCUMENT,
            period=period.label,
            unit_id=tree.root.id,
            path=html,
            role=stamp.role,
            approve=True,
            now=now,
        ),
    )
    steps(
        "record steps",
        lambda: record_step.fn(ws, "safety_report", period, [tree.root.id], now, now),
    )


def interim_report(ws: Workspace, period_label: str, now: datetime, steps: Steps) -> None:
    """flows.interim.interim_report_flow(publish=False)."""
    period = parse_period(period_label, now.date())
    tree, totals = steps("interim: gather", lambda: interim.gather_figures.fn(ws, period))
    unit_ids = tree.affected(None)
    with exclusive(ws, "interim_report", period, unit_ids):
        steps(
            "interim: write documents",
            lambda: interim.write_sections.fn(ws, tree, totals, period, unit_ids, now),
        )
        steps(
            "record steps",
            lambda: record_step.fn(ws, "interim_report", period, unit_ids, now, now),
        )


def publish(ws: Workspace, now: datetime, steps: Steps) -> None:
    """flows.calendars.publish_calendars."""
    site = steps("calendars: build", lambda: calendars.build_calendar_site.fn(ws, now))
    steps("calendars: write", lambda: calendars.write_calendar_site.fn(ws, site))
    steps("calendars: status documents", lambda: calendars.write_status_documents.fn(ws, now))


def run(ws: Workspace, folder: Path, year: int, now: datetime, steps: Steps) -> dict[str, int]:
    """flows.cycle.run_flow(data=folder, approve=True): rows imported per kind."""
    rows = import_all(ws, folder, now, steps)
    cycle(ws, year, now, steps)
    for period in dict.fromkeys([str(year), latest_period(now.date()).label]):
        interim_report(ws, period, now, steps)
    publish(ws, now, steps)
    return rows

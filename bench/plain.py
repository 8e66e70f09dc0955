"""The pipeline of ``arshjul run`` as plain function calls: no Prefect engine, no API server.

The steps run through the same runner as the flows' (:func:`arshjul.steps.run_step`), with each
piece called directly instead of as a task; the imports and the calendars call the flows' tasks
through ``task.fn`` (the undecorated function). So the work is the same as the Prefect run's
and the difference in wall time is Prefect's (engine, API calls, ephemeral server, process
start-up). Each call is timed, which is also the profile of where the cycle's time goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from arshjul import action_plan, analysis, compilation, interim, safety_report
from arshjul.clock import now as wall_clock
from arshjul.importers import KINDS, ImportResult
from arshjul.inputs import InputFile, find_input_files
from arshjul.periods import Period, sections_due
from arshjul.signoff import SignOffResult
from arshjul.steps import Call, Run, Step, StepResult, ToSignOff, run_step
from arshjul.workspace import Workspace
from flows import calendars, importing
from flows.runner import signing
from flows.runtime import run_id

T = TypeVar("T")
P = ParamSpec("P")


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

    def pieces(self, step: str) -> Call:
        """A step's pieces called one by one, each timed as ``step: piece``."""

        def call(piece: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
            return self(f"{step}: {piece.__name__}", lambda: piece(*args, **kwargs))

        return call

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


def one_step(
    ws: Workspace, step: Step[Any], period: Period, unit: str | None, now: datetime, steps: Steps
) -> StepResult:
    """flows.runner.run_step(publish=False, approve=True)."""
    signer = signing(ws, approve=True, clock=wall_clock)

    def sign_off(request: ToSignOff) -> SignOffResult:
        return steps(f"{step.name}: sign-off", lambda: signer(request))

    run = Run(ws.config, now, run_id())
    return run_step(
        ws,
        step,
        period,
        unit,
        run,
        sign_off=sign_off,
        clock=wall_clock,
        call=steps.pieces(step.name),
    )


def compile_step(ws: Workspace, year: int, unit: str | None, now: datetime, steps: Steps) -> None:
    """flows.compile.compile_flow(publish=False)."""
    one_step(ws, compilation.STEP, Period.full_year(year), unit, now, steps)


def cycle(ws: Workspace, year: int, now: datetime, steps: Steps) -> None:
    """flows.cycle.run_cycle(approve=True)."""
    period = Period.full_year(year)
    for step in (compilation.STEP, analysis.STEP, action_plan.STEP, safety_report.STEP):
        one_step(ws, step, period, None, now, steps)


def interim_reports(ws: Workspace, year: int, now: datetime, steps: Steps) -> None:
    """flows.interim.interim_report_flow(publish=False) for each section the cycle writes
    (:func:`arshjul.periods.sections_due`, as flows.cycle.run_flow)."""
    for period in sections_due(year, now.date()):
        one_step(ws, interim.STEP, period, None, now, steps)


def publish(ws: Workspace, now: datetime, steps: Steps) -> None:
    """flows.calendars.publish_calendars."""
    site = steps("calendars: build", lambda: calendars.build_calendar_site.fn(ws, now))
    steps("calendars: write", lambda: calendars.write_calendar_site.fn(ws, site))
    steps("calendars: status documents", lambda: calendars.write_status_documents.fn(ws, now))


def run(ws: Workspace, folder: Path, year: int, now: datetime, steps: Steps) -> dict[str, int]:
    """flows.cycle.run_flow(data=folder, approve=True): rows imported per kind."""
    rows = import_all(ws, folder, now, steps)
    cycle(ws, year, now, steps)
    interim_reports(ws, year, now, steps)
    publish(ws, now, steps)
    return rows

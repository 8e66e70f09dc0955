"""Flows ``cycle`` (the year's steps in order) and ``run`` (data in, cycle, calendars out —
what `arshjul run` starts). Each opens the workspace once and runs every step in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import flow

from arshjul import action_plan, analysis, compilation, home, interim, safety_report
from arshjul.action_plan.plans import analysed_years as years_analysed
from arshjul.clock import STOCKHOLM
from arshjul.demo import write_demo
from arshjul.importers import KINDS, ImportResult
from arshjul.inputs import (
    HANDED_BACK_AT,
    InputFile,
    LocalPath,
    find_input_files,
    handed_back,
    handed_back_folder,
)
from arshjul.periods import Period, parse_period, sections_due
from arshjul.signoff import SignOffResult
from arshjul.steps import Step
from arshjul.workspace import Workspace
from flows.calendars import publish_site
from flows.importing import import_into
from flows.runner import busy_in_swedish, data_year, run_step
from flows.runtime import resolve_now
from flows.steps import open_ws, step_task


@dataclass(frozen=True)
class CycleResult:
    year: int
    #: step -> the documents it wrote
    documents: dict[str, list[Path]]
    sign_offs: list[SignOffResult] = field(default_factory=list)
    #: step -> how many of its documents were not written again (unchanged since a run)
    unchanged: dict[str, int] = field(default_factory=dict)


def run_cycle(
    ws: Workspace, period: Period, unit: str | None, *, now: datetime, approve: bool
) -> CycleResult:
    """Compilation, analysis, action plan and patientsäkerhetsberättelse of ``period`` in
    order, each a step of its own (its own lock, times and record); the calendars are left
    to the caller."""
    unit_steps: tuple[Step[Any], ...] = (compilation.STEP, analysis.STEP, action_plan.STEP)
    results = [
        run_step(step, ws, period, unit, now=now, publish=False, approve=approve)
        for step in unit_steps
    ]
    documents = {r.step: r.written for r in results}
    unchanged = {r.step: len(r.kept) for r in results}
    report = run_step(
        safety_report.STEP, ws, period, now=now, publish=False, approve=approve
    ).sign_off
    assert report is not None  # the step is signed off
    documents[safety_report.STEP.name] = [report.latest]
    return CycleResult(period.year, documents, [report], unchanged)


@flow(name="cycle")
@busy_in_swedish
def cycle_flow(
    year: int | None = None,
    unit: str | None = None,
    now: datetime | None = None,
    approve: bool = False,
    publish: bool = True,
) -> CycleResult:
    """The patient-safety cycle of ``year`` (default: last full year) in order: compilation,
    analysis, action plan and patientsäkerhetsberättelse; for ``unit`` only that unit and
    its roll-ups (the region's report is rewritten, its figures include the unit).
    ``approve``: sign off the region's documents automatically (the demo)."""
    now = resolve_now(now)
    period = data_year(year, now)
    ws = open_ws()
    result = run_cycle(ws, period, unit, now=now, approve=approve)
    if publish:
        publish_site(ws, now)
    return result


@dataclass(frozen=True)
class RunSummary:
    year: int
    data: LocalPath
    imports: list[ImportResult]
    #: the worksheets handed back for earlier years' plans: data year -> one result per file
    handed_back: list[tuple[int, list[ImportResult]]]
    cycle: CycleResult
    #: the interim sections written: period label -> documents
    interim: dict[str, list[Path]]
    calendars: list[Path]


@step_task
def generate_demo_data(ws: Workspace, data: Path, now: datetime, seed: int) -> LocalPath:
    write_demo(data, ws.config, today=now.date(), seed=seed)
    return LocalPath(path=data)


@step_task
def analysed_years(ws: Workspace) -> set[int]:
    with ws.engine.connect() as conn:
        return years_analysed(conn)


def import_handed_back(
    ws: Workspace, folder: Path, year: int, now: datetime
) -> list[tuple[int, list[ImportResult]]]:
    """The action-plan worksheets handed back for the plans of ``year`` and the years before
    (``actions-YEAR/`` in ``folder``), oldest first, each after its year's analysis: a year
    never analysed is analysed first, as it was when its plan was made (one already analysed
    keeps its findings, which the actions answer). A worksheet in a folder named by a day is
    imported as of that day (never after ``now``): its rows are the actions' status updates
    of that day, as the follow-ups are judged."""
    returned = handed_back(folder, year)
    if not returned:
        return []
    done = analysed_years(ws)
    imports = []
    for plan_year, files in returned:
        if plan_year not in done:
            run_step(analysis.STEP, ws, Period.full_year(plan_year), now=now, publish=False)
        label = f"{handed_back_folder(folder, plan_year).name}/"
        worksheets = [
            InputFile(kind="actions", path=path, at=None if on is None else _at(on, now))
            for path, on in files
        ]
        imports.append((plan_year, import_into(ws, worksheets, now, label)))
    return imports


def _at(day: date, now: datetime) -> datetime:
    return min(datetime.combine(day, HANDED_BACK_AT, now.tzinfo or STOCKHOLM), now)


@flow(name="run")
@busy_in_swedish
def run_flow(
    year: int | None = None,
    data: LocalPath | None = None,
    now: datetime | None = None,
    demo_seed: int = 1,
    approve: bool = False,
) -> RunSummary:
    """Import the files in ``data`` (the demo region when None) and the worksheets handed back
    for earlier years' plans, run the cycle for ``year``, write the deferred-care sections of
    every ended period of that year and of this calendar year (:func:`sections_due`), and
    publish the calendars."""
    now = resolve_now(now)
    period = data_year(year, now)
    # checked before anything is imported: the year may not have ended
    parse_period(period.label, now.date())
    sections = sections_due(period.year, now.date())
    ws = open_ws()
    folder = data if data is not None else generate_demo_data(ws, home.var("demo"), now, demo_seed)
    imports = import_into(ws, find_input_files(folder.path, KINDS), now)
    returned = import_handed_back(ws, folder.path, period.year, now)
    cycle = run_cycle(ws, period, None, now=now, approve=approve)
    interim_written = {
        section.label: run_step(interim.STEP, ws, section, now=now, publish=False).written
        for section in sections
    }
    calendars = publish_site(ws, now)
    return RunSummary(period.year, folder, imports, returned, cycle, interim_written, calendars)

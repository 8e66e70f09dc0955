"""Flows ``cycle`` (the year's steps in order) and ``run`` (data in, cycle, calendars out —
what `arshjul run` starts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import action_plan, home
from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year, load_config
from arshjul.demo import write_demo
from arshjul.importers import KINDS, ImportResult
from arshjul.inputs import (
    InputFile,
    LocalPath,
    find_input_files,
    handed_back,
    handed_back_folder,
)
from arshjul.periods import latest_period
from arshjul.signoff import SignOffResult
from arshjul.workspace import Workspace, open_workspace
from flows.action_plan import action_plan_flow
from flows.analyse import analyse_flow
from flows.calendars import publish_calendars
from flows.compile import compile_flow
from flows.importing import import_data
from flows.interim import interim_report_flow
from flows.safety_report import safety_report_flow
from flows.steps import step_task


@dataclass(frozen=True)
class CycleResult:
    year: int
    #: step -> the documents it wrote
    documents: dict[str, list[Path]]
    sign_offs: list[SignOffResult] = field(default_factory=list)


@flow(name="cycle")
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
    now = now or wall_clock()
    year = year or default_data_year(now.date())
    documents = {
        "compile": compile_flow(year=year, unit=unit, now=now, publish=False),
        "analyse": analyse_flow(year=year, unit=unit, now=now, publish=False),
        "action_plan": action_plan_flow(
            year=year, unit=unit, now=now, publish=False, approve=approve
        ),
    }
    report = safety_report_flow(year=year, now=now, publish=False, approve=approve)
    documents["safety_report"] = [report.latest]
    if publish:
        publish_calendars(now=now)
    return CycleResult(year, documents, [report])


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
def generate_demo_data(data: Path, now: datetime, seed: int) -> LocalPath:
    write_demo(data, load_config(), today=now.date(), seed=seed)
    return LocalPath(path=data)


@step_task
def analysed_years(ws: Workspace) -> set[int]:
    with ws.engine.connect() as conn:
        return action_plan.analysed_years(conn)


def import_handed_back(
    folder: Path, year: int, now: datetime
) -> list[tuple[int, list[ImportResult]]]:
    """The action-plan worksheets handed back for the plans of years before ``year``
    (``actions-YEAR/`` in ``folder``), oldest first, each after its year's analysis: a year
    never analysed is analysed first, as it was when its plan was made (one already analysed
    keeps its findings, which the actions answer)."""
    returned = handed_back(folder, year)
    if not returned:
        return []
    done = analysed_years(open_workspace())
    imports = []
    for data_year, files in returned:
        if data_year not in done:
            analyse_flow(year=data_year, now=now, publish=False)
        label = f"{handed_back_folder(folder, data_year).name}/"
        worksheets = [InputFile(kind="actions", path=f) for f in files]
        results = import_data(worksheets, now=now, label=label)
        imports.append((data_year, results))
    return imports


@flow(name="run")
def run_flow(
    year: int | None = None,
    data: LocalPath | None = None,
    now: datetime | None = None,
    demo_seed: int = 1,
    approve: bool = False,
) -> RunSummary:
    """Import the files in ``data`` (the demo region when None) and the worksheets handed back
    for earlier years' plans, run the cycle for ``year``, write the deferred-care sections of
    that year and of the latest ended period, and publish the calendars."""
    now = now or wall_clock()
    year = year or default_data_year(now.date())
    folder = data if data is not None else generate_demo_data(home.var("demo"), now, demo_seed)
    imports = import_data(find_input_files(folder.path, KINDS), now=now)
    returned = import_handed_back(folder.path, year, now)
    # the calendars are published once, after all steps, not after each
    cycle = cycle_flow(year=year, now=now, approve=approve, publish=False)
    periods = dict.fromkeys([str(year), latest_period(now.date()).label])
    interim = {
        period: interim_report_flow(period=period, now=now, publish=False) for period in periods
    }
    calendars = publish_calendars(now=now)
    return RunSummary(year, folder, imports, returned, cycle, interim, calendars)

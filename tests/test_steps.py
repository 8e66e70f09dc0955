"""The step runner (arshjul.steps, flows.runner) through the real flows on Prefect's harness:
parameters are refused before anything is counted, each step records its own times, one run
of the patientsäkerhetsberättelse at a time, and a database blip in what the flow itself does
is retried."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError

from arshjul.cli import main
from arshjul.errors import StepBusy, UsageError
from arshjul.models import StepRun
from arshjul.org import OrgTree
from tests.conftest import FIXTURES, NOW
from tests.test_signoff import region as region  # the fixture, for the tests here
from tests.test_signoff import rows

pytestmark = pytest.mark.usefixtures("prefect_harness")

YEAR = 2025


def import_fixture() -> None:
    for kind in ("organisation", "deviations", "complaints"):
        assert main(["import", kind, str(FIXTURES / "compile" / f"{kind}.csv")]) == 0


def step_runs(workdir: Path) -> list[Any]:
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(StepRun.__table__).order_by(StepRun.id)))
    finally:
        engine.dispose()


def task_runs(flow_run_id: Any) -> list[Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement this process sends from now on, on any engine."""
    sent: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    yield sent
    event.remove(Engine, "before_cursor_execute", listen)


def touching(statements: list[str], *tables: str) -> list[str]:
    """The queries and changes (not the migrations' DDL) naming one of ``tables``."""
    data = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
    return [
        s
        for s in statements
        if s.lstrip().upper().startswith(data) and any(f" {t}" in s.lower() for t in tables)
    ]


# --- parameters first ----------------------------------------------------------------------


def test_an_unknown_unit_is_refused_before_anything_is_counted(workdir, statements, capsys):
    import_fixture()
    statements.clear()
    assert main(["compile", "--year", "2025", "--unit", "E9"]) == 2
    assert "--unit: no unit with id 'E9' in the organisation" in capsys.readouterr().err
    assert touching(statements, "org_unit"), "the organisation is read to check the unit"
    assert not touching(statements, "deviation", "complaint", "capacity", "training", "action")
    assert not touching(statements, "step_lock", "step_run")
    assert not (workdir / "out" / "2025").exists()


def test_a_period_not_ended_is_refused_before_the_database_is_opened(workdir, statements):
    from flows.interim import interim_report_flow

    with pytest.raises(UsageError, match="^period: '2026' has not ended yet"):
        interim_report_flow("2026", now=NOW, publish=False)
    assert statements == []


def test_without_an_organisation_nothing_is_counted(workdir, statements, capsys):
    from arshjul.workspace import open_workspace

    open_workspace().engine.dispose()  # migrated first: the migrations copy tables
    statements.clear()
    assert main(["analyse", "--year", "2025"]) == 2
    assert "import the organisation file first" in capsys.readouterr().err
    assert not touching(statements, "deviation", "complaint", "finding", "step_lock")


# --- each step's own times -----------------------------------------------------------------


def test_each_step_of_a_cycle_records_its_own_times(workdir, monkeypatch):
    from flows.cycle import cycle_flow

    import_fixture()
    minutes = itertools.count(1)
    monkeypatch.setattr("flows.runner.wall_clock", lambda: NOW + timedelta(minutes=next(minutes)))
    state = cycle_flow(year=YEAR, now=NOW, approve=True, publish=False, return_state=True)
    assert state.is_completed()
    runs = step_runs(workdir)
    region_runs = {r.step: (r.started_at, r.finished_at) for r in runs if r.unit_id == "R1"}
    order = ["compile", "analyse", "action_plan", "safety_report"]
    assert sorted(region_runs) == sorted(order)
    times = [region_runs[step] for step in order]
    assert all(started < finished for started, finished in times)
    # one after the other, none with the cycle's start (``now``) as its time
    assert all(before[1] < after[0] for before, after in itertools.pairwise(times))
    assert len({t for pair in times for t in pair}) == 2 * len(order)
    # an approval (--approve) is given inside its step, after the documents it approves were
    # written: never at the cycle's start, where the report would be approved before the
    # compilation it reports on was done
    decided = {r.document: r.at for r in rows(workdir)}
    assert sorted(decided) == ["action_plan", "safety_report"]
    for step, at in decided.items():
        started, finished = region_runs[step]
        assert started < at < finished, step
    # the units of one step share the step's times
    compile_runs = {(r.started_at, r.finished_at) for r in runs if r.step == "compile"}
    assert compile_runs == {region_runs["compile"]}
    # each piece of a step is a task of the cycle's flow run, named by its step
    names = {t.name for t in task_runs(state.state_details.flow_run_id)}
    assert {f"{step}: gather" for step in order} <= names
    assert {"analyse: store", "action_plan: prepare", "safety_report: finish"} <= names


# --- the safety report under the step lock -------------------------------------------------


def test_a_safety_report_waits_for_another_run_of_it_then_is_refused_naming_it(
    workdir, region, monkeypatch, arshjul_log
):
    """The patientsäkerhetsberättelse is locked like every step: while another run writes it
    (or asks for its sign-off), a second one waits, says so in Swedish, then gives up without
    writing a version of its own. Its state in Prefect (the UI shows its message) says in
    plain Swedish which step, period and unit, who has it since when, and what to do (issue
    16: it was "ConflictError: safety_report 2025 is already running …")."""
    from prefect import get_client

    from arshjul import locks
    from flows.safety_report import safety_report_flow

    monkeypatch.setattr("arshjul.steps.LOCK_WAIT", timedelta(seconds=2))
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    held = {"engine": engine, "step": "safety_report", "period": str(YEAR), "run_id": "annan"}
    refusal = (
        "Patientsäkerhetsberättelse 2025 gjordes inte: en annan körning av samma steg (annan,"
        f" process {locks.this_process()}) gör det för Region Test (R1) sedan 2026-11-23"
        " 09:30, och den här körningen väntade 2 sekunder utan att den blev klar. Inget"
        " skrevs. Vänta tills den andra körningen är klar (sök på dess id i Prefect UI) och"
        " starta sedan den här igen."
    )
    try:
        locks.acquire(**held, unit_ids=["R1"], clock=lambda: NOW)
        state = safety_report_flow(year=YEAR, now=NOW, publish=False, return_state=True)
        assert state.is_failed() and state.message == refusal
        with get_client(sync_client=True) as client:
            stored = client.read_flow_run(state.state_details.flow_run_id).state
        assert stored is not None and (stored.type, stored.message) == (state.type, refusal)
        said = [r.getMessage() for r in arshjul_log.records if r.name == "arshjul"]
        assert said[-2:] == [
            "safety_report 2025 väntar: körning annan gör samma steg för R1 sedan 2026-11-23"
            " 09:30 (högst 2 sekunder)",
            "safety_report 2025 avbryts: körning annan gör samma steg för R1 sedan 2026-11-23"
            " 09:30 och blev inte klar på 2 sekunder; starta igen när den är klar",
        ]
        # called in its process, as `arshjul report safety` does, the flow raises it
        with pytest.raises(StepBusy) as raised:
            safety_report_flow(year=YEAR, now=NOW, publish=False)
        assert str(raised.value) == refusal
        assert not (region / "patientsakerhetsberattelse-v1.html").exists()
        assert rows(workdir) == [] and step_runs(workdir) == []
        locks.release(**held)
    finally:
        engine.dispose()
    # given back: the next run writes and signs version 1
    done = safety_report_flow(year=YEAR, now=NOW, publish=False, approve=True)
    assert (done.state, done.version) == ("approved", 1)
    assert [r.unit_id for r in step_runs(workdir)] == ["R1"]


# --- a database blip in what the flow does itself -------------------------------------------


def flaky(fn: Callable[..., Any], calls: list[int]) -> Callable[..., Any]:
    """``fn``, but the first call finds the database unavailable."""

    def once_unavailable(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return fn(*args, **kwargs)

    return once_unavailable


@pytest.mark.parametrize("where", ["opening the workspace", "loading the tree", "recording"])
def test_a_database_blip_in_what_used_to_be_the_flow_body_is_retried(workdir, monkeypatch, where):
    import arshjul.status
    import arshjul.workspace
    import flows.steps
    from flows.compile import compile_flow

    import_fixture()
    calls: list[int] = []
    if where == "opening the workspace":
        monkeypatch.setattr(arshjul.workspace, "migrate", flaky(arshjul.workspace.migrate, calls))
    elif where == "loading the tree":
        monkeypatch.setattr(OrgTree, "load", staticmethod(flaky(OrgTree.load, calls)))
    else:
        monkeypatch.setattr(arshjul.status, "record_done", flaky(arshjul.status.record_done, calls))
    for retried in (flows.steps.open_ws, *flows.steps.TASKS.values()):
        monkeypatch.setattr(retried, "retry_delay_seconds", [0.0])
    written = compile_flow(year=YEAR, unit="E2", now=NOW, publish=False)
    assert len(calls) == 2, "failed once, then done"
    assert {p.parent.name for p in written} == {"E2", "V1", "A1", "R1"}
    assert sorted(r.unit_id for r in step_runs(workdir)) == ["A1", "E2", "R1", "V1"]

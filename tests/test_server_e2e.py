"""End to end on a real Prefect server, as an operator runs it (docs/operations.md).

``prefect server start`` and ``arshjul serve`` run as the real scripts in processes of their
own, with a clean environment and a throwaway ``PREFECT_HOME``; the tests look at what the
server then holds (every deployment, the wheel's schedules, the runs its scheduler lays out),
start a step through the API as a coordinator does from the UI, and find the documents and the
status that run wrote. Both processes are stopped as systemd would stop them, and must leave
no process behind.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.server.schemas.schedules import CronSchedule, RRuleSchedule

from arshjul.config import Config
from arshjul.schedule import step_runs
from flows.deployments import DEPLOYMENT, STEP_FLOWS, build_deployments
from tests.conftest import FIXTURES, NOW, STOCKHOLM

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
#: how far ahead the test server's scheduler lays out runs (Prefect's default is 100 days):
#: every date the wheel gives from NOW (``schedule.years_ahead``), however close the wall
#: clock, which the server's scheduler goes by, is to the fixed NOW
SCHEDULED_AHEAD = timedelta(days=3 * 366)
WINTER, SUMMER = timedelta(hours=1), timedelta(hours=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    """A script started in a process group of its own, its output in a file."""

    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> Process:
        with log.open("wb") as out:
            popen = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(popen, log)

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def stop(self, sig: signal.Signals, grace: float = 30) -> int:
        """Send ``sig`` to the whole group, wait, then kill what is left; the exit status."""
        group = self.popen.pid
        if self.popen.poll() is None:
            os.killpg(group, sig)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(group, signal.SIGKILL)
                self.popen.wait(10)
        deadline = time.monotonic() + 10
        while group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        if group_alive(group):
            os.killpg(group, signal.SIGKILL)
        return self.popen.returncode


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def run_script(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """One of the venv's scripts (``arshjul``, ``prefect``), to its end."""
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class Region:
    folder: Path
    env: dict[str, str]
    api_url: str
    server: Process
    serve: Process

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_script(self.folder, self.env, *args)

    def api(self, call: Any) -> Any:
        """``call(client)`` with a client of this server, run to completion."""

        async def with_client() -> Any:
            async with PrefectClient(self.api_url) as client:
                return await call(client)

        return asyncio.run(with_client())


def wait_until(what: str, ready: Any, timeout: float, process: Process) -> Any:
    """Poll ``ready()`` until it returns something true; fail naming ``what`` on timeout or
    when ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            pytest.fail(f"{what}: {process.log.name} exited:\n{process.output()[-3000:]}")
        result = ready()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout} s; {process.log.name}:\n{process.output()[-3000:]}")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    """A Prefect server, a region's data imported through it, and ``arshjul serve``."""
    folder = tmp_path_factory.mktemp("e2e")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ARSHJUL_"))}
    env.update(
        PREFECT_HOME=str(folder / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_API_URL=api_url,
        COLUMNS="160",  # `prefect deployment ls` does not cut the names short
        ARSHJUL_DATABASE_URL=f"sqlite:///{folder / 'arshjul.sqlite'}",
        ARSHJUL_OUT=str(folder / "out"),
        ARSHJUL_NOW=NOW.replace(tzinfo=None).isoformat(timespec="minutes"),
    )
    server_env = {
        **env,
        "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": f"P{SCHEDULED_AHEAD.days}D",
    }
    server = Process.start(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        server_env,
        folder,
        folder / "server.log",
    )
    serve: Process | None = None
    try:
        wait_until("Prefect server", lambda: healthy(f"{api_url}/health"), 120, server)
        for kind in ("organisation", "deviations", "complaints"):
            csv_file = FIXTURES / "compile" / f"{kind}.csv"
            done = run_script(folder, env, "arshjul", "import", kind, str(csv_file))
            assert done.returncode == 0, done.stderr
        serve = Process.start([str(BIN / "arshjul"), "serve"], env, folder, folder / "serve.log")
        yield Region(folder, env, api_url, server, serve)
    finally:
        if serve is not None:
            serve.stop(signal.SIGTERM)
        server.stop(signal.SIGTERM)


@pytest.fixture(scope="module")
def expected(config: Config) -> dict[str, Any]:
    """What ``arshjul serve`` registers as of NOW: deployment name → its RunnerDeployment."""
    return {f"{d.flow_name}/{DEPLOYMENT}": d for d in build_deployments(config, now=NOW)}


@pytest.fixture(scope="module")
def deployments(region: Region, expected: dict[str, Any]) -> dict[str, Any]:
    """The deployments the server holds once ``arshjul serve`` registered them all."""

    async def read(client: PrefectClient) -> dict[str, Any]:
        found = await client.read_deployments(limit=200)
        flows = {f.id: f.name for f in await client.read_flows(limit=200)}
        return {f"{flows[d.flow_id]}/{d.name}": d for d in found}

    return wait_until(
        "all deployments registered",
        lambda: (found := region.api(read)).keys() >= expected.keys() and found,
        90,
        region.serve,
    )


def test_serve_registers_every_flow_as_a_deployment_named_arshjul(deployments, expected):
    assert set(deployments) == set(expected)
    assert {f"{step}/{DEPLOYMENT}" for step in STEP_FLOWS} <= set(deployments)


def test_prefect_deployment_ls_lists_every_step(region, deployments):
    listed = region.run("prefect", "deployment", "ls")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for name in deployments:
        assert name in listed.stdout


def test_arshjul_schedule_shows_each_deployments_next_run_in_stockholm_time(region, deployments):
    # prefect deployment ls (3.8.8) has no column for the next run: arshjul schedule has
    listed = region.run("arshjul", "schedule")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert set(lines) == set(deployments)
    assert lines["compile/arshjul"].split()[1:] == ["2027-01-13", "06:00", "CET", "year=2026"]
    assert "period=2026" in lines["interim_report/arshjul"]
    assert "05:00 CET" in lines["import_inbox/arshjul"]
    assert "by hand only" in lines["cycle/arshjul"]


def test_the_server_holds_each_steps_schedules_in_stockholm_time(deployments, expected):
    for name, served in expected.items():
        held = deployments[name]
        held_params = sorted(json.dumps(s.parameters, sort_keys=True) for s in held.schedules)
        served_params = sorted(json.dumps(s.parameters, sort_keys=True) for s in served.schedules)
        assert held_params == served_params, name
        assert {s.schedule.timezone for s in held.schedules} <= {"Europe/Stockholm"}, name
    compile_runs = [
        date
        for s in deployments[f"compile/{DEPLOYMENT}"].schedules
        for date in asyncio.run(
            RRuleSchedule(rrule=s.schedule.rrule, timezone=s.schedule.timezone).get_dates(
                n=1, start=NOW
            )
        )
    ]
    first = min(compile_runs)
    assert first == datetime(2027, 1, 13, 6, 0, tzinfo=STOCKHOLM)
    assert first.isoformat() == "2027-01-13T06:00:00+01:00"


def scheduled_runs(region: Region, deployment_id: UUID) -> list[Any]:
    async def read(client: PrefectClient) -> list[Any]:
        return await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            limit=200,
        )

    return list(region.api(read))


def test_the_servers_scheduler_lays_out_each_steps_runs_on_the_wheels_dates(
    region, deployments, config
):
    """Every step run from NOW that is still ahead of the wall clock becomes a scheduled flow
    run at 06:00 Stockholm time, with the year or period it is about."""
    ahead = datetime.now(STOCKHOLM)
    offsets = set()
    for step in STEP_FLOWS:
        want = sorted(
            (r.at, json.dumps(r.parameters, sort_keys=True))
            for r in step_runs(config.wheel, now=NOW)
            if r.step == step and ahead < r.at < ahead + SCHEDULED_AHEAD
        )
        held = deployments[f"{step}/{DEPLOYMENT}"]

        def laid_out(held: Any = held, want: list[Any] = want) -> tuple[list[Any]] | None:
            runs = scheduled_runs(region, held.id)
            got = sorted(
                (
                    r.expected_start_time.astimezone(STOCKHOLM),
                    json.dumps(r.parameters, sort_keys=True),
                )
                for r in runs
            )
            return (got,) if len(got) >= len(want) else None

        (got,) = wait_until(f"{step}: scheduled runs", laid_out, 60, region.server)
        assert got == want, step
        assert all((at.hour, at.minute) == (6, 0) for at, _ in got), step
        offsets |= {at.utcoffset() for at, _ in got}
    # winter and summer time: the server keeps 06:00 in Stockholm, not a fixed UTC hour (fails
    # once the wall clock is past the last run the wheel lays out from NOW, in September 2028)
    assert offsets == {WINTER, SUMMER}


def test_inbox_and_calendars_are_scheduled_every_morning_in_stockholm_time(region, deployments):
    for flow, at in (("import_inbox", (5, 0)), ("publish_calendars", (5, 30))):
        held = deployments[f"{flow}/{DEPLOYMENT}"]
        runs = wait_until(
            f"{flow}: scheduled runs",
            lambda h=held: scheduled_runs(region, h.id),
            60,
            region.server,
        )
        times = {r.expected_start_time.astimezone(STOCKHOLM) for r in runs}
        assert {(t.hour, t.minute) for t in times} == {at}, flow
        # a year of mornings, by the server's own schedule code: 05:00 in winter and summer
        (schedule,) = [s.schedule for s in held.schedules]
        assert schedule.timezone == "Europe/Stockholm"
        server_side = CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
        year = asyncio.run(server_side.get_dates(n=366, start=NOW))
        assert {(d.hour, d.minute) for d in year} == {at}, flow
        assert {d.utcoffset() for d in year} == {WINTER, SUMMER}, flow


def test_a_compile_started_through_the_api_writes_documents_and_status(region, deployments):
    held = deployments[f"compile/{DEPLOYMENT}"]

    async def start(client: PrefectClient) -> Any:
        return await client.create_flow_run_from_deployment(held.id, parameters={"year": 2025})

    flow_run = region.api(start)

    async def read(client: PrefectClient) -> Any:
        return await client.read_flow_run(flow_run.id)

    def finished() -> Any:
        run = region.api(read)
        return run if run.state is not None and run.state.is_final() else None

    run = wait_until("the compile run", finished, 120, region.serve)
    assert run.state.type == StateType.COMPLETED, run.state
    out = region.folder / "out" / "2025" / "region" / "R1" / "sammanstallning.html"
    assert out.is_file()
    assert str(flow_run.id) in out.read_text("utf-8")

    status = region.run("arshjul", "status", "--year", "2025", "--format", "json")
    assert status.returncode == 0, status.stderr
    rows = [r for r in json.loads(status.stdout) if r["milestone"] == "ps-compile"]
    # the compilation is due from every enhet, område and the region (verksamheter have no
    # deadline of their own)
    with (FIXTURES / "compile" / "organisation.csv").open(encoding="utf-8") as f:
        units = {r["HSA-id"] for r in csv.DictReader(f, delimiter=";") if r["Nivå"] != "verksamhet"}
    assert len(units) == 6
    assert {r["unit_id"] for r in rows} == units
    assert {(r["status"], r["run_id"]) for r in rows} == {("done", str(flow_run.id))}


def test_schedule_apply_lays_the_wheel_onto_registered_deployments(region, deployments):
    # as after `prefect deploy --all` for workers: the same schedules, the same next runs
    before = region.run("arshjul", "schedule")
    applied = region.run("arshjul", "schedule", "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "compile: 2 runs scheduled from the wheel" in applied.stderr
    assert applied.stdout == before.stdout


def test_serve_and_server_stop_cleanly_and_leave_no_process(region, deployments):
    """Stopped as systemd stops a service (SIGTERM; Ctrl-C's SIGINT goes the same way): serve
    pauses its deployments on the way out, says nothing more, and no process is left."""
    serve_status = region.serve.stop(signal.SIGTERM)
    output = region.serve.output()

    async def paused(client: PrefectClient) -> bool:
        return (await client.read_deployment_by_name(f"compile/{DEPLOYMENT}")).paused

    assert region.api(paused)
    server_status = region.server.stop(signal.SIGTERM)
    for process in (region.serve, region.server):
        assert not group_alive(process.popen.pid), process.log.name
    assert serve_status == 0, output
    assert "Your deployments are being served" in output
    for noise in ("Traceback", "ERROR", "telemetry", "Warning"):
        assert noise not in output, output
    assert server_status in (0, -signal.SIGTERM)
    assert "Traceback" not in region.server.output(), region.server.output()[-3000:]

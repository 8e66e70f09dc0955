"""End to end on a real Prefect server and PostgreSQL, as an operator runs it
(docs/operations.md).

``prefect server start`` (its own database on the suite's PostgreSQL), ``arshjul serve`` and
later ``prefect worker start`` run as the real scripts in processes of their own, with a clean
environment and a throwaway ``PREFECT_HOME``; arshjul's database is on the same PostgreSQL.
The tests look at what the server holds (every deployment, the wheel's schedules, the runs its
scheduler lays out), get the data in through the inbox deployment, start steps through the API
as a coordinator does from the UI and read the runs' logs back, answer a sign-off across
restarts of serve and of the Prefect server, receive the reminders on an SMTP server of their
own, and take the work-pool path (``prefect deploy --all``, a worker, ``arshjul schedule
--apply``). Processes are stopped as systemd stops them and must leave nothing behind.

The tests run in file order, as one region's day: each leaves the region as the next expects.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
import yaml
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import DeploymentStatus, FlowRun, StateType
from prefect.server.schemas.schedules import CronSchedule, RRuleSchedule
from sqlalchemy import URL, Engine, create_engine, delete, insert, select, text

from arshjul import signoff
from arshjul.config import BUNDLED_CONFIG, Config
from arshjul.locks import this_process
from arshjul.models import (
    ReminderSent,
    SignOff,
    SignOffRequest,
    SignOffState,
    StepLock,
    StepRun,
)
from arshjul.schedule import step_runs
from flows.deployments import DEPLOYMENT, STEP_FLOWS, build_deployments
from tests.conftest import FIXTURES, NOW, STOCKHOLM, Databases
from tests.test_reminders import Behaviour, SmtpServer

#: the source checkout: prefect.yaml, from which `prefect deploy` runs
CHECKOUT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
#: how far ahead the test server's scheduler lays out runs (Prefect's default is 100 days):
#: every date the wheel gives from NOW (``schedule.years_ahead``), however close the wall
#: clock, which the server's scheduler goes by, is to the fixed NOW
SCHEDULED_AHEAD = timedelta(days=3 * 366)
WINTER, SUMMER = timedelta(hours=1), timedelta(hours=2)
#: where the test region publishes its output folder (reminders never link to loopback)
BASE_URL = "https://arshjul.region.example"
#: the default address of config/recipients.yaml
COORDINATOR = "kvalitetssamordnare@demoland.example"
#: the longest a step, or a sign-off run's start, may take on a busy two-core machine
SLOW = 180


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

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM, grace: float = 30) -> int:
        """Send ``sig`` to the whole group (as systemd does to a service's processes), wait,
        then kill what is left; the exit status."""
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
        timeout=SLOW,
    )


def wait_until(what: str, ready: Callable[[], Any], timeout: float, process: Process) -> Any:
    """Poll ``ready()`` until it returns something true; fail naming ``what`` on timeout or
    when ``process`` (the one doing the work) died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running():
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


@dataclass
class Region:
    """A region's server: its folder and environment, the Prefect server, and whichever of
    ``arshjul serve`` and a worker runs the flows."""

    folder: Path
    env: dict[str, str]
    server_env: dict[str, str]
    api_url: str
    database: URL
    smtp: SmtpServer
    server: Process | None = None
    serve: Process | None = None
    worker: Process | None = None
    starts: dict[str, int] = field(default_factory=dict)

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_script(cwd or self.folder, self.env, *args)

    def _log(self, name: str) -> Path:
        self.starts[name] = self.starts.get(name, 0) + 1
        return self.folder / f"{name}-{self.starts[name]}.log"

    def start_server(self) -> Process:
        port = str(urlsplit(self.api_url).port)
        server = Process.start(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port],
            self.server_env,
            self.folder,
            self._log("server"),
        )
        self.server = server
        wait_until("Prefect server", lambda: healthy(f"{self.api_url}/health"), SLOW, server)
        return server

    def serving(self) -> Process:
        """``arshjul serve`` as it runs now."""
        assert self.serve is not None and self.serve.running(), "arshjul serve is not running"
        return self.serve

    def prefect_server(self) -> Process:
        assert self.server is not None
        return self.server

    def start_serve(self) -> Process:
        """``arshjul serve``, once it polls for runs (its deployments show as ready)."""
        serve = Process.start(
            [str(BIN / "arshjul"), "serve"], self.env, self.folder, self._log("serve")
        )
        self.serve = serve

        def polling() -> bool:
            if "arshjul serve:" not in serve.output():
                return False
            with self.client() as client:
                deployment = client.read_deployment_by_name(f"compile/{DEPLOYMENT}")
            return deployment.status is DeploymentStatus.READY

        wait_until("arshjul serve polling", polling, SLOW, serve)
        return serve

    def start_worker(self) -> Process:
        self.worker = Process.start(
            [str(BIN / "prefect"), "worker", "start", "--pool", DEPLOYMENT],
            self.env,
            self.folder,
            self._log("worker"),
        )
        return self.worker

    def client(self) -> SyncPrefectClient:
        return SyncPrefectClient(self.api_url)

    @cached_property
    def engine(self) -> Engine:
        """arshjul's database, as the region's runs use it."""
        return create_engine(self.database)

    def flow_run(self, flow_run_id: UUID) -> FlowRun:
        with self.client() as client:
            return client.read_flow_run(flow_run_id)

    def start_deployment(self, name: str, **parameters: Any) -> FlowRun:
        """A run of deployment ``name``, as the UI's "Run" button makes it."""
        with self.client() as client:
            deployment = client.read_deployment_by_name(name)
            return client.create_flow_run_from_deployment(deployment.id, parameters=parameters)

    def deployment_run(self, name: str, *parameters: str) -> FlowRun:
        """A run of deployment ``name`` started as an operator does it in a terminal:
        ``prefect deployment run NAME --param key=value …``."""
        params = [arg for p in parameters for arg in ("--param", p)]
        started = self.run("prefect", "deployment", "run", name, *params)
        assert started.returncode == 0, started.stdout + started.stderr
        found = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout)
        assert found, started.stdout
        return self.flow_run(UUID(found.group(1)))

    def wait_for(
        self, flow_run_id: UUID, done: Callable[[FlowRun], bool], process: Process
    ) -> FlowRun:
        def ready() -> FlowRun | None:
            run = self.flow_run(flow_run_id)
            return run if run.state is not None and done(run) else None

        return wait_until(f"flow run {flow_run_id}", ready, SLOW, process)

    def finished(self, flow_run_id: UUID, process: Process) -> FlowRun:
        return self.wait_for(flow_run_id, lambda r: bool(r.state and r.state.is_final()), process)

    def logs(self, flow_run_id: UUID) -> list[str]:
        """The run's log as the Prefect UI shows it."""
        with self.client() as client:
            found = client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200
            )
        return [log.message for log in found]

    def logged(self, flow_run_id: UUID, line: str) -> list[str]:
        """The run's log once ``line`` is in it: a run's last lines reach the server in a
        batch, after its state."""
        deadline = time.monotonic() + 60
        while line not in (found := self.logs(flow_run_id)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert line in found, "\n".join(found)
        return found

    def resume(self, flow_run_id: UUID, answer: dict[str, Any]) -> dict[str, Any]:
        """Answer a waiting run as the Prefect UI's form does: POST .../resume."""
        request = urllib.request.Request(
            f"{self.api_url}/flow_runs/{flow_run_id}/resume",
            data=json.dumps({"run_input": answer}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.load(response))


def region_config(folder: Path, smtp_port: int, base_url: str, smtp_enabled: bool = True) -> Path:
    """The region's config folder: the bundled files, its published address and mail relay."""
    shutil.copytree(BUNDLED_CONFIG, folder)
    settings = yaml.safe_load((folder / "settings.yaml").read_text("utf-8"))
    settings["calendar"]["base_url"] = base_url
    settings["smtp"] = {
        "enabled": smtp_enabled,
        "host": "127.0.0.1",
        "port": smtp_port,
        "security": "none",
        "sender": "arshjul@region.example",
    }
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
    return folder


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[Region]:
    """A Prefect server and arshjul on the suite's PostgreSQL, ``arshjul serve`` running, an
    SMTP server for the reminders, and the region's exports dropped in the inbox."""
    postgres = databases.postgres()
    prefect_db, arshjul_db = postgres.create_database(), postgres.create_database()
    folder = tmp_path_factory.mktemp("e2e")
    smtp = SmtpServer(Behaviour())
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    inbox = folder / "inbox"
    inbox.mkdir()
    for kind in ("organisation", "deviations", "complaints"):
        shutil.copy(FIXTURES / "compile" / f"{kind}.csv", inbox)
    api_url = f"http://127.0.0.1:{free_port()}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ARSHJUL_"))}
    env.update(
        PREFECT_HOME=str(folder / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_API_URL=api_url,
        # serve and workers look for runs every 2 s (10 s by default): a shorter test
        PREFECT_RUNNER_POLL_FREQUENCY="2",
        PREFECT_WORKER_QUERY_SECONDS="2",
        COLUMNS="160",  # `prefect deployment ls` does not cut the names short
        ARSHJUL_HOME=str(folder),
        ARSHJUL_DATABASE_URL=arshjul_db.render_as_string(hide_password=False),
        ARSHJUL_CONFIG=str(region_config(folder / "config", smtp.port, BASE_URL)),
        ARSHJUL_OUT=str(folder / "out"),
        ARSHJUL_INBOX=str(inbox),
        ARSHJUL_NOW=NOW.replace(tzinfo=None).isoformat(timespec="minutes"),
    )
    server_env = {
        **env,
        # Prefect's own database: PostgreSQL, as docs/operations.md says
        "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db.set(
            drivername="postgresql+asyncpg"
        ).render_as_string(hide_password=False),
        "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": f"P{SCHEDULED_AHEAD.days}D",
    }
    the_region = Region(folder, env, server_env, api_url, arshjul_db, smtp)
    try:
        the_region.start_server()
        the_region.start_serve()
        yield the_region
    finally:
        for process in (the_region.worker, the_region.serve, the_region.server):
            if process is not None:
                process.stop()
        smtp.shutdown()
        smtp.server_close()
        the_region.engine.dispose()
        postgres.drop_database(arshjul_db)
        postgres.drop_database(prefect_db)


@pytest.fixture(scope="module")
def expected(config: Config) -> dict[str, Any]:
    """What ``arshjul serve`` registers as of NOW: deployment name → its RunnerDeployment."""
    return {f"{d.flow_name}/{DEPLOYMENT}": d for d in build_deployments(config, now=NOW)}


@pytest.fixture(scope="module")
def deployments(region: Region, expected: dict[str, Any]) -> dict[str, Any]:
    """The deployments the server holds once ``arshjul serve`` registered them all."""

    def read() -> dict[str, Any] | None:
        with region.client() as client:
            flows = {f.id: f.name for f in client.read_flows(limit=200)}
            found = {f"{flows[d.flow_id]}/{d.name}": d for d in client.read_deployments(limit=200)}
        return found if found.keys() >= expected.keys() else None

    return wait_until("all deployments registered", read, 90, region.serving())


@pytest.fixture
def serve(region: Region, deployments: dict[str, Any]) -> Process:
    """``arshjul serve`` as it runs now (restarted by some tests), every deployment
    registered."""
    return region.serving()


@pytest.fixture(scope="module")
def imported(region: Region, deployments: dict[str, Any]) -> FlowRun:
    """The inbox imported as the operator gets data in the first time (docs/operations.md):
    ``prefect deployment run import_inbox/arshjul``; the finished run."""
    started = region.deployment_run(f"import_inbox/{DEPLOYMENT}")
    return region.finished(started.id, region.serving())


def test_serve_registers_every_flow_as_a_deployment_named_arshjul(deployments, expected):
    assert set(deployments) == set(expected)
    assert {f"{step}/{DEPLOYMENT}" for step in STEP_FLOWS} <= set(deployments)
    assert f"sign_off/{DEPLOYMENT}" in deployments


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
    assert "by hand only" in lines["sign_off/arshjul"]


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


def scheduled_runs(region: Region, deployment_id: UUID) -> list[FlowRun]:
    with region.client() as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            limit=200,
        )


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
                if r.expected_start_time is not None
            )
            return (got,) if len(got) >= len(want) else None

        (got,) = wait_until(f"{step}: scheduled runs", laid_out, 60, region.prefect_server())
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
            region.prefect_server(),
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


def test_the_first_data_gets_in_through_the_inbox_deployment(region, imported):
    assert imported.state.type == StateType.COMPLETED, imported.state
    with region.client() as client:
        [import_data] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[imported.id])
            )
        )
    kinds = ("organisation", "deviations", "complaints")

    def imported_kinds() -> list[str] | None:
        # in the UI, nested under the import_inbox run; the last lines come after its state
        lines = region.logs(import_data.id)
        said = all(any(line.startswith(f"{k}.csv ({k}):") for line in lines) for k in kinds)
        return lines if said else None

    wait_until("each kind's line in the import's log", imported_kinds, 60, region.serving())
    status = region.run("arshjul", "status", "--year", "2025", "--format", "json")
    assert status.returncode == 0, status.stderr
    assert {r["unit_id"] for r in json.loads(status.stdout)} >= {"R1", "E1", "E2", "E3"}


def hold_lock(region: Region, step: str, period: str, unit_ids: list[str]) -> None:
    """Hold ``step``'s lock as a run in this (living) process holds it."""
    with region.engine.begin() as conn:
        conn.execute(
            insert(StepLock),
            [
                {
                    "step": step,
                    "period": period,
                    "unit_id": unit,
                    "run_id": "en-annan-körning",
                    "holder": this_process(),
                    "acquired_at": NOW,
                }
                for unit in unit_ids
            ],
        )


def test_a_compile_waits_for_the_lock_in_its_log_then_writes_documents_and_status(
    region, serve, imported
):
    """Started through the API as from the UI, while another run holds the lock: the run's
    log in the Prefect UI says, in Swedish, what it waits for; then it does its work."""
    hold_lock(region, "compile", "2025", ["R1"])
    flow_run = region.start_deployment(f"compile/{DEPLOYMENT}", year=2025)
    waiting = (
        "compile 2025 väntar: körning en-annan-körning gör samma steg för R1 sedan"
        " 2026-11-23 09:30 (högst 5 minuter)"
    )
    region.logged(flow_run.id, waiting)
    assert region.flow_run(flow_run.id).state.is_running()
    with region.engine.begin() as conn:
        conn.execute(delete(StepLock))
    run = region.finished(flow_run.id, serve)
    assert run.state.type == StateType.COMPLETED, run.state
    # arshjul's own INFO line: a document for each of the 8 units, verksamheter included
    lines = region.logged(flow_run.id, "compile 2025: 8 files for 8 units")
    assert "compile 2025: låset är fritt, fortsätter" in lines

    out = region.folder / "out" / "2025" / "region" / "R1" / "sammanstallning.html"
    assert str(flow_run.id) in out.read_text("utf-8")
    status = region.run("arshjul", "status", "--year", "2025", "--format", "json")
    assert status.returncode == 0, status.stderr
    rows = [r for r in json.loads(status.stdout) if r["milestone"] == "ps-compile"]
    # the compilation is due from every enhet, verksamhet, område and the region
    with (FIXTURES / "compile" / "organisation.csv").open(encoding="utf-8") as f:
        units = {r["HSA-id"] for r in csv.DictReader(f, delimiter=";")}
    assert len(units) == 8
    assert {r["unit_id"] for r in rows} == units
    assert {(r["status"], r["run_id"]) for r in rows} == {("done", str(flow_run.id))}


def parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def test_a_coordinators_rerun_executes_in_a_child_of_serves_warm_process(region, serve, imported):
    """A unit's rerun started from the UI is executed by a process forked from serve's warm
    process, which imported arshjul and Prefect once (flows/serving.py), not by a new
    interpreter (``python -m prefect.engine``, Prefect's way); it completes, and the warm
    process lives on for the next run."""
    flow_run = region.start_deployment(f"compile/{DEPLOYMENT}", year=2025, unit="E1")
    run = region.finished(flow_run.id, serve)
    assert run.state.type == StateType.COMPLETED, run.state
    forked = re.compile(
        r"Executing in process (\d+), forked from arshjul serve's warm process (\d+)"
    )

    def said() -> list[re.Match[str]] | None:
        found = [m for line in region.logs(flow_run.id) if (m := forked.fullmatch(line))]
        return found or None

    [line] = wait_until("the run's first line", said, 60, serve)
    child, warm = int(line.group(1)), int(line.group(2))
    assert parent(warm) == serve.popen.pid
    assert b"multiprocessing.forkserver" in Path(f"/proc/{warm}/cmdline").read_bytes()
    assert child != warm
    # the first line of a run executed by a new interpreter (prefect.engine loading the flow)
    assert not any("Downloading flow code" in line for line in region.logs(flow_run.id))
    # the data as the compile before it had them: the documents of E1 and above say what they
    # said and keep the footer of the run that wrote it; this run's log says so
    out = region.folder / "out" / "2025" / "region" / "R1" / "sammanstallning.html"
    wrote = re.search(r"av körning (\S+) \(arshjul\)", out.read_text("utf-8"))
    assert wrote and wrote.group(1) != str(flow_run.id)
    region.logged(
        flow_run.id, f"compile 2025: 0 files for 4 units, 4 oförändrade sedan körning {wrote[1]}"
    )


def test_a_step_started_while_arshjuls_database_is_down_completes_once_it_is_back(
    region, serve, imported, databases
):
    """arshjul's database refuses connections (as while PostgreSQL restarts) when a step
    starts: its first task fails, the run's log says Prefect tries it again, and once the
    database is back the run completes and records the step, once. (Each kind of database
    work in a flow is a task that retries: tests/test_retries.py, tests/test_signoff.py.)"""
    with databases.postgres().unavailable(region.database):
        flow_run = region.start_deployment(f"compile/{DEPLOYMENT}", year=2025, unit="E2")

        def retrying() -> bool:
            return any(
                "OperationalError" in line and "Retry 1/2 will start" in line
                for line in region.logs(flow_run.id)
            )

        wait_until("the first attempt failed and is tried again", retrying, SLOW, serve)
    region.engine.dispose()  # its connections were closed with the others
    run = region.finished(flow_run.id, serve)
    assert run.state.type == StateType.COMPLETED, run.state
    # the step's own line (files written or kept as they were: the data did not change)
    said = wait_until(
        "the step's line",
        lambda: [line for line in region.logs(flow_run.id) if "files for 4 units" in line],
        60,
        serve,
    )
    assert said[0].startswith("compile 2025: "), said
    with region.engine.connect() as conn:
        done = conn.execute(select(StepRun.unit_id).where(StepRun.run_id == str(flow_run.id))).all()
    assert sorted(u for (u,) in done) == ["A1", "E2", "R1", "V1"]


def test_connections_dropped_in_the_middle_of_a_step_are_retried_and_the_step_completes(
    region, serve, imported, databases
):
    """PostgreSQL closes every connection to arshjul's database (as a restart or a dropped
    network does) while a unit's rerun is inside its step: its database work open, waiting for
    a lock the test holds. The task's next query fails, the run's log says Prefect tries it
    again 5 s later, the retry waits for the lock again, and once it is given back the run
    completes and records the step."""
    hold_lock(region, "compile", "2025", ["E3"])
    # started as docs/operations.md shows a coordinator starting a step by hand
    flow_run = region.deployment_run(f"compile/{DEPLOYMENT}", "year=2025", "unit=E3")
    assert flow_run.parameters == {"year": 2025, "unit": "E3"}
    waiting = (
        "compile 2025 väntar: körning en-annan-körning gör samma steg för E3 sedan"
        " 2026-11-23 09:30 (högst 5 minuter)"
    )
    region.logged(flow_run.id, waiting)
    region.engine.dispose()  # the test's own connections are closed with the others
    assert databases.postgres().drop_connections(region.database) >= 1

    def retried() -> bool:
        lines = region.logs(flow_run.id)
        failed = [i for i, line in enumerate(lines) if "Retry 1/2 will start" in line]
        # the retried task waits for the lock again, and says so again
        return bool(failed) and waiting in lines[failed[0] :]

    wait_until("the task tried again, waiting for the lock", retried, SLOW, serve)
    assert region.flow_run(flow_run.id).state.is_running()
    with region.engine.begin() as conn:
        conn.execute(delete(StepLock))
    run = region.finished(flow_run.id, serve)
    assert run.state.type == StateType.COMPLETED, run.state
    lines = region.logs(flow_run.id)
    [failure] = [line for line in lines if "Retry 1/2 will start" in line]
    assert "OperationalError" in failure, failure
    assert failure.endswith("Retry 1/2 will start 5.0 second(s) from now"), failure
    assert not any("Retry 2/2" in line for line in lines), lines
    with region.engine.connect() as conn:
        done = conn.execute(select(StepRun.unit_id).where(StepRun.run_id == str(flow_run.id))).all()
    assert sorted(u for (u,) in done) == ["A2", "E3", "R1", "V2"]


def sign_off_run(region: Region, title: str) -> FlowRun | None:
    """The run asking ``title``, as the approver finds it in the UI's list of runs."""
    with region.client() as client:
        found = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["sign_off"])),
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[title])),
        )
    return found[0] if found else None


def suspended(key: str) -> Callable[[FlowRun], bool]:
    """Waiting for its ``key``-th answer, with no process behind it."""
    return lambda run: bool(
        run.state
        and run.state.name == "Suspended"
        and run.state.state_details.pause_key == key
        and run.state.state_details.pause_reschedule
    )


def sign_offs(region: Region) -> list[Any]:
    with region.engine.connect() as conn:
        return list(conn.execute(select(SignOff.__table__).order_by(SignOff.id)))


def lock_holders(region: Region, step: str) -> set[str]:
    """The runs holding ``step``'s lock now."""
    with region.engine.connect() as conn:
        return set(conn.scalars(select(StepLock.run_id).where(StepLock.step == step)))


@pytest.fixture(scope="module")
def two_reports(region: Region, imported: FlowRun) -> tuple[FlowRun, FlowRun]:
    """Two runs of the safety report for 2025 at once, as when a coordinator presses *Run*
    while another run of it is under way; the two finished runs. The first is held inside
    its step, its lock taken, by a transaction of the test that locks the table of decisions
    (``sign_off``, which the step reads), until the second has found the lock taken."""
    serve = region.serving()
    with region.engine.connect() as conn, conn.begin():
        conn.execute(text(f"LOCK TABLE {SignOff.__tablename__} IN ACCESS EXCLUSIVE MODE"))
        first = region.start_deployment(f"safety_report/{DEPLOYMENT}", year=2025)
        wait_until(
            "the first run holds the lock",
            lambda: lock_holders(region, "safety_report") == {str(first.id)},
            SLOW,
            serve,
        )
        second = region.start_deployment(f"safety_report/{DEPLOYMENT}", year=2025)
        region.logged(
            second.id,
            f"safety_report 2025 väntar: körning {first.id} gör samma steg för R1 sedan"
            " 2026-11-23 09:30 (högst 5 minuter)",
        )
    return region.finished(first.id, serve), region.finished(second.id, serve)


def test_a_second_safety_report_waits_for_the_first_and_asks_no_second_question(
    region, serve, two_reports
):
    """Two runs of the patientsäkerhetsberättelse for the same year: the second waits for
    the first's lock, saying so in Swedish (the fixture), then writes the same version 1,
    whose question stands: one run asks it, and neither run fails or says ConflictError."""
    first, second = two_reports
    assert first.state.type == StateType.COMPLETED, first.state
    assert second.state.type == StateType.COMPLETED, second.state
    title = "Fastställ patientsäkerhetsberättelse 2025, version 1"
    region.logged(
        first.id,
        f"{title} väntar på fastställande av Chefläkare: öppna körningen {title!r} i Prefect UI"
        " och svara där",
    )
    lines = region.logged(second.id, f"{title}: körning {title} väntar på beslut av Chefläkare")
    assert "safety_report 2025: låset är fritt, fortsätter" in lines
    with region.client() as client:
        asking = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["sign_off"]))
        )
    assert [run.name for run in asking] == [title]
    region.wait_for(asking[0].id, suspended("1"), serve)
    with region.engine.connect() as conn:
        questions = list(conn.execute(select(SignOffRequest.__table__)))
    assert [(q.version, q.flow_run_id) for q in questions] == [(1, str(asking[0].id))]
    assert sign_offs(region) == []
    region_folder = region.folder / "out" / "2025" / "region" / "R1"
    assert sorted(p.name for p in region_folder.glob("patientsakerhetsberattelse*.html")) == [
        "patientsakerhetsberattelse-v1.html",
        "patientsakerhetsberattelse.html",
    ]
    for run in (first, second):
        for line in region.logs(run.id):
            assert "ConflictError" not in line and "already running" not in line, line


@pytest.mark.timeout(600)  # serve three times, the Prefect server twice
def test_a_sign_off_survives_restarts_of_serve_and_of_the_prefect_server(
    region, serve, two_reports
):
    """The safety report asked for its sign-off and ended (the fixture); the run asking waits
    suspended while serve and the Prefect server restart; a refused answer is said in its log
    and it waits again; the answer given while serve is down is recorded when serve is back."""
    report, _ = two_reports
    title = "Fastställ patientsäkerhetsberättelse 2025, version 1"
    asking = wait_until("the sign-off run", lambda: sign_off_run(region, title), 60, serve)
    region.wait_for(asking.id, suspended("1"), serve)
    # stopped at once: the asking run's process may still be sending its last log lines, and
    # a stop of serve must not make the suspended run Crashed (restarted, the answer refused)
    assert serve.stop() == 0
    assert "Process exited with status code" not in serve.output(), serve.output()
    region.prefect_server().stop()
    region.start_server()
    again = region.start_serve()
    assert "(sign-offs waiting: 1)" in again.output()
    assert suspended("1")(region.flow_run(asking.id))
    region.logged(
        report.id,
        f"{title} väntar på fastställande av Chefläkare: öppna körningen {title!r} i Prefect UI"
        " och svara där",
    )
    # the form the approver fills in: the question, and the role filled in with its help text
    with region.client() as client:
        question = json.loads(client.read_flow_run_input(asking.id, "suspended-1-description"))
        form = json.loads(client.read_flow_run_input(asking.id, "suspended-1-schema"))
    assert question.startswith(f"**{title}** (patientsakerhetsberattelse-v1.html).")
    assert f"{BASE_URL}/2025/region/R1/patientsakerhetsberattelse-v1.html" in question
    assert form["properties"]["role"]["default"] == "Chefläkare"
    assert form["properties"]["role"]["description"].startswith("Din roll")
    assert form["properties"]["role"]["title"] == "Roll"

    wrong = {"decision": "godkänn", "name": "Kim Berg", "role": "Enhetschef"}
    assert region.resume(asking.id, wrong)["status"] == "ACCEPT"
    region.wait_for(asking.id, suspended("2"), again)
    region.logged(
        asking.id,
        f"{title}: svar 1 (Kim Berg, godkänn) avvisades: rollen 'Enhetschef' får inte"
        " fastställa; det gör Chefläkare. Körningen väntar på ett nytt svar.",
    )
    assert sign_offs(region) == []

    assert again.stop() == 0
    answer = {"decision": "godkänn", "name": "Eva Ek", "role": "chefläkare", "comment": None}
    before = datetime.now(UTC)
    assert region.resume(asking.id, answer)["status"] == "ACCEPT"
    after = datetime.now(UTC)
    third = region.start_serve()
    done = region.finished(asking.id, third)
    assert done.state.type == StateType.COMPLETED, done.state
    [row] = sign_offs(region)
    assert (row.document, row.period, row.unit_id, row.version) == (
        "safety_report",
        "2025",
        "R1",
        1,
    )
    assert (row.state, row.signed_by, row.role, row.run_id) == (
        SignOffState.APPROVED,
        "Eva Ek",
        "Chefläkare",
        str(asking.id),
    )
    # when the answer was given, not when serve came back to record it
    assert before - timedelta(seconds=2) <= row.at <= after + timedelta(seconds=2)
    v1 = region.folder / "out" / "2025" / "region" / "R1" / "patientsakerhetsberattelse-v1.html"
    assert row.sha256 == signoff.sha256_file(v1)
    at = f"{row.at.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}"
    assert f"Fastställd av Eva Ek, Chefläkare, {at}." in v1.read_text("utf-8")
    # and the decision recorded, in the asking run's log
    region.logged(
        asking.id, f"{title}: fastställd av Eva Ek, Chefläkare, {at} (sha256 {row.sha256})"
    )
    for process in (serve, again):
        for noise in ("Traceback", "Warning", "ERROR"):
            assert noise not in process.output(), process.output()


def test_reminders_are_one_message_per_address_with_links_that_exist(region, serve):
    """The morning's calendars, then the reminders: one message per address, the same step
    never twice, no link to a page not written, and what went out in the run's log."""
    calendars = region.start_deployment(f"publish_calendars/{DEPLOYMENT}")
    assert region.finished(calendars.id, serve).state.type == StateType.COMPLETED
    flow_run = region.start_deployment(f"send_reminders/{DEPLOYMENT}")
    run = region.finished(flow_run.id, serve)
    assert run.state.type == StateType.COMPLETED, run.state
    received = region.smtp.received
    addresses = [r.recipients[0] for r in received]
    assert len(addresses) == len(set(addresses)) >= 3
    items = [
        line
        for r in received
        for line in r.message.get_content().splitlines()
        if line.startswith("* ")
    ]
    with region.engine.connect() as conn:
        sent = list(conn.execute(select(ReminderSent.unit_id, ReminderSent.milestone_id)))
    assert len(items) == len(sent)
    coordinator = next(
        r for r in received if r.recipients[0] == "kvalitetssamordnare@demoland.example"
    )
    assert coordinator.message["Subject"].startswith("Påminnelse: ")
    assert "försenade steg i årshjulet" in coordinator.message["Subject"]
    links = re.findall(
        rf"(?:Underlag|Status): {re.escape(BASE_URL)}/(\S+)",
        "".join(r.message.get_content() for r in received),
    )
    assert any(link.startswith("2025/status.html#") for link in links)
    for link in links:
        assert (region.folder / "out" / link.split("#")[0]).is_file(), link
    lines = region.logged(
        flow_run.id,
        f"Påminnelser: {len(received)} meddelanden skickade, 0 gick inte iväg (försöker igen"
        " senare)",
    )
    for address in addresses:
        assert any(line.startswith(f"Påminnelse skickad till {address}: ") for line in lines)


def test_reminders_with_links_to_this_machine_are_refused_and_said_in_the_runs_log(region):
    """``arshjul remind`` against the server with the default base URL: nothing is sent, the
    command says which key to set, and the run's log in the Prefect UI says it in Swedish."""
    local = region_config(region.folder / "local-config", region.smtp.port, "http://127.0.0.1:8080")
    before = len(region.smtp.received)
    env = {**region.env, "ARSHJUL_CONFIG": str(local)}
    refused = run_script(region.folder, env, "arshjul", "remind")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "key 'calendar.base_url', value 'http://127.0.0.1:8080'" in refused.stderr
    assert len(region.smtp.received) == before
    with region.client() as client:
        # the command's own run: not one of the deployment's
        [latest] = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["send_reminders"])),
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(is_null_=True)),
        )
    assert latest.state.type == StateType.FAILED
    region.logged(
        latest.id,
        "Påminnelser skickas inte: länkarna skulle gå till http://127.0.0.1:8080"
        " (calendar.base_url), den här datorns egen adress, som mottagarna inte kan öppna."
        " Sätt calendar.base_url i settings.yaml till adressen där dokumenten publiceras.",
    )


def test_with_smtp_disabled_reminders_are_only_said_in_the_runs_log(region):
    """``smtp.enabled: false`` (the default): ``arshjul remind`` against the server a week
    later, when the same steps are due again, sends nothing and records nothing (the default
    base URL is no reason to refuse then); the run's log says in Swedish what would have gone
    out."""
    quiet = region_config(
        region.folder / "quiet-config", region.smtp.port, "http://127.0.0.1:8080", False
    )
    before = len(region.smtp.received)
    with region.engine.connect() as conn:
        recorded = len(conn.execute(select(ReminderSent.unit_id)).all())
    env = {**region.env, "ARSHJUL_CONFIG": str(quiet), "ARSHJUL_NOW": "2026-12-01T09:30"}
    quiet_run = run_script(region.folder, env, "arshjul", "remind")
    assert quiet_run.returncode == 0, quiet_run.stdout + quiet_run.stderr
    assert len(region.smtp.received) == before
    with region.engine.connect() as conn:
        assert len(conn.execute(select(ReminderSent.unit_id)).all()) == recorded
    with region.client() as client:
        [latest] = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["send_reminders"])),
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(is_null_=True),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])),
            ),
        )
    summary = re.compile(
        r"Påminnelser: (\d+) meddelanden skulle ha skickats; inget skickades, SMTP är avstängt"
    )

    def said() -> list[str] | None:
        lines = region.logs(latest.id)
        return lines if any(summary.fullmatch(line) for line in lines) else None

    lines = wait_until("the run's summary", said, 60, region.prefect_server())
    [count] = [int(m[1]) for line in lines if (m := summary.fullmatch(line))]
    would = {
        line.split(": ")[0].rpartition(" till ")[2]
        for line in lines
        if line.startswith("Påminnelse skickas inte (smtp.enabled är false) till ")
    }
    # one message per address, among them every address reminded a week before
    assert count == len(would) >= len({r.recipients[0] for r in region.smtp.received}) > 0
    assert {r.recipients[0] for r in region.smtp.received} <= would


def test_serve_stops_cleanly_and_leaves_no_process(region, serve):
    """Stopped as systemd stops a service (SIGTERM; Ctrl-C's SIGINT goes the same way): serve
    pauses its deployments on the way out, says nothing more, and no process is left."""
    current = serve
    status = current.stop()
    with region.client() as client:
        assert client.read_deployment_by_name(f"compile/{DEPLOYMENT}").paused
    assert not group_alive(current.popen.pid)
    assert status == 0, current.output()
    assert "arshjul serve: 10 deployments served" in current.output()
    for noise in ("Traceback", "ERROR", "telemetry", "Warning"):
        assert noise not in current.output(), current.output()


@pytest.mark.timeout(600)  # a dozen processes started one after the other
def test_the_work_pool_path_runs_steps_and_sign_offs_through_a_worker(region, imported):
    """Instead of serve: a process work pool, ``prefect deploy --all`` from the arshjul
    folder, a worker, and ``arshjul schedule --apply``; a step run through the worker asks for
    its sign-off, which is answered across a restart of the worker."""
    if region.serve is not None:
        region.serve.stop()  # one or the other runs the deployments, not both
    schedule_before = region.run("arshjul", "schedule")
    created = region.run("prefect", "work-pool", "create", DEPLOYMENT, "--type", "process")
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = region.run("prefect", "deploy", "--all", cwd=CHECKOUT)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    with region.client() as client:
        pools = {d.work_pool_name for d in client.read_deployments(limit=200)}
    assert pools == {DEPLOYMENT}
    applied = region.run("arshjul", "schedule", "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "compile: 2 runs scheduled from the wheel" in applied.stderr
    # the same schedules and next runs as serve registered, and not paused (as serve left
    # them): the scheduler lays out the worker's runs
    assert "(paused)" not in applied.stdout
    assert applied.stdout.splitlines() == [
        line.replace("(paused)", "").rstrip() for line in schedule_before.stdout.splitlines()
    ]

    worker = region.start_worker()
    plan = region.start_deployment(f"action_plan/{DEPLOYMENT}", year=2025)
    run = region.finished(plan.id, worker)
    assert run.state.type == StateType.COMPLETED, run.state
    assert (region.folder / "out" / "2025" / "region" / "R1" / "handlingsplan.html").is_file()
    title = "Fastställ handlingsplan 2025, version 1"
    asking = wait_until("the sign-off run", lambda: sign_off_run(region, title), 60, worker)
    region.wait_for(asking.id, suspended("1"), worker)

    worker.stop()
    answer = {
        "decision": "återremittera",
        "name": "Hans Berg",
        "role": "Hälso- och sjukvårdsdirektör",
        "comment": "Åtgärderna för fall saknar ansvarig.",
    }
    assert region.resume(asking.id, answer)["status"] == "ACCEPT"
    second = region.start_worker()
    done = region.finished(asking.id, second)
    assert done.state.type == StateType.COMPLETED, done.state
    row = sign_offs(region)[-1]
    assert (row.document, row.state, row.signed_by, row.comment) == (
        "action_plan",
        SignOffState.RETURNED,
        "Hans Berg",
        "Åtgärderna för fall saknar ansvarig.",
    )
    second.stop()
    for process in (worker, second):
        assert "Traceback" not in process.output(), process.output()[-3000:]


def test_the_prefect_server_stops_cleanly(region):
    server = region.prefect_server()
    status = server.stop()
    assert not group_alive(server.popen.pid)
    assert status in (0, -signal.SIGTERM)
    assert "Traceback" not in server.output(), server.output()[-3000:]

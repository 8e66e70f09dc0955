"""Deployments: every flow, the steps on the wheel's dates — what ``arshjul serve`` serves.

Each step's deployment has one schedule per run (:mod:`arshjul.schedule`), carrying the year or
period that run is about; started by hand (Prefect UI, ``prefect deployment run``) the same
flows default to the last full year or the latest ended period. New input files are picked up
from the inbox folder every morning before the steps run, and the calendars and status
documents are renewed every morning so that overdue deadlines show; then reminders go out
for what is overdue. Sign-offs are asked by runs of ``sign_off/arshjul`` (flows/signoff.py).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Schedule

from arshjul import home
from arshjul.config import Config
from arshjul.errors import UsageError
from arshjul.importers import KINDS
from arshjul.inputs import find_input_files
from arshjul.schedule import StepRun, step_runs
from arshjul.workspace import open_workspace
from flows.action_plan import action_plan_flow
from flows.analyse import analyse_flow
from flows.calendars import publish_calendars
from flows.compile import compile_flow
from flows.cycle import cycle_flow
from flows.importing import import_data
from flows.interim import interim_report_flow
from flows.reminders import send_reminders_flow
from flows.runtime import resolve_now
from flows.safety_report import safety_report_flow
from flows.serving import ServeRunner, start_warm_process
from flows.signoff import ask_pending, sign_off_flow

#: the name every arshjul deployment has: ``prefect deployment run compile/arshjul``
DEPLOYMENT = "arshjul"
INBOX_ENV = "ARSHJUL_INBOX"
STEP_FLOWS: dict[str, Any] = {
    "compile": compile_flow,
    "analyse": analyse_flow,
    "action_plan": action_plan_flow,
    "safety_report": safety_report_flow,
    "interim_report": interim_report_flow,
}


def inbox() -> Path:
    """The folder region exports are dropped into: ``ARSHJUL_INBOX``, or var/inbox in
    arshjul's home."""
    chosen = os.environ.get(INBOX_ENV)
    return Path(chosen) if chosen else home.var("inbox")


@flow(name="import_inbox")
def import_inbox(now: datetime | None = None) -> int:
    """Import the input files in the inbox folder; files imported before change nothing."""
    files = find_input_files(inbox(), KINDS)
    return len(import_data(files, now=resolve_now(now)))


def served_flows() -> dict[str, Any]:
    """Every flow ``serve`` serves, by its name (the name before ``/arshjul``)."""
    served = [*STEP_FLOWS.values(), import_inbox, publish_calendars, send_reminders_flow]
    return {f.name: f for f in [*served, cycle_flow, sign_off_flow]}


def _rdate(run: StepRun, timezone: str) -> Schedule:
    # one date per schedule: each run carries its own year or period
    stamp = run.at.strftime("%Y%m%dT%H%M%S")
    return Schedule(
        rrule=f"RDATE:{stamp}", timezone=timezone, parameters=run.parameters, slug=run.slug
    )


def _daily(at: str, minutes_before: int, timezone: str) -> Schedule:
    """Every day, ``minutes_before`` the steps' time of day (before midnight: at midnight)."""
    hour, minute = map(int, at.split(":"))
    start = max(hour * 60 + minute - minutes_before, 0)
    return Cron(f"{start % 60} {start // 60} * * *", timezone=timezone)


def build_deployments(config: Config, *, now: datetime) -> list[RunnerDeployment]:
    """A deployment per step with the wheel's schedules, plus the inbox import, the morning
    calendar refresh, the reminders, the whole cycle (by hand only) and the sign-offs (started
    by the steps)."""
    wheel = config.wheel
    runs = step_runs(wheel, now=now)
    deployments = [
        step_flow.to_deployment(
            name=DEPLOYMENT,
            schedules=[_rdate(r, wheel.timezone) for r in runs if r.step == step],
            description=(step_flow.description or "").split("\n")[0],
            tags=["arshjul", "step"],
        )
        for step, step_flow in STEP_FLOWS.items()
    ]
    deployments += [
        import_inbox.to_deployment(
            name=DEPLOYMENT,
            schedules=[_daily(wheel.schedule.at, 60, wheel.timezone)],
            tags=["arshjul"],
        ),
        publish_calendars.to_deployment(
            name=DEPLOYMENT,
            schedules=[_daily(wheel.schedule.at, 30, wheel.timezone)],
            tags=["arshjul"],
        ),
        send_reminders_flow.to_deployment(
            name=DEPLOYMENT,
            schedules=[_daily(wheel.schedule.at, 0, wheel.timezone)],
            tags=["arshjul"],
        ),
        cycle_flow.to_deployment(name=DEPLOYMENT, tags=["arshjul"]),
        sign_off_flow.to_deployment(
            name=DEPLOYMENT,
            description="Fastställande: startas av stegen, väntar på svar i Prefect UI.",
            tags=["arshjul", "sign-off"],
        ),
    ]
    return deployments


def _require_server(command: str) -> None:
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise UsageError(
            f"{command} needs a Prefect server: start one (prefect server start) and set"
            " PREFECT_API_URL, e.g. http://127.0.0.1:4200/api"
        )


def serve(config: Config, *, now: datetime) -> None:
    """Register the deployments with the Prefect server, ask again for every sign-off a
    stopped serve left unasked (flows/signoff.py), and run the flows until stopped, each run
    in a process forked from the warm process (flows/serving.py)."""
    _require_server("arshjul serve")
    start_warm_process()
    deployments = build_deployments(config, now=now)
    runner = ServeRunner(served_flows(), pause_on_shutdown=True)
    for deployment in deployments:
        runner.add_deployment(deployment)
    open_questions = ask_pending(open_workspace())
    print(
        f"arshjul serve: {len(deployments)} deployments served from {Path.cwd()}"
        f" (sign-offs waiting: {open_questions}); stop with Ctrl-C or SIGTERM",
        flush=True,
    )
    try:
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        print("arshjul serve: stopped", flush=True)


@dataclass(frozen=True)
class NextRun:
    deployment: str
    at: datetime | None
    parameters: dict[str, Any]
    paused: bool


def next_runs(*, now: datetime, timezone: str) -> list[NextRun]:
    """Each deployment on the Prefect server and when it runs next by its schedules, in
    ``timezone`` (what ``prefect deployment ls`` does not show), computed by the server's own
    schedule code."""
    from prefect.client.orchestration import get_client
    from prefect.server.schemas import schedules as server_schedules

    _require_server("arshjul schedule")
    zone = ZoneInfo(timezone)
    found = []
    with get_client(sync_client=True) as client:
        for deployment in client.read_deployments():
            flow_name = client.read_flow(deployment.flow_id).name
            upcoming: list[tuple[datetime, dict[str, Any]]] = []
            for held in deployment.schedules:
                if not held.active:
                    continue
                kind = type(held.schedule).__name__  # the client's and the server's share names
                as_server = getattr(server_schedules, kind).model_validate(
                    held.schedule.model_dump()
                )
                dates = asyncio.run(as_server.get_dates(n=1, start=now))
                upcoming += [(d, held.parameters or {}) for d in dates]
            at, parameters = min(upcoming, key=lambda u: u[0], default=(None, {}))
            found.append(
                NextRun(
                    f"{flow_name}/{deployment.name}",
                    at.astimezone(zone) if at else None,
                    parameters,
                    bool(deployment.paused),
                )
            )
    return sorted(found, key=lambda r: (r.at is None, r.at or now, r.deployment))


def apply_step_schedules(config: Config, *, now: datetime) -> dict[str, int]:
    """Replace each step deployment's schedules on the server (``<step>/arshjul``, e.g.
    registered by ``prefect deploy --all`` for workers) by the wheel's, laid out from ``now``;
    the deployment itself, its work pool included, is kept. Then ask again for every sign-off
    left unasked, as ``serve`` does when it starts. Returns step -> schedules."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.exceptions import ObjectNotFound

    _require_server("arshjul schedule --apply")
    wanted = [d for d in build_deployments(config, now=now) if d.flow_name in STEP_FLOWS]
    applied: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for deployment in wanted:
            name = f"{deployment.flow_name}/{DEPLOYMENT}"
            try:
                held = client.read_deployment_by_name(name)
            except ObjectNotFound:
                raise UsageError(
                    f"no deployment {name} on the server: register them first"
                    " (prefect deploy --all, or arshjul serve)"
                ) from None
            for old in held.schedules:
                client.delete_deployment_schedule(held.id, old.id)
            schedules = [
                s for s in deployment.schedules or [] if isinstance(s, DeploymentScheduleCreate)
            ]
            client.create_deployment_schedules(held.id, schedules)
            applied[str(deployment.flow_name)] = len(schedules)
    ask_pending(open_workspace())
    return applied

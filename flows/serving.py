"""How ``arshjul serve`` executes the runs of its deployments: warm, and as soon as they exist.

Prefect 3.8.8's runner executes each flow run of a served flow in a new *spawned* process
(``run_flow_in_subprocess``): a fresh interpreter that imports Prefect and arshjul again
(~4 s on two cores) before the flow starts, and it looks for new runs every
``PREFECT_RUNNER_POLL_FREQUENCY`` (10 s by default). A coordinator's rerun of one unit, some
two seconds of work, took 17–27 s from "Run" to Completed.

:class:`ServeRunner` keeps Prefect's runner (its polling, Pending/Crashed/Cancelled states,
cancellation by the runner's control channel and a kill, concurrency limit, schedules) and
changes two things:

- **Where a run executes**: in a child forked from a *warm process*, a multiprocessing
  forkserver started with ``serve`` that has imported arshjul, every flow and Prefect's flow
  engine once. The forkserver itself never runs a flow and holds no thread, connection or
  event loop, so what a child inherits is imports only (forking ``serve`` itself would copy
  its event loop's and client's threads and locks mid-use). A run is still a process of its
  own: a crash, a cancellation (SIGTERM, then SIGKILL) or a ``kill -9`` ends that run only,
  the step locks see its own pid, and a sign-off that suspends its run ends its process as
  before (flows/signoff.py).
- **When**: serve listens to the Prefect server's events and looks for runs the moment a run
  of one of its deployments is scheduled, instead of at the next poll; the poll stays as the
  fallback (and for the schedules' runs, which Prefect creates ahead of time).

Code changed on disk reaches the runs after a restart of ``serve`` (the warm process imported
the old code), as docs/operations.md says for every upgrade.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from prefect.engine import handle_engine_signals
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
from prefect.flow_engine import run_flow
from prefect.logging.loggers import flow_run_logger
from prefect.runner import Runner
from prefect.runner._process_manager import ProcessHandle

if TYPE_CHECKING:
    from uuid import UUID

    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments.runner import RunnerDeployment
    from prefect.runner._control_channel import ControlChannel
    from prefect.runner._flow_run_executor import ProcessStarter

#: what the warm process imports once: the flows ``serve`` serves, with Prefect's engine
WARM_MODULES = ["flows.deployments", "prefect.flow_engine"]

log = logging.getLogger("arshjul")


def start_warm_process() -> None:
    """Start the warm process (the forkserver): it imports :data:`WARM_MODULES` while
    ``serve`` registers its deployments. Its environment, working folder and ``sys.path``
    are ``serve``'s as they are now."""
    multiprocessing.set_forkserver_preload(WARM_MODULES)
    multiprocessing.forkserver.ensure_running()


def flow_address(flow: Flow[..., Any]) -> tuple[str, str] | None:
    """(module, name) under which a forked child finds ``flow`` among the warm process's
    imports, or None for a flow that is not a module's attribute of its function's name."""
    module = sys.modules.get(flow.fn.__module__)
    name = flow.fn.__qualname__
    return (module.__name__, name) if module and getattr(module, name, None) is flow else None


class WarmStarter:
    """Prefect's ``ProcessStarter`` for a run of ``flow``: the process is forked from the
    warm process, told (by environment) its deployment and the runner's control channel, as
    Prefect's own starter tells its spawned process."""

    def __init__(
        self,
        address: tuple[str, str],
        deployment_name: str | None,
        control_channel: ControlChannel,
    ) -> None:
        self._address = address
        self._deployment_name = deployment_name
        self._control_channel = control_channel

    async def start(
        self,
        flow_run: FlowRun,
        task_status: anyio.abc.TaskStatus[ProcessHandle] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        port, token = self._control_channel.register(flow_run.id)
        env = {
            "PREFECT__CONTROL_PORT": str(port),
            "PREFECT__CONTROL_TOKEN": token,
            # the runner, not the run's process, runs these hooks (Prefect's starters agree)
            "PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS": "false",
        }
        if self._deployment_name:
            env["PREFECT__DEPLOYMENT_NAME"] = self._deployment_name
        context = multiprocessing.get_context("forkserver")
        process = context.Process(
            target=execute, args=(*self._address, flow_run, env), name=f"flow run {flow_run.id}"
        )
        try:
            process.start()
        except BaseException:
            self._control_channel.unregister(flow_run.id)
            raise
        # pid and exitcode, all a handle reads, as on Prefect's SpawnProcess
        task_status.started(ProcessHandle(process))  # type: ignore[arg-type]
        await anyio.to_thread.run_sync(process.join)


def execute(module: str, name: str, flow_run: FlowRun, env: dict[str, str]) -> None:
    """In a child of the warm process: run ``flow_run`` of the flow at ``module``.``name``
    with Prefect's engine, exactly as Prefect's spawned process does."""
    from prefect._internal.control_listener import configure_from_env

    from flows.runtime import log_to_runs

    warm = module in sys.modules
    os.environ.update(env)
    # takes the control channel's port and token from the environment (one use)
    configure_from_env()
    log_to_runs()
    flow = getattr(importlib.import_module(module), name)
    run_log = flow_run_logger(flow_run, flow)
    if warm:
        run_log.info(
            "Executing in process %d, forked from arshjul serve's warm process %d",
            os.getpid(),
            os.getppid(),
        )
    else:
        run_log.warning("%s was not imported by arshjul serve's warm process", module)
    try:
        with handle_engine_signals(flow_run.id):
            run_flow(flow, flow_run=flow_run)
    finally:
        # The run's state is final or suspended now; what is left is sending its last log
        # lines. A stop of serve meanwhile must not kill this process: the runner would call
        # the run Crashed (exit status -15) and a suspended sign-off would lose its question.
        # Serve's stop waits for the exit (SIGKILL after Prefect's 30 s grace).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _exit_as_interpreter()


def _exit_as_interpreter() -> None:
    """What an interpreter does when it exits, which a forkserver's child skips (it leaves
    by ``os._exit``): Prefect's workers send the run's last log lines and events from
    threading's exit hooks, then the atexit functions run."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()


class ServeRunner(Runner):
    """Prefect's runner for ``arshjul serve``: runs execute in the warm process's children
    and are looked for as soon as they are scheduled; stops on SIGTERM as on Ctrl-C."""

    def __init__(self, flows: dict[str, Flow[..., Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: the flows served, by name: a deployment of one of them runs warm
        self._flows = flows

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        # Prefect 3.8.8's own handler calls the runner's async stop without awaiting it,
        # which then never runs and warns on stderr. This leaves asyncio.run(start()), whose
        # cancellation stops the runner and pauses the schedules (pause_on_shutdown), exit
        # status 0 (how systemd stops a service).
        self._logger.info("SIGTERM received, shutting down")
        sys.exit(0)

    async def aadd_deployment(self, deployment: RunnerDeployment) -> UUID:
        deployment_id = await super().aadd_deployment(deployment)
        flow = self._flows.get(deployment.flow_name or "")
        if flow is not None:
            # the flow object, not its entrypoint: runs execute warm, hooks need no import
            self._deployment_registry.register_flow(deployment_id, flow)
        return deployment_id

    async def __aenter__(self) -> ServeRunner:
        await super().__aenter__()
        prefect_starter = self._scheduled_run_poller._resolve_starter
        self._scheduled_run_poller._resolve_starter = lambda flow_run: self._starter(
            flow_run, prefect_starter
        )
        return self

    def _starter(self, flow_run: FlowRun, prefect_starter: Any) -> ProcessStarter:
        """A warm start for a run of a flow served from a module; Prefect's start otherwise."""
        registry, deployment = self._deployment_registry, flow_run.deployment_id
        flow = registry.get_flow(deployment) if deployment else None
        address = flow_address(flow) if flow is not None else None
        if deployment is None or address is None:
            return prefect_starter(flow_run)  # type: ignore[no-any-return]
        return WarmStarter(address, registry.get_deployment_name(deployment), self._control_channel)

    async def start(self, run_once: bool = False, webserver: bool | None = None) -> None:
        # a task of its own, not a task group around start(): a task group's cancellation
        # would also cancel the runner's way out, which pauses the schedules
        listening = asyncio.create_task(self._look_when_scheduled())
        try:
            await super().start(run_once=run_once, webserver=webserver)
        finally:
            listening.cancel()

    async def _look_when_scheduled(self) -> None:
        """Look for runs whenever one of a served deployment is scheduled (the Prefect UI's
        "Run", ``prefect deployment run``, a step starting a sign-off). A lost connection to
        the event stream is retried after a poll interval; the poll goes on meanwhile."""
        while not self.started:
            await anyio.sleep(0.05)
        served = self._deployment_registry.get_deployment_ids()
        scheduled = EventFilter(
            event=EventNameFilter(name=["prefect.flow-run.Scheduled"]),
            related=EventRelatedFilter(id=[f"prefect.deployment.{i}" for i in served]),
        )
        while True:
            try:
                async with get_events_subscriber(filter=scheduled) as events:
                    async for _ in events:
                        # Prefect 3.8.8 leaves this method unannotated
                        await self._get_and_submit_flow_runs()  # type: ignore[no-untyped-call]
            except Exception as exc:  # noqa: BLE001  (the poll still finds every run)
                self._logger.warning("no events from the Prefect server (%s): polling only", exc)
            await anyio.sleep(self.query_seconds)

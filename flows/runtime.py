"""Prefect settings arshjul needs before Prefect is imported, and small helpers for flows."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.server.api.server import SubprocessASGIServer

LOGGING_YML = Path(__file__).with_name("logging.yml")

#: Prefect's defaults that make a person-facing run noisy or slow on a closed network
PREFECT_DEFAULTS = {
    # telemetry fails without internet and prints an ERROR
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_SETTINGS_PATH": str(LOGGING_YML),
    # the ephemeral server's first start migrates its database: 20 s is short on a busy
    # two-core machine, and a timeout there fails the whole run
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_LOGGING_LEVEL": "INFO",
}


def configure_environment() -> None:
    """Set arshjul's Prefect defaults; anything the operator set already wins."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


#: stops Prefect's ephemeral API server once the process that started it is gone (its parent
#: process changes): polls twice a second, asks the server to stop, kills it after 5 s. A
#: pidfd names the server, so a new process that got its number is never signalled.
_WATCHDOG = """
import os, select, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
parent, server = int(sys.argv[1]), os.pidfd_open(int(sys.argv[2]))
while os.getppid() == parent:
    time.sleep(0.5)
for stop in (signal.SIGTERM, signal.SIGKILL):
    try:
        signal.pidfd_send_signal(server, stop)
    except ProcessLookupError:
        break
    if select.select([server], [], [], 5.0)[0]:
        break
"""


def ephemeral_server_dies_with_this_process() -> None:
    """Without ``PREFECT_API_URL``, Prefect starts a throw-away API server (uvicorn) as a child
    process and stops it at exit; a ``kill -9`` skips that, and the server ran on, an orphan.
    From now on each such server gets a watchdog process (a few lines of standard Python)
    that stops it when this process is gone. Linux only (pidfd); elsewhere nothing changes."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or not hasattr(os, "pidfd_open"):
        return
    from prefect.server.api.server import SubprocessASGIServer

    global _server

    class WatchedServer(SubprocessASGIServer):
        #: Prefect's own start (its client's first request) waits for one begun earlier
        #: (:func:`start_ephemeral_server`): Prefect marks the server running before it answers
        _starting = threading.Lock()

        def start(self, timeout: int | None = None) -> None:
            with self._starting:
                super().start(timeout)

        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            server = super()._run_uvicorn_command()
            _watchdogs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-I",
                        "-S",
                        "-c",
                        _WATCHDOG,
                        str(os.getpid()),
                        str(server.pid),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            return server

    # Prefect asks for ``SubprocessASGIServer()``, one instance per port (None: any port),
    # and gets the one made first: this one (unless Prefect made one already in this process)
    made = WatchedServer()
    _server = made if isinstance(made, WatchedServer) else None


def start_ephemeral_server() -> None:
    """Start the ephemeral server (:func:`ephemeral_server_dies_with_this_process`) now, in a
    thread, for a command that runs flows at once: it boots (uvicorn, Prefect's server and
    its database, ~10 s of waiting in ``make run``) while this process imports the flows,
    not after. A start that fails here is tried again, and reported, by Prefect's own."""
    server = _server
    if server is None:
        return

    def start() -> None:
        with contextlib.suppress(Exception):
            server.start()

    threading.Thread(target=start, name="prefect-server-start", daemon=True).start()


#: the ephemeral server, when this process watches it
_server: SubprocessASGIServer | None = None
#: the watchdogs started, kept so that they are not reaped as garbage while they watch
_watchdogs: list[subprocess.Popen[bytes]] = []


class RunLog(logging.Handler):
    """Sends a line written inside a Prefect flow or task run to that flow run's log, which
    the Prefect UI shows (through Prefect's API log handler); drops lines written elsewhere.
    Prefect is imported only once a run exists, so commands that run no flow stay quick."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._api: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        context = sys.modules.get("prefect.context")
        if context is None or not (context.FlowRunContext.get() or context.TaskRunContext.get()):
            return
        if self._api is None:
            from prefect.logging.handlers import APILogHandler

            self._api = APILogHandler()
        self._api.handle(record)


def log_to_runs() -> None:
    """Send arshjul's log lines (logger ``arshjul``, INFO and up) to the log of the flow run
    they are written in, wherever the run executes: under ``arshjul serve``, a worker or the
    command line. Lines written outside a run (``serve`` starting) only go where the
    process's own handlers send them."""
    log = logging.getLogger("arshjul")
    if not any(isinstance(h, RunLog) for h in log.handlers):
        log.addHandler(RunLog())
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


def server_log_handler() -> logging.Handler:
    """Where the Prefect server's logs go: ``ARSHJUL_PREFECT_SERVER_LOG`` or var/log/ in
    arshjul's home."""
    from arshjul import home

    chosen = os.environ.get("ARSHJUL_PREFECT_SERVER_LOG")
    path = Path(chosen) if chosen else home.var("log", "prefect-server.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.FileHandler(path, encoding="utf-8", delay=True)


def run_id() -> str:
    """The current Prefect flow run's id, or ``local`` outside a flow run."""
    from prefect.runtime import flow_run

    return str(flow_run.id or "local")


def resolve_now(now: datetime | None) -> datetime:
    from arshjul.clock import now as wall_clock

    return now or wall_clock()

"""What the benchmark measures against long-lived servers, as a region's server runs them.

- A unit's step rerun with ``PREFECT_API_URL`` pointing at a running ``prefect server`` (as
  under ``arshjul serve``): no ephemeral API server starts, so what is left is the process's
  start, Prefect's import and the flow's API calls, and the step's own work.
- The deviations import on PostgreSQL (a throwaway cluster from ``tests/postgres.py``), the
  database a region's server uses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from arshjul.importers import import_file
from arshjul.workspace import open_workspace
from bench.feeds import free_port
from bench.measure import run_tree, script, timed


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def prefect_server(env: Mapping[str, str], folder: Path) -> Iterator[str]:
    """A ``prefect server start`` of its own (own PREFECT_HOME, a free port); its API URL."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    prefect = str(Path(script()).with_name("prefect"))
    with (folder / "prefect-server-bench.log").open("wb") as log:
        server = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            env={**env, "PREFECT_HOME": str(folder / "prefect-served")},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while not _healthy(f"{api_url}/health"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start: see {log.name}")
            time.sleep(0.5)
        yield api_url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


def served_rerun(
    env: Mapping[str, str], folder: Path, command: list[str], *, runs: int = 3
) -> list[float]:
    """Wall seconds of ``command`` run ``runs`` times against a running Prefect server (the
    first run also registers the flow with the server)."""
    with prefect_server(env, folder) as api_url:
        served = {**env, "PREFECT_API_URL": api_url}
        return [run_tree(command, env=served, cwd=folder).check().seconds for _ in range(runs)]


def postgres_import(data: Path, folder: Path, now: datetime) -> tuple[int, float] | None:
    """(rows, seconds) of importing the deviations into a fresh PostgreSQL database (the
    organisation imported first), or None when no PostgreSQL server can be started here."""
    from tests.postgres import PostgresServer, Unavailable

    try:
        server = PostgresServer.start()
    except Unavailable:
        return None
    try:
        url = server.create_database()
        ws = open_workspace(
            database_url=url.render_as_string(hide_password=False), out=folder / "pg-out"
        )
        try:
            with ws.engine.begin() as conn:
                import_file(conn, ws.config, "organisation", data / "organisation.csv", now=now)

            def deviations() -> int:
                with ws.engine.begin() as conn:
                    path = data / "deviations.csv"
                    return import_file(conn, ws.config, "deviations", path, now=now).rows

            return timed(deviations)
        finally:
            ws.engine.dispose()
            server.drop_database(url)
    finally:
        server.stop()

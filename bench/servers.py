"""What the benchmark measures against long-lived servers, as a region's server runs them.

- A unit's step rerun as a coordinator starts it on a region's server: ``prefect deployment
  run compile/arshjul --param unit=…`` against ``arshjul serve`` and a running ``prefect
  server``, from the flow run's creation to its Completed state (both the server's clock). What
  is in it: serve noticing the run, starting the process that executes it, the flow's API
  calls and the step's own work. Alone: ``python -m bench.servers --scale large --keep DIR``.
- The deviations import on PostgreSQL (a throwaway cluster from ``tests/postgres.py``), the
  database a region's server uses.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from arshjul.workspace import open_workspace
from bench.feeds import free_port
from bench.measure import script
from flows.deployments import DEPLOYMENT


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop_group(process: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM to the process group ``process`` leads, as systemd stops a service; SIGKILL
    after ``grace`` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


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
        stop_group(server, grace=30)


@dataclass(frozen=True)
class ServedRun:
    """One triggered run, in seconds from its creation on the server (server clock)."""

    #: until serve had it Running (noticed, process started, flow engine up)
    started: float
    #: until Completed
    completed: float
    #: each task run: (name, its start, its end), in seconds from the run's creation
    tasks: tuple[tuple[str, float, float], ...] = ()

    def report(self) -> str:
        """Where the time went: until Running, each task, the gaps between them (the flow
        engine's and the API's part), and after the last task until Completed."""
        parts = [f"Running at {self.started:.2f} s"]
        last = self.started
        for name, start, end in self.tasks:
            parts.append(f"+{start - last:.2f} {name} {end - start:.2f}")
            last = end
        parts.append(f"+{self.completed - last:.2f} Completed at {self.completed:.2f} s")
        return ", ".join(parts)


@contextmanager
def arshjul_serve(env: Mapping[str, str], folder: Path) -> Iterator[None]:
    """``arshjul serve`` (the installed script, a process group of its own) once the
    compile deployment is registered and serve polls for its runs."""
    log = folder / "serve-bench.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [script(), "serve"],
            cwd=folder,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while "arshjul serve:" not in log.read_text("utf-8", errors="replace"):
            if serve.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"arshjul serve did not start: see {log}")
            time.sleep(0.2)
        yield
    finally:
        stop_group(serve, grace=60)


def trigger(env: Mapping[str, str], folder: Path, parameters: Mapping[str, str]) -> ServedRun:
    """Start ``compile/arshjul`` as a coordinator does from a shell (``prefect deployment
    run``) and wait for the run to end; it must complete."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    prefect = str(Path(script()).with_name("prefect"))
    command = [prefect, "deployment", "run", f"compile/{DEPLOYMENT}"]
    command += [f"--param={key}={value}" for key, value in parameters.items()]
    started = subprocess.run(command, cwd=folder, env=dict(env), capture_output=True, text=True)
    found = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout)
    if started.returncode != 0 or not found:
        raise RuntimeError(f"{' '.join(command)} failed:\n{started.stdout}{started.stderr}")
    flow_run_id = UUID(found.group(1))
    deadline = time.monotonic() + 600
    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        while not (run := client.read_flow_run(flow_run_id)).state or not run.state.is_final():
            if time.monotonic() > deadline:
                raise RuntimeError(f"flow run {flow_run_id} did not end within 600 s")
            time.sleep(0.1)
        states = client.read_flow_run_states(flow_run_id)
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    if not run.state.is_completed():
        raise RuntimeError(f"flow run {flow_run_id} ended {run.state.name}: see serve-bench.log")
    assert run.created is not None
    running = next(s.timestamp for s in states if s.is_running())
    created = run.created
    tasks = sorted(
        (t.name, (t.start_time - created).total_seconds(), (t.end_time - created).total_seconds())
        for t in task_runs
        if t.start_time is not None and t.end_time is not None
    )
    return ServedRun(
        started=(running - created).total_seconds(),
        completed=(run.state.timestamp - created).total_seconds(),
        tasks=tuple(sorted(tasks, key=lambda t: t[1])),
    )


def served_rerun(
    env: Mapping[str, str], folder: Path, parameters: Mapping[str, str], *, runs: int = 3
) -> list[ServedRun]:
    """``runs`` reruns of compile/arshjul with ``parameters``, one after another, triggered
    against ``arshjul serve`` and a running Prefect server."""
    with prefect_server(env, folder) as api_url:
        served = {**env, "PREFECT_API_URL": api_url}
        with arshjul_serve(served, folder):
            return [trigger(served, folder, parameters) for _ in range(runs)]


def main() -> None:
    """The served rerun alone, on a region prepared as ``bench.run`` prepares it (``arshjul
    demo``, ``arshjul run --approve``) in ``--keep``, which a later call reuses."""
    from bench.run import YEAR, arshjul_env, progress, rerun_unit

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--scale", choices=("small", "large"), default="small")
    parser.add_argument("--keep", type=Path, required=True, help="work in this folder")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = args.keep / args.scale
    folder.mkdir(parents=True, exist_ok=True)
    env = arshjul_env(folder, "cycle")
    if not (folder / "cycle.sqlite").is_file():
        progress(f"{args.scale}: arshjul demo, arshjul run --approve")
        data = str(folder / "data")
        for command in (
            ["demo", "--scale", args.scale, "--out", data],
            ["run", "--approve", "--data", data],
        ):
            subprocess.run(
                [script(), *command], cwd=folder, env=env, check=True, capture_output=True
            )
    unit = rerun_unit(
        open_workspace(database_url=env["ARSHJUL_DATABASE_URL"], out=Path(env["ARSHJUL_OUT"]))
    )
    progress(f"{args.scale}: compile/{DEPLOYMENT} --param unit={unit}, {args.runs} times")
    runs = served_rerun(env, folder, {"year": str(YEAR), "unit": unit}, runs=args.runs)
    for number, run in enumerate(runs, 1):
        print(f"run {number}: {run.report()}")


if __name__ == "__main__":
    main()

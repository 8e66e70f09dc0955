"""What every step flow does after its own work: record it, and let the calendars follow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ParamSpec, TypeVar, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.tasks import Task
from prefect.utilities.annotations import quote
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from arshjul import status
from arshjul.clock import now as wall_clock
from arshjul.documents import Provenance, provenance
from arshjul.locks import step_lock
from arshjul.periods import Period
from arshjul.workspace import Workspace
from flows.runtime import run_id

P = ParamSpec("P")
R = TypeVar("R")


def is_transient(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Whether a later attempt can succeed: the database was unreachable, restarting or busy
    (never bad input or a bug, which fail the same way every time)."""
    error = state.data
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError)


def step_task(fn: Callable[P, R]) -> Task[P, R]:
    """A task of arshjul's flows: nothing cached (they read and write the database and
    files), retried twice, 5 and 30 s later, when the database was unavailable.

    Callers pass a region's gathered figures as ``unwalked(figures)``."""
    return task(
        cache_policy=NO_CACHE,
        retries=2,
        retry_delay_seconds=[5.0, 30.0],
        retry_condition_fn=is_transient,
    )(fn)


def unwalked(value: R) -> R:
    """``value`` as a task argument that Prefect passes on as it is. Otherwise Prefect walks
    every object inside a parameter looking for futures, twice per call: ~5 s for one step's
    figures at the ``large`` scale (BENCHMARKS.md). The task receives ``value`` itself."""
    return cast(R, quote(value))


@step_task
def record_step(
    ws: Workspace,
    step: str,
    period: Period,
    unit_ids: list[str],
    started: datetime,
    finished: datetime,
) -> int:
    """Record ``step`` as done for ``period`` (a data year, or ``2026-T2``) for each unit
    (one document each) by this flow run; returns how many units did it for the first time:
    only then do the calendars change (a deadline met), so a rerun need not republish them."""
    with ws.engine.begin() as conn:
        return status.record_done(
            conn,
            step=step,
            period=period.label,
            unit_documents=[(u, 1) for u in unit_ids],
            run_id=run_id(),
            started_at=started,
            finished_at=finished,
        )


def cycle_provenance(ws: Workspace, now: datetime) -> Provenance:
    """What the cycle's documents are built from: the imported organisation, deviations,
    complaints, capacity (patient days), training rosters and actions, and this flow run."""
    kinds = ("organisation", "deviations", "complaints", "capacity", "training", "actions")
    with ws.engine.connect() as conn:
        return provenance(conn, kinds, now=now, run_id=run_id())


@contextmanager
def exclusive(ws: Workspace, step: str, period: Period, unit_ids: list[str]) -> Iterator[None]:
    """This flow run alone runs ``step`` for ``period`` and ``unit_ids`` (the unit asked for,
    or every unit) while the block runs; another waits up to five minutes, then is refused
    naming the run it waited for (see :mod:`arshjul.locks`)."""
    with step_lock(
        ws.engine,
        step=step,
        period=period.label,
        unit_ids=unit_ids,
        run_id=run_id(),
        clock=wall_clock,
    ):
        yield

"""Tasks of arshjul's flows: retried when the database or the Prefect server was unavailable,
big arguments passed unwalked; the workspace, and each piece of a step (:mod:`arshjul.steps`)
as a task. A flow's body does no database work of its own: all of it is in tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.tasks import Task
from prefect.utilities.annotations import quote
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from arshjul import steps
from arshjul.steps import Step
from arshjul.workspace import Workspace, open_workspace

P = ParamSpec("P")
R = TypeVar("R")


def is_transient(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Whether a later attempt can succeed: the database was unreachable, restarting or busy,
    or the Prefect server could not be reached (a sign-off's run is asked for through it);
    never bad input or a bug, which fail the same way every time. Prefect's client retries
    a request itself, but not a first connection refused, as when the server restarts."""
    error = state.data
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        OperationalError | InterfaceError | httpx.NetworkError | httpx.TimeoutException,
    )


def step_task(fn: Callable[P, R]) -> Task[P, R]:
    """A task of arshjul's flows: nothing cached (they read and write the database and
    files), retried twice, 5 and 30 s later, when the database or the Prefect server was
    unavailable (:func:`is_transient`).

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
def open_ws() -> Workspace:
    """The configuration (checked), the database (migrated) and the output folder, from the
    environment: opened once per flow run and passed to what it runs."""
    return open_workspace()


# each piece of a step, a task of its own
prepare = step_task(steps.prepare)
gather = step_task(steps.gather)
store = step_task(steps.store)
write = step_task(steps.write)
finish = step_task(steps.finish)
release_lock = step_task(steps.release_lock)

TASKS: dict[Callable[..., Any], Task[..., Any]] = {
    steps.prepare: prepare,
    steps.gather: gather,
    steps.store: store,
    steps.write: write,
    steps.finish: finish,
    steps.release_lock: release_lock,
}


def in_task(piece: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``piece(*args, **kwargs)`` as its task, named by its step in the Prefect UI
    (``compile: gather``); the arguments unwalked (none is a future)."""
    found = cast(Task[..., R], TASKS[piece])
    step = next(a for a in args if isinstance(a, Step))
    named = found.with_options(task_run_name=f"{step.name}: {found.name}")
    return named(*(unwalked(a) for a in args), **{k: unwalked(v) for k, v in kwargs.items()})

"""The step runner on Prefect: :func:`arshjul.steps.run_step` with each piece a task of this
flow run, the sign-off of this flow run, then the calendars when a unit met its deadline."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar, cast

from prefect.states import Failed

from arshjul import steps
from arshjul.clock import local
from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year
from arshjul.errors import StepBusy
from arshjul.periods import Period
from arshjul.signoff import SignOffResult
from arshjul.steps import Run, Step, StepResult, ToSignOff
from arshjul.workspace import Workspace
from flows.calendars import publish_site
from flows.runtime import run_id
from flows.signoff import request_sign_off
from flows.steps import in_task, unwalked

F = TypeVar("F")
P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("arshjul")


def busy_in_swedish(body: Callable[P, R]) -> Callable[P, R]:
    """A flow whose step another run held past the wait ends Failed with the refusal's
    Swedish message alone (:class:`StepBusy`: which step, unit and period, who has it since
    when, what to do), which the Prefect UI shows as the run's state; raised, the state would
    read "Flow run encountered an exception: StepBusy: …". A caller in this process
    (``arshjul compile``) still gets the StepBusy raised: Prefect raises a Failed state's
    exception. Under ``@flow``, which takes the parameters from ``body``'s signature."""

    @functools.wraps(body)
    def flow_body(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return body(*args, **kwargs)
        except StepBusy as busy:
            return cast(R, Failed(message=str(busy), data=busy))

    # the parameters' types resolved in body's module: Prefect resolves a signature's
    # annotations (strings, from __future__) in the globals of the function it was given,
    # which are this module's
    flow_body.__signature__ = inspect.signature(body, eval_str=True)  # type: ignore[attr-defined]
    return flow_body


def data_year(year: int | None, now: datetime) -> Period:
    """``year``, or the last full calendar year before ``now``."""
    return Period.full_year(year or default_data_year(local(now).date()))


def signing(
    ws: Workspace, *, approve: bool, clock: Callable[[], datetime]
) -> Callable[[ToSignOff], SignOffResult]:
    """How a step's document is signed off in this flow run (flows/signoff.py): as a task,
    named by its document in the Prefect UI (``safety_report: request_sign_off``), timed by
    ``clock`` when it happens: an approval is given after its document was written, not at
    the moment the cycle is about (a status page would show the report approved before the
    compilation it reports on was done)."""

    def sign_off(request: ToSignOff) -> SignOffResult:
        named = request_sign_off.with_options(
            task_run_name=f"{request.document}: {request_sign_off.name}"
        )
        return named(
            unwalked(ws),
            document=request.document,
            period=request.period,
            unit_id=request.unit_id,
            path=request.path,
            role=request.role,
            approve=approve,
            now=clock(),
        )

    return sign_off


def run_step(
    step: Step[F],
    ws: Workspace,
    period: Period,
    unit: str | None = None,
    *,
    now: datetime,
    publish: bool = True,
    approve: bool = False,
) -> StepResult:
    """Run ``step`` for ``period`` for ``unit`` and the units above it (None: every unit)
    as this flow run (:func:`arshjul.steps.run_step`); ``now`` is the moment its documents
    are about, the step's own times are the wall clock's. ``publish``: update the calendars
    if a unit met its deadline (a rerun does not). ``approve``: sign off automatically."""
    run = Run(ws.config, now, run_id())
    result = steps.run_step(
        ws,
        step,
        period,
        unit,
        run,
        sign_off=signing(ws, approve=approve, clock=wall_clock),
        clock=wall_clock,
        call=in_task,
    )
    if publish and result.newly_done:
        publish_site(ws, now)
    log.info(
        "%s %s: %d files for %d units%s%s",
        step.name,
        period,
        len(result.written),
        len(result.units),
        unchanged(result),
        f", {result.stored} rows stored" if result.stored else "",
    )
    return result


def unchanged(result: StepResult) -> str:
    """How many documents said what they say already and were not written again, and the runs
    that wrote them: ``, 5 oförändrade sedan körning abc``."""
    if not result.kept:
        return ""
    runs = sorted({k.run_id for k in result.kept})
    shown = ", ".join(runs[:3]) + (f" och {len(runs) - 3} till" if len(runs) > 3 else "")
    return f", {len(result.kept)} oförändrade sedan körning {shown}"

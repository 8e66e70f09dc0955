"""Flow ``action_plan``: each unit's worksheet and action plan, rolled up to område and region,
and the region's plan put forward for sign-off."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import action_plan
from flows.runner import busy_in_swedish, data_year, run_step
from flows.runtime import resolve_now
from flows.steps import open_ws


@flow(name="action_plan", log_prints=False)
@busy_in_swedish
def action_plan_flow(
    year: int | None = None,
    unit: str | None = None,
    now: datetime | None = None,
    publish: bool = True,
    approve: bool = False,
) -> list[Path]:
    """Write the action plans and worksheets of ``year`` (default: last full year) for every
    unit, or for ``unit`` and the units above it, from the findings and the imported actions;
    then ask for the region's plan to be approved (``approve``: approve it at once).
    ``publish``: update the calendars if a unit met its deadline (a rerun does not).
    Returns the documents, then the worksheets."""
    now = resolve_now(now)
    period = data_year(year, now)
    result = run_step(
        action_plan.STEP, open_ws(), period, unit, now=now, publish=publish, approve=approve
    )
    return result.written

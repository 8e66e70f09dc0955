"""Flow ``analyse``: patterns, trends and risks for every unit, stored as findings."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import analysis
from flows.runner import busy_in_swedish, data_year, run_step
from flows.runtime import resolve_now
from flows.steps import open_ws


@flow(name="analyse", log_prints=False)
@busy_in_swedish
def analyse_flow(
    year: int | None = None,
    unit: str | None = None,
    now: datetime | None = None,
    publish: bool = True,
) -> list[Path]:
    """Analyse ``year`` (default: last full year) for every unit, or for ``unit`` and the
    units above it; a unit's findings replace those of its previous analysis.
    ``publish``: update the calendars if a unit met its deadline (a rerun does not)."""
    now = resolve_now(now)
    period = data_year(year, now)
    return run_step(analysis.STEP, open_ws(), period, unit, now=now, publish=publish).written

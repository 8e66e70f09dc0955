"""Flow ``interim_report``: the deferred-care section (uppskjuten vård) for a period.

Run on the wheel's milestones ``ir-t1`` (period ``Y-T1``), ``ir-t2`` (``Y-T2``) and ``ir-year``
(``Y-1``, the full year), or by hand with ``arshjul report interim --period P``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import interim
from arshjul.periods import latest_period, parse_period
from flows.runner import busy_in_swedish, run_step
from flows.runtime import resolve_now
from flows.steps import open_ws


@flow(name="interim_report", log_prints=False)
@busy_in_swedish
def interim_report_flow(
    period: str | None = None,
    unit: str | None = None,
    now: datetime | None = None,
    publish: bool = True,
) -> list[Path]:
    """Write the section for ``period`` (``2026-T1``, ``2026-T2`` or ``2026``; default: the
    latest ended) for every unit, or for ``unit`` and the units above it. A malformed period,
    or one that has not ended by ``now``, is a ``UsageError`` naming ``--period``.
    ``publish``: update the calendars if a unit met its deadline (a rerun does not)."""
    now = resolve_now(now)
    chosen = parse_period(period, now.date()) if period else latest_period(now.date())
    return run_step(interim.STEP, open_ws(), chosen, unit, now=now, publish=publish).written

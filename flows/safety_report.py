"""Flow ``safety_report``: the region's patientsäkerhetsberättelse, written and signed off."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from arshjul import safety_report
from arshjul.signoff import SignOffResult
from flows.runner import busy_in_swedish, data_year, run_step
from flows.runtime import resolve_now
from flows.steps import open_ws


@flow(name="safety_report", log_prints=False)
@busy_in_swedish
def safety_report_flow(
    year: int | None = None,
    now: datetime | None = None,
    publish: bool = True,
    approve: bool = False,
) -> SignOffResult:
    """Write the patientsäkerhetsberättelse for ``year`` (default: last full year) and ask for
    its sign-off (``approve``: approve it automatically; see flows/signoff.py for waiting on a
    server and for ephemeral mode). One run at a time: another waits for it, then is refused.
    ``publish``: update the calendars if the region met its deadline (a rerun does not)."""
    now = resolve_now(now)
    period = data_year(year, now)
    result = run_step(
        safety_report.STEP, open_ws(), period, now=now, publish=publish, approve=approve
    )
    assert result.sign_off is not None  # the step is signed off
    return result.sign_off

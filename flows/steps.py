"""What every step flow does after its own work: record it, and let the calendars follow."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from arshjul import status
from arshjul.documents import Provenance, provenance
from arshjul.workspace import Workspace
from flows.runtime import run_id


@task(cache_policy=NO_CACHE)
def record_step(
    ws: Workspace,
    step: str,
    year: int,
    unit_ids: list[str],
    started: datetime,
    finished: datetime,
) -> None:
    """Record ``step`` as done for each unit (one document each) by this flow run."""
    with ws.engine.begin() as conn:
        status.record_done(
            conn,
            step=step,
            period=str(year),
            unit_documents=[(u, 1) for u in unit_ids],
            run_id=run_id(),
            started_at=started,
            finished_at=finished,
        )


def cycle_provenance(ws: Workspace, now: datetime) -> Provenance:
    """What the cycle's documents are built from: the imported organisation, deviations and
    complaints, and this flow run."""
    with ws.engine.connect() as conn:
        return provenance(
            conn, ("organisation", "deviations", "complaints"), now=now, run_id=run_id()
        )

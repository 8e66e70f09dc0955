"""Which unit has done which step, when, by which run: the evidence the auditors ask for."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, insert

from arshjul.models import RunState, StepRun


def record_done(
    conn: Connection,
    *,
    step: str,
    period: str,
    unit_documents: Iterable[tuple[str, int]],
    run_id: str,
    started_at: datetime,
    finished_at: datetime,
) -> int:
    """Record ``step`` as done for each (unit id, documents written); returns rows recorded."""
    rows = [
        {
            "step": step,
            "period": period,
            "unit_id": unit_id,
            "run_id": run_id,
            "state": RunState.DONE,
            "started_at": started_at,
            "finished_at": finished_at,
            "documents": documents,
        }
        for unit_id, documents in unit_documents
    ]
    if rows:
        conn.execute(insert(StepRun), rows)
    return len(rows)

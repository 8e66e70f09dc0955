"""Laying down the evidence of the wheel's steps, as the steps and imports leave it: step runs,
findings, sign-off decisions, returned worksheets and training rosters."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, insert

from arshjul.config import Config
from arshjul.importers import ImportResult, import_file
from arshjul.models import Finding, SignOff, SignOffState
from arshjul.status import record_done

_files = itertools.count(1)

ACTION_HEADER = (
    "Åtgärds-ID",
    "Enhet HSA-id",
    "Fynd-ID",
    "Åtgärd",
    "Ansvarig",
    "Klart senast",
    "Status",
    "Motivering",
)
#: a returned worksheet whose rows are dated by the enhetschef (the follow-ups count these)
DATED_HEADER = (*ACTION_HEADER, "Statusdatum")


def run_step(
    conn: Connection, step: str, period: str, units: Iterable[str], at: datetime, run: str
) -> int:
    """``step`` run for ``units`` and ``period`` by run ``run``, finished at ``at``; how many
    units ran it for the first time."""
    return record_done(
        conn,
        step=step,
        period=period,
        unit_documents=[(u, 1, None) for u in units],
        run_id=run,
        started_at=at - timedelta(minutes=1),
        finished_at=at,
    )


def add_findings(conn: Connection, year: int, findings: Iterable[tuple[str, str, int]]) -> None:
    """Findings of ``year`` as the analysis stores them: (unit, key, severity)."""
    conn.execute(
        insert(Finding),
        [
            {
                "id": f"{year}:{unit}:trend:{key}",
                "year": year,
                "unit_id": unit,
                "kind": "trend",
                "title": f"Ökning av {key}",
                "measure": key,
                "value": 9,
                "baseline": 4,
                "severity": severity,
                "run_id": "run-analyse",
            }
            for unit, key, severity in findings
        ],
    )


def decide(
    conn: Connection,
    document: str,
    period: str,
    unit_id: str,
    *,
    approved: bool,
    at: datetime,
    version: int = 1,
) -> None:
    """A sign-off decision on ``version`` of ``document``, as flows/signoff.py records it."""
    conn.execute(
        insert(SignOff).values(
            document=document,
            period=period,
            unit_id=unit_id,
            version=version,
            state=SignOffState.APPROVED if approved else SignOffState.RETURNED,
            role="chefläkare",
            signed_by="Test Testsson",
            comment=None if approved else "Komplettera",
            sha256="0" * 64,
            run_id=f"sign-{version}",
            at=at,
        )
    )


def _csv(folder: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    path = folder / f"file-{next(_files)}.csv"
    lines = [";".join(header), *(";".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def import_actions(
    conn: Connection,
    config: Config,
    folder: Path,
    rows: Iterable[Sequence[str]],
    at: datetime,
    header: Sequence[str] = ACTION_HEADER,
) -> ImportResult:
    """A returned worksheet with ``rows`` of ``header``, imported at ``at``."""
    return import_file(conn, config, "actions", _csv(folder, header, rows), now=at)


def import_roster(
    conn: Connection, config: Config, folder: Path, units: Iterable[str], at: datetime
) -> ImportResult:
    """A training roster with one manager per unit, imported at ``at``."""
    rows = [(f"P-{unit}", unit, "chef", "patientsäkerhet", "") for unit in units]
    header = ("Pseudonym", "Enhet HSA-id", "Roll", "Kurs", "Genomförd datum")
    return import_file(conn, config, "training", _csv(folder, header, rows), now=at)

"""Flow ``import_data``: input files into the database, all-or-nothing per file."""

from __future__ import annotations

import logging
from datetime import datetime

from prefect import flow

from arshjul.clock import now as wall_clock
from arshjul.importers import ImportResult, import_file
from arshjul.inputs import InputFile
from arshjul.workspace import Workspace, open_workspace
from flows.steps import step_task

log = logging.getLogger("arshjul")


@step_task
def import_one(ws: Workspace, file: InputFile, now: datetime) -> ImportResult:
    # one transaction per file: a refused file leaves nothing, earlier files stay imported
    with ws.engine.begin() as conn:
        return import_file(conn, ws.config, file.kind, file.path, now=now)


@flow(name="import_data")
def import_data(files: list[InputFile], now: datetime | None = None) -> list[ImportResult]:
    """Import ``files`` in order; stops at the first refused file. Prefect keeps their names
    with any personnummer masked (see :class:`~arshjul.inputs.InputFile`)."""
    now = now or wall_clock()
    ws = open_workspace()
    results = []
    for file in files:
        result = import_one(ws, file, now)
        log.info("%s", describe(result))
        results.append(result)
    return results


def describe(result: ImportResult) -> str:
    if result.already_imported:
        return f"{result.file}: imported before, nothing changed"
    skipped = f", {result.skipped} rows not filled in, skipped" if result.skipped else ""
    return (
        f"{result.file} ({result.kind}): {result.rows} rows, {result.inserted} new, "
        f"{result.updated} updated, {result.unchanged} unchanged{skipped}"
    )

"""Flow ``import_data``: input files into the database, all-or-nothing per file."""

from __future__ import annotations

import logging
from datetime import datetime

from prefect import flow

from arshjul.clock import now as wall_clock
from arshjul.importers import ImportResult, import_file
from arshjul.inputs import InputFile
from arshjul.workspace import Workspace
from flows.steps import open_ws, step_task

log = logging.getLogger("arshjul")


def import_one(ws: Workspace, file: InputFile, now: datetime) -> ImportResult:
    """``file`` as of when it was handed back (``file.at``), else as of ``now``."""
    # one transaction per file: a refused file leaves nothing, earlier files stay imported
    with ws.engine.begin() as conn:
        return import_file(conn, ws.config, file.kind, file.path, now=file.at or now)


@step_task
def import_files(
    ws: Workspace, files: list[InputFile], now: datetime, each: bool
) -> list[ImportResult]:
    """One task for all the files (a folder of worksheets holds one per unit); ``each``:
    log a line per file."""
    results = []
    for file in files:
        results.append(import_one(ws, file, now))
        if each:
            log.info("%s", describe(results[-1]))
    return results


def import_into(
    ws: Workspace, files: list[InputFile], now: datetime, label: str | None = None
) -> list[ImportResult]:
    """:func:`import_data` in this flow run, into ``ws``."""
    results = import_files(ws, files, now, label is None)
    if label is not None:
        log.info("%s", describe_all(label, results))
    return results


@flow(name="import_data")
def import_data(
    files: list[InputFile], now: datetime | None = None, label: str | None = None
) -> list[ImportResult]:
    """Import ``files`` in order; stops at the first refused file. Prefect keeps their names
    with any personnummer masked (see :class:`~arshjul.inputs.InputFile`). With ``label``,
    one line of log for them all (a folder of worksheets) instead of one per file."""
    return import_into(open_ws(), files, now or wall_clock(), label)


def describe(result: ImportResult) -> str:
    if result.already_imported:
        return f"{result.file}: imported before, nothing changed"
    skipped = f", {result.skipped} rows not filled in, skipped" if result.skipped else ""
    return (
        f"{result.file} ({result.kind}): {result.rows} rows, {result.inserted} new, "
        f"{result.updated} updated, {result.unchanged} unchanged{skipped}"
    )


def describe_all(label: str, results: list[ImportResult]) -> str:
    new = [r for r in results if not r.already_imported]
    rows = sum(r.rows for r in results)
    if not new:
        return f"{label}: {len(results)} files imported before, nothing changed"
    inserted, updated = sum(r.inserted for r in new), sum(r.updated for r in new)
    return (
        f"{label}: {len(results)} files, {rows} rows, {inserted} new, {updated} updated"
        f" ({len(results) - len(new)} files imported before)"
    )

"""What an import keeps besides the records it upserts: a dated history of what files said.

The upsert by key keeps one row per record, the latest, and an unchanged row keeps the batch
that last changed it. Two questions need more: whether a unit followed up each open action in
a window (every returned worksheet row is a status update, changed or not, with the day the
unit wrote in it: ``action_update``),
and whether a unit's training roster was imported in a year (``training_import``). Each is one
``INSERT … SELECT`` from the file's staging table, dated by the batch.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Integer, Table, func, insert, literal, select

from arshjul.models import ActionUpdate, TrainingImport

#: keeps the history of one file, staged in the table, as batch ``batch_id``
History = Callable[[Connection, Table, int], None]


def action_updates(conn: Connection, staged: Table, batch_id: int) -> None:
    """Every row of a returned worksheet is a status update of its action, with the day the
    unit wrote in it (Statusdatum)."""
    rows = select(
        staged.c.action_id, staged.c.status, staged.c.status_date, literal(batch_id, Integer)
    ).order_by(staged.c.seq)
    conn.execute(
        insert(ActionUpdate).from_select(["action_id", "status", "status_date", "batch_id"], rows)
    )


def training_units(conn: Connection, staged: Table, batch_id: int) -> None:
    """The units a training roster lists, with their number of rows."""
    rows = (
        select(literal(batch_id, Integer), staged.c.unit_id, func.count())
        .group_by(staged.c.unit_id)
        .order_by(staged.c.unit_id)
    )
    conn.execute(insert(TrainingImport).from_select(["batch_id", "unit_id", "rows"], rows))

"""The action worksheet's rules against what is stored: an action answers a finding of its own
unit, and an action id, once stored, stays with its unit.

A unit fills in the worksheet it was given (SPEC §5); a row copied from another unit's sheet
would otherwise tie one unit's action to another's finding, or overwrite another unit's action.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select
from sqlalchemy.orm import InstrumentedAttribute

from arshjul.errors import Problem
from arshjul.importers.records import Context, Records
from arshjul.models import Action, Finding

#: ids per ``IN (…)``: below every database's limit on bound parameters
CHUNK = 500
UNKNOWN_FINDING = (
    "unknown finding: no finding with this id in the analysis (run the analysis first,"
    " or leave the cell empty)"
)


def _unit_of(
    conn: Connection,
    id_column: InstrumentedAttribute[str],
    unit_column: InstrumentedAttribute[str],
    ids: Collection[str],
) -> dict[str, str]:
    """Stored id -> its unit, for those of ``ids`` that are stored."""
    wanted = sorted(ids)
    found: dict[str, str] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(id_column, unit_column).where(id_column.in_(wanted[start : start + CHUNK]))
        found.update((stored_id, unit) for stored_id, unit in conn.execute(query))
    return found


def _named(context: Context, unit_id: str) -> str:
    unit = context.units.get(unit_id)
    return f"{unit_id!r} ({unit.name})" if unit is not None else repr(unit_id)


def findings_of_the_unit(records: Records, context: Context) -> list[Problem]:
    """A finding id, when given, names a stored finding of the row's own unit."""
    units, findings = records.values["unit_id"], records.values["finding_id"]
    given = {f for f in findings if f is not None}
    if not given:
        return []
    owner = _unit_of(context.conn, Finding.id, Finding.unit_id, given)
    problems = []
    for i, (unit, finding) in enumerate(zip(units, findings, strict=True)):
        if finding is None:
            continue
        if finding not in owner:
            problems.append(records.problem(i, "finding_id", finding, UNKNOWN_FINDING))
        elif unit is not None and owner[finding] != unit:
            reason = (
                f"a finding of another unit: it is {_named(context, owner[finding])}'s,"
                f" this row's unit is {_named(context, unit)}"
            )
            problems.append(records.problem(i, "finding_id", finding, reason))
    return problems


def ids_stay_with_their_unit(records: Records, context: Context) -> list[Problem]:
    """An action id already stored for one unit is not taken over by another."""
    units, ids = records.values["unit_id"], records.values["action_id"]
    owner = _unit_of(context.conn, Action.action_id, Action.unit_id, {a for a in ids if a})
    return [
        records.problem(
            i,
            "action_id",
            action,
            f"already the id of an action of {_named(context, owner[action])}: an action"
            " stays with its unit; give this one a new id",
        )
        for i, (unit, action) in enumerate(zip(units, ids, strict=True))
        if action in owner and unit is not None and owner[action] != unit
    ]

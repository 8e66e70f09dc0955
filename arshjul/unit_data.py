"""Which imported files hold each unit's records: the files a unit's documents are built from,
and the version of its data that its stored counts are kept for.

An import stores a record only when it is new or changed, with the batch (file) that wrote it
(:mod:`arshjul.importers.store`); a record that did not change keeps its batch. So the batches
holding a unit's records of a kind, with how many records each holds, change whenever the
unit's records do: a record added or changed moves to a new batch, one moved to another unit
or removed lowers a count. That is the unit's data version (:func:`version`), read in one
grouped query per kind, and the unit's sources (:mod:`arshjul.documents`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from arshjul.models import Action, Capacity, Complaint, Deviation, Production, Training

#: the imported kinds whose records each belong to a unit, by their table. Not the waiting
#: lists (4.7 million rows at ``large``: a unit's batches would cost seconds to read, and
#: every snapshot file lists every unit anyway) nor the organisation (every unit's)
UNIT_TABLES: dict[str, Any] = {
    "deviations": Deviation,
    "complaints": Complaint,
    "capacity": Capacity,
    "training": Training,
    "production": Production,
    "actions": Action,
}

#: kind -> unit -> batch -> the unit's records that batch holds
Batches = dict[str, dict[str, dict[int, int]]]


def batches(conn: Connection, kinds: Iterable[str]) -> Batches:
    """The batches holding each unit's records of each of ``kinds`` that belongs to units
    (:data:`UNIT_TABLES`), and how many records each."""
    found: Batches = {}
    for kind in kinds:
        table = UNIT_TABLES.get(kind)
        if table is None:
            continue
        by_unit: dict[str, dict[int, int]] = found.setdefault(kind, {})
        rows = conn.execute(
            select(table.unit_id, table.batch_id, func.count()).group_by(
                table.unit_id, table.batch_id
            )
        )
        for unit_id, batch_id, n in rows:
            by_unit.setdefault(unit_id, {})[batch_id] = n
    return found


def version(held: Batches, unit_id: str, salt: str = "") -> str:
    """The version of ``unit_id``'s records of the kinds in ``held``: a SHA-256 of its
    batches and their counts (and ``salt``: what else the caller's result depends on)."""
    own = {kind: sorted(units.get(unit_id, {}).items()) for kind, units in sorted(held.items())}
    text = json.dumps([salt, own], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

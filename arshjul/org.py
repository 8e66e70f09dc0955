"""The organisation tree: region → område → verksamhet → enhet."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, select

from arshjul.db import shown_url
from arshjul.errors import UsageError
from arshjul.models import OrgLevel, OrgUnit


def no_organisation(database: str | None) -> str:
    """The message for a database without an organisation, naming the database: a command
    started where another database is the default would otherwise only see unknown units."""
    where = f"the database {database}" if database else "the database"
    return (
        f"{where} has no organisation: import the organisation file first"
        " (arshjul import organisation FILE), or set ARSHJUL_DATABASE_URL or ARSHJUL_HOME"
    )


class Additive(Protocol):
    def add(self, other: Any) -> None: ...


A = TypeVar("A", bound=Additive)


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    level: OrgLevel
    parent_id: str | None


class OrgTree:
    """An in-memory copy of the tree, with the walks the cycle needs."""

    def __init__(self, units: Iterable[Unit], database: str | None = None):
        self.units: dict[str, Unit] = {u.id: u for u in units}
        #: the database the tree was read from (password masked), named when it is empty
        self.database = database
        self._children: dict[str, list[str]] = {uid: [] for uid in self.units}
        for u in sorted(self.units.values(), key=lambda u: (u.name, u.id)):
            if u.parent_id is not None and u.parent_id in self._children:
                self._children[u.parent_id].append(u.id)

    @classmethod
    def load(cls, conn: Connection) -> OrgTree:
        rows = conn.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.level, OrgUnit.parent_id))
        return cls((Unit(*row) for row in rows), database=shown_url(conn.engine))

    def __len__(self) -> int:
        return len(self.units)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self.units

    def __getitem__(self, unit_id: str) -> Unit:
        return self.units[unit_id]

    def get(self, unit_id: str) -> Unit:
        """The unit, or a usage error naming the id (for ``--unit``)."""
        try:
            return self.units[unit_id]
        except KeyError:
            raise UsageError(f"no unit with id {unit_id!r} in the organisation", "unit") from None

    @property
    def root(self) -> Unit:
        roots = [u for u in self.units.values() if u.parent_id is None]
        if not roots:
            raise UsageError(no_organisation(self.database))
        if len(roots) != 1:
            raise UsageError(
                f"the organisation must have exactly one region at the top, found {len(roots)}:"
                " import the organisation file first (arshjul import organisation FILE)"
            )
        return roots[0]

    def children(self, unit_id: str) -> list[Unit]:
        return [self.units[c] for c in self._children[unit_id]]

    def walk(self, unit_id: str) -> Iterator[Unit]:
        """``unit_id`` and everything below it, parents before children."""
        stack = [unit_id]
        while stack:
            uid = stack.pop()
            yield self.units[uid]
            stack.extend(reversed(self._children[uid]))

    def ancestors(self, unit_id: str) -> list[Unit]:
        """The units above ``unit_id``, nearest first."""
        out = []
        parent = self.units[unit_id].parent_id
        while parent is not None:
            out.append(self.units[parent])
            parent = self.units[parent].parent_id
        return out

    def affected(self, unit_id: str | None) -> list[str]:
        """The units whose documents a step for ``unit_id`` (None: all) must (re)write: the
        unit and the units above it, whose roll-ups include it; an unknown id is a usage
        error."""
        if unit_id is None:
            return [u.id for u in self.walk(self.root.id)]
        self.get(unit_id)
        return [unit_id, *(u.id for u in self.ancestors(unit_id))]

    def at_level(self, level: OrgLevel) -> list[Unit]:
        return sorted(
            (u for u in self.units.values() if u.level == level), key=lambda u: (u.name, u.id)
        )

    def area_of(self, unit_id: str) -> Unit | None:
        """The område a unit belongs to (itself if it is one); None for the region."""
        for u in [self.units[unit_id], *self.ancestors(unit_id)]:
            if u.level == OrgLevel.AREA:
                return u
        return None

    def roll_up(self, start: Callable[[str], A]) -> dict[str, A]:
        """Every unit's figures for its subtree: ``start(unit_id)`` (a new object holding the
        unit's own figures) with the totals of its children added, children first."""
        total: dict[str, A] = {}
        for unit in reversed(list(self.walk(self.root.id))):
            figures = start(unit.id)
            for child in self.children(unit.id):
                figures.add(total[child.id])
            total[unit.id] = figures
        return total

    def sum_up(self, own: dict[str, A], empty: Callable[[], A]) -> dict[str, A]:
        """:meth:`roll_up` of each unit's ``own`` figures (copied into ``empty()``, so
        ``own`` stays as it was; a unit without any starts empty)."""

        def start(unit_id: str) -> A:
            figures = empty()
            if unit_id in own:
                figures.add(own[unit_id])
            return figures

        return self.roll_up(start)

    def path(self, unit_id: str) -> str:
        """``Region › Område › Verksamhet › Enhet`` for headings."""
        chain = [self.units[unit_id], *self.ancestors(unit_id)]
        return " › ".join(u.name for u in reversed(chain))

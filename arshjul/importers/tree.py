"""The organisation file's tree rules, checked on the file and the database together.

Every unit but the region hangs under a unit that exists (in the file or already imported)
and sits on a higher level; there is exactly one region at the top; parents never go round in
a loop. A file may hold only part of the tree, e.g. one new enhet, or move a unit elsewhere.
"""

from __future__ import annotations

from arshjul.config import LEVEL_SV
from arshjul.errors import Problem
from arshjul.files import slug
from arshjul.importers.records import Context, Records
from arshjul.importers.values import Suggester
from arshjul.models import OrgLevel

#: region 0, område 1, verksamhet 2, enhet 3: a parent's rank is lower than its children's
RANK = {level: rank for rank, level in enumerate(OrgLevel)}
HIGHER = "a parent must be on a higher level (region > område > verksamhet > enhet)"


def _sv(level: OrgLevel) -> str:
    return LEVEL_SV[level.value]


def check(records: Records, context: Context) -> list[Problem]:
    ids, names = records.values["unit_id"], records.values["name"]
    levels, parents = records.values["level"], records.values["parent_id"]
    level_of: dict[str, OrgLevel | None] = {u.id: u.level for u in context.units.values()}
    parent_of: dict[str, str | None] = {u.id: u.parent_id for u in context.units.values()}
    name_of: dict[str, str | None] = {u.id: u.name for u in context.units.values()}
    row_of: dict[str, int] = {}
    for i, uid in enumerate(ids):
        if uid is not None:
            row_of[uid] = i
            level_of[uid], parent_of[uid], name_of[uid] = levels[i], parents[i], names[i]
    suggest = Suggester.of_units(name_of)

    problems = []
    for uid, i in row_of.items():
        parent = parent_of[uid]
        reason = _misplaced(level_of[uid], parent, level_of, suggest)
        if reason is not None:
            problems.append(records.problem(i, "parent_id", parent or "", reason))
    problems += _stranded_children(records, context, row_of, level_of)
    regions = sorted(
        u for u, p in parent_of.items() if p is None and level_of[u] == OrgLevel.REGION
    )
    if len(regions) > 1:
        reason = f"more than one region at the top: {', '.join(regions)}"
        problems += [
            records.problem(row_of[u], "level", "region", reason) for u in regions if u in row_of
        ]
    elif not regions and None not in levels:
        problems.append(Problem(records.file, None, None, None, "no region at the top"))
    return problems + _loops(records, row_of, parent_of) + _same_folder(records, row_of, level_of)


def _same_folder(
    records: Records, row_of: dict[str, int], level_of: dict[str, OrgLevel | None]
) -> list[Problem]:
    """Ids that differ only in characters a file name cannot hold (``E1/x``, ``E1-x``) would
    share one folder of documents and one calendar feed: refused."""
    first: dict[str, str] = {}
    problems = []
    # units already imported keep their folder: the newcomer is the one refused
    for uid in sorted(level_of, key=lambda u: (u in row_of, row_of.get(u, 0))):
        other = first.setdefault(slug(uid), uid)
        if other != uid and uid in row_of:
            reason = f"its documents would share a folder with unit {other!r} ({slug(uid)!r})"
            problems.append(records.problem(row_of[uid], "unit_id", uid, reason))
    return problems


def _misplaced(
    level: OrgLevel | None,
    parent: str | None,
    level_of: dict[str, OrgLevel | None],
    suggest: Suggester,
) -> str | None:
    """Why a unit on ``level`` cannot hang under ``parent``; None if it can."""
    if parent is None:
        if level is None or level == OrgLevel.REGION:
            return None
        return f"only the region has no parent: a unit on level {_sv(level)} needs one"
    if parent not in level_of:
        return f"parent not in this file nor the organisation{suggest(parent)}"
    if level == OrgLevel.REGION:
        return "the region is the top of the tree and has no parent"
    above = level_of[parent]
    if level is None or above is None or RANK[above] < RANK[level]:
        return None
    return f"{_sv(level)} under {_sv(above)}: {HIGHER}"


def _stranded_children(
    records: Records,
    context: Context,
    row_of: dict[str, int],
    level_of: dict[str, OrgLevel | None],
) -> list[Problem]:
    """Units already imported whose parent this file moves down to their level or below."""
    problems = []
    for unit in context.units.values():
        parent = unit.parent_id
        if unit.id in row_of or parent not in row_of:
            continue
        above = level_of[parent]
        if above is not None and RANK[above] >= RANK[unit.level]:
            reason = (
                f"this unit would be {_sv(above)}, but {unit.id!r} ({_sv(unit.level)},"
                f" already imported) is under it: {HIGHER}"
            )
            problems.append(records.problem(row_of[parent], "level", _sv(above), reason))
    return problems


def _loops(
    records: Records, row_of: dict[str, int], parent_of: dict[str, str | None]
) -> list[Problem]:
    problems = []
    done: set[str] = set()
    for start in row_of:
        path: list[str] = []
        uid: str | None = start
        while uid is not None and uid in parent_of and uid not in done:
            if uid in path:
                loop = [*path[path.index(uid) :], uid]
                # the database has no loops, so one of the file's units closes this one
                first = next(u for u in loop if u in row_of)
                reason = f"the parents go round in a loop: {' → '.join(loop)}"
                problems.append(
                    records.problem(row_of[first], "parent_id", parent_of[first], reason)
                )
                break
            path.append(uid)
            uid = parent_of[uid]
        done.update(path)
    return problems

"""The managers' training in the deferred-care sections: every period's sections read together.

A unit's managers are the roster's (roll chef) in every period's section, and its trained by a
period's end are those of them who completed the course by that day: a count that only grows.
So the sections of several periods print the same managers, and trained counts of which an
earlier period's bound a later one's from below (and the later one's bound it from above):
read together, one period's section can give back what another's hides (each period
protected alone, the attack of ``tests/test_disclosure_attack.py`` recovered 14 counts of the
demo so, and 43 of its hand-made region).

Each period's training counts are protected in one ledger with every earlier period's
(:func:`publication`):

* the managers first, alone: the same count in every period, hidden the same way in every
  period's section (as a section of a period before any manager completed a course hides
  them, where every trained count is 0);
* then each period in the order they end, from the first by whose end a manager completed a
  course: its trained against the unit's managers, its units' trained against the unit's,
  and each trained against the same count of the period before (the later are the earlier
  and those who completed in between; when none did, the reader is taken to know it: more
  hidden, never less). The earlier periods' marks stay as those periods'
  sections print them (``fixed``) and their counts are never hidden afterwards
  (``settled``): a later period hides what it must among its own counts.

A period's marks depend on the periods that end before it and on none after, so its sections
print the same whichever later periods are published. Each step protects the ledger so far
(the training counts alone, a few hundred per period; no period's waiting lists are read),
and is kept for the next section of the run that reaches it (``Ledger.publish`` keeps its marks).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from arshjul.config import Config
from arshjul.disclosure import Key, Ledger, Mark, Published
from arshjul.interim import figures
from arshjul.org import OrgTree
from arshjul.periods import LAST_MONTH, Period

MANAGERS = "managers"


def chain(first: date | None, period: Period) -> list[Period]:
    """The periods, in the order they end, from the first that ends on or after ``first``
    (the first completion) to ``period``: those whose trained are not all 0."""
    if first is None:
        return []
    periods = (Period(y, part) for y in range(first.year, period.year + 1) for part in LAST_MONTH)
    return sorted((p for p in periods if first <= p.last <= period.last), key=lambda p: p.last)


def trained_key(unit_id: str, course: str) -> tuple[str, str, str]:
    """A section's key of a unit's trained (the ledger's is the same with the period first)."""
    return (unit_id, "train", course)


def publication(conn: Connection, config: Config, tree: OrgTree, period: Period) -> Published:
    """How every unit's section of ``period`` shows its managers and trained, under the
    sections' keys (``(unit id, "managers")``, :func:`trained_key`)."""
    below = config.settings.targets.suppress_below
    courses = config.codes.training_courses
    units = list(tree.walk(tree.root.id))
    units_below = {u.id: [c.id for c in tree.children(u.id)] for u in units}
    latest = figures.training(conn, tree, period)
    book = Ledger()
    for unit in units:
        book.count((unit.id, MANAGERS), int(latest[unit.id].sums[MANAGERS,]))
    for unit in units:
        if units_below[unit.id]:
            book.line((unit.id, MANAGERS), [(c, MANAGERS) for c in units_below[unit.id]])
    marks = book.publish(below, {}, set()).marks
    before: Period | None = None
    against = slice(0, 0)  # the lines of the trained of the period before against the managers
    for p in chain(figures.first_completion(conn), period):
        totals = latest if p == period else figures.training(conn, tree, p)
        settled = set(book.values)
        # the trained of an earlier period are among this one's (the lines after these), so
        # its lines against the managers say nothing this one's do not: dropped, fewer to read
        del book.lines[against]
        start = len(book.lines)
        for unit in units:
            for course in courses:
                n = int(totals[unit.id].sums["train", course])
                book.line((unit.id, MANAGERS), [book.count((p, *trained_key(unit.id, course)), n)])
        against = slice(start, len(book.lines))
        for unit in units:
            for course in courses if before is not None else ():
                book.line(
                    (p, *trained_key(unit.id, course)), [(before, *trained_key(unit.id, course))]
                )
        for unit in units:
            for course in courses if units_below[unit.id] else ():
                book.line(
                    (p, *trained_key(unit.id, course)),
                    [(p, *trained_key(c, course)) for c in units_below[unit.id]],
                )
        marks = book.publish(below, marks, settled).marks
        before = p
    values: dict[Key, int] = {}
    shown: dict[Key, Mark] = {}
    for unit in units:
        values[unit.id, MANAGERS] = book.values[unit.id, MANAGERS]
        if (mark := marks.get((unit.id, MANAGERS))) is not None:
            shown[unit.id, MANAGERS] = mark
        for course in courses:
            key = trained_key(unit.id, course)
            values[key] = int(latest[unit.id].sums["train", course])
            if (mark := marks.get((period, *key))) is not None:
                shown[key] = mark
    return Published(values, shown, below)

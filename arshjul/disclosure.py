"""Small counts in published documents: primary and complementary (secondary) suppression.

A published document (the patientsäkerhetsberättelse, the deferred-care section) must not let
a reader learn a count from 1 to ``below``-1. Writing such a count as ``<5`` (primary
suppression) is not enough when the table also prints its total and the other cells of its
row or column: 523 − 227 − 155 − 137 gives the hidden 4 back. So, as statistical offices do:

* the document's counts are registered once in a :class:`Ledger`, each under a key, with the
  sums that hold between them (a :class:`Line`: a row, a column or a margin, ``total =
  sum(parts)``), along both dimensions of a table and across the tables that share a count;
* :func:`protect` marks the small counts ``<5`` and then, while a reader could still pin one of
  them to a single value, hides the smallest non-zero count still shown in a line that pins
  it (``..``, complementary suppression) and tries again;
* what a reader can work out is computed by :func:`intervals`: each hidden count's possible
  values, from every line, until nothing narrows further (``<5`` is 1..below-1; ``..`` is 0 or
  at least ``below``, since a count 1..below-1 would have been ``<5``);
* a share (part / whole) is shown only when both its counts are (a share of a hidden count gives
  it back), and a whole number in a sentence is hidden when it is small or is the value of a
  count the document hides (:meth:`Published.text`).

The document states the rule in Swedish (:data:`RULE_SV`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from arshjul.render import NBSP, number, share

Key = Hashable


#: written for a complementary suppression
SECONDARY_MARK = ".."

#: the rule as each published document states it
RULE_SV = (
    "Antal 1–{last} visas som <{below}. För att de inte ska kunna räknas fram döljs även "
    "ytterligare minst ett värde i samma rad eller kolumn (markerat ..), och andelar som skulle "
    "avslöja ett dolt värde visas inte."
)


class Mark(enum.Enum):
    PRIMARY = "primary"  # a count 1..below-1, written <below
    SECONDARY = "secondary"  # hidden so that a primary one cannot be worked out, written ..


@dataclass(frozen=True)
class Line:
    """``total = sum(parts)``: a row, a column or a margin of a table."""

    total: Key
    parts: tuple[Key, ...]

    @property
    def members(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)


def small(n: int | None, below: int) -> bool:
    """A count that a published document must not show (1..below-1)."""
    return n is not None and 0 < n < below


#: visits per line, on average, before :func:`intervals` stops narrowing
MAX_PASSES = 200

#: a reader's knowledge of a count: its least and greatest possible value (None: no bound)
Bounds = tuple[int, int | None]


def intervals(
    values: Mapping[Key, int],
    lines: Iterable[Line],
    marks: Mapping[Key, Mark],
    unshown: Iterable[Key],
    below: int,
) -> dict[Key, Bounds]:
    """What a reader of the published counts can know of each hidden count (a shown one is
    known exactly): ``<below`` as 1..below-1, ``..`` as 0 or ≥ below, ``unshown`` ones (never
    printed, such as the rest of a total that its parts do not cover) as ≥ 0; narrowed along
    every line until nothing changes."""
    hidden = set(marks) | set(unshown)
    known: dict[Key, Bounds] = {
        k: (1, below - 1) if marks.get(k) is Mark.PRIMARY else (0, None) for k in hidden
    }

    def bounds(k: Key) -> Bounds:
        return known.get(k) or (values[k], values[k])

    def narrow(k: Key, lo: int, hi: int | None) -> bool:
        if k not in known:  # shown: nothing to learn
            return False
        old_lo, old_hi = known[k]
        lo = max(lo, old_lo)
        hi = hi if old_hi is None else old_hi if hi is None else min(hi, old_hi)
        if marks.get(k) is Mark.SECONDARY:  # never 1..below-1
            if lo > 0:
                lo = max(lo, below)
            if hi is not None and hi < below:
                hi = 0
        if (lo, hi) == (old_lo, old_hi) or (hi is not None and lo > hi):
            return False
        known[k] = (lo, hi)
        return True

    def visit(line: Line) -> list[Key]:
        """Narrow the line's members by the others; returns those narrowed."""
        parts = [bounds(p) for p in line.parts]
        t_lo, t_hi = bounds(line.total)
        lo_sum = sum(lo for lo, _ in parts)
        unbounded = sum(hi is None for _, hi in parts)
        hi_sum = sum(hi for _, hi in parts if hi is not None)
        changed = [line.total] if narrow(line.total, lo_sum, None if unbounded else hi_sum) else []
        for p, (p_lo, p_hi) in zip(line.parts, parts, strict=True):
            # the other parts' greatest sum, None when one of them has no bound
            others_unbounded = unbounded - (p_hi is None)
            others_hi = None if others_unbounded else hi_sum - (p_hi or 0)
            lo = 0 if others_hi is None else t_lo - others_hi
            hi = None if t_hi is None else t_hi - (lo_sum - p_lo)
            if narrow(p, lo, hi):
                changed.append(p)
        return changed

    # a work list: a line is looked at again only when one of its members narrowed, so a
    # ledger of a whole region costs what its hidden counts' neighbourhoods cost. Only lines
    # with a hidden member can narrow anything. Each visit narrows some bound towards the
    # true value; a cap keeps a slow creep (a bound moving by one per visit round a cycle of
    # lines) from running long
    lines = [line for line in lines if hidden.intersection(line.members)]
    touching: dict[Key, list[int]] = {}
    for i, line in enumerate(lines):
        for k in line.members:
            touching.setdefault(k, []).append(i)
    queue, queued = list(range(len(lines))), set(range(len(lines)))
    budget = MAX_PASSES * max(len(lines), 1)
    while queue and budget:
        budget -= 1
        i = queue.pop()
        queued.discard(i)
        for k in visit(lines[i]):
            for j in touching[k]:
                if j not in queued:
                    queued.add(j)
                    queue.append(j)
    return known


def pinned(bounds: Mapping[Key, Bounds], marks: Mapping[Key, Mark]) -> list[Key]:
    """The small counts a reader can work out to one value."""
    return [k for k, m in marks.items() if m is Mark.PRIMARY and bounds[k][0] == bounds[k][1]]


def protect(
    values: Mapping[Key, int], lines: Iterable[Line], below: int, unshown: Iterable[Key] = ()
) -> dict[Key, Mark]:
    """Which counts to hide: every count 1..below-1 (primary) and, while a reader could work
    one of them out (:func:`intervals`), one more non-zero count still shown in a line that
    pins a hidden count to one value (complementary): the one that leaves the fewest small
    counts pinned, then the fewest hidden counts pinned, then the smallest (ties in the order
    the counts were registered). In a one-way table that is the next-smallest cell of the
    row; in a table with margins both ways it grows to a rectangle of hidden cells, each row
    and column of it with two. Complements that later ones made needless are shown again."""
    lines, unshown = list(lines), set(unshown)
    order = {k: i for i, k in enumerate(values)}
    marks = {k: Mark.PRIMARY for k, v in values.items() if k not in unshown and small(v, below)}
    while True:
        bounds = intervals(values, lines, marks, unshown, below)
        if not pinned(bounds, marks):
            return _unhide(values, lines, marks, unshown, below)
        exact = {k for k in marks if bounds[k][0] == bounds[k][1]}
        candidates = {
            k
            for line in lines
            if exact.intersection(line.members)
            for k in line.members
            if k not in marks and k not in unshown
        }
        if not candidates:  # only when below <= 2: <2 is 1
            raise ValueError(f"counts {sorted(map(str, pinned(bounds, marks)))} cannot be hidden")
        nonzero = [k for k in candidates if values[k]] or list(candidates)

        def left(k: Key) -> tuple[int, int, int, int]:
            """What hiding ``k`` leaves: small counts still pinned, hidden ones pinned."""
            trial = {**marks, k: Mark.SECONDARY}
            after = intervals(values, lines, trial, unshown, below)
            exact = sum(after[h][0] == after[h][1] for h in trial)
            return len(pinned(after, trial)), exact, values[k], order[k]

        marks[min(nonzero, key=left)] = Mark.SECONDARY


def _unhide(
    values: Mapping[Key, int],
    lines: list[Line],
    marks: dict[Key, Mark],
    unshown: set[Key],
    below: int,
) -> dict[Key, Mark]:
    """``marks`` less the complementary suppressions that turned out not to be needed: each
    choice above was the best at its step, and a later one may protect what an earlier one
    did, so each is shown again, the largest first, when no small count is pinned without
    it."""
    secondary = [k for k, m in marks.items() if m is Mark.SECONDARY]
    for k in sorted(secondary, key=lambda k: -values[k]):
        trial = {h: m for h, m in marks.items() if h != k}
        if not pinned(intervals(values, lines, trial, unshown, below), trial):
            marks = trial
    return marks


class Ledger:
    """A document's counts, each under a key, and the lines that hold between them."""

    def __init__(self) -> None:
        self.values: dict[Key, int] = {}
        self.lines: list[Line] = []
        self.unshown: set[Key] = set()

    def count(self, key: Key, value: int, *, shown: bool = True) -> Key:
        """Register a count (once; the same key again must have the same value)."""
        if self.values.setdefault(key, value) != value:
            raise ValueError(f"{key!r} registered as {self.values[key]} and {value}")
        if not shown:
            self.unshown.add(key)
        return key

    def line(self, total: Key, parts: Iterable[Key]) -> None:
        """``total = sum(parts)`` plus, when the parts do not cover the total (units directly
        under the region, rows without a category), an unshown rest. Parts that add up to more
        than the total are no sum and are not registered."""
        parts = tuple(parts)
        rest = self.values[total] - sum(self.values[p] for p in parts)
        if rest < 0:
            return
        if rest:
            parts += (self.count(("rest", total, parts), rest, shown=False),)
        self.lines.append(Line(total, parts))

    def publish(self, below: int) -> Published:
        marks = protect(self.values, self.lines, below, self.unshown)
        return Published(dict(self.values), marks, below)


#: a whole number as ``render.number`` writes it (thousands separated by NBSP), with its
#: decimals and a per cent sign, so that those can be left alone
_NUMBER = re.compile(rf"(?<![\d,{NBSP}])(\d{{1,3}}(?:{NBSP}\d{{3}})+|\d+)(,\d+)?(\s?%)?")


@dataclass(frozen=True)
class Published:
    """The counts of a document as it may show them."""

    values: dict[Key, int]
    marks: dict[Key, Mark]
    below: int
    hidden_values: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        hidden = frozenset(self.values[k] for k, m in self.marks.items() if m is Mark.SECONDARY)
        object.__setattr__(self, "hidden_values", hidden)

    @property
    def rule(self) -> str:
        return RULE_SV.format(last=self.below - 1, below=self.below)

    def hidden(self, key: Key) -> bool:
        return key in self.marks

    def show(self, key: Key) -> str:
        """The count as the document prints it: ``<5``, ``..`` or the number."""
        mark = self.marks.get(key)
        if mark is Mark.PRIMARY:
            return f"<{self.below}"
        if mark is Mark.SECONDARY:
            return SECONDARY_MARK
        return number(self.values[key])

    def share(self, part: Key, whole: Key) -> float | None:
        """``part / whole``, or None when either is hidden (the share would give it back)."""
        if self.hidden(part) or self.hidden(whole):
            return None
        return share(self.values[part], self.values[whole])

    def text(self, text: str) -> str:
        """``text`` with every whole number 1..below-1 written ``<below``, and every whole
        number that is the value of a count hidden by complementary suppression written
        ``..`` (a sentence must not print what a table hides). Decimals ("4,5") and
        percentages are left as they are."""

        def one(m: re.Match[str]) -> str:
            whole, decimals, pct = m.groups()
            if decimals or pct:
                return m.group(0)
            n = int(whole.replace(NBSP, ""))
            if small(n, self.below):
                return f"<{self.below}"
            return SECONDARY_MARK if n in self.hidden_values else m.group(0)

        return _NUMBER.sub(one, text)

"""Small counts in published documents: primary and complementary (secondary) suppression.

A published document (the patientsäkerhetsberättelse, the deferred-care section) must not let
a reader learn anything of a count from 1 to ``below``-1 beyond "below ``below``". Writing
such a count as ``<5`` (primary suppression) is not enough when the tables also print its
total and the other cells of its row or column: 523 − 227 − 155 − 137 gives the hidden 4
back, and three ``<5`` that add up to a ``<5`` can each only be 1 or 2. So, as statistical
offices do:

* the counts are registered once in a :class:`Ledger`, each under a key, with the sums that
  hold between them (a :class:`Line`: a row, a column or a margin, ``total = sum(parts)``),
  along both dimensions of a table, across the tables that share a count and across the
  documents that print the same count (a unit's own section and its parent's row of it);
* :func:`protect` marks the small counts ``<5`` and then, while a reader could narrow one of
  them below 1..below-1 (:func:`intervals`), hides one more count of the line that narrowed
  it (``..``, complementary suppression): the smallest non-zero count the line still shows,
  or, when the line shows none, one of its other small counts is written ``..`` instead of
  ``<5``; when that line has nothing left either, the lines that narrowed its members are
  tried in turn. Complements that later ones made needless are shown again;
* what a reader can work out is computed by :func:`intervals`: each hidden count's possible
  values, from every line, until nothing narrows further (``<5`` is 1..below-1; ``..`` is
  any count, 0 or more, since a small count may be written ``..`` too);
* a share (part / whole) is shown only when both its counts are (a share of a hidden count
  gives it back), and a whole number in a sentence is hidden when it is small or is the value
  of a count the document hides (:meth:`Published.text`).

The documents state the rule in Swedish (:data:`RULE_SV`).
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from arshjul.render import NBSP, number, share

Key = Hashable


#: written for a complementary suppression
SECONDARY_MARK = ".."

#: the rule as each published document states it
RULE_SV = (
    "Antal 1–{last} visas som <{below}. För att de inte ska kunna räknas fram döljs även andra "
    "värden (markerade ..); ett värde markerat .. kan vara vilket antal som helst, också "
    "1–{last}. Andelar som skulle avslöja ett dolt värde visas inte."
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


@dataclass
class Reading:
    """What a reader works out: each hidden count's bounds, and for each bound the line that
    set it last (None: the count's mark), so that a protection can look where it came from."""

    bounds: dict[Key, Bounds]
    cause: dict[tuple[Key, int], Line]  # (key, 0 for the lower bound, 1 for the upper) -> line

    def __getitem__(self, key: Key) -> Bounds:
        return self.bounds[key]

    def narrowed(self, marks: Mapping[Key, Mark], below: int) -> list[Key]:
        """The small counts a reader knows more of than 1..below-1."""
        return [
            k for k, m in marks.items() if m is Mark.PRIMARY and self.bounds[k] != (1, below - 1)
        ]

    def culprits(self, key: Key) -> list[Line]:
        """The lines that set ``key``'s bounds (none for a bound its mark gives)."""
        return [self.cause[key, side] for side in (0, 1) if (key, side) in self.cause]

    def update(self, other: Reading) -> None:
        """``other``'s reading of its counts instead of this one's: ``other`` read whole
        components of the ledger (:func:`_reach`), so what it found of them is what a reading
        of the whole ledger finds (the work list visits a component's lines in the same order
        whatever else it holds)."""
        for k in other.bounds:
            self.cause.pop((k, 0), None)
            self.cause.pop((k, 1), None)
        self.bounds.update(other.bounds)
        self.cause.update(other.cause)


def read(
    values: Mapping[Key, int],
    lines: Iterable[Line],
    marks: Mapping[Key, Mark],
    unshown: Iterable[Key],
    below: int,
) -> Reading:
    """What a reader of the published counts can know of each hidden count (a shown one is
    known exactly): ``<below`` as 1..below-1, ``..`` and ``unshown`` ones (never printed,
    such as the rest of a total that its parts do not cover) as ≥ 0; narrowed along every
    line until nothing changes."""
    hidden = set(marks) | set(unshown)
    known: dict[Key, Bounds] = {
        k: (1, below - 1) if marks.get(k) is Mark.PRIMARY else (0, None) for k in hidden
    }
    # only lines with a hidden member can narrow anything
    selected = [line for line in lines if hidden.intersection(line.members)]
    reading = Reading(known, {})
    _settle(values, selected, _touching(selected), reading, range(len(selected)))
    return reading


def _settle(
    values: Mapping[Key, int],
    lines: list[Line],
    touching: Mapping[Key, list[int]],
    reading: Reading,
    start: Iterable[int],
) -> dict[Key, Bounds]:
    """Narrow ``reading``'s bounds (a count not in them is shown: known exactly) along
    ``lines``, from the lines ``start`` (by index), until nothing changes; returns the bounds
    the narrowed counts had before.

    A work list: a line is looked at again only when one of its members narrowed, so a
    ledger of a whole region costs what its hidden counts' neighbourhoods cost. Each visit
    narrows some bound towards the true value; a cap keeps a slow creep (a bound moving by
    one per visit round a cycle of lines) from running long. Narrowing is monotone, so the
    bounds it ends with (the greatest that every line allows) are the same from any start
    between the marks' bounds and those: :func:`_unhide` starts a trial from the reading
    before it."""
    known, cause = reading.bounds, reading.cause
    before: dict[Key, Bounds] = {}

    def bounds(k: Key) -> Bounds:
        return known.get(k) or (values[k], values[k])

    def narrow(k: Key, lo: int, hi: int | None, why: int) -> bool:
        if k not in known:  # shown: nothing to learn
            return False
        old_lo, old_hi = known[k]
        lo = max(lo, old_lo)
        hi = hi if old_hi is None else old_hi if hi is None else min(hi, old_hi)
        if (lo, hi) == (old_lo, old_hi) or (hi is not None and lo > hi):
            return False
        if lo != old_lo:
            cause[k, 0] = lines[why]
        if hi != old_hi:
            cause[k, 1] = lines[why]
        before.setdefault(k, (old_lo, old_hi))
        known[k] = (lo, hi)
        return True

    def visit(i: int) -> list[Key]:
        """Narrow line ``i``'s members by the others; returns those narrowed."""
        line = lines[i]
        parts = [bounds(p) for p in line.parts]
        t_lo, t_hi = bounds(line.total)
        lo_sum = sum(lo for lo, _ in parts)
        unbounded = sum(hi is None for _, hi in parts)
        hi_sum = sum(hi for _, hi in parts if hi is not None)
        changed = (
            [line.total] if narrow(line.total, lo_sum, None if unbounded else hi_sum, i) else []
        )
        for p, (p_lo, p_hi) in zip(line.parts, parts, strict=True):
            # the other parts' greatest sum, None when one of them has no bound
            others_unbounded = unbounded - (p_hi is None)
            others_hi = None if others_unbounded else hi_sum - (p_hi or 0)
            lo = 0 if others_hi is None else t_lo - others_hi
            hi = None if t_hi is None else t_hi - (lo_sum - p_lo)
            if narrow(p, lo, hi, i):
                changed.append(p)
        return changed

    queue = list(start)
    queued = set(queue)
    budget = MAX_PASSES * max(len(lines), 1)
    while queue and budget:
        budget -= 1
        i = queue.pop()
        queued.discard(i)
        for k in visit(i):
            for j in touching[k]:
                if j not in queued:
                    queued.add(j)
                    queue.append(j)
    return before


def intervals(
    values: Mapping[Key, int],
    lines: Iterable[Line],
    marks: Mapping[Key, Mark],
    unshown: Iterable[Key],
    below: int,
) -> dict[Key, Bounds]:
    """Each hidden count's bounds as a reader works them out (:func:`read`)."""
    return read(values, lines, marks, unshown, below).bounds


def _complement(
    key: Key,
    reading: Reading,
    values: Mapping[Key, int],
    marks: Mapping[Key, Mark],
    unshown: set[Key],
    settled: set[Key],
) -> Key | None:
    """What to hide next for the narrowed small count ``key``: in the line that narrowed it,
    the smallest non-zero count still shown (a zero only when nothing else is left), else a
    small count other than ``key`` to write ``..`` (the line's total first); when the line
    has neither, the lines that narrowed its members, nearest first."""
    seen_lines: set[Line] = set()
    seen_keys = {key}
    todo = [key]
    while todo:
        following = []
        for k in todo:
            for line in reading.culprits(k):
                if line in seen_lines:
                    continue
                seen_lines.add(line)
                open_ = [
                    m
                    for m in line.members
                    if m not in marks and m not in unshown and m not in settled
                ]
                if open_:
                    return min(open_, key=lambda m: (values[m] == 0, values[m]))
                primaries = [
                    m
                    for m in line.members
                    if m != key and m not in settled and marks.get(m) is Mark.PRIMARY
                ]
                if primaries:
                    return max(primaries, key=lambda m: (m == line.total, values[m]))
                for m in line.members:
                    if m not in seen_keys and (m in marks or m in unshown):
                        seen_keys.add(m)
                        following.append(m)
        todo = following
    return None


def protect(
    values: Mapping[Key, int],
    lines: Iterable[Line],
    below: int,
    unshown: Iterable[Key] = (),
    fixed: Mapping[Key, Mark] | None = None,
    settled: Iterable[Key] = (),
) -> dict[Key, Mark]:
    """Which counts to hide: every count 1..below-1 (primary) and, while a reader could narrow
    one of them (:func:`read`), one more for each narrowed one (:func:`_complement`), all
    of a round at once, then again. In a one-way table that is the next-smallest cell of the
    row; in a table with margins both ways it grows to a rectangle of hidden cells. The
    complements that later ones made needless are shown again (:func:`_unhide`). ``fixed``
    marks are those another document printed the same counts with: kept as they are; the
    ``settled`` counts (another period's, which its documents print as they are) are marked
    as ``fixed`` says (a small one not in it ``<5``) and never hidden here."""
    lines, unshown, fixed = list(lines), set(unshown), dict(fixed or {})
    settled = set(settled) | set(fixed)
    marks = {k: Mark.PRIMARY for k, v in values.items() if k not in unshown and small(v, below)}
    marks.update(fixed)
    touching = _touching(lines)
    reading = read(values, lines, marks, unshown, below)
    while True:
        narrowed = reading.narrowed(marks, below)
        if not narrowed:
            return _unhide(values, lines, marks, reading, below, settled, touching)
        chosen = {_complement(k, reading, values, marks, unshown, settled) for k in narrowed}
        chosen.discard(None)
        if not chosen:
            raise ValueError(f"counts {sorted(map(str, narrowed))} cannot be hidden")
        for k in chosen:
            marks[k] = Mark.SECONDARY
        # a count reads differently only where the new marks reach: the rest of the ledger
        # is read as before (a region's deferred-care sections take ~100 rounds at large,
        # each of which read all ~15,000 lines)
        near = _reach(chosen, lines, touching, lambda m: m in marks or m in unshown)
        reading.update(_read_near(values, near, marks, unshown, below))


def _touching(lines: list[Line]) -> dict[Key, list[int]]:
    """Each count's lines, by their index in ``lines``."""
    touching: dict[Key, list[int]] = {}
    for i, line in enumerate(lines):
        for m in line.members:
            touching.setdefault(m, []).append(i)
    return touching


def _read_near(
    values: Mapping[Key, int],
    near: list[Line],
    marks: Mapping[Key, Mark],
    unshown: set[Key],
    below: int,
) -> Reading:
    """:func:`read` of the lines ``near`` alone, with their members' marks."""
    members = {m for line in near for m in line.members}
    return read(
        values, near, {m: marks[m] for m in members if m in marks}, unshown & members, below
    )


def _reach(
    keys: Iterable[Key],
    lines: list[Line],
    touching: Mapping[Key, list[int]],
    hidden: Callable[[Key], bool],
) -> list[Line]:
    """The lines along which a change to what a reader knows of ``keys`` can travel, in the
    order of ``lines``: the lines they are members of and, from each of their ``hidden``
    members, those lines' on. A shown count is known exactly whatever else is known, so
    knowledge passes through hidden counts only: a hidden count's bounds depend on the lines
    it reaches this way and on no other (its component of the ledger)."""
    found: set[int] = set()
    seen = set(keys)
    todo = list(seen)
    while todo:
        for i in touching.get(todo.pop(), ()):
            if i in found:
                continue
            found.add(i)
            for m in lines[i].members:
                if m not in seen and hidden(m):
                    seen.add(m)
                    todo.append(m)
    return [lines[i] for i in sorted(found)]


def _unhide(
    values: Mapping[Key, int],
    lines: list[Line],
    marks: dict[Key, Mark],
    reading: Reading,
    below: int,
    fixed: set[Key],
    touching: Mapping[Key, list[int]],
) -> dict[Key, Mark]:
    """``marks`` less the complementary suppressions that turned out not to be needed: a
    round's choices each answer one narrowed count, and a later one may protect what an
    earlier one did, so each is shown again (a small one written ``<5`` again), the largest
    first, when no small count is narrowed without it.

    ``reading`` is what a reader knows with ``marks``, none of whose small counts it narrows
    (:func:`protect` stops there, and a trial is kept only when it narrows nothing). Showing
    a count only adds to what a reader knows, so a trial narrows that reading further from
    the count's lines on (:func:`_settle`), as far as the change travels, and is undone when
    it narrows a small count. Reading the whole ledger for every trial cost the region's
    deferred-care sections (thousands of complements, tens of thousands of lines) hours at
    ``large``; reading the lines the count reaches (its component), the managers' training
    (every period's hidden counts joined) minutes."""
    secondary = [k for k, m in marks.items() if m is Mark.SECONDARY and k not in fixed]
    marks = dict(marks)
    known = reading.bounds
    for k in sorted(secondary, key=lambda k: -values[k]):
        shown_again = Mark.PRIMARY if small(values[k], below) else None
        old = known.pop(k)
        if shown_again is not None:
            lo, hi = old
            known[k] = (max(lo, 1), below - 1 if hi is None else min(hi, below - 1))
        before = _settle(values, lines, touching, reading, touching.get(k, ()))
        narrowed = [
            m for m in before if marks.get(m) is Mark.PRIMARY and known[m] != (1, below - 1)
        ]
        if narrowed or (shown_again is not None and known[k] != (1, below - 1)):
            known.update(before)
            known[k] = old
        else:
            del marks[k]
            if shown_again is not None:
                marks[k] = shown_again
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

    def publish(
        self, below: int, fixed: Mapping[Key, Mark] | None = None, settled: Iterable[Key] = ()
    ) -> Published:
        """The counts as the document may show them; ``fixed``: marks of counts that another
        document prints too, ``settled``: counts whose marks another period decided (see
        :func:`protect`)."""
        marks = _protected(
            tuple(self.values.items()),
            tuple(self.lines),
            below,
            frozenset(self.unshown),
            tuple((fixed or {}).items()),
            frozenset(settled),
        )
        return Published(dict(self.values), dict(marks), below)


#: ledgers whose marks are kept: a run works out ~12 periods' deferred-care ledgers (each
#: period's sections print earlier periods' counts too) and the managers' training step by
#: step (``interim.training``, one per period since the first completion, each shared by the
#: later periods); a large region's ledger is a few MB
LEDGERS_KEPT = 32


@functools.lru_cache(maxsize=LEDGERS_KEPT)
def _protected(
    values: tuple[tuple[Key, int], ...],
    lines: tuple[Line, ...],
    below: int,
    unshown: frozenset[Key],
    fixed: tuple[tuple[Key, Mark], ...],
    settled: frozenset[Key],
) -> dict[Key, Mark]:
    """:func:`protect` of a ledger's content, kept for the next ledger with the very same
    (counts, lines, their order, marks fixed): each interim step worked out the earlier
    periods' sections again from the same counts, ~80 % of the steps' suppression work in
    ``make run``. The key is the whole content, so a changed count is worked out afresh."""
    return protect(dict(values), lines, below, unshown, dict(fixed), settled)


#: a whole number as ``render.number`` writes it (thousands separated by NBSP), with its
#: decimals and a per cent sign, so that those can be left alone; not the limit of a mark
#: written already (``<5``)
_NUMBER = re.compile(rf"(?<![\d,{NBSP}<])(\d{{1,3}}(?:{NBSP}\d{{3}})+|\d+)(,\d+)?(\s?%)?")


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

    def beside(self, other: Published) -> Published:
        """This document's counts and ``other``'s, protected apart (they share no count and
        no sum), printed in one document."""
        return Published({**self.values, **other.values}, {**self.marks, **other.marks}, self.below)

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
        """``text`` with every whole number that is the value of a count hidden by
        complementary suppression written ``..`` (a sentence must not print what a table
        hides, nor call ``<5`` a small count a table writes ``..``), and every other whole
        number 1..below-1 written ``<below``. Decimals ("4,5") are left as
        they are, and so are percentages unless the sentence hid a number: then a share with
        decimals ("14,3 %" of the deviations) is written ``..`` too, since it and a count the
        tables show give the hidden one back; a whole per cent (a target, "mål 90 %") stays."""
        # a sentence written with its small counts hidden already ("<5 av 7 åtgärder")
        hid = f"<{self.below}" in text

        def one(m: re.Match[str]) -> str:
            nonlocal hid
            whole, decimals, pct = m.groups()
            if decimals or pct:
                return m.group(0)
            n = int(whole.replace(NBSP, ""))
            if n in self.hidden_values:  # a small count written .. is .. here too
                hid = True
                return SECONDARY_MARK
            if small(n, self.below):
                hid = True
                return f"<{self.below}"
            return m.group(0)

        def share(m: re.Match[str]) -> str:
            _, decimals, pct = m.groups()
            return f"{SECONDARY_MARK}{pct}" if decimals and pct else m.group(0)

        text = _NUMBER.sub(one, text)
        return _NUMBER.sub(share, text) if hid else text

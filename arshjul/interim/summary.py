"""The generated summary of the deferred-care section: the figures that changed most against
the same period last year, and the enheter that drove each change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arshjul.interim.figures import CUR, PREV, Figures
from arshjul.interim.lines import capacity_line, coverage, production_line, small, wait_line
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period
from arshjul.render import number


@dataclass(frozen=True)
class Comparable:
    """A figure with a value this period and a non-zero value the same period last year."""

    label: str
    current: float
    before: float
    #: a count: the units' differences add up to their parent's
    additive: bool
    decimals: int
    #: some unit lacks data in one of the two periods
    incomplete: bool


def comparables(
    f: Figures, activities: list[str], measures: list[str], below: int
) -> dict[str, Comparable]:
    """The figures the summary compares, leaving out small counts (1–4), whose change would
    give them away, and figures without data in either period."""
    out: dict[str, Comparable] = {}

    def partial(kind: str) -> bool:
        return any(coverage(f, kind, w).state in ("partial", "missing") for w in (CUR, PREV))

    def put(
        label: str, cur: float | None, before: float | None, additive: bool, dec: int, kind: str
    ) -> None:
        if cur is None or not before:
            return
        if additive and (small(int(cur), below) or small(int(before), below)):
            return
        out[label] = Comparable(label, cur, before, additive, dec, partial(kind))

    wait = wait_line(f, "", activities, 0)
    put(
        "Väntande (exkl. patientvald väntan)",
        wait.guarantee,
        wait.prev_guarantee,
        True,
        0,
        "waiting",
    )
    put("Väntande mer än 90 dagar", wait.over_90, wait.prev_over_90, True, 0, "waiting")
    for m in measures:
        line = production_line(f, m)
        put(f"Utfall {m}", line.actual, line.prev_actual, False, 0, "production")
        if line.cost_per:
            put(
                f"Kostnad {line.cost_per}",
                line.unit_cost,
                line.prev_unit_cost,
                False,
                0,
                "production",
            )
    cap = capacity_line(f)
    put(
        "Överbeläggningar per 100 vårdplatser",
        cap.overcrowding_per_100,
        cap.prev_overcrowding_per_100,
        False,
        1,
        "capacity",
    )
    return out


@dataclass(frozen=True)
class Change:
    """One figure's change against the same period last year, and the enheter that moved it
    most in the same direction."""

    label: str
    relative: float
    text: str
    drivers: tuple[str, ...]
    #: a unit lacks data in one of the periods (the document says so beside the change)
    incomplete: bool


def _signed(value: float, decimals: int = 0) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "") + number(abs(value), decimals)


def summary(
    tree: OrgTree,
    totals: dict[str, Figures],
    unit: Unit,
    period: Period,
    activities: list[str],
    measures: list[str],
    below: int,
    limit: int = 4,
    hidden: Callable[[str, str], bool] = lambda _unit_id, _label: False,
) -> list[Change]:
    """The ``limit`` largest relative changes against the same period last year, each with
    the two enheter below ``unit`` that drive it: for counts, the largest differences in the
    same direction; for ratios (production, cost per unit, overcrowding), the largest
    relative changes in the same direction. Enheter without both years (new or ended units)
    are not named: they have no change of their own, nor are those whose count a published
    section hides (``hidden(unit id, label)``): their difference beside the other year's
    count would give it back."""
    enheter = [u for u in tree.walk(unit.id) if u.id != unit.id and not tree.children(u.id)]
    theirs = {u.id: comparables(totals[u.id], activities, measures, below) for u in enheter}
    found = []
    for fig in comparables(totals[unit.id], activities, measures, below).values():
        relative = fig.current / fig.before - 1
        if not relative:
            continue
        moved = []
        for u in enheter:
            g = theirs[u.id].get(fig.label)
            if g is None or hidden(u.id, fig.label):
                continue
            d = g.current - g.before if fig.additive else g.current / g.before - 1
            if d and (d > 0) == (relative > 0):
                shown = _signed(d) if fig.additive else _signed(d * 100, 1) + "\u00a0%"
                moved.append((-abs(d), u.name, f"{u.name} ({shown})"))
        text = (
            f"{fig.label}: {number(fig.current, fig.decimals)} mot"
            f" {number(fig.before, fig.decimals)} samma period {period.year - 1}"
        )
        drivers = tuple(t for *_, t in sorted(moved)[:2])
        found.append(Change(fig.label, relative, text, drivers, fig.incomplete))
    return sorted(found, key=lambda c: (-abs(c.relative), c.label))[:limit]

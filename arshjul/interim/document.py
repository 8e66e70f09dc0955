"""The deferred-care section of each unit (``interim.html.j2``): HTML, DOCX, its tables as CSV
and as one XLSX workbook for the controllers.

The section is published: the counts of patients waiting and of managers of *every* unit's
section of the period are registered in one :class:`arshjul.disclosure.Ledger`
(:func:`ledger`) with the sums between them (a row's total, its patient-chosen and guarantee
parts, the buckets; the activities to the total; the units below to the unit; the trained
among the managers), so counts 1–4 are ``<5``, the counts that would give them back ``..``,
and shares, changes and charts of hidden counts are not shown. One ledger for the whole tree,
because a unit's total is printed in its own section and in its parent's, and the two
sections read together must not give back what each hides alone: a count is hidden in every
section that prints it, or in none."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arshjul.config import Codes, Config
from arshjul.disclosure import SECONDARY_MARK, Key, Ledger, Mark, Published
from arshjul.documents import Kept, Provenance, write_unit_documents
from arshjul.interim.figures import CUR, GUARANTEE_DAYS, KINDS, LONG_WAIT_DAYS, PREV, Figures
from arshjul.interim.lines import (
    TrainingLine,
    WaitLine,
    WaitMonth,
    activities_of,
    capacity_line,
    coverage,
    coverage_note,
    measures_of,
    production_line,
    training_lines,
    wait_line,
    waiting_charts,
    waiting_month_note,
    waiting_months,
)
from arshjul.interim.summary import Change, summary
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period
from arshjul.render import suppress

FILE_NAME = "uppskjuten-vard.html"
#: the label of a unit's line of all its activities (its own section's foot row)
TOTAL = "Totalt"

#: the summary's counts (``summary.comparables``) and the keys of their two values
SUMMARY_COUNTS = {
    "Väntande (exkl. patientvald väntan)": ("guarantee", "prev_guarantee"),
    "Väntande mer än 90 dagar": ("over_90", "prev_over_90"),
}


#: the counts of a waiting line (``wait_counts``)
WAIT_COUNTS = (
    "total",
    "chosen",
    "guarantee",
    "le90",
    "over_90",
    "over_180",
    "prev_guarantee",
    "prev_le90",
    "prev_over_90",
)


def wait_counts(book: Ledger, unit_id: str, w: WaitLine) -> None:
    """A waiting line's counts and the sums between them. ``le90`` is shown as the share of
    ``guarantee`` (so it is a count the reader has), last year's ``prev_guarantee`` and
    ``prev_le90`` through last year's share and the change of ``over_90``."""

    def put(name: str, value: int | None) -> Key | None:
        return None if value is None else book.count((unit_id, w.label, name), value)

    total, chosen, guarantee = (
        put("total", w.total),
        put("chosen", w.chosen),
        put("guarantee", w.guarantee),
    )
    over_90, over_180 = put("over_90", w.over_90), put("over_180", w.over_180)
    le90 = put(
        "le90", None if w.guarantee is None or w.over_90 is None else w.guarantee - w.over_90
    )
    prev_guarantee, prev_over_90 = (
        put("prev_guarantee", w.prev_guarantee),
        put("prev_over_90", w.prev_over_90),
    )
    prev_le90 = put(
        "prev_le90",
        None
        if w.prev_guarantee is None or w.prev_over_90 is None
        else w.prev_guarantee - w.prev_over_90,
    )
    sums = [
        (total, [chosen, guarantee]),
        (guarantee, [le90, over_90]),
        (over_90, [over_180]),
        (prev_guarantee, [prev_le90, prev_over_90]),
    ]
    for whole, parts in sums:
        if whole is not None and None not in parts:
            book.line(whole, [p for p in parts if p is not None])


@dataclass(frozen=True)
class UnitLines:
    """A unit's waiting lines (per activity and in all) and its managers' training."""

    waiting: list[WaitLine]
    total: WaitLine
    training: list[TrainingLine]


def unit_lines(f: Figures, codes: Codes, target: float, below: int) -> UnitLines:
    activities = activities_of(f, codes.waiting_activities)
    return UnitLines(
        [wait_line(f, a, [a], below) for a in activities],
        wait_line(f, TOTAL, activities, below),
        training_lines(f, codes.training_courses, target),
    )


def ledger(tree: OrgTree, lines: dict[str, UnitLines]) -> Ledger:
    """Every waiting count of every unit's section with the sums between them: each unit's
    activities' lines and their total, and each unit below's total line against the unit's
    (a unit's total line is keyed ``(unit id, TOTAL, name)`` in its own section and in its
    parent's: the same count). The training is protected with every period's
    (:mod:`arshjul.interim.training`): it shares no count and no sum with these."""
    book = Ledger()
    for unit in tree.walk(tree.root.id):
        own = lines[unit.id]
        for w in (*own.waiting, own.total):
            wait_counts(book, unit.id, w)
    for unit in tree.walk(tree.root.id):
        own, children = lines[unit.id], [c.id for c in tree.children(unit.id)]
        for name in WAIT_COUNTS:
            whole = (unit.id, TOTAL, name)
            # a unit without data (saknas) adds nothing to the total: the others sum to it
            for group in (
                [(unit.id, w.label, name) for w in own.waiting],
                [(c, TOTAL, name) for c in children],
            ):
                present = [k for k in group if k in book.values]
                if whole in book.values and present:
                    book.line(whole, present)
    return book


def all_lines(config: Config, tree: OrgTree, totals: dict[str, Figures]) -> dict[str, UnitLines]:
    targets = config.settings.targets
    return {
        u.id: unit_lines(
            totals[u.id], config.codes, targets.training_coverage, targets.suppress_below
        )
        for u in tree.walk(tree.root.id)
    }


#: a period by the year and month it ends in: whose counts a month's row of the waiting table
#: prints, and whose a section's last-year columns print
End = tuple[int, int]
#: a count of last year's same period (this section's key) -> the same count in its sections
LAST_YEAR = {"prev_guarantee": "guarantee", "prev_over_90": "over_90", "prev_le90": "le90"}


def end(period: Period) -> End:
    return period.last.year, period.last.month


def publication(
    config: Config,
    tree: OrgTree,
    totals: dict[str, Figures],
    period: Period,
    earlier: Mapping[End, Published] | None = None,
    lines: dict[str, UnitLines] | None = None,
) -> Published:
    """How every unit's section of the period shows its waiting counts (one ledger for the
    tree; the training's: :func:`arshjul.interim.training.publication`). Last year's counts
    (the columns of the same period last year) are printed by last year's sections too:
    they are shown as those show them (``earlier``, by the period's end), never hidden
    differently here, so that the two years read together give back nothing either gives
    alone."""
    lines = lines or all_lines(config, tree, totals)
    book = ledger(tree, lines)
    before = (earlier or {}).get(end(period.previous))
    settled = []  # without last year's sections (none written), its counts are this one's
    fixed: dict[Key, Mark] = {}
    if before is not None:
        settled = [k for k in book.values if isinstance(k, tuple) and k[-1] in LAST_YEAR]
        for k in settled:
            theirs = before.marks.get((*k[:-1], LAST_YEAR[k[-1]]))
            if theirs is not None:
                fixed[k] = theirs
    return book.publish(config.settings.targets.suppress_below, fixed, settled)


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    period: Period,
    totals: dict[str, Figures],
    unit_ids: Iterable[str],
    origin: Provenance,
    training: Published,
    earlier: Mapping[End, Published] | None = None,
) -> list[Path | Kept]:
    """The deferred-care section of each unit in ``unit_ids``: HTML, DOCX, its tables as CSV
    and as one XLSX workbook for the controllers; returns the HTML files written (and those
    kept unchanged). ``training``: how the sections show the managers and the trained
    (:func:`arshjul.interim.training.publication`)."""
    codes = config.codes
    below = config.settings.targets.suppress_below
    target = config.settings.targets.training_coverage

    lines = all_lines(config, tree, totals)
    shown = publication(config, tree, totals, period, earlier, lines).beside(training)
    own_end = end(period)

    def hidden(unit_id: str, label: str) -> bool:
        """Whether the summary's count ``label`` of a unit is hidden, this year or last."""
        return any(shown.hidden((unit_id, TOTAL, k)) for k in SUMMARY_COUNTS.get(label, ()))

    def context(unit: Unit) -> dict[str, Any]:
        f = totals[unit.id]
        leaf = not tree.children(unit.id)
        activities = activities_of(f, codes.waiting_activities)
        measures = measures_of(f, codes.production_measures)
        months = waiting_months(f, period)
        charts = waiting_charts(months, below)

        def month_cell(w: WaitMonth, name: str) -> str:
            """A month's count as the section of the period ending that month shows it (this
            one's for its last month): the month tables of the year and of its tertials
            print the same counts."""
            value = w.waiting if name == "guarantee" else w.over_90
            if value is None:
                return "–"
            month = (w.month.year, w.month.month)
            by = shown if month == own_end else (earlier or {}).get(month)
            if by is not None and by.hidden((unit.id, TOTAL, name)):
                return by.show((unit.id, TOTAL, name))
            return suppress(value, below)

        def chart_hidden(name: str) -> bool:
            return any(month_cell(w, name) == SECONDARY_MARK for w in months) or shown.hidden(
                (unit.id, TOTAL, name)
            )

        def notes(g: Figures, is_leaf: bool, which: str = CUR) -> dict[str, str]:
            per = period if which == CUR else period.previous
            return {
                kind: coverage_note(tree, coverage(g, kind, which), per, kind, leaf=is_leaf)
                for kind in KINDS
            }

        own = lines[unit.id]
        waiting, waiting_total, training = own.waiting, own.total, own.training
        below_rows = [(c, lines[c.id].total, lines[c.id].training) for c in tree.children(unit.id)]

        def unless_hidden(value: float | None, *keys: Key) -> float | None:
            """A share or change, or None when it is computed from a hidden count."""
            return None if any(shown.hidden(k) for k in keys) else value

        def child_row(c: Unit, w: WaitLine, training: list[TrainingLine]) -> dict[str, Any]:
            g = totals[c.id]
            return dict(
                unit=c,
                wait=w,
                production=[production_line(g, m) for m in measures_of(g, measures)],
                capacity=capacity_line(g),
                training=training,
                notes=notes(g, not tree.children(c.id)),
                states={k: coverage(g, k).state for k in KINDS},
            )

        def hides(change: Change) -> bool:
            return hidden(unit.id, change.label)

        changes = summary(tree, totals, unit, period, activities, measures, below, hidden=hidden)
        return dict(
            region=config.settings.region,
            period=period,
            below=below,
            rule=shown.rule,
            shown=shown.show,
            unless_hidden=unless_hidden,
            target=target,
            guarantee_days=GUARANTEE_DAYS,
            long_wait_days=LONG_WAIT_DAYS,
            waiting=waiting,
            waiting_total=waiting_total,
            production=[production_line(f, m) for m in measures],
            capacity=capacity_line(f),
            training=training,
            notes=notes(f, leaf),
            notes_before=notes(f, leaf, PREV),
            states={k: coverage(f, k).state for k in KINDS},
            waiting_chart=None if chart_hidden("guarantee") else charts[0],
            over_90_chart=None if chart_hidden("over_90") else charts[1],
            month_cell=month_cell,
            waiting_months=[(w, waiting_month_note(tree, w)) for w in months],
            changes=[ch for ch in changes if not hides(ch)],
            children=[child_row(*row) for row in below_rows],
            origin=origin,
        )

    # not keyed: at ``small`` a section's key cost 28 ms of CPU (its context holds the
    # waiting lists' months), more than rendering it, and no rerun found one unchanged
    # (BENCHMARKS.md, issue 18); it is rendered and compared
    return write_unit_documents(
        out, period, tree, unit_ids, FILE_NAME, "interim.html.j2", context, xlsx=True, keyed=False
    )

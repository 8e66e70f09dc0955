"""The deferred-care section of each unit (``interim.html.j2``): HTML, DOCX, its tables as CSV
and as one XLSX workbook for the controllers.

The section is published: its counts of patients waiting and of managers are registered in
one :class:`arshjul.disclosure.Ledger` per document (:func:`ledger`) with the sums between
them (a row's total, its patient-chosen and guarantee parts, the buckets; the activities to
the total; the units below to the unit; the trained among the managers), so counts 1–4 are
``<5``, the counts that would give them back ``..``, and shares, changes and charts of hidden
counts are not shown."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from arshjul.config import Config
from arshjul.disclosure import Key, Ledger, Published
from arshjul.documents import Kept, Provenance, write_unit_documents
from arshjul.interim.figures import CUR, GUARANTEE_DAYS, KINDS, LONG_WAIT_DAYS, PREV, Figures
from arshjul.interim.lines import (
    TrainingLine,
    WaitLine,
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

FILE_NAME = "uppskjuten-vard.html"

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


def train_counts(book: Ledger, unit_id: str, lines: list[TrainingLine]) -> None:
    for t in lines:
        managers = book.count((unit_id, "managers"), t.managers)
        book.line(managers, [book.count((unit_id, "train", t.course), t.trained)])


def ledger(
    unit_id: str,
    waiting: list[WaitLine],
    total: WaitLine,
    training: list[TrainingLine],
    children: list[tuple[str, WaitLine, list[TrainingLine]]],
) -> Ledger:
    """Every count of one unit's section with the sums between them: its activities' lines
    and their total, and each unit below's total line and training against the unit's."""
    book = Ledger()
    for w in (*waiting, total):
        wait_counts(book, unit_id, w)
    train_counts(book, unit_id, training)
    for child_id, w, lines in children:
        wait_counts(book, child_id, w)
        train_counts(book, child_id, lines)
    # the managers and the trained of the units below add up to the unit's
    counts: list[tuple[str, ...]] = [(unit_id, "managers")]
    counts += [(unit_id, "train", t.course) for t in training]
    for name in WAIT_COUNTS:
        whole = (unit_id, total.label, name)
        # a unit without data (saknas) adds nothing to the total: the others sum to it
        for group in (
            [(unit_id, w.label, name) for w in waiting],
            [(c, w.label, name) for c, w, _ in children],
        ):
            present = [k for k in group if k in book.values]
            if whole in book.values and present:
                book.line(whole, present)
    for managers in counts:
        parts = [(c, *managers[1:]) for c, _, _ in children]
        if children and all(k in book.values for k in parts):
            book.line(managers, parts)
    return book


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    period: Period,
    totals: dict[str, Figures],
    unit_ids: Iterable[str],
    origin: Provenance,
) -> list[Path | Kept]:
    """The deferred-care section of each unit in ``unit_ids``: HTML, DOCX, its tables as CSV
    and as one XLSX workbook for the controllers; returns the HTML files written (and those
    kept unchanged)."""
    codes = config.codes
    below = config.settings.targets.suppress_below
    target = config.settings.targets.training_coverage

    def context(unit: Unit) -> dict[str, Any]:
        f = totals[unit.id]
        leaf = not tree.children(unit.id)
        activities = activities_of(f, codes.waiting_activities)
        measures = measures_of(f, codes.production_measures)
        months = waiting_months(f, period)
        charts = waiting_charts(months, below)

        def notes(g: Figures, is_leaf: bool, which: str = CUR) -> dict[str, str]:
            per = period if which == CUR else period.previous
            return {
                kind: coverage_note(tree, coverage(g, kind, which), per, kind, leaf=is_leaf)
                for kind in KINDS
            }

        waiting = [wait_line(f, a, [a], below) for a in activities]
        waiting_total = wait_line(f, "Totalt", activities, below)
        training = training_lines(f, codes.training_courses, target)
        below_rows = [
            (
                c,
                wait_line(
                    totals[c.id],
                    c.name,
                    activities_of(totals[c.id], codes.waiting_activities),
                    below,
                ),
                training_lines(totals[c.id], codes.training_courses, target),
            )
            for c in tree.children(unit.id)
        ]
        shown: Published = ledger(
            unit.id, waiting, waiting_total, training, [(c.id, w, t) for c, w, t in below_rows]
        ).publish(below)

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
            keys = SUMMARY_COUNTS.get(change.label, ())
            return any(shown.hidden((unit.id, "Totalt", k)) for k in keys)

        changes = summary(tree, totals, unit, period, activities, measures, below)
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
            waiting_chart=None if shown.hidden((unit.id, "Totalt", "guarantee")) else charts[0],
            over_90_chart=None if shown.hidden((unit.id, "Totalt", "over_90")) else charts[1],
            waiting_months=[(w, waiting_month_note(tree, w)) for w in months],
            # the last month's counts are the period end's: hidden with them
            last_month_hidden=(
                shown.hidden((unit.id, "Totalt", "guarantee")),
                shown.hidden((unit.id, "Totalt", "over_90")),
            ),
            changes=[ch for ch in changes if not hides(ch)],
            children=[child_row(*row) for row in below_rows],
            origin=origin,
        )

    return write_unit_documents(
        out, period, tree, unit_ids, FILE_NAME, "interim.html.j2", context, xlsx=True
    )

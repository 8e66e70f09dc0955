"""Uppskjuten vård: the deferred-care section of the interim reports, per unit and period.

What the auditors (Produktionsplanering) asked for, at region, område, verksamhet and enhet:
waiting lists and the care guarantee, production against plan, cost per production unit
against last year, inpatient capacity, and the share of managers trained.

:mod:`.figures` counts (and says how), :mod:`.lines` is what a document shows of them,
:mod:`.summary` the generated summary of the largest changes, :mod:`.document` writes the
section of each unit.

Small numbers: counts of waiting patients and of managers 1–4 are shown as ``<5``, the
counts that would give them back (a row's total less its other cells, the units below
against the unit) as ``..``, and shares and changes computed from a hidden count are not
shown (:mod:`arshjul.disclosure`, :func:`.document.ledger`); the managers and the trained
with every earlier period's, since every period's sections print the same managers and
trained counts that only grow (:mod:`.training`). Production, money, beds and bed-days are
not counts of people and are shown as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from arshjul.config import Config
from arshjul.disclosure import Published
from arshjul.documents import Kept
from arshjul.interim import document, figures, training
from arshjul.interim.figures import CUR, Figures
from arshjul.org import OrgTree
from arshjul.periods import LAST_MONTH, Period
from arshjul.steps import Gathered, Run, Step
from arshjul.workspace import Workspace

#: the imported data a section is built from, named in its footer
SOURCES = ("organisation", "waiting", "production", "capacity", "training")


@dataclass(frozen=True)
class Sections:
    """A period's figures, and how the sections of the periods whose counts its sections
    print too show them (by the period's end): last year's same period, this year's
    shorter ones."""

    totals: dict[str, Figures]
    earlier: dict[document.End, Published]
    #: how its sections show the managers and the trained (:mod:`.training`)
    training: Published


def printed_too(period: Period) -> list[Period]:
    """The periods whose counts a section of ``period`` prints: the same period last year
    (its last-year columns) and this year's shorter periods (its month table)."""
    shorter = [
        Period(period.year, part)
        for part, month in LAST_MONTH.items()
        if month < LAST_MONTH[period.part]
    ]
    return [period.previous, *shorter]


def sections(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    period: Period,
    done: dict[Period, Published] | None = None,
) -> tuple[dict[str, Figures], dict[document.End, Published], Published]:
    """The period's figures, how the sections of the periods whose counts its sections
    print too show their waiting counts, and how its sections show theirs, each earlier
    period's worked out the same way first (back to the first period without waiting
    lists)."""
    done = {} if done is None else done
    totals = figures.gather(conn, tree, period)
    earlier: dict[document.End, Published] = {}
    if any(k[:2] == ("wait", CUR) for k in totals[tree.root.id].sums):
        for before in printed_too(period):
            if before not in done:
                done[before] = sections(conn, config, tree, before, done)[2]
            earlier[document.end(before)] = done[before]
    return totals, earlier, document.publication(config, tree, totals, period, earlier)


def gather(conn: Connection, tree: OrgTree, period: Period, run: Run) -> Sections:
    """The period's figures; the training's marks with every earlier period's
    (:func:`.training.publication`), which the waiting lists' earlier periods do not need."""
    totals, earlier, _ = sections(conn, run.config, tree, period)
    return Sections(totals, earlier, training.publication(conn, run.config, tree, period))


def write(
    ws: Workspace, period: Period, gathered: Gathered[Sections], units: Sequence[str]
) -> list[Path | Kept]:
    found = gathered.figures
    return document.write_documents(
        ws.out,
        ws.config,
        gathered.tree,
        period,
        found.totals,
        units,
        gathered.origin,
        found.training,
        found.earlier,
    )


STEP = Step(
    name="interim_report",
    title_sv="Uppskjuten vård",
    sources=SOURCES,
    gather=gather,
    write=write,
    shared_marks_in=document.FILE_NAME,
)

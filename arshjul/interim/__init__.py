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
shown (:mod:`arshjul.disclosure`, :func:`.document.ledger`). Production, money, beds and
bed-days are not counts of people and are shown as they are.
"""

from __future__ import annotations

from sqlalchemy import Connection

from arshjul.interim import document, figures
from arshjul.interim.figures import Figures
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.steps import Run, Step, unit_documents

#: the imported data a section is built from, named in its footer
SOURCES = ("organisation", "waiting", "production", "capacity", "training")


def gather(conn: Connection, tree: OrgTree, period: Period, run: Run) -> dict[str, Figures]:
    return figures.gather(conn, tree, period)


write = unit_documents(document.write_documents)


STEP = Step(
    name="interim_report",
    title_sv="Uppskjuten vård",
    sources=SOURCES,
    gather=gather,
    write=write,
)

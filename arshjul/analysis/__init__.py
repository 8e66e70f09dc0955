"""Analys: patterns, trends and risks in each unit's deviations and complaints.

:mod:`.figures` gathers what the analysis needs: the year's counts (:mod:`arshjul.figures`) for
the year and the two before it, plus two small grouped queries for what those counts lack (the
risk matrix, and the follow-up of last year's action plan). Everything after the queries is
pure Python over the tree (:mod:`.stats`, :mod:`.findings`), so the cost grows with the number
of units, not of records. Every check yields :class:`.findings.Finding` s with ids that stay
the same across reruns, so actions in a unit's plan keep pointing at them; :mod:`.document`
writes each unit's analysis.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from arshjul.analysis import document, figures, findings
from arshjul.analysis.findings import Analysis
from arshjul.figures import SOURCES
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.steps import Gathered, Run, Step, unit_documents


def gather(conn: Connection, tree: OrgTree, period: Period, run: Run) -> dict[str, Analysis]:
    """Every unit's analysis (a unit's peers need everyone's figures); last year's actions are
    judged as of the analysis's day in the wheel (:func:`.figures.as_of`), so a rerun after it
    says the same as the run by it."""
    config = run.config
    data = figures.gather(
        conn, tree, period.year, wheel=config.wheel, today=run.today, stored=run.counts
    )
    return findings.analyse(data, tree, config)


def store(
    conn: Connection,
    period: Period,
    gathered: Gathered[dict[str, Analysis]],
    units: Sequence[str],
    run: Run,
) -> int:
    """The findings of ``units``, replacing those of their previous analysis."""
    found = [f for u in units for f in gathered.figures[u].findings]
    return findings.store_findings(conn, period.year, units, found, run.run_id)


write = unit_documents(document.write_documents)


STEP = Step(
    name="analyse",
    title_sv="Analys",
    sources=SOURCES,
    gather=gather,
    write=write,
    store=store,
)

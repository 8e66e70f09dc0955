"""Sammanställning: the document of the year's figures (:mod:`arshjul.figures`) per unit,
rolled up to verksamhet, område and region."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from arshjul.charts import bar_chart, risk_bands
from arshjul.clock import local
from arshjul.config import UNMAPPED_KNOWLEDGE_AREA, Codes, Config
from arshjul.documents import Kept, Provenance, write_unit_documents
from arshjul.figures import (
    SAFETY_COURSE,
    SOURCES,
    TRAINING_ROLES_SV,
    Answers,
    Figures,
    YearEndStatus,
    count_own,
    roll_up,
)
from arshjul.models import DeviationStatus, OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period
from arshjul.render import MONTHS_SV, number, share
from arshjul.steps import Run, Step, unit_documents


def ordered(counter: Counter[Any], order: Iterable[Any]) -> list[tuple[Any, int]]:
    """Counter items in the code list's order, then any others by size; zeros kept for codes."""
    known = list(order)
    rows = [(key, counter.get(key, 0)) for key in known]
    rows += sorted(((k, n) for k, n in counter.items() if k not in known), key=lambda kv: -kv[1])
    return rows


def risk_fills(codes: Codes) -> list[str]:
    """The colour of each row of :func:`risk_band_rows` that is a band, as the analysis' risk
    matrix fills it (the row of deviations without a risk assessment has none)."""
    return [band.fill for band in risk_bands(codes.risk_bands)]


def risk_band_rows(by_score: Counter[int], codes: Codes) -> list[tuple[str, int]]:
    """Deviations per risk band, each named with the scores it can hold, then the deviations
    without a risk assessment (score 0)."""
    possible = sorted({c * p for c in codes.consequence for p in codes.probability})
    rows = []
    low = 1
    for bound in sorted(codes.risk_bands):
        scores = [s for s in possible if low <= s <= bound]
        n = sum(by_score.get(s, 0) for s in scores)
        span = f"{scores[0]}–{scores[-1]}" if len(scores) > 1 else "".join(map(str, scores))
        rows.append((f"{codes.risk_bands[bound]} ({span})", n))
        low = bound + 1
    return [*rows, ("Ej riskbedömd", by_score.get(0, 0))]


def answer_formats(a: Answers) -> dict[str, Callable[..., str | float | None]]:
    """How a document that is not published shows the answers' counts and shares
    (``answers_text`` in macros.html.j2 asks for them by name)."""
    return dict(
        answer_count=lambda name: number(getattr(a, name)),
        answer_share=lambda part, whole: share(getattr(a, part), getattr(a, whole)),
    )


def year_end_rows(f: Figures, year: int) -> list[tuple[str, int]]:
    """Deviations by their status on 31 December of ``year`` (:class:`YearEndStatus`)."""
    labels = {
        YearEndStatus.CLOSED: f"Avslutad senast {year}-12-31",
        YearEndStatus.OPEN: "Ej avslutad vid årets slut",
        YearEndStatus.CLOSED_UNDATED: "Avslutad, avslutsdatum saknas",
    }
    return [(label, f.by_year_end_status.get(s, 0)) for s, label in labels.items()]


def count_tables(f: Figures, codes: Codes, year: int) -> dict[str, list[tuple[Any, int]]]:
    """The (label, count) rows of the tables every document of the year's figures shows:
    deviations by category, consequence, risk band, status at the end of ``year`` and today,
    complaints by channel and category; in the code lists' order, zeros kept."""
    return dict(
        categories=ordered(f.by_category, codes.deviation_categories),
        consequences=[
            (codes.consequence.get(k, "Ej angiven"), n)
            for k, n in ordered(f.by_consequence, sorted(codes.consequence))
        ],
        risk_bands=risk_band_rows(f.by_risk_score, codes),
        year_end_statuses=year_end_rows(f, year),
        statuses=[(STATUS_SV[s], f.by_status.get(s, 0)) for s in DeviationStatus],
        channels=ordered(f.complaints_by_channel, codes.complaint_channels),
        complaint_categories=ordered(f.complaints_by_category, codes.complaint_categories),
    )


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    period: Period,
    totals: dict[str, Figures],
    unit_ids: Iterable[str],
    origin: Provenance,
) -> list[Path | Kept]:
    """The compilation of each unit in ``unit_ids`` as HTML; returns the files written.
    Today's statuses, closure and answer times are as of the day of the run
    (``origin.generated_at``); the status at the year's end is as of 31 December."""
    codes = config.codes
    targets = config.settings.targets
    mapping = config.knowledge_areas
    areas = [*mapping.areas, UNMAPPED_KNOWLEDGE_AREA]
    today = local(origin.generated_at).date()

    def context(unit: Unit) -> dict[str, Any]:
        f = totals[unit.id]
        answers = f.answers(targets.complaint_answer_days, today)
        children = [(c, totals[c.id]) for c in tree.children(unit.id)]
        by_area = f.by_knowledge_area(mapping)
        # the region shows each område's knowledge areas side by side
        per_child = (
            [cf.by_knowledge_area(mapping) for _, cf in children]
            if unit.level == OrgLevel.REGION
            else []
        )
        return dict(
            region=config.settings.region,
            year=period.year,
            f=f,
            children=children,
            **count_tables(f, codes, period.year),
            risk_fills=risk_fills(codes),
            months=[
                (MONTHS_SV[m - 1], f.by_month.get(m, 0), f.complaints_by_month.get(m, 0))
                for m in range(1, 13)
            ],
            monthly=bar_chart([(MONTHS_SV[m - 1], f.by_month.get(m, 0)) for m in range(1, 13)]),
            complaints_monthly=bar_chart(
                [(MONTHS_SV[m - 1], f.complaints_by_month.get(m, 0)) for m in range(1, 13)]
            ),
            units_below=sum(1 for _ in tree.walk(unit.id)),
            closure=f.closure(targets.deviation_closure_days),
            open_overdue=f.open_older_than(today, targets.deviation_closure_days),
            open_overdue_at_year_end=f.open_at_year_end_older_than(
                period.year, targets.deviation_closure_days
            ),
            closure_target=targets.deviation_closure_days,
            today=today,
            answers=answers,
            **answer_formats(answers),
            answer_target=targets.complaint_answer_days,
            training=[
                (
                    label,
                    f.training_completed.get((SAFETY_COURSE, role), 0),
                    f.training_rostered.get((SAFETY_COURSE, role), 0),
                    f.training_coverage(role),
                )
                for role, label in TRAINING_ROLES_SV.items()
            ],
            training_target=targets.training_coverage,
            knowledge_areas=[(a, by_area.get(a, 0)) for a in areas],
            area_matrix=[(a, [c.get(a, 0) for c in per_child]) for a in areas] if per_child else [],
            origin=origin,
        )

    return write_unit_documents(
        out, period, tree, unit_ids, "sammanstallning.html", "compilation.html.j2", context
    )


STATUS_SV = {
    DeviationStatus.NEW: "Ny",
    DeviationStatus.IN_PROGRESS: "Pågående",
    DeviationStatus.CLOSED: "Avslutad",
}


# --- the step ------------------------------------------------------------------------------


def gather(conn: Connection, tree: OrgTree, period: Period, run: Run) -> dict[str, Figures]:
    return roll_up(tree, count_own(conn, period.year, run.counts))


write = unit_documents(write_documents)


STEP = Step(
    name="compile",
    title_sv="Sammanställning",
    sources=SOURCES,
    gather=gather,
    write=write,
)

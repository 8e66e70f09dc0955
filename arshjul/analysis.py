"""Analys: patterns, trends and risks in each unit's deviations and complaints.

The figures come from the compilation's counts (``compilation.count_own``) for the year and the
two before it, plus two small grouped queries for what those counts lack (the risk matrix, and
the follow-up of last year's action plan). Everything after the queries is pure Python over the
tree, so the cost grows with the number of units, not of records. Every check yields
:class:`Finding` s with ids that stay the same across reruns, so actions in a unit's plan keep
pointing at them.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from math import sqrt
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, case, delete, func, insert, or_, select
from sqlalchemy.sql.elements import ColumnElement

from arshjul.compilation import (
    SAFETY_COURSE,
    TRAINING_ROLES_SV,
    Durations,
    Figures,
    count_own,
    durations,
    roll_up,
)
from arshjul.config import Codes, Config, KnowledgeAreas
from arshjul.documents import Provenance, write_unit_documents
from arshjul.models import Action, ActionStatus, Deviation, OrgLevel
from arshjul.models import Finding as FindingRow
from arshjul.org import OrgTree, Unit
from arshjul.render import MONTHS_SV, number, percent

K = TypeVar("K")

#: |observed - expected| / sqrt(expected) above this is a significant change (Poisson)
Z_SIGNAL = 3.0
#: z at or above these raise the severity to 2 and 3
Z_SEVERITY = (5.0, 8.0)
#: a yearly total must reach this (this year or the baseline) before its trend is judged
MIN_TREND_COUNT = 10
#: a category must reach this many this year before a surge is reported
MIN_SURGE_COUNT = 5
#: SPC: this many consecutive points on one side of the centre line is a signal
RUN_LENGTH = 8
SIGMA_LIMIT = 3.0
#: SPC: below this mean per month a c-chart flags chance, so no signals are judged
MIN_CHART_CENTRE = 2.0
#: Pareto: the vital few are the categories that together reach this share
PARETO_CUTOFF = 0.8
#: under-reporting: a unit below this share of its peers' median reports too little
UNDER_REPORTING_SHARE = 0.25
MIN_PEERS = 3
#: peers must report at least this many per year for "too little" to mean anything
MIN_PEER_MEDIAN = 4.0
#: care chain: share of deviations at or above which the finding's severity is 2 and 3
CARE_CHAIN_SEVERITY = (0.10, 0.20)
#: complaints: the share to answer within ``targets.complaint_answer_days``; not in config
#: because the settings name only the days (a region that wants another share says so here)
ANSWER_SHARE_TARGET = 0.8
#: how far below the target share raises the severity to 2 and 3
ANSWER_SHARE_SEVERITY = (0.15, 0.30)
#: fewer complaints than this give a share too noisy to judge
MIN_COMPLAINTS_FOR_SHARE = 5
#: training: the role whose patient-safety training coverage is judged against the target
TRAINING_ROLE = "chef"
#: how far below the training target raises the severity to 2 and 3
TRAINING_SEVERITY = (0.2, 0.5)
#: actions: the share of last year's actions overdue at which the severity is 2 and 3
OVERDUE_SEVERITY = (0.25, 0.5)
#: the judged effect of a carried-out action that made no difference (codes.action_effects)
NO_EFFECT = "Ingen effekt"
#: knowledge areas are followed up on these levels (the audit: region-wide and per område)
KNOWLEDGE_AREA_LEVELS = (OrgLevel.REGION, OrgLevel.AREA)

SEVERITY_SV = {1: "Låg", 2: "Medel", 3: "Hög"}


# --- findings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing the analysis found; ``id`` depends only on what and where, never on the run."""

    year: int
    unit_id: str
    kind: str
    key: str
    title: str
    measure: str
    value: float | None
    baseline: float | None
    severity: int

    @property
    def id(self) -> str:
        return finding_id(self.year, self.unit_id, self.kind, self.key)


def finding_id(year: int, unit_id: str, kind: str, key: str) -> str:
    """A finding's stable id: what and where, never the run (``2025:E1:trend:total``)."""
    return f"{year}:{unit_id}:{kind}:{key}"


def store_findings(
    conn: Connection, year: int, unit_ids: Sequence[str], findings: Iterable[Finding], run_id: str
) -> int:
    """Replace the findings of ``year`` for ``unit_ids``: a rerun gives the same ids, no
    duplicates, and drops findings that no longer hold. Returns the rows stored."""
    conn.execute(
        delete(FindingRow).where(FindingRow.year == year, FindingRow.unit_id.in_(unit_ids))
    )
    rows = [
        {
            "id": f.id,
            "year": f.year,
            "unit_id": f.unit_id,
            "kind": f.kind,
            "title": f.title,
            "measure": f.measure,
            "value": f.value,
            "baseline": f.baseline,
            "severity": f.severity,
            "run_id": run_id,
        }
        for f in findings
    ]
    if rows:
        conn.execute(insert(FindingRow), rows)
    return len(rows)


def _severity(value: float, thresholds: tuple[float, float]) -> int:
    return 1 + sum(value >= t for t in thresholds)


# --- statistics (pure) ---------------------------------------------------------------------


def poisson_z(observed: float, expected: float) -> float:
    # expected floored at 1: a rise from nothing is measurable without dividing by zero
    return (observed - expected) / sqrt(max(expected, 1.0))


@dataclass(frozen=True)
class Trend:
    """A yearly count against the mean of the previous years that have data."""

    key: str
    label: str
    counts: tuple[int | None, ...]  # oldest first, None for a year without data
    baseline: float | None
    z: float | None
    significant: bool

    @property
    def current(self) -> int:
        return self.counts[-1] or 0

    @property
    def change(self) -> float | None:
        return (self.current - self.baseline) / self.baseline if self.baseline else None

    @property
    def rising(self) -> bool:
        return self.significant and (self.z or 0.0) > 0


def trend(
    key: str, label: str, counts: Sequence[int | None], min_count: int = MIN_TREND_COUNT
) -> Trend:
    """Significant when |z| > ``Z_SIGNAL`` and this year or the baseline reaches
    ``min_count`` (small counts swing widely by chance)."""
    previous = [c for c in counts[:-1] if c is not None]
    current = counts[-1] or 0
    if not previous:
        return Trend(key, label, tuple(counts), None, None, False)
    baseline = sum(previous) / len(previous)
    z = poisson_z(current, baseline)
    large_enough = max(current, baseline) >= min_count
    return Trend(key, label, tuple(counts), baseline, z, large_enough and abs(z) > Z_SIGNAL)


@dataclass(frozen=True)
class ControlChart:
    """An SPC u-chart; with every exposure 1 it is a c-chart of the counts."""

    values: tuple[float, ...]
    centre: float
    upper: tuple[float, ...]
    lower: tuple[float, ...]
    beyond: tuple[int, ...]  # indexes of points outside the limits
    runs: tuple[tuple[int, int], ...]  # first and last index of each long run on one side


def control_chart(counts: Sequence[int], exposure: Sequence[float] | None = None) -> ControlChart:
    """Centre line ū = Σc/Σn, limits ū ± 3·√(ū/nᵢ) (the lower one not below 0), and the two
    signals: a point beyond the limits, ``RUN_LENGTH`` points in a row on one side."""
    sizes = [1.0] * len(counts) if exposure is None else list(exposure)
    if len(sizes) != len(counts) or any(n <= 0 for n in sizes):
        raise ValueError("every point needs a positive exposure")
    centre = sum(counts) / sum(sizes) if sizes else 0.0
    values = tuple(c / n for c, n in zip(counts, sizes, strict=True))
    spread = [SIGMA_LIMIT * sqrt(centre / n) for n in sizes]
    upper = tuple(centre + s for s in spread)
    lower = tuple(max(0.0, centre - s) for s in spread)
    beyond = tuple(
        i
        for i, (v, lo, hi) in enumerate(zip(values, lower, upper, strict=True))
        if not lo <= v <= hi
    )
    return ControlChart(values, centre, upper, lower, beyond, long_runs(values, centre))


def long_runs(values: Sequence[float], centre: float) -> tuple[tuple[int, int], ...]:
    """Runs of at least ``RUN_LENGTH`` points strictly on one side of ``centre``; a point on
    the line ends a run (the cautious reading: it is not evidence of a shift)."""
    runs = []
    start, side = 0, 0
    for i, v in enumerate([*values, centre]):  # the sentinel on the line closes the last run
        s = (v > centre) - (v < centre)
        if s != side or s == 0:
            if side and i - start >= RUN_LENGTH:
                runs.append((start, i - 1))
            start, side = i, s
    return tuple(runs)


@dataclass(frozen=True)
class ParetoRow:
    name: str
    count: int
    share: float
    cumulative: float
    vital: bool


def pareto(counts: Counter[str], cutoff: float = PARETO_CUTOFF) -> list[ParetoRow]:
    """Categories largest first; the vital few are those needed to reach ``cutoff``."""
    total = sum(counts.values())
    rows, before = [], 0
    for name, n in sorted(((k, n) for k, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0])):
        rows.append(ParetoRow(name, n, n / total, (before + n) / total, before / total < cutoff))
        before += n
    return rows


@dataclass(frozen=True)
class RiskCell:
    consequence: int
    probability: int
    count: int
    score: int
    band: str


def risk_matrix(counts: Counter[tuple[Any, Any]], codes: Codes) -> list[list[RiskCell]]:
    """Rows by probability, highest first; columns by consequence, lowest first."""
    return [
        [
            RiskCell(c, p, counts.get((c, p), 0), c * p, codes.risk_band(c * p))
            for c in sorted(codes.consequence)
        ]
        for p in sorted(codes.probability, reverse=True)
    ]


def peer_medians(tree: OrgTree, counts: dict[str, int]) -> dict[str, tuple[float, int] | None]:
    """Each unit's peers' median count and how many peers: its siblings on the same level, or
    every other unit on its level when it has fewer than ``MIN_PEERS`` siblings."""
    by_level: dict[str, list[str]] = {}
    for u in tree.units.values():
        by_level.setdefault(u.level, []).append(u.id)
    out: dict[str, tuple[float, int] | None] = {}
    for unit in tree.units.values():
        if unit.parent_id is None:
            out[unit.id] = None
            continue
        siblings = [u.id for u in tree.children(unit.parent_id) if u.level == unit.level]
        peers = [u for u in siblings if u != unit.id]
        if len(peers) < MIN_PEERS:
            peers = [u for u in by_level[unit.level] if u != unit.id]
        enough = len(peers) >= MIN_PEERS
        out[unit.id] = (
            (statistics.median(counts.get(u, 0) for u in peers), len(peers)) if enough else None
        )
    return out


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionFollowUp:
    """A unit's own actions in last year's action plan, as of the day of the analysis."""

    total: int = 0
    #: Planerad or Pågår with the due date passed
    overdue: int = 0
    #: Klar with the effect judged "Ingen effekt"
    without_effect: int = 0


@dataclass(frozen=True)
class UnitData:
    """A unit's subtree figures for the analysed year and the two before it."""

    years: tuple[Figures, ...]  # oldest first
    risk: Counter[tuple[Any, Any]]  # (consequence, probability) -> deviations, analysed year
    actions: ActionFollowUp  # the unit's own plan (not its subtree's)


@dataclass(frozen=True)
class Data:
    year: int
    years: tuple[int, ...]  # the analysed year last
    #: the years the database holds any record of (a year never imported is no baseline)
    with_data: frozenset[int]
    units: dict[str, UnitData]
    today: date | None  # None: last year's actions were not read


def gather(conn: Connection, tree: OrgTree, year: int, *, today: date | None = None) -> Data:
    """The figures the analysis of ``year`` needs. ``today`` decides which of last year's
    actions are late; None: the actions are not read (for callers that only re-measure
    findings)."""
    years = (year - 2, year - 1, year)
    figures = [roll_up(tree, count_own(conn, y)) for y in years]
    risk = roll_up_counters(tree, count_risk(conn, year))
    actions = count_actions(conn, year - 1, today) if today else {}
    root = tree.root.id
    with_data = frozenset(
        y for y, f in zip(years, figures, strict=True) if f[root].deviations + f[root].complaints
    )
    units = {
        uid: UnitData(tuple(f[uid] for f in figures), risk[uid], actions.get(uid, ActionFollowUp()))
        for uid in tree.units
    }
    return Data(year, years, with_data, units, today)


def _in_year(column: Any, year: int) -> ColumnElement[bool]:
    return column.between(date(year, 1, 1), date(year, 12, 31))


def count_risk(conn: Connection, year: int) -> dict[str, Counter[tuple[Any, Any]]]:
    """Each unit's own deviations of ``year`` by (consequence, probability)."""
    own: dict[str, Counter[tuple[Any, Any]]] = {}
    rows = conn.execute(
        select(Deviation.unit_id, Deviation.consequence, Deviation.probability, func.count())
        .where(_in_year(Deviation.reported_date, year))
        .group_by(Deviation.unit_id, Deviation.consequence, Deviation.probability)
    )
    for unit_id, consequence, probability, n in rows:
        own.setdefault(unit_id, Counter())[consequence, probability] += n
    return own


def count_actions(conn: Connection, plan_year: int, today: date) -> dict[str, ActionFollowUp]:
    """Each unit's own actions of the plan on data year ``plan_year``: those answering a
    finding of that year, or numbered ``{unit}-{plan_year}-nnn`` as the worksheet numbers
    them."""
    in_plan = or_(
        Action.finding_id.like(f"{plan_year}:%"), Action.action_id.like(f"%-{plan_year}-%")
    )
    late = and_(
        Action.status.in_((ActionStatus.PLANNED, ActionStatus.IN_PROGRESS)),
        Action.due_date < today,
    )
    no_effect = and_(Action.status == ActionStatus.DONE, Action.effect == NO_EFFECT)
    rows = conn.execute(
        select(
            Action.unit_id,
            func.count(),
            func.sum(case((late, 1), else_=0)),
            func.sum(case((no_effect, 1), else_=0)),
        )
        .where(in_plan)
        .group_by(Action.unit_id)
    )
    return {
        uid: ActionFollowUp(n, overdue or 0, ineffective or 0)
        for uid, n, overdue, ineffective in rows
    }


def roll_up_counters(tree: OrgTree, own: dict[str, Counter[K]]) -> dict[str, Counter[K]]:
    """Like ``compilation.roll_up`` for a single counter per unit."""
    total: dict[str, Counter[K]] = {}
    for unit in reversed(list(tree.walk(tree.root.id))):
        c: Counter[K] = Counter(own.get(unit.id, {}))
        for child in tree.children(unit.id):
            c.update(total[child.id])
        total[unit.id] = c
    return total


# --- one unit's analysis -------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """Everything the analysis document of one unit shows, and the findings drawn from it."""

    unit_id: str
    year: int
    deviations: int
    trends: tuple[Trend, ...]  # deviations, complaints
    surges: tuple[Trend, ...]  # categories far above their baseline
    chart: ControlChart | None
    months: tuple[tuple[int, int], ...]  # (year, month) of each point of the chart
    #: thousands of patient days at each point of a u-chart; None: a c-chart of counts
    exposure: tuple[float, ...] | None
    pareto: tuple[ParetoRow, ...]
    risk: tuple[tuple[RiskCell, ...], ...]
    unassessed: int  # deviations without consequence or probability
    care_chain: int
    answers: Durations
    answer_days: int
    peers: tuple[float, int] | None  # median deviations of the peers, number of peers
    #: (role, completed, rostered) of the patient-safety course, subtree, by the year's end
    training: tuple[tuple[str, int, int], ...]
    training_target: float | None  # None: the training is shown, not judged
    actions: ActionFollowUp  # the unit's own plan of last year
    today: date | None  # None: last year's actions were not read
    #: deviations per knowledge area (region and områden only; empty below)
    knowledge_trends: tuple[Trend, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return (
            *_trend_findings(self),
            *_chart_findings(self),
            *_reporting_findings(self),
            *_risk_findings(self),
            *_care_chain_findings(self),
            *_answer_findings(self),
            *_training_findings(self),
            *_action_findings(self),
            *_knowledge_findings(self),
        )

    @property
    def chart_measure(self) -> str:
        if self.exposure is None:
            return "avvikelser per månad"
        return f"avvikelser per {number(1000)} vårddagar"

    def training_coverage(self, role: str) -> float | None:
        return next((done / n for r, done, n in self.training if r == role and n), None)


#: (finding key prefix, Swedish label, Figures counter) of the categories checked for surges
CATEGORY_SOURCES = (
    ("avvikelse", "Händelsetyp", "by_category"),
    ("klagomal", "Klagomålskategori", "complaints_by_category"),
)


def analyse(data: Data, tree: OrgTree, config: Config) -> dict[str, Analysis]:
    """Every unit's analysis; the peers of a unit need everyone's figures, so all are made."""
    this_year = {uid: d.years[-1].deviations for uid, d in data.units.items()}
    peers = peer_medians(tree, this_year)
    mapping = config.knowledge_areas
    targets = config.settings.targets
    return {
        u.id: analyse_unit(
            data,
            u.id,
            config.codes,
            targets.complaint_answer_days,
            peers[u.id],
            training_target=targets.training_coverage,
            knowledge_areas=mapping if u.level in KNOWLEDGE_AREA_LEVELS else None,
        )
        for u in tree.units.values()
    }


def analyse_unit(
    data: Data,
    unit_id: str,
    codes: Codes,
    answer_days: int,
    peers: tuple[float, int] | None,
    *,
    training_target: float | None = None,
    knowledge_areas: KnowledgeAreas | None = None,
) -> Analysis:
    """One unit's analysis. ``training_target`` None: the training coverage is shown but not
    judged; ``knowledge_areas`` None: the unit's knowledge areas are not followed up."""
    d = data.units[unit_id]
    known = [y in data.with_data for y in data.years]

    def yearly(counts: Iterable[int]) -> list[int | None]:
        return [n if k else None for n, k in zip(counts, known, strict=True)]

    this = d.years[-1]
    chart, months, exposure = monthly_chart(data, d)
    matrix = risk_matrix(d.risk, codes)
    return Analysis(
        unit_id=unit_id,
        year=data.year,
        deviations=this.deviations,
        trends=(
            trend("avvikelser", "avvikelser", yearly(f.deviations for f in d.years)),
            trend("klagomal", "klagomål och synpunkter", yearly(f.complaints for f in d.years)),
        ),
        surges=_surges(d.years, yearly),
        chart=chart,
        months=months,
        exposure=exposure,
        pareto=tuple(pareto(this.by_category)),
        risk=tuple(tuple(row) for row in matrix),
        unassessed=this.deviations - sum(cell.count for row in matrix for cell in row),
        care_chain=this.care_chain,
        answers=durations(this.answer_days, answer_days),
        answer_days=answer_days,
        peers=peers,
        training=tuple(
            (
                role,
                this.training_completed.get((SAFETY_COURSE, role), 0),
                this.training_rostered.get((SAFETY_COURSE, role), 0),
            )
            for role in TRAINING_ROLES_SV
        ),
        training_target=training_target,
        actions=d.actions,
        today=data.today,
        knowledge_trends=_knowledge_trends(d.years, yearly, knowledge_areas),
    )


def monthly_chart(
    data: Data, d: UnitData
) -> tuple[ControlChart | None, tuple[tuple[int, int], ...], tuple[float, ...] | None]:
    """The control chart of deviations per month over the years with data, with its months
    and exposure.

    A u-chart of deviations per 1,000 patient days when capacity data cover the months up to
    the last one without a gap, at least a whole year: the last such stretch is charted, from
    the units and months with patient days only. Otherwise a c-chart of all deviations.
    """
    months = tuple((y, m) for y in data.years if y in data.with_data for m in range(1, 13))
    if not months:
        return None, (), None
    figures = [d.years[data.years.index(y)] for y, _ in months]
    days = [f.patient_days_by_month.get(m, 0) for f, (_, m) in zip(figures, months, strict=True)]
    start = len(days)
    while start and days[start - 1] > 0:
        start -= 1
    if len(days) - start >= 12:
        exposed = [f.exposed_by_month.get(m, 0) for f, (_, m) in zip(figures, months, strict=True)]
        exposure = tuple(n / 1000 for n in days[start:])
        return control_chart(exposed[start:], exposure), months[start:], exposure
    counts = [f.by_month.get(m, 0) for f, (_, m) in zip(figures, months, strict=True)]
    return control_chart(counts), months, None


def _knowledge_trends(
    years: Sequence[Figures],
    yearly: Callable[[Iterable[int]], list[int | None]],
    mapping: KnowledgeAreas | None,
) -> tuple[Trend, ...]:
    """Deviations per knowledge area against the previous years (the categories nobody
    mapped are no knowledge area, so they have no trend here)."""
    if mapping is None:
        return ()
    per_year = [f.by_knowledge_area(mapping) for f in years]
    return tuple(
        trend(area, area, yearly(counts.get(area, 0) for counts in per_year))
        for area in mapping.areas
    )


def _surges(
    years: Sequence[Figures], yearly: Callable[[Iterable[int]], list[int | None]]
) -> tuple[Trend, ...]:
    """The categories of this year far above their baseline."""
    found = []
    for prefix, _, counter in CATEGORY_SOURCES:
        for category in sorted(getattr(years[-1], counter)):
            counts = yearly(getattr(f, counter).get(category, 0) for f in years)
            t = trend(f"{prefix}:{category}", category, counts, MIN_SURGE_COUNT)
            if t.rising:
                found.append(t)
    return tuple(found)


def _finding(
    a: Analysis,
    kind: str,
    key: str,
    title: str,
    *,
    measure: str,
    value: float | None,
    baseline: float | None,
    severity: int,
) -> Finding:
    return Finding(a.year, a.unit_id, kind, key, title, measure, value, baseline, severity)


def _trend_findings(a: Analysis) -> Iterable[Finding]:
    changes = [(t, "trend", t.label) for t in a.trends if t.significant]
    changes += [(t, "surge", t.label) for t in a.surges]
    for t, kind, measure in changes:
        assert t.baseline is not None and t.z is not None  # a significant trend has both
        subject = f"av {t.label}" if kind == "trend" else f"för {_category_source(t)} {t.label}"
        title = (
            f"Markant {'ökning' if t.z > 0 else 'minskning'} {subject}: {number(t.current)} mot"
            f" {number(t.baseline, 1)} i snitt tidigare år"
        )
        yield _finding(
            a,
            kind,
            t.key,
            title,
            measure=measure,
            value=t.current,
            baseline=t.baseline,
            severity=_severity(abs(t.z), Z_SEVERITY),
        )


def _category_source(t: Trend) -> str:
    return next(label for prefix, label, _ in CATEGORY_SOURCES if t.key.startswith(prefix))


def _month_sv(month: tuple[int, int]) -> str:
    return f"{MONTHS_SV[month[1] - 1]} {month[0]}"


def _chart_findings(a: Analysis) -> Iterable[Finding]:
    """Signals in the analysed year only: earlier ones belong to earlier analyses."""
    chart = a.chart
    this_year = [i for i, (y, _) in enumerate(a.months) if y == a.year]
    if chart is None or _mean_count(chart, a.exposure) < MIN_CHART_CENTRE or not this_year:
        return
    first = this_year[0]
    measure = a.chart_measure
    beyond = [i for i in chart.beyond if i >= first]
    if beyond:
        months = ", ".join(
            f"{_month_sv(a.months[i])} ({'över' if chart.values[i] > chart.centre else 'under'})"
            for i in beyond
        )
        worst = max(beyond, key=lambda i: abs(chart.values[i] - chart.centre))
        yield _finding(
            a,
            "spc",
            "beyond",
            f"{measure[:1].upper()}{measure[1:]} utanför styrgränserna: {months}",
            measure=measure,
            value=chart.values[worst],
            baseline=chart.centre,
            severity=2,
        )
    runs = [(s, e) for s, e in chart.runs if e >= first]
    if runs:
        s, e = runs[-1]
        side = "över" if chart.values[s] > chart.centre else "under"
        title = (
            f"{e - s + 1} månader i följd {side} medellinjen"
            f" ({_month_sv(a.months[s])}–{_month_sv(a.months[e])})"
        )
        mean = sum(chart.values[s : e + 1]) / (e - s + 1)
        yield _finding(
            a, "spc", "run", title, measure=measure, value=mean, baseline=chart.centre, severity=2
        )


def _mean_count(chart: ControlChart, exposure: Sequence[float] | None) -> float:
    """Deviations per point: below ``MIN_CHART_CENTRE`` the chart shows chance, not signals."""
    sizes = exposure or [1.0] * len(chart.values)
    return sum(v * n for v, n in zip(chart.values, sizes, strict=True)) / len(chart.values)


def _reporting_findings(a: Analysis) -> Iterable[Finding]:
    if a.peers is None:
        return
    median, n = a.peers
    if median < MIN_PEER_MEDIAN or a.deviations >= UNDER_REPORTING_SHARE * median:
        return
    compared = f"median {number(median, 1)} hos {n} jämförbara enheter"
    if a.deviations == 0:
        title, severity = f"Inga avvikelser rapporterade ({compared}): möjlig underrapportering", 3
    else:
        title, severity = f"Få avvikelser rapporterade: {a.deviations} mot {compared}", 2
    yield _finding(
        a,
        "under_reporting",
        "avvikelser",
        title,
        measure="avvikelser",
        value=a.deviations,
        baseline=median,
        severity=severity,
    )


def _risk_findings(a: Analysis) -> Iterable[Finding]:
    """Deviations in the highest risk band of the matrix."""
    top = max((cell for row in a.risk for cell in row), key=lambda c: c.score)
    n = sum(cell.count for row in a.risk for cell in row if cell.band == top.band)
    if n:
        title = f"{number(n)} avvikelser med risknivån {top.band} (konsekvens × sannolikhet)"
        yield _finding(
            a, "risk", top.band, title, measure="avvikelser", value=n, baseline=None, severity=2
        )


def _care_chain_findings(a: Analysis) -> Iterable[Finding]:
    if a.care_chain:
        share = a.care_chain / a.deviations
        title = f"{number(a.care_chain)} avvikelser i vårdkedjan ({percent(share)} av alla)"
        yield _finding(
            a,
            "care_chain",
            "avvikelser",
            title,
            measure="andel av avvikelserna",
            value=share,
            baseline=None,
            severity=_severity(share, CARE_CHAIN_SEVERITY),
        )


def _answer_findings(a: Analysis) -> Iterable[Finding]:
    share = a.answers.share_within
    if share is None or a.answers.total < MIN_COMPLAINTS_FOR_SHARE:
        return
    if share < ANSWER_SHARE_TARGET:
        title = (
            f"{percent(share)} av klagomålen besvarade inom {a.answer_days} dagar"
            f" (mål {percent(ANSWER_SHARE_TARGET, 0)})"
        )
        yield _finding(
            a,
            "answer_time",
            "klagomal",
            title,
            measure=f"andel besvarade inom {a.answer_days} dagar",
            value=share,
            baseline=ANSWER_SHARE_TARGET,
            severity=_severity(ANSWER_SHARE_TARGET - share, ANSWER_SHARE_SEVERITY),
        )


def _training_findings(a: Analysis) -> Iterable[Finding]:
    """Managers' patient-safety training below the target (the unit's whole subtree)."""
    coverage = a.training_coverage(TRAINING_ROLE)
    target = a.training_target
    if coverage is None or target is None or coverage >= target:
        return
    done, rostered = next((c, n) for r, c, n in a.training if r == TRAINING_ROLE)
    title = (
        f"{percent(coverage)} av cheferna ({done} av {rostered}) har genomfört utbildningen i"
        f" patientsäkerhet (mål {percent(target, 0)})"
    )
    yield _finding(
        a,
        "training",
        f"{SAFETY_COURSE}:{TRAINING_ROLE}",
        title,
        measure="andel chefer utbildade i patientsäkerhet",
        value=coverage,
        baseline=target,
        severity=_severity(target - coverage, TRAINING_SEVERITY),
    )


def _action_findings(a: Analysis) -> Iterable[Finding]:
    """Last year's actions of the unit's own plan that are late or did not help."""
    f = a.actions
    if f.overdue:
        title = (
            f"{f.overdue} av {f.total} åtgärder i förra årets handlingsplan är inte klara fast"
            f" klart-datum har passerat"
        )
        yield _finding(
            a,
            "actions",
            "overdue",
            title,
            measure="försenade åtgärder",
            value=f.overdue,
            baseline=f.total,
            severity=_severity(f.overdue / f.total, OVERDUE_SEVERITY),
        )
    if f.without_effect:
        title = (
            f"{f.without_effect} av {f.total} åtgärder i förra årets handlingsplan är klara"
            f" men utan effekt"
        )
        yield _finding(
            a,
            "actions",
            "without_effect",
            title,
            measure="åtgärder utan effekt",
            value=f.without_effect,
            baseline=f.total,
            severity=2,
        )


def _knowledge_findings(a: Analysis) -> Iterable[Finding]:
    for t in a.knowledge_trends:
        if not t.rising:
            continue
        assert t.baseline is not None and t.z is not None  # a rising trend has both
        title = (
            f"Markant ökning av avvikelser inom kunskapsområdet {t.label}: {number(t.current)}"
            f" mot {number(t.baseline, 1)} i snitt tidigare år"
        )
        yield _finding(
            a,
            "knowledge_area",
            t.key,
            title,
            measure="avvikelser",
            value=t.current,
            baseline=t.baseline,
            severity=_severity(t.z, Z_SEVERITY),
        )


# --- documents -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartDrawing:
    """Geometry of a control chart; the template draws it as SVG."""

    width: int
    height: int
    pad: int
    line: str  # SVG polyline points of the values
    upper: str
    lower: str
    centre_y: float
    beyond: tuple[tuple[float, float], ...]  # points outside the limits
    in_runs: tuple[tuple[float, float], ...]  # points in a long run
    ticks: tuple[tuple[float, str], ...]  # x and label at each January
    top: float


def draw_control_chart(
    chart: ControlChart,
    months: Sequence[tuple[int, int]],
    *,
    width: int = 640,
    height: int = 200,
    pad: int = 28,
) -> ChartDrawing:
    top = max([*chart.values, *chart.upper, 1.0])
    step = (width - 2 * pad) / max(len(chart.values) - 1, 1)
    plot_h = height - 2 * pad

    def xy(i: int, v: float) -> tuple[float, float]:
        return round(pad + i * step, 1), round(pad + plot_h * (1 - v / top), 1)

    def polyline(values: Sequence[float]) -> str:
        return " ".join("{},{}".format(*xy(i, v)) for i, v in enumerate(values))

    in_runs = sorted({i for s, e in chart.runs for i in range(s, e + 1)})
    return ChartDrawing(
        width=width,
        height=height,
        pad=pad,
        line=polyline(chart.values),
        upper=polyline(chart.upper),
        lower=polyline(chart.lower),
        centre_y=xy(0, chart.centre)[1],
        beyond=tuple(xy(i, chart.values[i]) for i in chart.beyond),
        in_runs=tuple(xy(i, chart.values[i]) for i in in_runs),
        ticks=tuple((xy(i, 0)[0], str(y)) for i, (y, m) in enumerate(months) if m == 1),
        top=top,
    )


def write_documents(
    out: Path,
    config: Config,
    tree: OrgTree,
    year: int,
    analyses: dict[str, Analysis],
    unit_ids: Iterable[str],
    origin: Provenance,
) -> list[Path]:
    """The analysis of each unit in ``unit_ids`` as HTML; returns the files written."""

    def context(unit: Unit) -> dict[str, Any]:
        a = analyses[unit.id]
        return dict(
            region=config.settings.region,
            year=year,
            a=a,
            findings=sorted(a.findings, key=lambda f: (-f.severity, f.kind, f.key)),
            severity_sv=SEVERITY_SV,
            drawing=draw_control_chart(a.chart, a.months) if a.chart else None,
            months=[_month_sv(m) for m in a.months],
            children=[(c, analyses[c.id]) for c in tree.children(unit.id)],
            answer_target=ANSWER_SHARE_TARGET,
            pareto_cutoff=PARETO_CUTOFF,
            training_roles=TRAINING_ROLES_SV,
            origin=origin,
        )

    return write_unit_documents(
        out, year, tree, unit_ids, "analys.html", "analysis.html.j2", context
    )

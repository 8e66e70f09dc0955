"""Analys: patterns, trends and risks in each unit's deviations and complaints.

The figures come from the compilation's counts (``compilation.count_own``) for the year and the
two before it, plus two small grouped queries for what those counts lack (risk score, answer
times). Everything after the queries is pure Python over the tree, so the cost grows with the
number of units, not of records. Every check yields :class:`Finding` s with ids that stay the
same across reruns, so actions in a unit's plan keep pointing at them.
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

from sqlalchemy import Connection, Integer, cast, delete, func, insert, or_, select
from sqlalchemy.sql.elements import ColumnElement

from arshjul.compilation import Figures, count_own, roll_up
from arshjul.config import Codes, Config
from arshjul.documents import Provenance, write_unit_documents
from arshjul.models import Complaint, ComplaintStatus, Deviation
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
        return f"{self.year}:{self.unit_id}:{self.kind}:{self.key}"


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


@dataclass(frozen=True)
class AnswerTimes:
    received: int
    answered: int
    median_days: float | None
    within_target: int

    @property
    def share_within(self) -> float | None:
        return self.within_target / self.received if self.received else None


def answer_times(days: Counter[int | None], target_days: int) -> AnswerTimes:
    """From a histogram of days to an answer (None: not answered)."""
    answered = [d for d in days.elements() if d is not None]
    return AnswerTimes(
        received=sum(days.values()),
        answered=len(answered),
        median_days=statistics.median(answered) if answered else None,
        within_target=sum(d <= target_days for d in answered),
    )


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
class UnitData:
    """A unit's subtree figures for the analysed year and the two before it."""

    years: tuple[Figures, ...]  # oldest first
    risk: Counter[tuple[Any, Any]]  # (consequence, probability) -> deviations, analysed year
    answer_days: Counter[int | None]  # days to an answer -> complaints, analysed year


@dataclass(frozen=True)
class Data:
    year: int
    years: tuple[int, ...]  # the analysed year last
    #: the years the database holds any record of (a year never imported is no baseline)
    with_data: frozenset[int]
    units: dict[str, UnitData]


def gather(conn: Connection, tree: OrgTree, year: int) -> Data:
    years = (year - 2, year - 1, year)
    figures = [roll_up(tree, count_own(conn, y)) for y in years]
    risk = roll_up_counters(tree, count_risk(conn, year))
    answers = roll_up_counters(tree, count_answer_days(conn, year))
    root = tree.root.id
    with_data = frozenset(
        y for y, f in zip(years, figures, strict=True) if f[root].deviations + f[root].complaints
    )
    units = {
        uid: UnitData(tuple(f[uid] for f in figures), risk[uid], answers[uid]) for uid in tree.units
    }
    return Data(year, years, with_data, units)


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


def _days_between(conn: Connection, start: Any, end: Any) -> ColumnElement[int]:
    if conn.dialect.name == "sqlite":
        return cast(func.julianday(end) - func.julianday(start), Integer)
    return cast(end - start, Integer)  # PostgreSQL: date minus date is a number of days


def count_answer_days(conn: Connection, year: int) -> dict[str, Counter[int | None]]:
    """Each unit's own complaints of ``year`` by days to the answer (None: not answered).
    Complaints closed without an answer (withdrawn) have nothing to answer and are left out."""
    days = _days_between(conn, Complaint.received_date, Complaint.answered_date)
    own: dict[str, Counter[int | None]] = {}
    rows = conn.execute(
        select(Complaint.unit_id, days, func.count())
        .where(
            _in_year(Complaint.received_date, year),
            or_(
                Complaint.answered_date.is_not(None),
                Complaint.status != ComplaintStatus.CLOSED,
            ),
        )
        .group_by(Complaint.unit_id, days)
    )
    for unit_id, d, n in rows:
        own.setdefault(unit_id, Counter())[d] += n
    return own


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
    pareto: tuple[ParetoRow, ...]
    risk: tuple[tuple[RiskCell, ...], ...]
    unassessed: int  # deviations without consequence or probability
    care_chain: int
    answers: AnswerTimes
    answer_days: int
    peers: tuple[float, int] | None  # median deviations of the peers, number of peers

    @property
    def findings(self) -> tuple[Finding, ...]:
        return (
            *_trend_findings(self),
            *_chart_findings(self),
            *_reporting_findings(self),
            *_risk_findings(self),
            *_care_chain_findings(self),
            *_answer_findings(self),
        )


#: (finding key prefix, Swedish label, Figures counter) of the categories checked for surges
CATEGORY_SOURCES = (
    ("avvikelse", "Händelsetyp", "by_category"),
    ("klagomal", "Klagomålskategori", "complaints_by_category"),
)


def analyse(data: Data, tree: OrgTree, codes: Codes, answer_days: int) -> dict[str, Analysis]:
    """Every unit's analysis; the peers of a unit need everyone's figures, so all are made."""
    this_year = {uid: d.years[-1].deviations for uid, d in data.units.items()}
    peers = peer_medians(tree, this_year)
    return {uid: analyse_unit(data, uid, codes, answer_days, peers[uid]) for uid in tree.units}


def analyse_unit(
    data: Data, unit_id: str, codes: Codes, answer_days: int, peers: tuple[float, int] | None
) -> Analysis:
    d = data.units[unit_id]
    known = [y in data.with_data for y in data.years]

    def yearly(counts: Iterable[int]) -> list[int | None]:
        return [n if k else None for n, k in zip(counts, known, strict=True)]

    this = d.years[-1]
    months = tuple((y, m) for y in data.years if y in data.with_data for m in range(1, 13))
    per_month = [d.years[data.years.index(y)].by_month.get(m, 0) for y, m in months]
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
        chart=control_chart(per_month) if months else None,
        months=months,
        pareto=tuple(pareto(this.by_category)),
        risk=tuple(tuple(row) for row in matrix),
        unassessed=this.deviations - sum(cell.count for row in matrix for cell in row),
        care_chain=this.care_chain,
        answers=answer_times(d.answer_days, answer_days),
        answer_days=answer_days,
        peers=peers,
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
    if chart is None or chart.centre < MIN_CHART_CENTRE or not this_year:
        return
    first = this_year[0]
    measure = "avvikelser per månad"
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
            f"Avvikelser per månad utanför styrgränserna: {months}",
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
    if share is None or a.answers.received < MIN_COMPLAINTS_FOR_SHARE:
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
            origin=origin,
        )

    return write_unit_documents(
        out, year, tree, unit_ids, "analys.html", "analysis.html.j2", context
    )

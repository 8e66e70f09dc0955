"""The findings of the analysis: one unit's :class:`Analysis` and the checks that draw
:class:`Finding` s from it, and the findings as stored in and loaded from the database."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, delete, insert, select

from arshjul.analysis.figures import ActionFollowUp, AsOf, Data, UnitData
from arshjul.analysis.stats import (
    ControlChart,
    ParetoRow,
    RiskCell,
    Trend,
    control_chart,
    pareto,
    peer_medians,
    risk_matrix,
    trend,
)
from arshjul.config import Codes, Config, KnowledgeAreas
from arshjul.figures import SAFETY_COURSE, TRAINING_ROLES_SV, Answers, Figures
from arshjul.models import Finding as FindingRow
from arshjul.models import OrgLevel
from arshjul.org import OrgTree
from arshjul.render import MONTHS_SV, agree, counted, number, percent

#: z at or above these raise the severity to 2 and 3
Z_SEVERITY = (5.0, 8.0)
#: a category must reach this many this year before a surge is reported
MIN_SURGE_COUNT = 5
#: SPC: below this mean per month a c-chart flags chance, so no signals are judged
MIN_CHART_CENTRE = 2.0
#: under-reporting: a unit below this share of its peers' median reports too little
UNDER_REPORTING_SHARE = 0.25
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
#: knowledge areas are followed up on these levels (the audit: region-wide and per område)
KNOWLEDGE_AREA_LEVELS = (OrgLevel.REGION, OrgLevel.AREA)

SEVERITY_SV = {1: "Låg", 2: "Medel", 3: "Hög"}


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

    def id_in(self, year: int) -> str:
        """The id the same finding has in the analysis of ``year``."""
        return finding_id(year, self.unit_id, self.kind, self.key)


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


def load_findings(conn: Connection, up_to: int) -> list[Finding]:
    """Every finding stored for the years up to ``up_to``: a few per unit and year, and
    actions carried over from any earlier year point at them (a key is the rest of its id)."""
    rows = conn.execute(
        select(
            FindingRow.id,
            FindingRow.year,
            FindingRow.unit_id,
            FindingRow.kind,
            FindingRow.title,
            FindingRow.measure,
            FindingRow.value,
            FindingRow.baseline,
            FindingRow.severity,
        ).where(FindingRow.year <= up_to)
    )
    return [
        Finding(year, unit_id, kind, fid.removeprefix(finding_id(year, unit_id, kind, "")), *rest)
        for fid, year, unit_id, kind, *rest in rows
    ]


def _severity(value: float, thresholds: tuple[float, float]) -> int:
    return 1 + sum(value >= t for t in thresholds)


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
    #: the complaints' answers, those still in time as of ``as_of`` (the share is of all
    #: received)
    answers: Answers
    answer_days: int
    peers: tuple[float, int] | None  # median deviations of the peers, number of peers
    #: (role, completed, rostered) of the patient-safety course, subtree, by the year's end
    training: tuple[tuple[str, int, int], ...]
    training_target: float | None  # None: the training is shown, not judged
    actions: ActionFollowUp  # the unit's own plan of last year
    as_of: AsOf | None  # None: last year's actions were not read
    #: deviations per knowledge area (region and områden only; empty below)
    knowledge_trends: tuple[Trend, ...]

    @property
    def answers_on(self) -> date | None:
        """The day the complaints still in time are counted on (:meth:`AsOf.answers_on`)."""
        return None if self.as_of is None else self.as_of.answers_on

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
        answers=this.answers(answer_days, None if data.as_of is None else data.as_of.answers_on),
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
        as_of=data.as_of,
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


def month_sv(month: tuple[int, int]) -> str:
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
            f"{month_sv(a.months[i])} ({'över' if chart.values[i] > chart.centre else 'under'})"
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
            f" ({month_sv(a.months[s])}–{month_sv(a.months[e])})"
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
        counts = counted(n, "avvikelse", "avvikelser")
        title = f"{counts} med risknivån {top.band} (konsekvens × sannolikhet)"
        yield _finding(
            a, "risk", top.band, title, measure="avvikelser", value=n, baseline=None, severity=2
        )


def _care_chain_findings(a: Analysis) -> Iterable[Finding]:
    if a.care_chain:
        share = a.care_chain / a.deviations
        counts = counted(a.care_chain, "avvikelse", "avvikelser")
        title = f"{counts} i vårdkedjan ({percent(share)} av alla)"
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
    """The share of all complaints received answered within the target days (the same
    share as the compilation's: unanswered ones count as not answered in time)."""
    answers = a.answers
    share = answers.share_within
    if share is None or answers.received < MIN_COMPLAINTS_FOR_SHARE:
        return
    if share < ANSWER_SHARE_TARGET:
        title = (
            f"{percent(share)} av klagomålen besvarade inom {a.answer_days} dagar"
            f" ({answers.within_target} av {answers.received} inkomna;"
            f" mål {percent(ANSWER_SHARE_TARGET, 0)})"
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


def _per(as_of: AsOf | None) -> str:
    """The day a finding on last year's actions is as of, for its title."""
    return "" if as_of is None else f" (per {as_of.day.isoformat()})"


def _action_findings(a: Analysis) -> Iterable[Finding]:
    """Last year's actions of the unit's own plan that are late or did not help."""
    f = a.actions
    if f.overdue:
        title = (
            f"{f.overdue} av {counted(f.total, 'åtgärd', 'åtgärder')} i förra årets handlingsplan"
            f" {agree(f.overdue, 'är inte klar', 'är inte klara')} fast klart-datum har passerat"
            f"{_per(a.as_of)}"
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
            f"{f.without_effect} av {counted(f.total, 'åtgärd', 'åtgärder')} i förra årets"
            f" handlingsplan {agree(f.without_effect, 'är klar', 'är klara')} men utan effekt"
            f"{_per(a.as_of)}"
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

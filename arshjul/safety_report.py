"""Patientsäkerhetsberättelse: the region's annual patient-safety report (PSL 3 kap 10 §).

The headings are those of SKR's and the Nationella samverkansgruppen för patientsäkerhet's
template. Each heading has the region's own text (``config/safety_report.yaml``, read once into
``Config.safety_report``) and, where the data has something to say, the year's figures:

* Resultat och analys — deviations by category, consequence, risk band and status at the
  year's end (compilation counts, rolled up to the region and its områden), the analysis
  findings stored in ``finding`` for the region and its områden, most severe first, and how
  many enheter stand out per område and reason (:mod:`arshjul.analysis.standouts`; the
  analyses name them);
* Rapporteringsskyldighet — lex Maria; Samverkan — deviations in the care chain;
* Klagomål och synpunkter — by channel and category, and the answer times (those not yet
  answered dated by the run's day only before the report's day in the wheel);
* Egenkontroll — the share of managers who have completed the patient-safety course
  (``training``) against ``targets.training_coverage``;
* Process och åtgärder — the action plans' actions by status per område (``action``), and the
  open ones of older plans that are carried over, as they stood on the report's day in the
  wheel (its deadline, or the run's day before it), which the document states;
* Mål och strategier — the goals in the text, and the findings of the highest severity.

The document is published: every count it shows is registered in one
:class:`arshjul.disclosure.Ledger` with the sums between them (:func:`ledger`: each table's
rows, columns and margins, the områden against the region, the tables that share a total), so
that counts 1..``targets.suppress_below``-1 are shown as ``<5``, the counts that would give
them back as ``..``, shares of either not at all, and the findings' sentences and the
region's own text hide the same numbers. Counting is grouped in the database; the rest is
Python over the områden.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from arshjul import interim
from arshjul.action_plan.plans import load_actions
from arshjul.action_rules import DONE_LATE_RULE, OPEN, STANDINGS
from arshjul.analysis import findings as analysis_findings
from arshjul.analysis.figures import AsOf, as_of
from arshjul.analysis.findings import SEVERITY_SV
from arshjul.analysis.standouts import REASON_SV, Reason, Standout, standouts
from arshjul.compilation import count_tables, risk_fills
from arshjul.config import Config, StandoutRules
from arshjul.disclosure import Key, Ledger, Mark, Published
from arshjul.documents import Kept, Provenance, write_unit_documents
from arshjul.figures import (
    SAFETY_COURSE,
    Answers,
    Figures,
    StoredCounts,
    count_own,
    roll_up,
)
from arshjul.models import Finding as FindingRow
from arshjul.models import OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period
from arshjul.signoff import Stamp
from arshjul.steps import Gathered, Run, Signed, Step
from arshjul.workspace import Workspace

DOCUMENT = "safety_report"
FILE_NAME = "patientsakerhetsberattelse.html"
TEMPLATE = "safety_report.html.j2"
#: what the report is built from: the cycle's data plus training and the action plans
SOURCES = ("organisation", "deviations", "complaints", "training", "actions")

#: the training roster's code for managers (``codes.yaml``: training_roles)
MANAGER_ROLE = "chef"

#: findings at or above this severity (Medel) are shown under Resultat och analys
MIN_SEVERITY_SHOWN = 2

#: the columns of the carried-over actions: open ones only
OPEN_STANDINGS = tuple(s.value for s in OPEN)


# --- published numbers ---------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """The configured text's paragraphs (in YAML's folded style a blank line starts one)."""
    return [p.strip() for p in text.split("\n") if p.strip()]


# --- actions -------------------------------------------------------------------------------


def count_actions(
    conn: Connection, on: date, zone: ZoneInfo
) -> dict[tuple[str, int | None, str], int]:
    """Actions as they stood on day ``on`` (:func:`arshjul.action_plan.plans.load_actions`:
    rows without a Statusdatum by their import's day in ``zone``) by (unit, plan year,
    standing: :data:`arshjul.action_rules.STANDINGS`). The plan year is the year of the
    analysis the action answers: the year of its finding id (``2025:unit:kind:key``), else
    the year in its id (``{unit_id}-{year}-{nnn}``), else None."""
    return dict(
        Counter(
            (a.unit_id, a.year, a.standing)
            for a in load_actions(conn, on, zone)
            if not a.is_decision  # a decision, not an action
        )
    )


@dataclass
class ActionCounts:
    #: by :data:`arshjul.action_rules.STANDINGS`
    by_status: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class ActionTable:
    """One plan's actions per område, or the open ones carried over from older plans."""

    title: str
    areas: list[tuple[Unit, ActionCounts]]
    region: ActionCounts

    @property
    def empty(self) -> bool:
        return self.region.total == 0


def action_tables(
    tree: OrgTree,
    counts: dict[tuple[str, int | None, str], int],
    year: int,
) -> tuple[list[ActionTable], ActionTable]:
    """The plans made from the analyses of ``year``-1 (carried out during ``year``) and of
    ``year`` (if already made), and the still open actions of older plans (carried over).
    An action without a plan year counts with the plan under way (``year``-1)."""
    areas = tree.at_level(OrgLevel.AREA)

    def table(title: str, include: Callable[[int | None, str], bool]) -> ActionTable:
        per_area = {a.id: ActionCounts() for a in areas}
        region = ActionCounts()
        for (unit_id, plan, status), n in counts.items():
            if unit_id not in tree or not include(plan, status):
                continue
            region.by_status[status] += n
            area = tree.area_of(unit_id)
            if area is not None:
                per_area[area.id].by_status[status] += n
        return ActionTable(title, [(a, per_area[a.id]) for a in areas], region)

    plans = [
        table(
            f"Handlingsplan utifrån analysen av {year - 1} (genomförs {year})",
            lambda plan, _: plan in (year - 1, None),
        ),
        table(
            f"Handlingsplan utifrån analysen av {year}",
            lambda plan, _: plan == year,
        ),
    ]
    carried = table(
        f"Öppna åtgärder från äldre handlingsplaner (före {year - 1}) som förs över",
        lambda plan, status: plan is not None and plan < year - 1 and status in OPEN_STANDINGS,
    )
    return [p for p in plans if not p.empty], carried


# --- findings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownFinding:
    unit: Unit
    severity: int
    title: str  # as the analysis wrote it: counts go through Published.text when shown
    id: str


def load_findings(conn: Connection, tree: OrgTree, year: int) -> list[ShownFinding]:
    """The stored findings of ``year`` for the region and its områden, most severe first."""
    order = [tree.root, *tree.at_level(OrgLevel.AREA)]
    rank = {u.id: i for i, u in enumerate(order)}
    rows = conn.execute(
        select(FindingRow.id, FindingRow.unit_id, FindingRow.severity, FindingRow.title).where(
            FindingRow.year == year, FindingRow.unit_id.in_(rank)
        )
    )
    found = [
        ShownFinding(tree[unit_id], severity, title, fid) for fid, unit_id, severity, title in rows
    ]
    return sorted(found, key=lambda f: (-f.severity, rank[f.unit.id], f.id))


@dataclass(frozen=True)
class StandoutCounts:
    """How many enheter under one unit stand out, for each reason and in all (an enhet with
    several reasons counts once in ``units``)."""

    by_reason: Counter[Reason]
    units: int

    def column(self, name: str) -> int:
        """A column of the document's table: a reason's value, or ``units``."""
        return self.units if name == "units" else self.by_reason[Reason(name)]


def count_standouts(found: list[Standout]) -> StandoutCounts:
    return StandoutCounts(Counter(r for s in found for r in s.reasons), len(found))


def load_standouts(
    conn: Connection, tree: OrgTree, year: int, rules: StandoutRules
) -> tuple[list[tuple[Unit, StandoutCounts]], StandoutCounts]:
    """The enheter that stand out by ``rules`` in the stored findings of ``year``, counted per
    område and for the whole region."""
    found = [f for f in analysis_findings.load_findings(conn, year) if f.year == year]

    def counted(unit_id: str) -> StandoutCounts:
        return count_standouts(standouts(tree, unit_id, found, rules))

    per_area = [(a, counted(a.id)) for a in tree.at_level(OrgLevel.AREA)]
    return per_area, counted(tree.root.id)


# --- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Managers on the patient-safety course's roster, and those who completed it in time."""

    managers: int
    trained: int


@dataclass(frozen=True)
class ReportData:
    """Everything the patientsäkerhetsberättelse shows for ``year``."""

    year: int
    region: Figures
    areas: list[tuple[Unit, Figures]]
    structure: dict[str, int]  # level -> number of units
    training: list[tuple[Unit, Coverage]]  # the region first, then its områden
    plans: list[ActionTable]
    carried: ActionTable
    findings: list[ShownFinding]
    standouts: list[tuple[Unit, StandoutCounts]]  # per område
    region_standouts: StandoutCounts
    #: the day the actions are counted on, and the complaints not yet answered dated by
    as_of: AsOf
    #: how the year's deferred-care sections print the training counts (key: this
    #: document's), which this document prints too: hidden here where hidden there
    training_marks: dict[Key, Mark] = field(default_factory=dict)


def coverage(f: Figures) -> Coverage:
    key = (SAFETY_COURSE, MANAGER_ROLE)
    return Coverage(f.training_rostered.get(key, 0), f.training_completed.get(key, 0))


def training_marks(conn: Connection, config: Config, tree: OrgTree, year: int) -> dict[Key, Mark]:
    """The marks the deferred-care sections of ``year`` print the managers and the trained
    of the region and its områden with (:mod:`arshjul.interim`), under this document's
    keys: the two documents print the same counts, and read together they must not give
    back what each hides."""
    shown = interim.training.publication(conn, config, tree, Period.full_year(year))
    marks: dict[Key, Mark] = {}
    for unit in (tree.root, *tree.at_level(OrgLevel.AREA)):
        for ours, theirs in training_keys(unit.id):
            if (mark := shown.marks.get(theirs)) is not None:
                marks[ours] = mark
    return marks


def training_keys(unit_id: str) -> tuple[tuple[Key, Key], ...]:
    """This document's keys of a unit's managers and trained, and the deferred-care
    sections' keys of the same counts."""
    return (
        (("training", "managers", unit_id), (unit_id, "managers")),
        (("training", "trained", unit_id), (unit_id, "train", SAFETY_COURSE)),
    )


def report_data(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    year: int,
    today: date,
    stored: StoredCounts | None = None,
) -> ReportData:
    """The report of ``year`` run on ``today``: the actions are counted as of the report's
    day in the wheel (:func:`arshjul.analysis.figures.as_of`), so that a rerun after it says
    the same. ``stored``: a run's stored counts (:func:`arshjul.figures.count_own`)."""
    totals = roll_up(tree, count_own(conn, year, stored))
    areas = tree.at_level(OrgLevel.AREA)
    on = as_of(config.wheel, year, today, "safety_report")
    actions = count_actions(conn, on.day, ZoneInfo(config.wheel.timezone))
    plans, carried = action_tables(tree, actions, year)
    per_area, region_standouts = load_standouts(conn, tree, year, config.settings.standouts)
    return ReportData(
        year=year,
        region=totals[tree.root.id],
        areas=[(a, totals[a.id]) for a in areas],
        structure={level.value: len(tree.at_level(level)) for level in OrgLevel},
        training=[(u, coverage(totals[u.id])) for u in (tree.root, *areas)],
        plans=plans,
        carried=carried,
        findings=load_findings(conn, tree, year),
        standouts=per_area,
        region_standouts=region_standouts,
        as_of=on,
        training_marks=training_marks(conn, config, tree, year),
    )


#: the deviation and complaint figures shown per område and for the region
AREA_FIGURES = ("deviations", "lex_maria", "care_chain", "complaints")
#: the count tables of the region's figures (``count_tables``) and the figure each sums to
#: the columns of the table of enheter that stand out: each reason, then the enheter in all
STANDOUT_COLUMNS = (*(r.value for r in Reason), "units")
#: the counts of the complaints' answers (figures.Answers) the document shows
ANSWER_COUNTS = (
    "received",
    "answered",
    "within_target",
    "late",
    "closed_unanswered",
    "unanswered",
    "still_in_time",
)
COUNT_TABLE_TOTALS = {
    "categories": "deviations",
    "consequences": "deviations",
    "risk_bands": "deviations",
    "year_end_statuses": "deviations",
    "channels": "complaints",
    "complaint_categories": "complaints",
}


def fig(name: str, unit: Unit) -> Key:
    """The key of one of ``AREA_FIGURES`` of a unit."""
    return ("fig", name, unit.id)


def ledger(
    data: ReportData, tables: dict[str, list[tuple[Any, int]]], answers: Answers
) -> tuple[Ledger, dict[str, list[tuple[Any, Key]]]]:
    """Every count the document shows, with the sums between them; and the count tables'
    rows as (label, key)."""
    book = Ledger()
    region = data.training[0][0]
    units = [(region, data.region), *data.areas]
    for name in AREA_FIGURES:
        for u, f in units:
            book.count(fig(name, u), getattr(f, name))
        book.line(fig(name, region), [fig(name, a) for a, _ in data.areas])
    for u, _ in units:  # lex Maria and care-chain events are deviations
        book.line(fig("deviations", u), [fig("lex_maria", u)])
        book.line(fig("deviations", u), [fig("care_chain", u)])
    rows: dict[str, list[tuple[Any, Key]]] = {}
    for table, total in COUNT_TABLE_TOTALS.items():
        rows[table] = [(label, book.count((table, label), n)) for label, n in tables[table]]
        book.line(fig(total, region), [k for _, k in rows[table]])
    # the answers of every complaint received: they add up to the complaints
    for name in ANSWER_COUNTS:
        # the answered ones are not shown, only their parts (within the target days, later)
        book.count(("answers", name), getattr(answers, name), shown=name != "answered")
    book.line(fig("complaints", region), [("answers", "received")])
    book.line(
        ("answers", "received"),
        [("answers", n) for n in ("within_target", "late", "closed_unanswered", "unanswered")],
    )
    book.line(("answers", "answered"), [("answers", "within_target"), ("answers", "late")])
    book.line(("answers", "unanswered"), [("answers", "still_in_time")])
    for name in ("managers", "trained"):
        for u, c in data.training:
            book.count(("training", name, u.id), getattr(c, name))
        book.line(("training", name, region.id), [("training", name, a.id) for a, _ in data.areas])
    for u, _ in data.training:  # the trained are among the managers on the roster
        book.line(("training", "managers", u.id), [("training", "trained", u.id)])
    # the enheter that stand out, per reason and in all: the områden's add up to the region's
    for column in STANDOUT_COLUMNS:
        for u, found in ((region, data.region_standouts), *data.standouts):
            book.count(("standouts", column, u.id), found.column(column))
        book.line(
            ("standouts", column, region.id),
            [("standouts", column, a.id) for a, _ in data.standouts],
        )
    # an enhet counted for a reason is among the enheter, and each of those has a reason
    reasons = [r.value for r in Reason]
    for u, found in ((region, data.region_standouts), *data.standouts):
        enheter = ("standouts", "units", u.id)
        for r in reasons:
            book.line(enheter, [("standouts", r, u.id)])
        every = book.count(
            ("standouts", "reasons", u.id), sum(found.by_reason.values()), shown=False
        )
        book.line(every, [("standouts", r, u.id) for r in reasons])
        book.line(every, [enheter])
    for t in (*data.plans, data.carried):
        statuses = list(STANDINGS) if t in data.plans else list(OPEN_STANDINGS)
        for u, counts in (*t.areas, (region, t.region)):
            for s in statuses:
                book.count(("actions", t.title, u.id, s), counts.by_status[s])
            book.count(("actions", t.title, u.id, "total"), counts.total)
            book.line(
                ("actions", t.title, u.id, "total"),
                [("actions", t.title, u.id, s) for s in statuses],
            )
        for column in (*statuses, "total"):
            book.line(
                ("actions", t.title, region.id, column),
                [("actions", t.title, a.id, column) for a, _ in t.areas],
            )
    return book, rows


def context(config: Config, data: ReportData, stamp: Stamp, origin: Provenance) -> dict[str, Any]:
    """The template's context (besides ``unit`` and ``path``)."""
    codes, targets = config.codes, config.settings.targets
    below = targets.suppress_below
    answers = data.region.answers(targets.complaint_answer_days, data.as_of.answers_on)
    top = max((f.severity for f in data.findings), default=0)
    book, rows = ledger(data, count_tables(data.region, codes, data.year), answers)
    # the training counts are printed by the year's deferred-care sections too: as they are
    training = [k for u, _ in data.training for k, _ in training_keys(u.id)]
    shown: Published = book.publish(below, data.training_marks, training)

    def told(found: list[ShownFinding]) -> list[ShownFinding]:
        return [ShownFinding(f.unit, f.severity, shown.text(f.title), f.id) for f in found]

    return dict(
        year=data.year,
        text={
            k: [shown.text(p) for p in paragraphs(v)]
            for k, v in config.safety_report
            if isinstance(v, str)
        },
        goal_list=[shown.text(g) for g in config.safety_report.goal_list],
        below=below,
        rule=shown.rule,
        shown=shown.show,
        pshare=shown.share,
        fig=fig,
        d=data,
        **rows,
        as_of=data.as_of,
        answers=answers,
        answer_count=lambda name: shown.show(("answers", name)),
        answer_share=lambda part, whole: shown.share(("answers", part), ("answers", whole)),
        answer_days=targets.complaint_answer_days,
        coverage_target=targets.training_coverage,
        action_statuses=list(STANDINGS.items()),
        done_late_rule=DONE_LATE_RULE,
        findings=told([f for f in data.findings if f.severity >= MIN_SEVERITY_SHOWN]),
        priorities=told([f for f in data.findings if top and f.severity == top]),
        severity_sv=SEVERITY_SV,
        reason_sv=REASON_SV,
        standout_thresholds=config.settings.standouts,
        risk_fills=risk_fills(config.codes),
        sign_off=stamp,
        origin=origin,
    )


def write_document(
    out: Path,
    config: Config,
    tree: OrgTree,
    data: ReportData,
    stamp: Stamp,
    origin: Provenance,
) -> list[Path | Kept]:
    """The region's patientsäkerhetsberättelse in ``out/<year>/region/<slug>/``; returns the
    files written (``FILE_NAME`` and whatever ``write_unit_documents`` writes beside it), or
    the document :class:`Kept` when it says what it says already."""
    return write_unit_documents(
        out,
        Period.full_year(data.year),
        tree,
        [tree.root.id],
        FILE_NAME,
        TEMPLATE,
        lambda _unit: context(config, data, stamp, origin),
    )


# --- the step ------------------------------------------------------------------------------


def gather(conn: Connection, tree: OrgTree, period: Period, run: Run) -> ReportData:
    return report_data(conn, run.config, tree, period.year, run.today, run.counts)


def write(
    ws: Workspace, period: Period, gathered: Gathered[ReportData], units: Sequence[str]
) -> list[Path | Kept]:
    """The region's report (``units`` is the region alone)."""
    assert gathered.stamp is not None  # a signed step's gather made its stamp
    return write_document(
        ws.out, ws.config, gathered.tree, gathered.figures, gathered.stamp, gathered.origin
    )


STEP = Step(
    name="safety_report",
    title_sv="Patientsäkerhetsberättelse",
    sources=SOURCES,
    gather=gather,
    write=write,
    signed=Signed(DOCUMENT, FILE_NAME),
    region_only=True,
)

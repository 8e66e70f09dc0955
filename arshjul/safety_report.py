"""Patientsäkerhetsberättelse: the region's annual patient-safety report (PSL 3 kap 10 §).

The headings are those of SKR's and the Nationella samverkansgruppen för patientsäkerhet's
template. Each heading has the region's own text (``config/safety_report.yaml``, read once into
``Config.safety_report``) and, where the data has something to say, the year's figures:

* Resultat och analys — deviations by category, consequence and risk band (compilation counts,
  rolled up to the region and its områden), and the analysis findings stored in ``finding`` for
  the region and its områden, most severe first;
* Rapporteringsskyldighet — lex Maria; Samverkan — deviations in the care chain;
* Klagomål och synpunkter — by channel and category, and the answer times;
* Egenkontroll — the share of managers who have completed the patient-safety course
  (``training``) against ``targets.training_coverage``;
* Process och åtgärder — the action plans' actions by status per område (``action``), and the
  open ones of older plans that are carried over;
* Mål och strategier — the goals in the text, and the findings of the highest severity.

The document is published, so every count 1..``targets.suppress_below``-1 is shown as ``<5``
(also inside the findings' sentences, see :func:`suppress_text`) and a share is shown only when
neither its part nor its whole is such a count. Counting is grouped in the database; the rest
is Python over the områden.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from arshjul.analysis.findings import SEVERITY_SV
from arshjul.compilation import count_tables
from arshjul.config import Config
from arshjul.documents import Provenance, write_unit_documents
from arshjul.figures import SAFETY_COURSE, Figures, count_own, roll_up
from arshjul.models import Action, ActionStatus, OrgLevel
from arshjul.models import Finding as FindingRow
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period
from arshjul.render import NBSP, share
from arshjul.signoff import Stamp

DOCUMENT = "safety_report"
FILE_NAME = "patientsakerhetsberattelse.html"
TEMPLATE = "safety_report.html.j2"

#: the training roster's code for managers (``codes.yaml``: training_roles)
MANAGER_ROLE = "chef"

#: findings at or above this severity (Medel) are shown under Resultat och analys
MIN_SEVERITY_SHOWN = 2

ACTION_STATUS_SV = {
    ActionStatus.PLANNED: "Planerad",
    ActionStatus.IN_PROGRESS: "Pågår",
    ActionStatus.DONE: "Klar",
    ActionStatus.DROPPED: "Struken",
}
OPEN = (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS)


# --- published numbers ---------------------------------------------------------------------


def small(n: int | None, below: int) -> bool:
    """A count that a published document must not show (1..below-1)."""
    return n is not None and 0 < n < below


def published_share(part: int, whole: int, below: int) -> float | None:
    """``part / whole``, or None when either would reveal a small count."""
    return None if small(part, below) or small(whole, below) else share(part, whole)


#: a number as ``render.number`` writes it: thousands separated by NBSP, a decimal comma
_NUMBER = re.compile(rf"(?<![\d,{NBSP}])(\d{{1,3}}(?:{NBSP}\d{{3}})+|\d+)(,\d+)?(\s?%)?")


def suppress_text(text: str, below: int) -> str:
    """``text`` with every whole number 1..below-1 written ``<below``.

    The analysis writes its findings as sentences with the counts in them ("3 avvikelser med
    risknivån mycket hög"). Whole numbers there are counts; decimals (averages, "4,5") and
    percentages are left as they are.
    """

    def one(m: re.Match[str]) -> str:
        whole, decimals, pct = m.groups()
        if decimals or pct or not small(int(whole.replace(NBSP, "")), below):
            return m.group(0)
        return f"<{below}"

    return _NUMBER.sub(one, text)


def paragraphs(text: str) -> list[str]:
    """The configured text's paragraphs (in YAML's folded style a blank line starts one)."""
    return [p.strip() for p in text.split("\n") if p.strip()]


# --- actions -------------------------------------------------------------------------------


def _plan_year(key: str | None) -> int | None:
    return int(key) if key and key.isdigit() else None


def count_actions(conn: Connection) -> dict[tuple[str, int | None, ActionStatus], int]:
    """Actions by (unit, plan year, status). The plan year is the year of the analysis the
    action answers: the year of its finding id (``2025:unit:kind:key``), else the year in its
    id (``{unit_id}-{year}-{nnn}``), else None."""
    from_finding = func.substr(Action.finding_id, 1, 4)
    from_id = func.substr(Action.action_id, func.length(Action.action_id) - 7, 4)
    year = func.coalesce(from_finding, from_id)
    rows = conn.execute(
        select(Action.unit_id, year, Action.status, func.count()).group_by(
            Action.unit_id, year, Action.status
        )
    )
    out: Counter[tuple[str, int | None, ActionStatus]] = Counter()
    for unit_id, key, status, n in rows:
        out[unit_id, _plan_year(key), status] += n
    return dict(out)


@dataclass
class ActionCounts:
    by_status: Counter[ActionStatus] = field(default_factory=Counter)

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
    counts: dict[tuple[str, int | None, ActionStatus], int],
    year: int,
) -> tuple[list[ActionTable], ActionTable]:
    """The plans made from the analyses of ``year``-1 (carried out during ``year``) and of
    ``year`` (if already made), and the still open actions of older plans (carried over).
    An action without a plan year counts with the plan under way (``year``-1)."""
    areas = tree.at_level(OrgLevel.AREA)

    def table(title: str, include: Callable[[int | None, ActionStatus], bool]) -> ActionTable:
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
        lambda plan, status: plan is not None and plan < year - 1 and status in OPEN,
    )
    return [p for p in plans if not p.empty], carried


# --- findings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownFinding:
    unit: Unit
    severity: int
    title: str  # small counts suppressed
    id: str


def load_findings(conn: Connection, tree: OrgTree, year: int, below: int) -> list[ShownFinding]:
    """The stored findings of ``year`` for the region and its områden, most severe first."""
    order = [tree.root, *tree.at_level(OrgLevel.AREA)]
    rank = {u.id: i for i, u in enumerate(order)}
    rows = conn.execute(
        select(FindingRow.id, FindingRow.unit_id, FindingRow.severity, FindingRow.title).where(
            FindingRow.year == year, FindingRow.unit_id.in_(rank)
        )
    )
    found = [
        ShownFinding(tree[unit_id], severity, suppress_text(title, below), fid)
        for fid, unit_id, severity, title in rows
    ]
    return sorted(found, key=lambda f: (-f.severity, rank[f.unit.id], f.id))


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


def coverage(f: Figures) -> Coverage:
    key = (SAFETY_COURSE, MANAGER_ROLE)
    return Coverage(f.training_rostered.get(key, 0), f.training_completed.get(key, 0))


def gather(conn: Connection, config: Config, tree: OrgTree, year: int) -> ReportData:
    totals = roll_up(tree, count_own(conn, year))
    areas = tree.at_level(OrgLevel.AREA)
    plans, carried = action_tables(tree, count_actions(conn), year)
    return ReportData(
        year=year,
        region=totals[tree.root.id],
        areas=[(a, totals[a.id]) for a in areas],
        structure={level.value: len(tree.at_level(level)) for level in OrgLevel},
        training=[(u, coverage(totals[u.id])) for u in (tree.root, *areas)],
        plans=plans,
        carried=carried,
        findings=load_findings(conn, tree, year, config.settings.targets.suppress_below),
    )


def context(config: Config, data: ReportData, stamp: Stamp, origin: Provenance) -> dict[str, Any]:
    """The template's context (besides ``unit`` and ``path``)."""
    codes, targets = config.codes, config.settings.targets
    below = targets.suppress_below
    r = data.region
    top = max((f.severity for f in data.findings), default=0)
    return dict(
        year=data.year,
        text={k: paragraphs(v) for k, v in config.safety_report if isinstance(v, str)},
        goal_list=config.safety_report.goal_list,
        below=below,
        pshare=lambda part, whole: published_share(part, whole, below),
        d=data,
        r=r,
        **count_tables(r, codes),
        answers=r.answers(targets.complaint_answer_days),
        answer_days=targets.complaint_answer_days,
        coverage_target=targets.training_coverage,
        action_statuses=list(ACTION_STATUS_SV.items()),
        open_statuses=OPEN,
        findings=[f for f in data.findings if f.severity >= MIN_SEVERITY_SHOWN],
        priorities=[f for f in data.findings if top and f.severity == top],
        severity_sv=SEVERITY_SV,
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
) -> list[Path]:
    """The region's patientsäkerhetsberättelse in ``out/<year>/region/<slug>/``; returns the
    files written (``FILE_NAME`` and whatever ``write_unit_documents`` writes beside it)."""
    return write_unit_documents(
        out,
        Period.full_year(data.year),
        tree,
        [tree.root.id],
        FILE_NAME,
        TEMPLATE,
        lambda _unit: context(config, data, stamp, origin),
    )

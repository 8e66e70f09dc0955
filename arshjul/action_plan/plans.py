"""The action plans: each unit's own plan of a data year, built from the stored findings and
the imported actions, and their roll-ups.

The plan of data year Y for a unit holds the unit's own findings of Y with the actions that
answer them (a finding without one is shown as a gap: the audit found that analyses did not
lead to improvement), its other actions of Y, and its open actions of earlier years carried
over with their status. The effect check puts each finished action's finding measure before
(the finding's year) beside the same measure a year later, and the unit's own judgement.
Område, verksamhet and region add a roll-up of their units: actions per status, the share of
findings with an action, overdue actions, and the units with findings but no plan, by name.

Everything is loaded in a few bulk queries (all findings of two years, all actions) and then
built in Python over the tree, so a rerun for one unit costs the same as for all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from arshjul.action_rules import ANSWERS, OPEN, STANDINGS, became_done, standing
from arshjul.analysis import figures as analysis_figures
from arshjul.analysis.findings import (
    CATEGORY_SOURCES,
    Analysis,
    Finding,
    analyse_unit,
    load_findings,
)
from arshjul.analysis.stats import peer_medians
from arshjul.clock import STOCKHOLM
from arshjul.config import Config
from arshjul.evidence import action_histories, held_by
from arshjul.figures import StoredCounts
from arshjul.models import Action, ActionStatus, StepRun
from arshjul.models import Finding as FindingRow
from arshjul.org import OrgTree
from arshjul.render import number, percent

#: the Swedish labels of the statuses, in the worksheet, the importer and the documents
STATUS_SV = {
    ActionStatus.PLANNED: "Planerad",
    ActionStatus.IN_PROGRESS: "Pågår",
    ActionStatus.DONE: "Klar",
    ActionStatus.DROPPED: "Struken",
    ActionStatus.NO_ACTION: "Ingen åtgärd",
}
#: finding kinds whose measure is a share (shown as a percentage)
SHARE_KINDS = frozenset({"care_chain", "answer_time", "training"})
#: finding kinds whose baseline is the total their value is part of (overdue actions of all
#: actions), not a yardstick: what they count should come down to zero
PART_OF_TOTAL_KINDS = frozenset({"actions"})
#: finding kinds whose measure is a mean per month (shown with one decimal)
MEAN_KINDS = frozenset({"spc"})

_ACTION_YEAR = re.compile(r"-(\d{4})-\d+$")
_FINDING_YEAR = re.compile(r"^(\d{4}):")


# --- loading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedAction:
    """An åtgärd as imported from a unit's worksheet."""

    action_id: str
    unit_id: str
    finding_id: str | None
    title: str
    owner_role: str
    due_date: date | None
    status: ActionStatus
    effect: str | None
    #: Motivering: why (the reason of a decision Ingen åtgärd)
    reason: str | None = None
    #: Statusdatum: the day the unit last wrote the status (None: not given)
    status_date: date | None = None
    #: the day the unit wrote it Klar (:func:`arshjul.action_rules.became_done`); None when
    #: it is not Klar
    done_on: date | None = None

    @property
    def is_decision(self) -> bool:
        """The unit's decision that its finding needs no action, not an action."""
        return self.status is ActionStatus.NO_ACTION

    @property
    def year(self) -> int | None:
        """The data year whose plan the action belongs to: its finding's year, else the year
        in its id (``{unit}-{year}-{nnn}``), else unknown (None: counted as this year's)."""
        for text, pattern in ((self.finding_id, _FINDING_YEAR), (self.action_id, _ACTION_YEAR)):
            match = pattern.search(text or "")
            if match:
                return int(match.group(1))
        return None

    @property
    def status_sv(self) -> str:
        return STATUS_SV[self.status]

    @property
    def standing(self) -> str:
        """The column it is counted in (:data:`arshjul.action_rules.STANDINGS`)."""
        return standing(self.status, self.due_date, self.done_on)

    @property
    def status_text(self) -> str:
        """The status as the documents print it: Klar says whether in time or late."""
        if self.standing == "done_late":
            return f"Klar sent (efter {self.due_date:%Y-%m-%d})"
        return STANDINGS.get(self.standing, self.status_sv)

    def overdue(self, today: date) -> bool:
        return self.status in OPEN and self.due_date is not None and self.due_date < today


def load_actions(
    conn: Connection, on: date | None = None, zone: ZoneInfo = STOCKHOLM
) -> list[PlannedAction]:
    """The imported actions as they stand; ``on``: as they stood on that day, each with the
    last status written by then and Klar from the day it became Klar by then, without those
    no returned worksheet held by then. A row without a Statusdatum holds from its import's
    day in ``zone``."""
    rows = conn.execute(
        select(
            Action.action_id,
            Action.unit_id,
            Action.finding_id,
            Action.title,
            Action.owner_role,
            Action.due_date,
            Action.status,
            Action.effect,
            Action.reason,
            Action.status_date,
        ).order_by(Action.action_id)
    )
    # as the follow-ups take them: the Statusdatum, else the day the worksheet was imported;
    # as they stand, only a Klar one's history is needed (its day)
    done = None if on is not None else Action.status == ActionStatus.DONE
    histories = action_histories(conn, zone, of=done)
    actions = []
    for fields in rows:
        action = PlannedAction(*fields)
        history = histories.get(action.action_id, [])
        if on is not None:
            history = held_by(history, on)
            if not history:
                continue
            action = replace(action, status=history[-1].status, status_date=history[-1].written)
        if action.status is ActionStatus.DONE:
            action = replace(action, done_on=became_done((u.status, u.on) for u in history))
        actions.append(action)
    return actions


def analysed_years(conn: Connection) -> set[int]:
    """The data years an analysis was stored or run for: only for those is a finding that
    is not there "no longer flagged" rather than "not yet analysed"."""
    years = set(conn.execute(select(FindingRow.year).distinct()).scalars())
    periods = conn.execute(select(StepRun.period).where(StepRun.step == "analyse").distinct())
    return years | {int(p) for p in periods.scalars() if p.isdigit()}


# --- one unit's plan -----------------------------------------------------------------------


@dataclass(frozen=True)
class EffectCheck:
    """A finished action's finding: its measure then and a year later."""

    action: PlannedAction
    finding: Finding
    follow_year: int
    #: the measure in ``follow_year``; None when not measurable (yet)
    after: float | None
    #: flagged again in ``follow_year``; None when that year is not analysed
    flagged_again: bool | None

    @property
    def before_text(self) -> str:
        return format_measure(self.finding.kind, self.finding.value)

    @property
    def baseline_text(self) -> str:
        f = self.finding
        return format_measure(f.kind, None if f.kind in PART_OF_TOTAL_KINDS else f.baseline)

    @property
    def after_text(self) -> str:
        return format_measure(self.finding.kind, self.after)

    @property
    def change(self) -> str:
        """Which way the measure moved, judged by :func:`gap_closed`: towards the finding's
        yardstick, reaching it (or past it, to the good side), or away from it; lower or
        higher when the yardstick is zero (a count or share that should come down)."""
        if self.flagged_again is None:
            return f"mäts när {self.follow_year} har analyserats"
        f = self.finding
        closed = gap_closed(f.kind, f.value, self.after, f.baseline)
        if closed is None:
            return "–"
        if closed == 0:
            return "oförändrat"
        if yardstick(f.kind, f.baseline) == 0:
            return "lägre" if closed > 0 else "högre"
        if closed >= 1:
            return "jämförelsevärdet nått"
        return "närmare jämförelsevärdet" if closed > 0 else "längre från jämförelsevärdet"

    @property
    def flagged_text(self) -> str:
        if self.flagged_again is None:
            return "ej analyserat än"
        return "flaggas igen" if self.flagged_again else "ej längre flaggat"


def yardstick(kind: str, baseline: float | None) -> float:
    """What a finding's measure should move towards: its baseline (the mean of earlier
    years, the peers' median, a target), or zero when it has none or it is a total."""
    return 0.0 if baseline is None or kind in PART_OF_TOTAL_KINDS else baseline


def gap_closed(
    kind: str, before: float | None, after: float | None, baseline: float | None
) -> float | None:
    """The share of a finding's gap to its :func:`yardstick` closed a year later: 1 reached
    it, more went past it (the good side: a share above its target, fewer than the mean),
    0 unchanged, below 0 a wider gap. None when either value is missing or there was no gap."""
    if before is None or after is None:
        return None
    gap = before - yardstick(kind, baseline)
    return (before - after) / gap if gap else None


def format_measure(kind: str, value: float | None) -> str:
    if kind in SHARE_KINDS:
        return percent(value)
    return number(value, 1 if kind in MEAN_KINDS else 0)


@dataclass(frozen=True)
class Plan:
    """One unit's own action plan for a data year."""

    unit_id: str
    year: int
    #: the unit's findings of the year, most severe first, each with its actions
    findings: tuple[tuple[Finding, tuple[PlannedAction, ...]], ...]
    #: actions of the year that answer no finding of the year
    other: tuple[PlannedAction, ...]
    #: open actions of earlier years
    carried: tuple[PlannedAction, ...]
    effects: tuple[EffectCheck, ...]
    #: the findings of other years that carried-over and other actions answer, by id
    earlier_findings: dict[str, Finding] = field(default_factory=dict)

    def finding_title(self, action: PlannedAction) -> str:
        """The title of the finding ``action`` answers, or an empty string."""
        f = self.earlier_findings.get(action.finding_id or "")
        return f.title if f else ""

    @property
    def actions(self) -> tuple[PlannedAction, ...]:
        """Every action of the plan: the year's and the carried-over ones."""
        linked = tuple(a for _, actions in self.findings for a in actions)
        return linked + self.other + self.carried

    @property
    def has_plan(self) -> bool:
        """At least one action of the year that is not struck out, or a decision."""
        return any(
            a.status in ANSWERS
            for a in (*(a for _, acts in self.findings for a in acts), *self.other)
        )


@dataclass
class Tally:
    """Counts of one plan, or of a subtree's plans added together."""

    findings: int = 0
    #: findings with at least one action that is not struck out
    with_action: int = 0
    #: findings answered by a decision Ingen åtgärd alone
    decided: int = 0
    #: actions by :data:`arshjul.action_rules.STANDINGS` (their status, Klar in time or
    #: late); decisions are not actions: they are ``decided``
    by_status: Counter[str] = field(default_factory=Counter)
    overdue: int = 0
    carried: int = 0
    #: units with findings of the year and neither an action nor a decision: the gaps,
    #: named in the documents
    without_plan: list[str] = field(default_factory=list)

    @property
    def actions(self) -> int:
        return sum(self.by_status.values())

    @property
    def share_with_action(self) -> float | None:
        return self.with_action / self.findings if self.findings else None

    def add(self, other: Tally) -> None:
        self.findings += other.findings
        self.with_action += other.with_action
        self.decided += other.decided
        self.by_status.update(other.by_status)
        self.overdue += other.overdue
        self.carried += other.carried
        self.without_plan.extend(other.without_plan)


def tally(plan: Plan, today: date) -> Tally:
    with_action = decided = 0
    for _, answers in plan.findings:
        if any(a.status in ANSWERS and not a.is_decision for a in answers):
            with_action += 1
        elif any(a.is_decision for a in answers):
            decided += 1
    actions = [a for a in plan.actions if not a.is_decision]
    return Tally(
        findings=len(plan.findings),
        with_action=with_action,
        decided=decided,
        by_status=Counter(a.standing for a in actions),
        overdue=sum(a.overdue(today) for a in actions),
        carried=len(plan.carried),
        without_plan=[plan.unit_id] if plan.findings and not plan.has_plan else [],
    )


def roll_up(tree: OrgTree, plans: dict[str, Plan], today: date) -> dict[str, Tally]:
    """Each unit's tally of its own plan and every plan below it."""
    return tree.roll_up(lambda unit_id: tally(plans[unit_id], today))


def overdue_below(
    tree: OrgTree, plans: dict[str, Plan], unit_id: str, today: date
) -> list[PlannedAction]:
    """The overdue actions in the plans of ``unit_id`` and of every unit below it, the
    longest overdue first."""
    found = [a for u in tree.walk(unit_id) for a in plans[u.id].actions if a.overdue(today)]
    return sorted(found, key=lambda a: (a.due_date or today, a.unit_id, a.action_id))


def _severity_order(f: Finding) -> tuple[int, str]:
    return -f.severity, f.id


def build_plans(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    year: int,
    stored: StoredCounts | None = None,
) -> dict[str, Plan]:
    """Every unit's plan for ``year`` (roll-ups need them all; the queries are the same).
    ``stored``: a run's stored counts (:func:`arshjul.figures.count_own`)."""
    findings = load_findings(conn, year + 1)
    actions = load_actions(conn)
    analysed = analysed_years(conn)
    by_id = {f.id: f for f in findings}
    own: dict[str, list[Finding]] = {uid: [] for uid in tree.units}
    for f in findings:
        if f.year == year and f.unit_id in own:
            own[f.unit_id].append(f)
    unit_actions: dict[str, list[PlannedAction]] = {uid: [] for uid in tree.units}
    for a in actions:
        if a.unit_id in unit_actions:
            unit_actions[a.unit_id].append(a)
    done_on = [by_id.get(a.finding_id or "") for a in actions if a.status is ActionStatus.DONE]
    finished = {g.id: g for g in done_on if g is not None and g.year in (year - 1, year)}
    measured: dict[str, float | None] = {}
    for follow in sorted({f.year + 1 for f in finished.values()} & analysed):
        unflagged = [
            f for f in finished.values() if f.year + 1 == follow and f.id_in(follow) not in by_id
        ]
        measured.update(measure_after(conn, config, tree, follow, unflagged, stored))
    return {
        uid: _plan(uid, year, own[uid], unit_actions[uid], by_id, measured, analysed)
        for uid in tree.units
    }


def _plan(
    unit_id: str,
    year: int,
    findings: list[Finding],
    actions: list[PlannedAction],
    by_id: dict[str, Finding],
    measured: dict[str, float | None],
    analysed: set[int],
) -> Plan:
    mine = {f.id for f in findings}
    linked: dict[str, list[PlannedAction]] = {f.id: [] for f in findings}
    other, carried = [], []
    for a in actions:
        a_year = a.year
        if a_year is None or a_year == year:
            if a.finding_id in mine:
                linked[a.finding_id].append(a)
            else:
                other.append(a)
        elif a_year < year and a.status in OPEN:
            carried.append(a)
    effects = []
    for a in actions:
        f = by_id.get(a.finding_id or "")
        if a.status is not ActionStatus.DONE or f is None or f.year not in (year - 1, year):
            continue
        follow = f.year + 1
        if follow in analysed:
            next_id = f.id_in(follow)
            again = next_id in by_id
            after = by_id[next_id].value if again else measured.get(f.id)
            effects.append(EffectCheck(a, f, follow, after, again))
        else:
            effects.append(EffectCheck(a, f, follow, None, None))
    ordered = sorted(findings, key=_severity_order)
    pointed = {a.finding_id for a in (*other, *carried) if a.finding_id in by_id}
    return Plan(
        unit_id=unit_id,
        year=year,
        findings=tuple((f, tuple(linked[f.id])) for f in ordered),
        other=tuple(other),
        carried=tuple(carried),
        effects=tuple(effects),
        earlier_findings={i: by_id[i] for i in sorted(i for i in pointed if i)},
    )


# --- the effect check's "after" ------------------------------------------------------------


def measure_after(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    year: int,
    findings: Sequence[Finding],
    stored: StoredCounts | None = None,
) -> dict[str, float | None]:
    """The measure of each finding of ``year - 1`` as the analysis of ``year`` computes it,
    whether or not that analysis flags it again (None: ``year`` has no data)."""
    wanted = [f for f in findings if f.unit_id in tree]
    if not wanted:
        return {}
    data = analysis_figures.gather(conn, tree, year, wheel=config.wheel, stored=stored)
    if year not in data.with_data:
        return {f.id: None for f in wanted}
    this_year = {uid: d.years[-1].deviations for uid, d in data.units.items()}
    peers = peer_medians(tree, this_year)
    days = config.settings.targets.complaint_answer_days
    done: dict[str, Analysis] = {}
    out: dict[str, float | None] = {}
    for f in wanted:
        if f.unit_id not in done:
            done[f.unit_id] = analyse_unit(data, f.unit_id, config.codes, days, peers[f.unit_id])
        out[f.id] = measure(done[f.unit_id], data.units[f.unit_id], f.kind, f.key)
    return out


def measure(a: Analysis, data: analysis_figures.UnitData, kind: str, key: str) -> float | None:
    """What a finding of ``kind``/``key`` measures (see ``analysis``), in analysis ``a``;
    None for a kind this check does not know."""
    if kind == "trend":
        return next((float(t.current) for t in a.trends if t.key == key), None)
    if kind == "surge":
        prefix, _, category = key.partition(":")
        counter = next(c for p, _, c in CATEGORY_SOURCES if p == prefix)
        return float(getattr(data.years[-1], counter).get(category, 0))
    if kind == "spc":
        if a.chart is None:
            return None
        centre = a.chart.centre
        values = [v for v, (y, _) in zip(a.chart.values, a.months, strict=True) if y == a.year]
        if not values:
            return None
        if key == "beyond":  # the month farthest from the centre line, as the finding shows
            return max(values, key=lambda v: abs(v - centre))
        return sum(values) / len(values)  # a run: the mean of the months
    if kind == "under_reporting":
        return float(a.deviations)
    if kind == "risk":
        return float(sum(c.count for row in a.risk for c in row if c.band == key))
    if kind == "care_chain":
        return a.care_chain / a.deviations if a.deviations else None
    if kind == "answer_time":
        return a.answers.share_within
    if kind == "training":  # the key is course:role
        return a.training_coverage(key.partition(":")[2])
    return None

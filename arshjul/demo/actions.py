"""The action plans the demo region's units handed back for the two years before the default
data year and for the default data year as far as today has come (a region in December has
had that plan back since March): their filled-in worksheets (SPEC §5), as ``arshjul import
actions`` reads them.

A unit can only answer the findings the analysis of its year made, so none is invented: the
record files are imported into a scratch database, each year is analysed there by arshjul's
own analysis (as ``arshjul analyse`` does, on the same day), and each unit's worksheet is
written by :mod:`arshjul.action_plan.worksheet` from its plan, filled in as an enhetschef would.
A year's worksheets are imported there before the next year is analysed, because that analysis
follows up last year's plan and the next worksheet carries its open actions over.

How a unit answers (drawn from the seed, the same on every run):

- every finding of severity Hög gets an action, Medel nearly always, Låg now and then; the
  unit ``no_plan`` returns no worksheet at all, so the plans show a gap by name;
- an action is due at the end of a quarter from June of the year after its data year, now
  and then later; it is Klar, Pågår, Planerad or Struken as a follow-up would find it (when
  its due date has passed, mostly Klar; open ones stay open and are carried over);
- the second year's worksheets carry the first year's open actions: most are then finished
  or struck out, a few are still open (carried over again);
- a finished action's Effekt is what the data show: the finding's measure a year later
  (:func:`arshjul.action_plan.plans.measure_after`) closed half or more of its gap to the
  finding's yardstick (:func:`arshjul.action_plan.plans.gap_closed`): God effekt; a tenth:
  Viss effekt; less: Ingen effekt; Ej bedömd when the measure is not a number.

When (drawn from a stream of its own, so the answers above are the same whatever the days):
a unit hands its plan back in the four weeks before the wheel's action-plan deadline of the
year after, and hands the same worksheet back again at each follow-up (15 May, 15 September,
15 December: the wheel's) in the four weeks before it, while it has open actions — until the
next year's plan comes, or for the last plan until today. Now and then a worksheet comes a
week or two late, and at a follow-up a few units forget (the status page names them). Each
is kept in a folder named by its day, ``actions-YEAR/ÅÅÅÅ-MM-DD/``, and imported as of that day
(:func:`arshjul.inputs.handed_back`); a plan whose first return is still ahead of today has
none yet. An action that ends finished is written Klar on a day of its own (a third stream):
up to two months before its Klart senast, or now and then up to six weeks after it (klar
sent, :func:`arshjul.action_rules.standing`); that day is its Statusdatum from then on, an
open row's is the day it is handed back. Before its last return, an action that ends
finished is still Pågår until its Klar day, one struck out while its date is ahead; the last
return says how it ended.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import Connection

from arshjul.action_plan import plans as action_plans
from arshjul.action_plan import worksheet
from arshjul.action_plan.plans import Plan, PlannedAction
from arshjul.action_rules import OPEN
from arshjul.analysis.figures import NO_EFFECT, gather
from arshjul.analysis.findings import Finding, analyse, store_findings
from arshjul.clock import STOCKHOLM
from arshjul.config import Config, default_data_year
from arshjul.db import make_engine, migrate
from arshjul.files import write_bytes_atomic
from arshjul.formats.xlsx import workbook_bytes
from arshjul.importers import import_file
from arshjul.inputs import handed_back_folder
from arshjul.models import ActionStatus, OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.workdays import rule_dates

#: the record kinds the analysis reads (``compilation.count_own``), in import order
ANALYSED_KINDS = ("organisation", "deviations", "complaints", "capacity", "training")
#: the data years before the default data year whose plans the units have handed back
YEARS_BACK = 2
#: the analyses of the scratch database are stored under this run id
RUN_ID = "demo"

#: chance that a finding of severity Låg, Medel, Hög gets an action
ANSWER_CHANCE = {1: 0.35, 2: 0.93, 3: 1.0}
#: due dates: (years after the data year, month, day), ends of quarters, the later ones rarer
DUE_DATES = ((1, 6, 30), (1, 9, 30), (1, 12, 31), (2, 3, 31), (2, 12, 31))
DUE_WEIGHTS = (3, 4, 4, 2, 1)
#: an action's status when its due date has passed, and when it has not
PAST_DUE = {
    ActionStatus.DONE: 65,
    ActionStatus.IN_PROGRESS: 15,
    ActionStatus.PLANNED: 5,
    ActionStatus.DROPPED: 15,
}
NOT_YET_DUE = {ActionStatus.DONE: 10, ActionStatus.IN_PROGRESS: 55, ActionStatus.PLANNED: 35}
#: an open action carried over into the next year's worksheet, as it is followed up there
CARRIED_ON = {ActionStatus.DONE: 50, ActionStatus.IN_PROGRESS: 30, ActionStatus.DROPPED: 20}
#: a worksheet is handed back on a day of this many before its deadline ...
RETURN_DAYS = 28
#: ... or, now and then, up to two weeks after it
LATE_CHANCE, LATE_DAYS = 0.08, 14
#: chance that a unit with open actions forgets a follow-up
MISSED_FOLLOW_UP = 0.12
#: a finished action is written Klar (its Statusdatum) up to this many days before its
#: Klart senast ...
DONE_EARLY_DAYS = 60
#: ... or, now and then, up to this many days after it: klar sent
DONE_LATE_CHANCE, DONE_LATE_DAYS = 0.2, 45
#: share of the gap to the yardstick closed a year later for each judged effect
GOOD, SOME = 0.5, 0.1
#: the effects a unit records (codes.action_effects); "Ingen effekt" is the analysis' own
GOOD_EFFECT, SOME_EFFECT, NOT_JUDGED = "God effekt", "Viss effekt", "Ej bedömd"

#: who owns an action, by the level of the unit whose plan it is in
OWNERS: Mapping[OrgLevel, tuple[str, ...]] = {
    OrgLevel.UNIT: (
        "Enhetschef",
        "Enhetschef",
        "Vårdutvecklare",
        "Patientsäkerhetssamordnare",
        "Medicinskt ansvarig läkare",
    ),
    OrgLevel.DEPARTMENT: ("Verksamhetschef", "Patientsäkerhetssamordnare"),
    OrgLevel.AREA: ("Områdeschef", "Patientsäkerhetssamordnare"),
    OrgLevel.REGION: ("Chefläkare", "Patientsäkerhetssamordnare"),
}
#: what a unit writes as its action, by finding kind; ``{label}`` is the finding's subject
TITLES: Mapping[str, tuple[str, ...]] = {
    "trend": (
        "Genomgång av orsakerna till förändringen på arbetsplatsträff",
        "Fördjupad analys av årets avvikelser tillsammans med medarbetarna",
    ),
    "surge": (
        "Riktad genomgång av {label} på arbetsplatsträff",
        "Förbättringsarbete inom {label} med stöd av vårdutvecklare",
    ),
    "spc": (
        "Genomgång av månaderna med avvikande antal avvikelser",
        "Månadsvis uppföljning av avvikelserna på ledningsmötet",
    ),
    "under_reporting": (
        "Utbildning i avvikelserapportering på arbetsplatsträff",
        "Påminnelse om att rapportera avvikelser vid varje veckomöte",
    ),
    "risk": (
        "Händelseanalys av avvikelserna med högst risknivå",
        "Riskanalys av de allvarligaste händelserna med berörd personal",
    ),
    "care_chain": (
        "Samverkansmöte med kommunen om avvikelser i vårdkedjan",
        "Gemensam rutin med kommunen för överrapportering vid utskrivning",
    ),
    "answer_time": (
        "Rutin för att besvara klagomål inom fyra veckor",
        "Veckovis genomgång av obesvarade klagomål",
    ),
    "training": (
        "Boka de chefer som saknar utbildningen i patientsäkerhet",
        "Utbildning i patientsäkerhet ingår i introduktionen av nya chefer",
    ),
    "knowledge_area": ("Förbättringsarbete inom kunskapsområdet {label}",),
    "actions": (
        "Genomgång av försenade åtgärder på ledningsmötet",
        "Ny tidplan för de åtgärder som inte blev klara",
    ),
}
#: a surge in one of these deviation categories gets its own kind of action
SURGE_TITLES: Mapping[str, str] = {
    "Fall": "Fallriskbedömning vid inskrivning av alla patienter",
    "Läkemedel": "Dubbelkontroll när läkemedel iordningställs",
    "Trycksår": "Riskbedömning för trycksår inom ett dygn efter inskrivning",
    "Vårdrelaterad infektion": "Hygienrond och genomgång av basala hygienrutiner",
    "Hot och våld": "Utbildning i bemötande vid hot och våld",
    "Remisshantering": "Rutin för bevakning av skickade remisser",
    "Kommunikation och information": "Strukturerad överrapportering vid varje skiftbyte",
}
GENERIC_TITLES = ("Genomgång av fyndet på arbetsplatsträff",)


@dataclass(frozen=True)
class Returned:
    """The worksheets handed back for one data year's plan: each unit's plan, then the same
    worksheet again at the follow-ups, in ``folder/ÅÅÅÅ-MM-DD/`` by the day handed back."""

    year: int
    folder: Path
    #: every worksheet handed back, by day, then by name
    files: tuple[Path, ...]

    def latest(self) -> tuple[Path, ...]:
        """Each unit's last worksheet (what its actions ended as), by name."""
        last = {p.name: p for p in self.files}  # the days sort as their ISO names
        return tuple(last[name] for name in sorted(last))


def write_returned_worksheets(
    out_dir: Path,
    config: Config,
    records: Mapping[str, Path],
    today: date,
    rng: random.Random,
    no_plan: str,
    days: random.Random,
    finished: random.Random,
) -> list[Returned]:
    """Each unit's filled-in worksheet (all but ``no_plan``'s) for the two data years before
    the default one and for the default one as far as ``today`` has come, as
    ``out_dir/actions-YEAR/ÅÅÅÅ-MM-DD/handlingsplan-YEAR-<HSA-id>.xlsx``, handed back on the
    days drawn from ``days``, a finished action written Klar on a day drawn from
    ``finished``; ``records`` are the demo's record files by kind."""
    now = datetime.combine(today, time(12), STOCKHOLM)
    first = default_data_year(today) - YEARS_BACK
    with TemporaryDirectory(prefix="arshjul-demo-") as name:
        scratch = Path(name)
        engine = make_engine(f"sqlite:///{scratch / 'demo.sqlite'}")
        try:
            migrate(engine)
            with engine.begin() as conn:
                for kind in ANALYSED_KINDS:
                    import_file(conn, config, kind, records[kind], now=now)
                tree = OrgTree.load(conn)
                answering = [u for u in tree.walk(tree.root.id) if u.id != no_plan]
                last = first + YEARS_BACK
                return [
                    _return_year(
                        conn,
                        config,
                        tree,
                        answering,
                        year,
                        now,
                        (rng, days, finished),
                        out_dir,
                        scratch,
                        until=today if year == last else None,
                    )
                    for year in range(first, last + 1)
                ]
        finally:
            engine.dispose()


def _return_year(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    answering: Sequence[Unit],
    year: int,
    now: datetime,
    streams: tuple[random.Random, random.Random, random.Random],
    out_dir: Path,
    scratch: Path,
    *,
    until: date | None,
) -> Returned:
    """Analyse ``year``, write the worksheets as handed back (the follow-ups until the next
    year's plan, or ``until``), and import what they hold at last."""
    rng, days, finished = streams
    today = now.date()
    data = gather(conn, tree, year, wheel=config.wheel, today=today)
    analyses = analyse(data, tree, config)
    found = [f for a in analyses.values() for f in a.findings]
    store_findings(conn, year, list(tree.units), found, RUN_ID)
    plans = action_plans.build_plans(conn, config, tree, year)
    stored = {f.id: f for p in plans.values() for f, _ in p.findings}
    stored |= {f.id: f for p in plans.values() for f in p.earlier_findings.values()}
    after = _measured(conn, config, tree, list(stored.values()))
    judge = Judge(config.codes.action_effects, stored, after)
    folder = handed_back_folder(out_dir, year)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("**/*.xlsx"):  # a unit that no longer answers leaves no file behind
        old.unlink()
    calendar = Deadlines.of(config, year, until)
    # a carried-over action was open in last year's worksheets, the last of them handed back
    # by this day: it is written Klar after it
    carried_until = Deadlines.of(config, year - 1, None).last_day
    files, rows = [], []
    for unit in answering:
        filled = fill(plans[unit.id], unit, config.codes.action_owner_roles, judge, rng, today)
        filled = _each(
            filled,
            lambda a: written_klar(a, finished, carried_until if (a.year or year) < year else None),
        )
        name = f"handlingsplan-{year}-{unit.id}.xlsx"
        shown = None
        for on, shown in handed_back(filled, calendar, days):
            written = datetime.combine(on, time(8), STOCKHOLM)  # the workbook's own time
            workbook = worksheet.build_workbook(unit, shown, config.codes, written)
            path = folder / on.isoformat() / name
            path.parent.mkdir(exist_ok=True)
            files.append(write_bytes_atomic(path, workbook_bytes(workbook)))
        if shown is not None:  # what the unit handed back last, as the run imports it
            rows += [r.cells() for r in worksheet.rows(shown) if r.title]
    # the same rows at once, as CSV: 50 workbooks read one by one would take seconds. The
    # last worksheet of a plan comes back by the year's last follow-up, before the day the
    # next analysis judges the plan's actions on (analysis.figures.as_of): it finds these
    # rows' statuses, as the run does with every worksheet imported
    import_file(
        conn, config, "actions", _write_rows(scratch / f"actions-{year}.csv", rows), now=now
    )
    return Returned(year, folder, tuple(sorted(files, key=lambda p: (p.parent.name, p.name))))


@dataclass(frozen=True)
class Deadlines:
    """The wheel's enhet deadlines a plan of one data year is handed back by: the plan's,
    the follow-ups after it, and the last day a worksheet can come (the day before the next
    plan may come, or today for the last plan)."""

    plan: date
    follow_ups: tuple[date, ...]
    last_day: date

    @classmethod
    def of(cls, config: Config, year: int, until: date | None) -> Deadlines:
        def unit_dates(milestone: str, calendar_year: int) -> list[date]:
            deadlines = config.wheel.milestone(milestone).deadlines
            rule = next(d.due for d in deadlines if d.level == OrgLevel.UNIT.value)
            return rule_dates(rule, calendar_year)

        plan = unit_dates(PLAN_MILESTONE, year + 1)[0]
        next_plan = unit_dates(PLAN_MILESTONE, year + 2)[0] - timedelta(days=RETURN_DAYS + 1)
        last_day = until if until is not None else next_plan
        follow_ups = [
            d
            for calendar_year in range(year + 1, last_day.year + 1)
            for d in unit_dates(FOLLOW_UP_MILESTONE, calendar_year)
            if plan < d and d - timedelta(days=RETURN_DAYS) <= last_day
        ]
        return cls(plan, tuple(follow_ups), last_day)


#: the wheel's milestones a unit hands its worksheet back by
PLAN_MILESTONE, FOLLOW_UP_MILESTONE = "ps-action-plan", "ps-follow-up"


def _day_before(deadline: date, days: random.Random) -> date:
    """The day a worksheet due on ``deadline`` is handed back."""
    if days.random() < LATE_CHANCE:
        return deadline + timedelta(days=days.randint(1, LATE_DAYS))
    return deadline - timedelta(days=days.randrange(RETURN_DAYS))


def written_klar(
    action: PlannedAction, finished: random.Random, carried_until: date | None
) -> PlannedAction:
    """``action``, if it ends Klar, with the day the unit writes it Klar (``done_on``, its
    Statusdatum from then on): before its Klart senast, now and then after it; an action
    carried over from an earlier plan (open in that plan's worksheets up to
    ``carried_until``) after that day."""
    if action.status is not ActionStatus.DONE or action.due_date is None:
        return action
    if finished.random() < DONE_LATE_CHANCE:
        day = action.due_date + timedelta(days=finished.randint(1, DONE_LATE_DAYS))
    else:
        day = action.due_date - timedelta(days=finished.randrange(DONE_EARLY_DAYS))
    if carried_until is not None:
        day = max(day, carried_until + timedelta(days=1))
    return replace(action, done_on=day)


def handed_back(plan: Plan, deadlines: Deadlines, days: random.Random) -> list[tuple[date, Plan]]:
    """The days ``plan``'s worksheet is handed back, each with the plan as it stood then: the
    plan by its deadline, then at each follow-up while an action is open (a few forgotten),
    the last time as the actions ended; an open row dated the day it is handed back, a Klar
    one the day it was written Klar. None when the plan's deadline is still ahead (the
    default data year's plan, some weeks before its deadline)."""
    first = _day_before(deadlines.plan, days)
    if first > deadlines.last_day:
        return []
    returns = [first]
    for deadline in deadlines.follow_ups:
        if not any(a.status in OPEN for a in as_of(plan, returns[-1]).actions):
            break
        if days.random() < MISSED_FOLLOW_UP:
            continue
        on = _day_before(deadline, days)
        if returns[-1] < on <= deadlines.last_day:
            returns.append(on)
    return [(on, dated(plan, on) if on == returns[-1] else as_of(plan, on)) for on in returns]


def as_of(plan: Plan, on: date) -> Plan:
    """``plan`` as a follow-up on ``on`` finds it: an action that ends finished is still in
    progress until the day it is written Klar, one struck out while its date is ahead; every
    row dated as :func:`dated`."""

    def then(action: PlannedAction) -> PlannedAction:
        ahead = action.done_on if action.done_on is not None else action.due_date
        if action.status in OPEN or action.is_decision or ahead is None or on >= ahead:
            return action
        return replace(action, status=ActionStatus.IN_PROGRESS, effect=None, done_on=None)

    return dated(_each(plan, then), on)


def dated(plan: Plan, on: date) -> Plan:
    """Every row of ``plan`` with Statusdatum ``on``, as the enhetschef who checked it
    writes (the follow-ups are judged by this day, not by the import's); a Klar row keeps
    the day it was written Klar, not after ``on``."""

    def written(action: PlannedAction) -> PlannedAction:
        klar = action.done_on
        return replace(action, status_date=on if klar is None else min(klar, on))

    return _each(plan, written)


def _each(plan: Plan, change: Callable[[PlannedAction], PlannedAction]) -> Plan:
    return replace(
        plan,
        findings=tuple((f, tuple(change(a) for a in actions)) for f, actions in plan.findings),
        other=tuple(change(a) for a in plan.other),
        carried=tuple(change(a) for a in plan.carried),
    )


def _write_rows(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(worksheet.HEADERS)
        writer.writerows([_text(v) for v in row] for row in rows)
    return path


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def _measured(
    conn: Connection, config: Config, tree: OrgTree, findings: Sequence[Finding]
) -> dict[str, float | None]:
    """Each finding's measure in the year after its own."""
    after: dict[str, float | None] = {}
    for follow in sorted({f.year + 1 for f in findings}):
        due = [f for f in findings if f.year + 1 == follow]
        after |= action_plans.measure_after(conn, config, tree, follow, due)
    return after


def judged_effect(finding: Finding, after: float | None) -> str:
    """The effect a unit records for a finished action on ``finding`` whose measure a year
    later is ``after`` (see the module docstring)."""
    f = finding
    closed = action_plans.gap_closed(f.kind, f.value, after, f.baseline)
    if closed is None:
        return NOT_JUDGED
    return GOOD_EFFECT if closed >= GOOD else SOME_EFFECT if closed >= SOME else NO_EFFECT


@dataclass(frozen=True)
class Judge:
    """Effects from the data, limited to the region's list (``codes.action_effects``)."""

    effects: Sequence[str]
    findings: Mapping[str, Finding]
    after: Mapping[str, float | None]

    def effect(self, finding_id: str | None) -> str | None:
        finding = self.findings.get(finding_id or "")
        if finding is None:
            return None
        name = judged_effect(finding, self.after.get(finding.id))
        return name if name in self.effects else None


def _draw(rng: random.Random, weights: Mapping[ActionStatus, int]) -> ActionStatus:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _title(rng: random.Random, finding: Finding) -> str:
    label = finding.key.partition(":")[2] if finding.kind == "surge" else finding.key
    if finding.kind == "surge" and label in SURGE_TITLES and rng.random() < 0.5:
        return SURGE_TITLES[label]
    template = rng.choice(TITLES.get(finding.kind, GENERIC_TITLES))
    return template.format(label=label.lower() if finding.kind == "surge" else label)


def fill(
    plan: Plan,
    unit: Unit,
    roles: Sequence[str],
    judge: Judge,
    rng: random.Random,
    today: date,
) -> Plan:
    """``plan`` as ``unit`` hands its worksheet back: actions on most findings, in the rows
    the worksheet prepared for them, and the carried-over actions followed up."""
    prepared = {row.finding_id: row.action_id for row in worksheet.rows(plan) if not row.title}
    owners = [r for r in OWNERS[unit.level] if r in roles] or list(roles[:1])

    def answer(finding: Finding) -> tuple[PlannedAction, ...]:
        if rng.random() >= ANSWER_CHANCE.get(finding.severity, 1.0):
            return ()
        y, m, d = rng.choices(DUE_DATES, weights=DUE_WEIGHTS)[0]
        due = date(plan.year + y, m, d)
        status = _draw(rng, PAST_DUE if due < today else NOT_YET_DUE)
        done = status is ActionStatus.DONE
        action = PlannedAction(
            action_id=prepared[finding.id],
            unit_id=unit.id,
            finding_id=finding.id,
            title=_title(rng, finding),
            owner_role=rng.choice(owners),
            due_date=due,
            status=status,
            effect=judge.effect(finding.id) if done else None,
        )
        return (action,)

    def follow_up(action: PlannedAction) -> PlannedAction:
        status = _draw(rng, CARRIED_ON)
        done = status is ActionStatus.DONE
        return replace(
            action, status=status, effect=judge.effect(action.finding_id) if done else None
        )

    return replace(
        plan,
        findings=tuple((f, answer(f)) for f, _ in plan.findings),
        carried=tuple(follow_up(a) for a in plan.carried),
    )

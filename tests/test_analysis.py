"""Analysis: statistics against hand-computed examples, planted signals in synthetic data."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Select, create_engine, insert, select

from arshjul import evidence, figures
from arshjul.analysis import document as analysis_document
from arshjul.analysis import figures as analysis_figures
from arshjul.analysis import findings as analysis_findings
from arshjul.analysis import standouts, stats
from arshjul.analysis.standouts import Reason
from arshjul.cli import main
from arshjul.config import Config, StandoutRules
from arshjul.demo import build_organisation, silent_units, write_demo
from arshjul.documents import provenance
from arshjul.formats.tables import parse_html, read_tables
from arshjul.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Capacity,
    Complaint,
    ComplaintStatus,
    Deviation,
    DeviationStatus,
    Finding,
    ImportBatch,
    OrgLevel,
    OrgUnit,
    StepRun,
    Training,
)
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period
from tests.conftest import NOW, STOCKHOLM

pytestmark = pytest.mark.both_databases

YEAR = 2025

# --- pure statistics -----------------------------------------------------------------------


def test_c_chart_limits_and_a_point_beyond_them():
    chart = stats.control_chart([1, 1, 1, 1, 1, 10])
    # c̄ = 15/6 = 2.5, limits 2.5 ± 3·√2.5 = 2.5 ± 4.743, the lower one cut at 0
    assert chart.centre == 2.5
    assert chart.upper[0] == pytest.approx(7.2434, abs=1e-4)
    assert chart.lower == (0.0,) * 6
    assert chart.beyond == (5,)


def test_u_chart_limits_follow_each_points_exposure():
    chart = stats.control_chart([2, 10], exposure=[10, 50])
    # ū = 12/60 = 0.2; n=10: 0.2 ± 3·√0.02; n=50: 0.2 ± 3·√0.004
    assert chart.centre == pytest.approx(0.2)
    assert chart.values == pytest.approx((0.2, 0.2))
    assert chart.upper == pytest.approx((0.6243, 0.3897), abs=1e-4)
    assert chart.lower == pytest.approx((0.0, 0.0103), abs=1e-4)
    assert chart.beyond == ()


@pytest.mark.parametrize(
    ("values", "runs"),
    [
        ([11] * 8 + [9] + [11] * 7, ((0, 7),)),  # eight above; seven is not enough
        ([11] * 4 + [10] + [11] * 4, ()),  # a point on the centre line ends the run
        ([9] * 3 + [11] * 9, ((3, 11),)),  # a run that lasts to the last point
        ([9] * 8 + [11] * 8, ((0, 7), (8, 15))),  # below, then above
        ([9, 11] * 8, ()),
    ],
)
def test_run_of_eight_on_one_side(values, runs):
    assert stats.long_runs(values, 10.0) == runs


def test_pareto_vital_few_reach_eighty_per_cent():
    rows = stats.pareto(Counter({"C": 10, "A": 50, "E": 4, "B": 30, "D": 6, "F": 0}))
    assert [(r.name, r.cumulative, r.vital) for r in rows] == [
        ("A", 0.5, True),
        ("B", 0.8, True),  # reaches 80 %: the last of the vital few
        ("C", 0.9, False),
        ("D", 0.96, False),
        ("E", 1.0, False),
    ]


@pytest.mark.parametrize(
    ("counts", "baseline", "significant"),
    [
        ((100, 100, 140), 100, True),  # z = 40/10 = 4
        ((100, 100, 60), 100, True),  # a fall counts too
        ((100, 100, 125), 100, False),  # z = 2.5
        ((2, 2, 9), 2, False),  # z ≈ 4.9 but too few to judge
        ((None, 100, 140), 100, True),  # a year without data is no baseline
        ((None, None, 140), None, False),
    ],
)
def test_trend_against_the_mean_of_previous_years(counts, baseline, significant):
    t = stats.trend("k", "avvikelser", counts)
    assert (t.baseline, t.significant) == (baseline, significant)


def test_answer_times_from_a_histogram_of_days():
    answers = figures.durations(Counter({5: 2, 30: 1, None: 1}), 28)
    assert (answers.total, answers.done, answers.median_days) == (4, 3, 5)
    assert answers.within_target == 2
    assert answers.share_within == 0.5


def test_risk_matrix_has_the_highest_probability_on_top(config: Config):
    matrix = stats.risk_matrix(Counter({(4, 4): 1, (1, 1): 2, (None, 2): 5}), config.codes)
    top_right, bottom_left = matrix[0][-1], matrix[-1][0]
    assert (top_right.count, top_right.score, top_right.band) == (1, 16, "mycket hög")
    assert (bottom_left.count, bottom_left.score, bottom_left.band) == (2, 1, "låg")
    assert sum(c.count for row in matrix for c in row) == 3  # unassessed ones are not in it


# --- synthetic region with planted signals -------------------------------------------------

#: one deviation: (category, consequence, probability, care chain)
Dev = tuple[str, int, int, bool]
Plan = Callable[[int, int], list[Dev]]


def stable(year: int, month: int) -> list[Dev]:
    """9 and 11 in turn: centre 10, never eight months on one side, no change between years."""
    cats = ("Vård och behandling", "Läkemedel", "Dokumentation")
    return [(cats[k % 3], 1, 1, False) for k in range(9 if month % 2 else 11)]


def step_change(year: int, month: int) -> list[Dev]:
    return stable(year, month) * (2 if year == YEAR else 1)


def category_surge(year: int, month: int) -> list[Dev]:
    """Fall from 1 to 4 a month while Läkemedel falls as much: the total stays 20."""
    falls = 4 if year == YEAR else 1
    return (
        [("Fall", 1, 1, False)] * falls
        + [("Läkemedel", 1, 1, False)] * (12 - falls)
        + [("Vård och behandling", 1, 1, False)] * 8
    )


def silent(year: int, month: int) -> list[Dev]:
    return []


def care_chain_and_high_risk(year: int, month: int) -> list[Dev]:
    devs = [(c, q, p, k < 2) for k, (c, q, p, _) in enumerate(stable(year, month))]
    if year == YEAR and month == 1:
        devs[-1] = ("Läkemedel", 4, 4, False)
    return devs


#: enhet -> (deviations per month, days to answer each complaint)
UNITS: dict[str, tuple[Plan, int]] = {
    "E1": (step_change, 10),
    "E2": (stable, 10),  # the control: nothing to find
    "E3": (silent, 10),
    "E4": (category_surge, 10),
    "E5": (care_chain_and_high_risk, 40),
}

#: patient days per month: E2 steady; E5 half as many in YEAR, while it reports as many
PATIENT_DAYS: dict[str, Callable[[int], int]] = {
    "E2": lambda year: 1000,
    "E5": lambda year: 500 if year == YEAR else 1000,
}

#: the patient-safety roster: (unit, role, completed, not completed); E4's managers lag
TRAINING = [
    ("E2", "chef", 2, 0),
    ("E2", "medarbetare", 3, 0),
    ("E4", "chef", 1, 3),
    ("E4", "medarbetare", 10, 0),
]

PLAN = YEAR - 1  # the action plan followed up in the analysis of YEAR
#: (action id, unit, finding id, status, due date, effect)
ACTIONS = [
    # E1: one late, one not yet due, one without effect, one dropped; one of an older plan
    (
        f"E1-{PLAN}-001",
        "E1",
        f"{PLAN}:E1:trend:avvikelser",
        ActionStatus.IN_PROGRESS,
        date(YEAR, 6, 30),
        None,
    ),
    (f"E1-{PLAN}-002", "E1", None, ActionStatus.PLANNED, date(NOW.year + 1, 1, 31), None),
    (f"E1-{PLAN}-003", "E1", None, ActionStatus.DONE, date(YEAR, 3, 31), "Ingen effekt"),
    (f"E1-{PLAN}-004", "E1", None, ActionStatus.DROPPED, date(YEAR, 1, 1), None),
    (
        f"E1-{PLAN - 1}-001",
        "E1",
        f"{PLAN - 1}:E1:risk:hög",
        ActionStatus.PLANNED,
        date(PLAN, 5, 1),
        None,
    ),
    # E3: an action the unit numbered itself, answering a finding of the plan's year
    (
        "egen-1",
        "E3",
        f"{PLAN}:E3:under_reporting:avvikelser",
        ActionStatus.PLANNED,
        date(YEAR, 3, 1),
        None,
    ),
    # E2, the control: done with effect, and one still in time
    (f"E2-{PLAN}-001", "E2", None, ActionStatus.DONE, date(YEAR, 4, 30), "God effekt"),
    (f"E2-{PLAN}-002", "E2", None, ActionStatus.IN_PROGRESS, date(NOW.year + 1, 3, 1), None),
]


def load_region(conn: Connection) -> OrgTree:
    batch = conn.execute(
        insert(ImportBatch)
        .values(
            kind="synthetic",
            file_name="synthetic.csv",
            sha256="0" * 64,
            rows=0,
            inserted=0,
            updated=0,
            imported_at=NOW,
        )
        .returning(ImportBatch.id)
    ).scalar_one()
    org = [("R1", "Region Syntet", OrgLevel.REGION, None), ("A1", "Område", OrgLevel.AREA, "R1")]
    org += [("V1", "Verksamhet", OrgLevel.DEPARTMENT, "A1")]
    org += [(uid, f"Enhet {uid}", OrgLevel.UNIT, "V1") for uid in UNITS]
    conn.execute(
        insert(OrgUnit),
        [dict(zip(("id", "name", "level", "parent_id"), u, strict=True)) for u in org],
    )
    deviations, complaints = [], []
    for uid, (plan, answer_days) in UNITS.items():
        for year in (YEAR - 2, YEAR - 1, YEAR):
            for month in range(1, 13):
                for k, (category, consequence, probability, care_chain) in enumerate(
                    plan(year, month)
                ):
                    deviations.append(
                        {
                            "source_id": f"{uid}-{year}-{month}-{k}",
                            "unit_id": uid,
                            "reported_date": date(year, month, 1 + k % 28),
                            "category": category,
                            "consequence": consequence,
                            "probability": probability,
                            "lex_maria": False,
                            "care_chain": care_chain,
                            "status": DeviationStatus.CLOSED,
                            "batch_id": batch,
                        }
                    )
                for k in range(2):
                    received = date(year, month, 1 + k)
                    complaints.append(
                        {
                            "source_id": f"K{uid}-{year}-{month}-{k}",
                            "unit_id": uid,
                            "received_date": received,
                            "channel": "1177",
                            "category": "Kommunikation",
                            "answered_date": received + timedelta(days=answer_days),
                            "status": ComplaintStatus.ANSWERED,
                            "batch_id": batch,
                        }
                    )
    conn.execute(insert(Deviation), deviations)
    conn.execute(insert(Complaint), complaints)
    conn.execute(
        insert(Capacity),
        [
            dict(unit_id=uid, month=date(year, month, 1), patient_days=days(year), batch_id=batch)
            for uid, days in PATIENT_DAYS.items()
            for year in (YEAR - 2, YEAR - 1, YEAR)
            for month in range(1, 13)
        ],
    )
    conn.execute(
        insert(Training),
        [
            dict(
                person_key=f"{uid}-{role}-{k}",
                unit_id=uid,
                role=role,
                course="patientsäkerhet",
                completed_date=date(PLAN, 9, 1) if k < done else None,
                batch_id=batch,
            )
            for uid, role, done, not_done in TRAINING
            for k in range(done + not_done)
        ],
    )
    conn.execute(
        insert(Action),
        [
            dict(
                action_id=action_id,
                unit_id=uid,
                finding_id=finding_id,
                title="Åtgärd",
                owner_role="Enhetschef",
                due_date=due,
                status=status,
                effect=effect,
                # as the units wrote them at the year's last follow-up, before the analysis
                status_date=date(YEAR, 12, 15),
                batch_id=batch,
            )
            for action_id, uid, finding_id, status, due, effect in ACTIONS
        ],
    )
    return OrgTree.load(conn)


@pytest.fixture
def tree(conn: Connection) -> OrgTree:
    return load_region(conn)


@pytest.fixture
def analyses(
    conn: Connection, config: Config, tree: OrgTree
) -> dict[str, analysis_findings.Analysis]:
    data = analysis_figures.gather(conn, tree, YEAR, wheel=config.wheel, today=NOW.date())
    return analysis_findings.analyse(data, tree, config)


def found(
    analyses: dict[str, analysis_findings.Analysis], unit_id: str
) -> dict[str, analysis_findings.Finding]:
    return {f"{f.kind}:{f.key}": f for f in analyses[unit_id].findings}


def test_step_change_is_a_significant_rise_and_a_run_above_the_centre_line(analyses):
    e1 = found(analyses, "E1")
    rise = e1["trend:avvikelser"]
    assert (rise.value, rise.baseline, rise.severity) == (240, 120, 3)
    assert rise.title.startswith("Markant ökning av avvikelser: 240 mot 120,0")
    run = e1["spc:run"]
    assert run.title == "12 månader i följd över medellinjen (jan 2025–dec 2025)"
    assert "spc:beyond" not in e1  # 22 a month stays below the upper limit of 24,3


def test_category_surge_is_found_while_the_total_is_unchanged(analyses):
    e4 = found(analyses, "E4")
    surge = e4["surge:avvikelse:Fall"]
    assert (surge.value, surge.baseline) == (48, 12)
    assert "Händelsetyp Fall" in surge.title
    assert not any(k.startswith(("trend:", "spc:")) for k in e4)
    assert "surge:avvikelse:Läkemedel" not in e4  # a fall is no surge


def test_silent_unit_is_an_under_reporting_risk(analyses):
    e3 = found(analyses, "E3")
    gap = e3["under_reporting:avvikelser"]
    # peers E1, E2, E4, E5 reported 240, 120, 240, 120: median 180
    assert (gap.value, gap.baseline, gap.severity) == (0, 180, 3)
    assert gap.title.startswith("Inga avvikelser rapporterade")


def test_care_chain_high_risk_and_slow_answers_are_found(analyses):
    e5 = found(analyses, "E5")
    care = e5["care_chain:avvikelser"]
    assert (care.value, care.severity) == (pytest.approx(24 / 120), 3)
    assert e5["risk:mycket hög"].value == 1
    slow = e5["answer_time:klagomal"]
    assert (slow.value, slow.baseline, slow.severity) == (0.0, 0.8, 3)


def test_stable_control_unit_has_no_finding(analyses):
    assert analyses["E2"].findings == ()
    a = analyses["E2"]
    assert a.chart is not None and a.chart.beyond == () and a.chart.runs == ()
    # 42, 42 and 36: the first two reach only 70 %, so all three are the vital few
    assert [(r.name, r.vital) for r in a.pareto] == [
        ("Läkemedel", True),
        ("Vård och behandling", True),
        ("Dokumentation", True),
    ]


def test_u_chart_per_patient_days_finds_a_rise_the_counts_hide(analyses):
    e5 = analyses["E5"]
    # E5 reports 9 and 11 a month throughout, on half the patient days in YEAR
    assert e5.exposure == (1.0,) * 24 + (0.5,) * 12
    assert e5.chart is not None and e5.chart.centre == 12.0  # 360 / 30 thousand days
    assert e5.chart.upper[0] == pytest.approx(12 + 3 * 12**0.5)
    assert e5.chart.upper[-1] == pytest.approx(12 + 3 * 24**0.5)  # wider on fewer days
    run = found(analyses, "E5")["spc:run"]
    assert run.title == "12 månader i följd över medellinjen (jan 2025–dec 2025)"
    assert (run.value, run.baseline, run.measure) == (
        20.0,
        12.0,
        "avvikelser per 1\u00a0000 vårddagar",
    )
    assert analyses["E1"].exposure is None  # no capacity data: a c-chart of counts
    assert analyses["E2"].exposure == (1.0,) * 36  # steady: the u-chart stays silent


def test_managers_training_below_target_per_unit_and_subtree(analyses):
    lagging = found(analyses, "E4")["training:patientsäkerhet:chef"]
    assert (lagging.value, lagging.baseline, lagging.severity) == (0.25, 0.9, 3)
    assert lagging.title.startswith("25,0\u00a0% av cheferna (1 av 4) har genomfört")
    # the verksamhet: E2's 2 of 2 and E4's 1 of 4
    subtree = found(analyses, "V1")["training:patientsäkerhet:chef"]
    assert (subtree.value, subtree.severity) == (0.5, 2)
    assert "training:patientsäkerhet:chef" in found(analyses, "R1")
    assert analyses["E2"].training_coverage("chef") == 1.0
    assert analyses["E1"].training_coverage("chef") is None  # no roster: nothing to judge
    assert not any(k.startswith("training:") for k in found(analyses, "E1"))


def test_last_years_actions_overdue_or_without_effect(analyses):
    assert analyses["E1"].actions == analysis_figures.ActionFollowUp(4, 1, 1)
    e1 = found(analyses, "E1")
    overdue = e1["actions:overdue"]
    assert (overdue.value, overdue.baseline, overdue.severity) == (1, 4, 2)
    assert e1["actions:without_effect"].value == 1
    # an action numbered by the unit itself belongs to the plan through its finding
    e3 = found(analyses, "E3")["actions:overdue"]
    assert (e3.value, e3.baseline, e3.severity) == (1, 1, 3)
    assert analyses["E2"].actions == analysis_figures.ActionFollowUp(2, 0, 0)
    assert analyses["V1"].actions == analysis_figures.ActionFollowUp()  # its own plan has none


def test_actions_are_read_only_with_a_day_to_judge_them(conn, config, tree):
    data = analysis_figures.gather(conn, tree, YEAR, wheel=config.wheel)
    assert {d.actions for d in data.units.values()} == {analysis_figures.ActionFollowUp()}


MILESTONE = date(2026, 2, 10)  # ps-analyse, enhet: 10 Feb, a Tuesday in 2026


def test_the_analysis_day_is_its_earliest_deadline_in_the_wheel_or_the_run_day(config):
    wheel = config.wheel
    assert analysis_figures.as_of(wheel, YEAR, NOW.date(), "analyse") == analysis_figures.AsOf(
        MILESTONE, MILESTONE
    )
    # 10 Feb 2030 is a Sunday: the deadline moves back to Friday the 8th
    assert analysis_figures.as_of(wheel, 2029, date(2030, 12, 1), "analyse").day == date(2030, 2, 8)
    # a run before the milestone shows what is known on its own day
    early = analysis_figures.as_of(wheel, YEAR, date(2026, 1, 20), "analyse")
    assert (early.day, early.milestone, early.at_milestone) == (date(2026, 1, 20), MILESTONE, False)
    no_analysis = wheel.model_copy(
        update={"milestones": tuple(m for m in wheel.milestones if m.step != "analyse")}
    )
    assert analysis_figures.as_of(
        no_analysis, YEAR, NOW.date(), "analyse"
    ) == analysis_figures.AsOf(NOW.date(), None)


def imported(conn: Connection, at: datetime, name: str) -> int:
    """A batch of returned worksheets, the file ``name``, imported at ``at``."""
    return conn.execute(
        insert(ImportBatch)
        .values(
            kind="actions",
            file_name=name,
            sha256=hashlib.sha256(f"{name}@{at.isoformat()}".encode()).hexdigest(),
            rows=0,
            inserted=0,
            updated=0,
            imported_at=at,
        )
        .returning(ImportBatch.id)
    ).scalar_one()


def returned(
    conn: Connection,
    action_id: str,
    due: date,
    rows: list[tuple[ActionStatus, date | None, datetime]],
    effect: str | None = None,
) -> None:
    """An action of E4 in the 2024 plan, handed back as ``rows`` of (status, Statusdatum,
    import time), oldest first; ``action`` keeps the last, as the importer does."""
    batches = [imported(conn, at, f"{action_id}.csv") for _, _, at in rows]
    conn.execute(
        insert(ActionUpdate),
        [
            dict(action_id=action_id, status=status, status_date=written, batch_id=batch)
            for (status, written, _), batch in zip(rows, batches, strict=True)
        ],
    )
    status, written, _ = rows[-1]
    conn.execute(
        insert(Action).values(
            action_id=action_id,
            unit_id="E4",
            finding_id=None,
            title="Åtgärd",
            owner_role="Enhetschef",
            due_date=due,
            status=status,
            effect=effect,
            status_date=written,
            batch_id=batches[-1],
        )
    )


def at(day: date) -> datetime:
    return datetime.combine(day, time(8), STOCKHOLM)


def e4_plan(conn: Connection) -> None:
    """E4's 2024 plan, followed up before and after the analysis of 2025 (10 Feb 2026)."""
    ongoing, done = ActionStatus.IN_PROGRESS, ActionStatus.DONE
    autumn, spring = date(2025, 12, 15), date(2026, 3, 1)
    # due in June 2025, Pågår at the milestone, written Klar in March: overdue at it
    returned(
        conn,
        "E4-2024-001",
        date(2025, 6, 30),
        [(ongoing, autumn, at(autumn)), (done, spring, at(spring))],
        "God effekt",
    )
    # due after the milestone: not overdue at it, though it is by November
    returned(conn, "E4-2024-002", date(2026, 3, 31), [(ongoing, autumn, at(autumn))])
    # Klar in October 2025 without effect
    returned(
        conn,
        "E4-2024-003",
        date(2025, 9, 30),
        [(done, date(2025, 10, 1), at(autumn))],
        "Ingen effekt",
    )
    # due between a January run and the milestone: overdue at the milestone only
    returned(conn, "E4-2024-005", date(2026, 2, 1), [(ongoing, autumn, at(autumn))])
    # first written into a worksheet in April 2026: not in the plan as known at the milestone
    returned(
        conn, "E4-2024-004", date(2026, 6, 30), [(ongoing, date(2026, 4, 1), at(date(2026, 4, 1)))]
    )


def test_last_years_actions_are_judged_as_of_the_analysis_day(conn, config, tree):
    e4_plan(conn)
    data = analysis_figures.gather(conn, tree, YEAR, wheel=config.wheel, today=NOW.date())
    assert data.as_of == analysis_figures.AsOf(MILESTONE, MILESTONE)
    # 001, 002, 003 and 005 were written by then: 001 and 005 overdue, 003 without effect
    assert data.units["E4"].actions == analysis_figures.ActionFollowUp(4, 2, 1)
    e4 = analysis_findings.analyse(data, tree, config)["E4"]
    overdue = {f"{f.kind}:{f.key}": f for f in e4.findings}["actions:overdue"]
    assert overdue.title == (
        "2 av 4 åtgärder i förra årets handlingsplan är inte klara fast klart-datum har passerat"
        " (per 2026-02-10)"
    )
    # judged on the run day with today's statuses, as before: 004 counts, 001 is Klar, and
    # 002, 004 and 005 are overdue
    on_run_day = analysis_figures.count_actions(conn, YEAR - 1, NOW.date(), STOCKHOLM)
    assert on_run_day["E4"] == analysis_figures.ActionFollowUp(5, 3, 1)
    # a run in January, before the milestone, judges on its own day: 005 is not due yet
    early = analysis_figures.gather(conn, tree, YEAR, wheel=config.wheel, today=date(2026, 1, 20))
    assert early.as_of == analysis_figures.AsOf(date(2026, 1, 20), MILESTONE)
    assert early.units["E4"].actions == analysis_figures.ActionFollowUp(4, 1, 1)


def test_an_import_just_after_midnight_is_that_days_in_stockholm(conn, tree, config):
    # Pågår in December; Klar without a Statusdatum, imported 00:30 on 11 Feb in Stockholm,
    # which is still 10 Feb (23:30) in UTC
    after_midnight = datetime(2026, 2, 10, 23, 30, tzinfo=UTC)
    assert after_midnight.astimezone(STOCKHOLM).date() == date(2026, 2, 11)
    rows = [(ActionStatus.IN_PROGRESS, date(2025, 12, 15), at(date(2025, 12, 15)))]
    returned(
        conn, "E4-2024-001", date(2025, 6, 30), [*rows, (ActionStatus.DONE, None, after_midnight)]
    )

    def state(zone: ZoneInfo, on: date) -> ActionStatus:
        return evidence.action_states(conn, zone, on, of=Action.unit_id == "E4")["E4-2024-001"]

    assert state(STOCKHOLM, MILESTONE) is ActionStatus.IN_PROGRESS
    assert state(STOCKHOLM, MILESTONE + timedelta(days=1)) is ActionStatus.DONE
    assert state(ZoneInfo("UTC"), MILESTONE) is ActionStatus.DONE  # what UTC would say
    # so the analysis finds it overdue at the milestone
    data = analysis_figures.gather(conn, tree, YEAR, wheel=config.wheel, today=NOW.date())
    assert data.units["E4"].actions == analysis_figures.ActionFollowUp(1, 1, 0)


def test_an_action_stored_without_history_holds_from_its_import_day_in_stockholm(conn, tree):
    # an action row of a database from before action_update: its own Statusdatum-less row,
    # imported at 00:30 on 11 Feb in Stockholm, is not known on 10 Feb
    batch = imported(conn, datetime(2026, 2, 10, 23, 30, tzinfo=UTC), "E4.csv")
    conn.execute(
        insert(Action).values(
            action_id="E4-2024-001",
            unit_id="E4",
            title="Åtgärd",
            owner_role="Enhetschef",
            due_date=date(2025, 6, 30),
            status=ActionStatus.IN_PROGRESS,
            batch_id=batch,
        )
    )
    of = Action.unit_id == "E4"
    assert evidence.action_states(conn, STOCKHOLM, MILESTONE, of=of) == {}
    assert evidence.action_states(conn, STOCKHOLM, MILESTONE + timedelta(days=1), of=of) == {
        "E4-2024-001": ActionStatus.IN_PROGRESS
    }


def test_a_rerun_after_the_analysis_day_writes_the_same_document(conn, config, tree, tmp_path):
    e4_plan(conn)

    def write(today: date, run_id: str) -> bytes:
        data = analysis_figures.gather(conn, tree, YEAR, wheel=config.wheel, today=today)
        analyses = analysis_findings.analyse(data, tree, config)
        now = datetime.combine(today, time(9), STOCKHOLM)
        origin = provenance(conn, ("synthetic", "actions"), now=now, run_id=run_id)
        analysis_document.write_documents(
            tmp_path, config, tree, Period.full_year(YEAR), analyses, ["E4"], origin
        )
        return (tmp_path / "2025" / "enheter" / "E4" / "analys.html").read_bytes()

    at_milestone = write(MILESTONE, "run-feb")
    text = at_milestone.decode("utf-8")
    assert "Status per 2026-02-10, analysens datum i årshjulet:" in text
    assert "Handlingsplanen för 2024 har 4 åtgärder: 2 är inte klara fast" in text
    assert "run-feb" in text
    # 001 written Klar in March and 004 added in April change nothing in November
    assert write(NOW.date(), "run-nov") == at_milestone
    # a run before the milestone says it judged on its own day
    early = write(date(2026, 1, 20), "run-jan").decode("utf-8")
    assert (
        "Status per 2026-01-20, dagen analysen gjordes, före analysens datum i årshjulet"
        " (2026-02-10):"
    ) in early
    assert "Handlingsplanen för 2024 har 4 åtgärder: 1 är inte klar fast" in early


def test_knowledge_area_rise_is_found_region_wide_and_per_omrade(config, analyses):
    # Fall rises at E4 from 12 to 48 a year; its knowledge area holds nothing else here
    area = config.knowledge_areas.areas_of("Fall")[0]
    for uid in ("R1", "A1"):
        rise = found(analyses, uid)[f"knowledge_area:{area}"]
        assert (rise.value, rise.baseline) == (48, 12)
        assert rise.title.startswith(f"Markant ökning av avvikelser inom kunskapsområdet {area}")
    # Läkemedel falls at E4 while it doubles at E1: no knowledge-area finding for it
    drug_area = config.knowledge_areas.areas_of("Läkemedel")[0]
    assert f"knowledge_area:{drug_area}" not in found(analyses, "R1")
    # below område level the knowledge areas are not followed up
    assert analyses["V1"].knowledge_trends == () and analyses["E4"].knowledge_trends == ()
    assert [t.label for t in analyses["R1"].knowledge_trends] == list(config.knowledge_areas.areas)


def test_roll_ups_are_analysed_and_the_region_has_no_peers(analyses):
    region = analyses["R1"]
    assert region.deviations == 240 + 120 + 0 + 240 + 120
    assert region.peers is None
    assert "trend:avvikelser" in found(analyses, "V1")  # 720 against 600: z ≈ 4,9


def test_a_year_never_imported_is_no_baseline(conn, config, tree):
    data = analysis_figures.gather(
        conn, tree, YEAR + 1, wheel=config.wheel
    )  # 2026 has no data; 2024 and 2025 have
    assert data.with_data == {YEAR - 1, YEAR}
    e2 = analysis_findings.analyse(data, tree, config)["E2"]
    assert e2.trends[0].counts == (120, 120, None)
    assert len(e2.months) == 24


def test_findings_have_stable_ids_and_a_rerun_replaces_them(conn, analyses):
    unit_ids = list(analyses)
    findings = [f for a in analyses.values() for f in a.findings]
    assert "2025:E3:under_reporting:avvikelser" in {f.id for f in findings}
    analysis_findings.store_findings(conn, YEAR, unit_ids, findings, "run-1")
    first = set(conn.execute(select(Finding.id)).scalars())
    analysis_findings.store_findings(conn, YEAR, unit_ids, findings, "run-2")
    rows = conn.execute(select(Finding.id, Finding.run_id)).all()
    assert {i for i, _ in rows} == first and len(rows) == len(findings)
    assert {r for _, r in rows} == {"run-2"}
    # a finding that no longer holds disappears; other units are untouched
    analysis_findings.store_findings(conn, YEAR, ["E3"], [], "run-3")
    left = set(conn.execute(select(Finding.id)).scalars())
    assert left == {i for i in first if ":E3:" not in i}


def test_document_shows_findings_chart_and_tables(conn, config, tree, analyses, tmp_path: Path):
    origin = provenance(conn, ("synthetic",), now=NOW, run_id="test-run")
    written = analysis_document.write_documents(
        tmp_path, config, tree, Period.full_year(YEAR), analyses, ["E1", "V1"], origin
    )
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "2025/enheter/E1/analys.html",
        "2025/verksamheter/V1/analys.html",
    ]
    unit = written[0].read_text("utf-8")
    assert "Analys av avvikelser, klagomål och synpunkter 2025" in unit
    assert "Region Syntet › Område › Verksamhet › Enhet E1" in unit
    assert "Markant ökning av avvikelser: 240 mot 120,0" in unit
    assert "<code>2025:E1:trend:avvikelser</code>" in unit
    # two years below the centre line, then one above: every month is part of a run
    assert unit.count("<title>Del av en lång serie på samma sida</title>") == 36
    assert "Serie på samma sida: jan 2023–dec 2024." in unit
    assert "Serie på samma sida: jan 2025–dec 2025." in unit
    assert "De få viktiga" in unit and "mycket hög" in unit
    assert "synthetic.csv" in unit and "test-run" in unit
    assert "<code>2025:E1:actions:overdue</code>" in unit
    # a count and its words agree, each with its own number: 4 åtgärder, 1 is not klar
    assert "Handlingsplanen för 2024 har 4 åtgärder: 1 är inte klar fast" in unit
    assert "Status per 2026-02-10, analysens datum i årshjulet:" in unit
    assert "c-diagram: avvikelser per månad" in unit
    department = written[1].read_text("utf-8")
    assert "Per enhet" in department and "Enhet E3" in department
    assert "u-diagram: avvikelser per 1\u00a0000 vårddagar" in department
    assert "50,0\u00a0% (3 av 6) – under målet" in department
    assert "Kunskapsområden" not in department  # followed up for region and områden


def test_region_document_follows_knowledge_areas(conn, config, tree, analyses, tmp_path: Path):
    origin = provenance(conn, ("synthetic",), now=NOW, run_id="test-run")
    [path] = analysis_document.write_documents(
        tmp_path, config, tree, Period.full_year(YEAR), analyses, ["R1"], origin
    )
    region = path.read_text("utf-8")
    area = config.knowledge_areas.areas_of("Fall")[0]
    assert "<h2>Kunskapsområden</h2>" in region
    assert (
        f'<td>{area}</td><td class="n">12</td><td class="n">12</td><td class="n">48</td>' in region
    )


# --- the flow ------------------------------------------------------------------------------


def query(workdir: Path, statement: Select[Any]) -> list[Any]:
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).scalars())
    finally:
        engine.dispose()


@pytest.mark.usefixtures("prefect_harness", "workdir")
def test_flow_analyses_the_demo_region_and_finds_its_silent_units(workdir, config, capsys):
    from flows.analyse import analyse_flow

    files = write_demo(workdir / "demo", config, today=NOW.date())
    for kind, path in files.by_kind().items():
        assert main(["import", kind, str(path)]) == 0

    written = analyse_flow(year=YEAR, now=NOW)

    assert len(written) == 1 + 3 + 12 + 35
    steps = query(workdir, select(StepRun.step))
    assert steps.count("analyse") == len(written)
    ids = sorted(query(workdir, select(Finding.id)))
    for uid in silent_units(build_organisation(config, "small")):
        assert f"{YEAR}:{uid}:under_reporting:avvikelser" in ids
    # the demo holds 2024..2026: 2023 is no baseline, so not every unit "rises"
    assert sum(":trend:avvikelser" in i for i in ids) < 10
    index = (workdir / "out" / str(YEAR) / "index.html").read_text("utf-8")
    assert index.count("analys.html") == len(written)

    again = analyse_flow(year=YEAR, unit=silent_units(build_organisation(config, "small"))[0])
    # the same data: the enhet's and its verksamhet's, område's and region's analyses say what
    # they said, so none is written again; the step records that it checked all four
    assert again == []
    assert query(workdir, select(StepRun.step)).count("analyse") == len(written) + 4
    assert sorted(query(workdir, select(Finding.id))) == ids


# --- the enheter that stand out in a roll-up -----------------------------------------------


#: the bundled settings' thresholds (config/settings.yaml), as the documents state them
RULES = StandoutRules(risk_cluster=5, overdue_actions=2, overdue_share=0.5)


def test_roll_ups_list_the_enheter_that_stand_out_ranked(tree, analyses, config):
    assert config.settings.standouts == RULES
    leaf = [f for uid in UNITS for f in analyses[uid].findings]
    ranked = standouts.standouts(tree, "A1", leaf, RULES)
    # E3: under-reporting (Hög; its one late action of one is too few to count); E1: a run
    # above the centre line (Medel; 1 of 4 actions late is not many); E5: a run (Medel), and
    # only 1 deviation of the highest risk, no cluster; E2 and E4 nothing of the four reasons
    assert [(s.unit.id, s.severity, s.reasons) for s in ranked] == [
        ("E3", 3, (Reason.UNDER_REPORTING,)),
        ("E1", 2, (Reason.SPC,)),
        ("E5", 2, (Reason.SPC,)),
    ]
    assert [s.unit.id for s in standouts.standouts(tree, "R1", leaf, RULES)] == ["E3", "E1", "E5"]
    assert standouts.standouts(tree, "E3", leaf, RULES) == []  # an enhet has no enheter below


def finding(
    unit_id: str, kind: str, key: str, value: float, severity: int, baseline: float | None = None
) -> analysis_findings.Finding:
    return analysis_findings.Finding(
        YEAR, unit_id, kind, key, "titel", "mått", value, baseline, severity
    )


def test_standouts_by_the_thresholds_ranked_by_reasons_then_severity_then_name():
    units = [
        Unit("R", "Region", OrgLevel.REGION, None),
        Unit("A", "Område", OrgLevel.AREA, "R"),
        Unit("V", "Verksamhet", OrgLevel.DEPARTMENT, "A"),
        *(
            Unit(uid, name, OrgLevel.UNIT, "V")
            for uid, name in [
                ("U1", "Bra"),
                ("U2", "Alfa"),
                ("U3", "Cesar"),
                ("U4", "Beta"),
                ("U5", "Ceta"),
                ("U6", "Delta"),
                ("U7", "Epsilon"),
            ]
        ),
    ]
    found = [
        finding("U1", "risk", "mycket hög", 5, 2),  # 5 of the highest risk: a cluster
        finding("U1", "training", "patientsäkerhet:chef", 0.5, 3),  # not a reason
        finding("U2", "risk", "mycket hög", 4, 2),  # 4: below the cluster's 5
        finding("U2", "spc", "beyond", 14.0, 2),
        finding("U3", "under_reporting", "avvikelser", 1, 2),
        finding("U3", "spc", "run", 3.0, 2),
        finding("U4", "actions", "overdue", 2, 3, baseline=4),  # 2 of 4: 50 %, two: late
        finding("U5", "actions", "without_effect", 1, 2, baseline=1),  # not late: no reason
        finding("U6", "actions", "overdue", 1, 3, baseline=2),  # 50 %, but only one
        finding("U7", "actions", "overdue", 2, 2, baseline=5),  # two, but 40 %
        finding("V", "spc", "run", 3.0, 3),  # the verksamhet's own: not an enhet's
    ]
    ranked = standouts.standouts(OrgTree(units), "R", found, RULES)
    # Cesar's two reasons first; then of the single ones Beta's Hög; then Medel by name
    assert [(s.unit.name, s.reasons) for s in ranked] == [
        ("Cesar", (Reason.UNDER_REPORTING, Reason.SPC)),
        ("Beta", (Reason.OVERDUE_ACTIONS,)),
        ("Alfa", (Reason.SPC,)),
        ("Bra", (Reason.RISK_CLUSTER,)),
    ]
    assert [f.kind for f in ranked[2].findings] == ["spc"]  # U2's four are left out
    # the region's own thresholds decide: a cluster from four, late from one action in two
    looser = StandoutRules(risk_cluster=4, overdue_actions=1, overdue_share=0.5)
    ranked = standouts.standouts(OrgTree(units), "R", found, looser)
    assert [(s.unit.name, s.reasons) for s in ranked] == [
        ("Alfa", (Reason.SPC, Reason.RISK_CLUSTER)),
        ("Cesar", (Reason.UNDER_REPORTING, Reason.SPC)),
        ("Beta", (Reason.OVERDUE_ACTIONS,)),
        ("Delta", (Reason.OVERDUE_ACTIONS,)),
        ("Bra", (Reason.RISK_CLUSTER,)),
    ]


def test_roll_up_documents_link_the_enheter_that_stand_out(
    conn, config, tree, analyses, tmp_path: Path
):
    origin = provenance(conn, ("synthetic",), now=NOW, run_id="test-run")
    region_path, unit_path = analysis_document.write_documents(
        tmp_path, config, tree, Period.full_year(YEAR), analyses, ["R1", "E3"], origin
    )
    rows = [
        [c.text for c in row]
        for t in read_tables(parse_html(region_path.read_text("utf-8")))
        if t.title == f"Enheter som sticker ut {YEAR}"
        for row in t.body
    ]
    assert [row[:5] for row in rows] == [
        ["1", "Enhet E3", "Verksamhet", "Hög", "Möjlig underrapportering"],
        ["2", "Enhet E1", "Verksamhet", "Medel", "Signal i styrdiagrammet"],
        ["3", "Enhet E5", "Verksamhet", "Medel", "Signal i styrdiagrammet"],
    ]
    region = region_path.read_text("utf-8")
    # a link that works from out/2025/region/R1/ on disk and served alike
    assert '<a href="../../enheter/E3/analys.html">Enhet E3</a>' in region
    assert (region_path.parent / "../../enheter/E3/analys.html").resolve() == unit_path.resolve()
    text = " ".join(region.split())
    assert "Region Syntet jämförs inte med någon annan: det finns ingen annan region" in text
    assert "1 av 5 enheter under Region Syntet har möjlig underrapportering" in text
    assert "Inga jämförbara enheter" not in text
    # the definition with the settings' thresholds, the counts in words (split() takes the
    # no-break space before % for a space)
    assert (
        "kluster av allvarliga risker (minst fem avvikelser med den högsta risknivån) eller"
        " många försenade åtgärder (minst två av åtgärderna i förra årets handlingsplan, och"
        " minst 50 % av dem, är inte klara fast klart-datum har passerat)" in text
    )
    assert "Ordning: enheten med flest av de fyra skälen först" in text
    assert "Enheter som sticker ut" not in unit_path.read_text("utf-8")

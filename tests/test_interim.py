"""Deferred-care figures against a hand-counted region (rows inserted straight into the tables).

The region (today's organisation):

    R1 Region Test
      A1 Område Ett
        V1 Verksamhet Ett
          E1  Enhet Ett      split: its rows end in April 2026 ...
          E1a Enhet Ett A    ... E1a and E1b start in May 2026
          E1b Enhet Ett B
          E2  Enhet Två ny   renamed (same id): rows of 2025 and 2026 under today's name
        V2 Verksamhet Två
          E3  Enhet Tre      stops: no waiting snapshot in August, no production in mar, apr
      A2 Område Två
        V3 Verksamhet Tre
          E4  Enhet Fyra     no data at all

Every expected number below is counted by hand from the rows in ``WAITING``, ``PRODUCTION``,
``CAPACITY`` and ``TRAINING``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, insert, select

from arshjul.documents import provenance
from arshjul.errors import UsageError
from arshjul.interim import training
from arshjul.interim.document import write_documents
from arshjul.interim.figures import PREV, Figures, Span, ended_units, gather
from arshjul.interim.lines import (
    capacity_line,
    coverage,
    coverage_note,
    production_line,
    training_lines,
    wait_line,
    waiting_charts,
    waiting_month_note,
    waiting_months,
)
from arshjul.interim.summary import summary
from arshjul.models import (
    Capacity,
    ImportBatch,
    OrgLevel,
    OrgUnit,
    Production,
    StepRun,
    Training,
    WaitingSnapshot,
)
from arshjul.org import OrgTree
from arshjul.periods import Period
from tests.conftest import NOW
from tests.disclosure_attack import recovered

pytestmark = pytest.mark.both_databases

T1, T2 = Period(2026, "T1"), Period(2026, "T2")

ORG = [
    ("R1", "Region Test", OrgLevel.REGION, None),
    ("A1", "Område Ett", OrgLevel.AREA, "R1"),
    ("A2", "Område Två", OrgLevel.AREA, "R1"),
    ("V1", "Verksamhet Ett", OrgLevel.DEPARTMENT, "A1"),
    ("V2", "Verksamhet Två", OrgLevel.DEPARTMENT, "A1"),
    ("V3", "Verksamhet Tre", OrgLevel.DEPARTMENT, "A2"),
    ("E1", "Enhet Ett", OrgLevel.UNIT, "V1"),
    ("E1a", "Enhet Ett A", OrgLevel.UNIT, "V1"),
    ("E1b", "Enhet Ett B", OrgLevel.UNIT, "V1"),
    ("E2", "Enhet Två ny", OrgLevel.UNIT, "V1"),
    ("E3", "Enhet Tre", OrgLevel.UNIT, "V2"),
    ("E4", "Enhet Fyra", OrgLevel.UNIT, "V3"),
]

# (snapshot, unit, activity, wait_days, patient_chosen, count)
WAITING = [
    # E2: 2025-08-31: besök le90 10, 91-180 6, >180 4, PvV 3
    ("2025-08-31", "E2", "besök", 30, False, 10),
    ("2025-08-31", "E2", "besök", 120, False, 6),
    ("2025-08-31", "E2", "besök", 200, False, 4),
    ("2025-08-31", "E2", "besök", 40, True, 3),
    # two snapshots in April: the last one (30th) counts
    ("2026-04-15", "E2", "besök", 30, False, 99),
    ("2026-04-30", "E2", "besök", 30, False, 12),
    ("2026-04-30", "E2", "besök", 100, False, 8),
    ("2026-05-01", "E2", "besök", 30, False, 77),  # after T1's end
    # August: 90 days is within the guarantee, 91 is not; 180 is not over 180, 181 is
    ("2026-08-31", "E2", "besök", 30, False, 20),
    ("2026-08-31", "E2", "besök", 90, False, 5),
    ("2026-08-31", "E2", "besök", 91, False, 7),
    ("2026-08-31", "E2", "besök", 180, False, 2),
    ("2026-08-31", "E2", "besök", 181, False, 6),
    ("2026-08-31", "E2", "operation", 60, False, 8),
    ("2026-08-31", "E2", "operation", 200, True, 9),  # patient-chosen: not in the guarantee
    ("2026-09-05", "E2", "besök", 30, False, 500),  # after T2's end
    # E1 until April, then E1a and E1b
    ("2025-08-31", "E1", "besök", 50, False, 30),
    ("2026-01-31", "E1", "besök", 50, False, 30),
    ("2026-04-30", "E1", "besök", 50, False, 28),
    ("2026-05-31", "E1a", "besök", 50, False, 15),
    ("2026-08-31", "E1a", "besök", 50, False, 14),
    ("2026-08-31", "E1a", "besök", 95, False, 6),
    ("2026-05-31", "E1b", "besök", 50, False, 13),
    ("2026-08-31", "E1b", "besök", 50, False, 12),
    ("2026-08-31", "E1b", "operation", 100, False, 2),  # a small number
    # E3: three waiting last year (small), nothing in August 2026
    ("2025-08-29", "E3", "besök", 10, False, 3),
    ("2026-07-31", "E3", "besök", 10, False, 9),
]


def _months(year: int, months: Iterable[int]) -> list[date]:
    return [date(year, m, 1) for m in months]


# (month, unit, measure, planned, actual, cost)
PRODUCTION = (
    # E2: 8 months of 100 planned, 90 done, 90 000 kr; last year 100, 80, 76 000 kr
    [(m, "E2", "besök", 100, 90, 90_000) for m in _months(2026, range(1, 9))]
    + [(m, "E2", "besök", 100, 80, 76_000) for m in _months(2025, range(1, 9))]
    # E1 Jan-Apr 2026: 50 planned, 40 DRG points, 2 000 000 kr; 2025: 50, 45, 2 025 000 kr
    + [(m, "E1", "DRG-poäng", 50, 40, 2_000_000) for m in _months(2026, range(1, 5))]
    + [(m, "E1", "DRG-poäng", 50, 45, 2_025_000) for m in _months(2025, range(1, 9))]
    # May-Aug 2026: E1a 30, 30, 1 500 000 kr; E1b 20, 15, 750 000 kr
    + [(m, "E1a", "DRG-poäng", 30, 30, 1_500_000) for m in _months(2026, range(5, 9))]
    + [(m, "E1b", "DRG-poäng", 20, 15, 750_000) for m in _months(2026, range(5, 9))]
    # E3: 10 visits a month, but March and April 2026 never arrived
    + [(m, "E3", "besök", 10, 10, 10_000) for m in _months(2026, (1, 2, 5, 6, 7, 8))]
    + [(m, "E3", "besök", 10, 10, 10_000) for m in _months(2025, range(1, 9))]
)

# (month, unit, beds, patient_days, overcrowding_days, outlying_days)
CAPACITY = (
    [(m, "E1", 20, 550, 4, 2) for m in _months(2026, range(1, 5))]
    + [(m, "E1", 20, 560, 2, 1) for m in _months(2025, range(1, 9))]
    + [(m, "E1a", 12, 330, 3, 0) for m in _months(2026, range(5, 9))]
    + [(m, "E1b", 8, 220, 1, 1) for m in _months(2026, range(5, 9))]
)

# (person, unit, role, course, completed)
TRAINING = [
    ("p1", "E1a", "chef", "patientsäkerhet", date(2026, 3, 1)),
    ("p1", "E1a", "chef", "produktionsplanering", date(2026, 10, 1)),  # after T2's end
    ("p2", "E2", "chef", "patientsäkerhet", date(2025, 5, 1)),
    ("p2", "E2", "chef", "produktionsplanering", None),
    ("p3", "E2", "medarbetare", "patientsäkerhet", date(2026, 1, 10)),  # not a manager
    ("p4", "E3", "chef", "patientsäkerhet", None),
]


def load(conn: Connection) -> None:
    """The region above, inserted in bulk."""
    batch = conn.execute(
        insert(ImportBatch).returning(ImportBatch.id),
        {
            "kind": "waiting",
            "file_name": "hand.csv",
            "sha256": "0" * 64,
            "rows": 1,
            "inserted": 1,
            "updated": 0,
            "imported_at": NOW,
        },
    ).scalar_one()
    conn.execute(
        insert(OrgUnit),
        [dict(id=i, name=n, level=lv, parent_id=p, batch_id=None) for i, n, lv, p in ORG],
    )
    conn.execute(
        insert(WaitingSnapshot),
        [
            dict(
                snapshot_date=date.fromisoformat(d),
                unit_id=u,
                activity=a,
                wait_days=w,
                patient_chosen=c,
                count=n,
                batch_id=batch,
            )
            for d, u, a, w, c, n in WAITING
        ],
    )
    conn.execute(
        insert(Production),
        [
            dict(month=m, unit_id=u, measure=k, planned=p, actual=a, cost_sek=c, batch_id=batch)
            for m, u, k, p, a, c in PRODUCTION
        ],
    )
    conn.execute(
        insert(Capacity),
        [
            dict(
                month=m,
                unit_id=u,
                beds=b,
                patient_days=pd,
                overcrowding_days=o,
                outlying_days=ou,
                batch_id=batch,
            )
            for m, u, b, pd, o, ou in CAPACITY
        ],
    )
    conn.execute(
        insert(Training),
        [
            dict(person_key=p, unit_id=u, role=r, course=c, completed_date=d, batch_id=batch)
            for p, u, r, c, d in TRAINING
        ],
    )


@pytest.fixture
def tree(conn: Connection) -> OrgTree:
    load(conn)
    return OrgTree.load(conn)


@pytest.fixture
def t2(conn: Connection, tree: OrgTree) -> dict[str, Figures]:
    return gather(conn, tree, T2)


BELOW = 5
ALL = ["besök", "operation"]


# --- waiting -------------------------------------------------------------------------------


def test_waiting_at_period_end_by_bucket_excluding_patient_chosen(t2):
    total = wait_line(t2["E2"], "Totalt", ALL, BELOW)
    # besök 20+5 ≤90 | 7+2 in 91-180 | 6 >180; operation 8 ≤90, 9 patient-chosen
    assert (total.total, total.chosen, total.guarantee) == (57, 9, 48)
    assert (total.over_90, total.over_180) == (15, 6)
    assert total.share_90 == pytest.approx(33 / 48)
    besok = wait_line(t2["E2"], "besök", ["besök"], BELOW)
    assert (besok.guarantee, besok.over_90, besok.over_180) == (40, 15, 6)
    assert besok.share_90 == pytest.approx(25 / 40)
    # last year: 10 ≤90, 6 in 91-180, 4 >180 (PvV 3 left out) → share 10/20, change 15-10
    assert (besok.prev_guarantee, besok.prev_over_90) == (20, 10)
    assert besok.prev_share_90 == pytest.approx(0.5)
    assert besok.change_over_90 == 5
    assert besok.change_share_90 == pytest.approx(0.625 - 0.5)


def test_t1_takes_the_last_april_snapshot_and_nothing_after_april(conn, tree):
    t1 = gather(conn, tree, T1)
    e2 = wait_line(t1["E2"], "", ALL, BELOW)
    # 2026-04-30 (12 ≤90, 8 >90), not the 15th (99) nor 1 May (77)
    assert (e2.guarantee, e2.over_90) == (20, 8)
    v1 = wait_line(t1["V1"], "", ALL, BELOW)
    assert (v1.guarantee, v1.over_90) == (48, 8)  # E1's 28 in April; E1 had not ended yet
    assert v1.share_90 == pytest.approx(40 / 48)
    assert coverage(t1["V1"], "waiting").state == "ok"
    assert v1.prev_guarantee is None  # no snapshot in April 2025: nothing to compare with


def test_a_day_that_is_only_another_units_last_snapshot_does_not_count(conn, tree):
    """E4's only April snapshot is on the 15th, the day of E2's earlier snapshot (99): E4's
    counts, and still E2's of the 30th."""
    batch = conn.execute(select(ImportBatch.id)).scalar_one()
    conn.execute(
        insert(WaitingSnapshot),
        dict(
            snapshot_date=date(2026, 4, 15),
            unit_id="E4",
            activity="besök",
            wait_days=100,
            patient_chosen=False,
            count=7,
            batch_id=batch,
        ),
    )
    t1 = gather(conn, tree, T1)
    assert (wait_line(t1["E2"], "", ALL, BELOW).guarantee) == 20
    e4 = wait_line(t1["E4"], "", ALL, BELOW)
    assert (e4.guarantee, e4.over_90, e4.over_180) == (7, 7, 0)
    assert wait_line(t1["R1"], "", ALL, BELOW).guarantee == 20 + 28 + 7


def test_split_unit_rolls_up_old_and_new_units(t2):
    v1 = wait_line(t2["V1"], "", ALL, BELOW)
    # E1a 20 (6 >90), E1b 12 + 2 operation >90, E2 48 (15 >90); E1 ended in April
    assert (v1.total, v1.chosen, v1.guarantee) == (91, 9, 82)
    assert (v1.over_90, v1.over_180) == (23, 6)
    assert v1.share_90 == pytest.approx(59 / 82)
    # last year: E1 30 and E2 20 (10 >90)
    assert (v1.prev_guarantee, v1.prev_over_90, v1.change_over_90) == (50, 10, 13)
    cov = coverage(t2["V1"], "waiting")
    assert cov.state == "ok" and cov.reporting == 3 and cov.ended == {"E1": date(2026, 4, 1)}


def test_ended_unit_is_not_missing_and_says_it_ended(t2, tree):
    e1 = t2["E1"]
    assert coverage(e1, "waiting").state == "none"
    assert wait_line(e1, "", ALL, BELOW).guarantee is None
    note = coverage_note(tree, coverage(e1, "waiting"), T2, "waiting", leaf=True)
    assert note == "upphörde efter apr 2026"
    production = coverage(e1, "production")
    assert production.state == "ok" and not production.missing
    assert coverage_note(tree, production, T2, "production", leaf=True) == ("jan–apr (upphörde)")
    # the new units are shown with the months they have
    e1a = coverage(t2["E1a"], "production")
    assert coverage_note(tree, e1a, T2, "production", leaf=True) == "maj–aug"


def test_ended_units_need_a_sibling_that_takes_over(tree):
    spans = {
        "E1": Span(date(2025, 1, 1), date(2026, 4, 1)),
        "E1a": Span(date(2026, 5, 1), date(2026, 8, 1)),
        "E3": Span(date(2025, 1, 1), date(2026, 7, 1)),  # stops, nobody starts
        "E2": Span(date(2026, 6, 1), date(2026, 8, 1)),  # not E3's sibling
    }
    assert ended_units(tree, spans) == {"E1": date(2026, 4, 1)}


def test_a_unit_without_its_last_snapshot_is_missing_not_zero(t2, tree):
    e3 = wait_line(t2["E3"], "", ALL, BELOW)
    assert e3.guarantee is None and e3.over_90 is None
    cov = coverage(t2["E3"], "waiting")
    assert cov.state == "missing"
    assert coverage_note(tree, cov, T2, "waiting", leaf=True) == "saknas: aug"
    # the område adds what it has and says what it lacks
    a1 = wait_line(t2["A1"], "", ALL, BELOW)
    assert a1.guarantee == 82
    a1_cov = coverage(t2["A1"], "waiting")
    assert a1_cov.state == "partial"
    assert coverage_note(tree, a1_cov, T2, "waiting", leaf=False) == (
        "1 av 4 enheter saknar data (Enhet Tre: aug)"
    )
    assert a1.prev_guarantee == 53  # last year E3's 3 were there


def test_small_counts_hide_shares_and_changes(t2):
    e3_before = wait_line(t2["E3"], "", ALL, BELOW)
    assert e3_before.prev_guarantee == 3 and e3_before.prev_share_90 is None
    op = wait_line(t2["E1b"], "operation", ["operation"], BELOW)
    assert op.over_90 == 2 and op.share_90 is None  # 0 of 2: a share of a small count
    v1_op = wait_line(t2["V1"], "operation", ["operation"], BELOW)
    assert (v1_op.over_90, v1_op.prev_over_90, v1_op.change_over_90) == (2, 0, None)
    # August's bar is 2 (June and July are missing: no bar gives anything away there)
    assert waiting_charts(waiting_months(t2["E1b"], T2), BELOW)[1] is None


# --- production, cost, capacity, training ---------------------------------------------------


def test_production_against_plan_month_and_period(t2):
    v1 = production_line(t2["V1"], "DRG-poäng")
    # Jan-Apr E1 4 × 50 / 40; May-Aug E1a 4 × 30 / 30 and E1b 4 × 20 / 15
    assert (v1.planned, v1.actual) == (400, 340)
    assert v1.deviation == pytest.approx(340 / 400 - 1)
    assert (v1.month_planned, v1.month_actual) == (50, 45)  # August: E1a + E1b
    assert v1.month_deviation == pytest.approx(-0.1)
    assert v1.prev_actual == 360 and v1.change == pytest.approx(340 / 360 - 1)


def test_cost_per_drg_point_and_per_visit_against_last_year(t2):
    drg = production_line(t2["V1"], "DRG-poäng")
    # (8 000 000 + 6 000 000 + 3 000 000) / 340 = 50 000; last year 16 200 000 / 360 = 45 000
    assert drg.cost == 17_000_000 and drg.cost_per == "per DRG-poäng"
    assert drg.unit_cost == pytest.approx(50_000) and drg.prev_unit_cost == pytest.approx(45_000)
    assert drg.unit_cost_change == pytest.approx(50_000 / 45_000 - 1)
    visits = production_line(t2["E2"], "besök")
    assert visits.unit_cost == pytest.approx(720_000 / 720)  # 1 000 kr per visit
    assert visits.prev_unit_cost == pytest.approx(608_000 / 640)  # 950 kr


def test_missing_months_are_named_and_not_counted_as_zero(t2, tree):
    e3 = production_line(t2["E3"], "besök")
    assert (e3.planned, e3.actual) == (60, 60)  # six months, not eight
    cov = coverage(t2["E3"], "production")
    assert cov.missing == {"E3": (date(2026, 3, 1), date(2026, 4, 1))}
    assert coverage_note(tree, cov, T2, "production", leaf=True) == "saknas: mar–apr"
    region = coverage(t2["R1"], "production")
    assert region.reporting == 5  # E1, E1a, E1b, E2, E3
    assert coverage_note(tree, region, T2, "production", leaf=False) == (
        "1 av 5 enheter saknar data (Enhet Tre: mar–apr)"
    )
    # last year's period was complete
    assert not coverage(t2["R1"], "production", PREV).missing


def test_beds_and_bed_days_per_100_beds_and_month(t2):
    v1 = capacity_line(t2["V1"])
    # beds 4×20 + 4×12 + 4×8 = 160 over 8 months; overcrowding 16+12+4, outlying 8+0+4
    assert v1.beds == pytest.approx(20.0)
    assert (v1.overcrowding, v1.outlying) == (32, 12)
    assert v1.overcrowding_per_100 == pytest.approx(32 / 160 * 100)
    assert v1.outlying_per_100 == pytest.approx(7.5)
    # 2025: 8 × 20 beds, 8 × 2 overcrowding, 8 × 1 outlying
    assert v1.prev_overcrowding_per_100 == pytest.approx(10.0)
    assert v1.prev_outlying_per_100 == pytest.approx(5.0)
    e1 = capacity_line(t2["E1"])
    # 20 beds in January-April, then it ended: half of the period's months, 10 over it
    assert (e1.beds, e1.overcrowding_per_100) == (10.0, pytest.approx(20.0))
    assert capacity_line(t2["E4"]).beds is None


#: E3's beds in 2026: March and April never arrived (E3 did not end: nobody took over)
E3_BEDS = [(date(2026, m, 1), beds) for m, beds in ((1, 10), (2, 12), (5, 14), (6, 14))]
E3_BEDS += [(date(2026, 7, 1), 16), (date(2026, 8, 1), 18)]


def test_beds_of_a_parent_are_the_sum_of_its_childrens(conn, tree):
    batch = conn.execute(
        insert(ImportBatch).returning(ImportBatch.id),
        dict(
            kind="capacity",
            file_name="e3.csv",
            sha256="1" * 64,
            rows=6,
            inserted=6,
            updated=0,
            imported_at=NOW,
        ),
    ).scalar_one()
    conn.execute(
        insert(Capacity),
        [dict(month=m, unit_id="E3", beds=b, batch_id=batch) for m, b in E3_BEDS],
    )
    totals = gather(conn, tree, T2)
    # E3: (10 + 12 + 14 + 14 + 16 + 18) / 6 months with data = 14, over all 8 months it was
    # to report in; the missing March and April are not zeros
    assert capacity_line(totals["E3"]).beds == pytest.approx(14.0)
    assert coverage_note(tree, coverage(totals["E3"], "capacity"), T2, "capacity", leaf=True) == (
        "saknas: mar–apr"
    )
    # V1: E1 20 × 4/8 (ended after April) + E1a 12 × 4/8 + E1b 8 × 4/8 (from May) = 20
    v1, v2 = capacity_line(totals["V1"]).beds, capacity_line(totals["V2"]).beds
    assert (v1, v2) == (pytest.approx(20.0), pytest.approx(14.0))
    # the område is the sum of its verksamheter (months with data everywhere would give
    # (160 + 84) / 8 = 30,5)
    assert capacity_line(totals["A1"]).beds == pytest.approx(34.0)
    assert capacity_line(totals["R1"]).beds == pytest.approx(34.0)  # A2 has no beds


def test_waiting_months_without_a_snapshot_are_missing_not_zero(t2, tree):
    # E3 reports waiting (since August 2025) but has a snapshot in July 2026 only
    e3 = waiting_months(t2["E3"], T2)
    assert [w.waiting for w in e3] == [None] * 6 + [9, None]
    assert waiting_month_note(tree, e3[0]) == "saknas: ingen mätning"
    # V1: E1 (until April: January and April), E2 (April, May, August), E1a and E1b (from
    # May: May and August). Month ends: jan E1 30; apr E1 28 + E2 20; may E1a 15 + E1b 13 +
    # E2 77; aug 82
    v1 = waiting_months(t2["V1"], T2)
    assert [w.waiting for w in v1] == [30, None, None, 48, 105, None, None, 82]
    assert [w.over_90 for w in v1] == [0, None, None, 8, 0, None, None, 23]
    assert [w.expected for w in v1] == [2, 2, 2, 2, 3, 3, 3, 3]
    # January has E1's 30 but not E2's: incomplete, marked, named
    assert waiting_month_note(tree, v1[0]) == (
        "ofullständig: 1 av 2 enheter saknar mätning (Enhet Två ny)"
    )
    assert waiting_month_note(tree, v1[3]) == ""
    waiting, over_90 = waiting_charts(v1, BELOW)
    assert waiting is not None and over_90 is not None
    assert [(b.label, b.value) for b in waiting.bars] == [
        ("jan*", 30),
        ("feb", None),
        ("mar", None),
        ("apr", 48),
        ("maj", 105),
        ("jun", None),
        ("jul", None),
        ("aug", 82),
    ]
    assert [b.height for b in waiting.bars if b.value is None] == [0.0] * 4


def test_managers_trained_by_the_period_end(t2):
    lines = training_lines(t2["A1"], ["patientsäkerhet", "produktionsplanering"], 0.9)
    # managers p1, p2, p4; p1 and p2 done patient safety; p1's production planning is later
    assert [(t.managers, t.trained) for t in lines] == [(3, 2), (3, 0)]
    assert lines[0].share == pytest.approx(2 / 3) and not lines[0].meets_target
    e1a = training_lines(t2["E1a"], ["patientsäkerhet"], 0.9)
    assert (e1a[0].share, e1a[0].meets_target) == (1.0, True)


# --- the summary and the document ------------------------------------------------------------


def test_summary_names_the_largest_changes_and_their_units(t2, tree):
    changes = summary(tree, t2, tree["V1"], T2, ALL, ["besök", "DRG-poäng"], BELOW, limit=3)
    # > 90 days 23 vs 10 (+130 %), overcrowding 20 vs 10 per 100 (+100 %), waiting 82 vs 50
    assert [c.label for c in changes] == [
        "Väntande mer än 90 dagar",
        "Överbeläggningar per 100 vårdplatser",
        "Väntande (exkl. patientvald väntan)",
    ]
    assert changes[0].relative == pytest.approx(23 / 10 - 1)
    assert changes[0].drivers == ("Enhet Två ny (+5)",)  # the only unit with both years
    assert changes[1].drivers == ("Enhet Ett (+100,0\u00a0%)",)
    assert changes[2].drivers == ("Enhet Två ny (+28)",)
    # the region names enheter, not its område, and says its figure lacks E3's August
    region = summary(tree, t2, tree["R1"], T2, ALL, ["besök", "DRG-poäng"], BELOW)
    assert region[0].text == "Väntande mer än 90 dagar: 23 mot 10 samma period 2025"
    assert region[0].incomplete and not changes[0].incomplete
    assert region[0].drivers == ("Enhet Två ny (+5)",)
    # cost per DRG point 50 000 vs 45 000 kr (E1's own: 2 000 000 / 40 vs 45 000); production
    # is incomplete in the region because E3 lacks March and April
    assert region[3].text == "Kostnad per DRG-poäng: 50\u00a0000 mot 45\u00a0000 samma period 2025"
    assert region[3].incomplete
    assert region[3].drivers == ("Enhet Ett (+11,1\u00a0%)",)


class Tables(HTMLParser):
    """Every table of an HTML page: caption and rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.tables[-1]["caption"] += data


def tables_of(path: Path) -> dict[str, list[list[str]]]:
    """The page's tables by caption, header row first."""
    parser = Tables()
    parser.feed(path.read_text("utf-8"))
    return {t["caption"].strip(): t["rows"] for t in parser.tables}


NB = "\u00a0"


@pytest.fixture
def documents(conn, config, tree, t2, tmp_path) -> dict[str, Path]:
    origin = provenance(conn, ("waiting",), now=NOW, run_id="test-run")
    shown = training.publication(conn, config, tree, T2)
    paths = write_documents(tmp_path, config, tree, T2, t2, ["V1", "E3"], origin, shown)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "2026-T2/verksamheter/V1/uppskjuten-vard.html",
        "2026-T2/enheter/E3/uppskjuten-vard.html",
    ]
    return dict(zip(["V1", "E3"], paths, strict=True))


def test_document_waiting_tables(documents):
    v1 = tables_of(documents["V1"])
    assert v1["Väntande per vårdåtgärd 2026-08-31"][1:] == [
        # 2 over 90 days (operation) is small: <5. Alone it is 23 - 21 and 10 - 8 (80,0 % of
        # 10), so besök's 21 is hidden, and with it the share 51/72 (72 - 51 = 21); with
        # that, operation's 19, 9 and 10 pin nothing (23 - ".." is 1..4 for any 19..22)
        ["besök", "72", "0", "72", "–", "..", "6", "10", "–", f"80,0{NB}%", "–"],
        ["operation", "19", "9", "10", "–", "<5", "0", "0", "–", "–", "–"],
        [
            "Totalt",
            "91",
            "9",
            "82",
            f"72,0{NB}%",
            "23",
            "6",
            "10",
            "+13",
            f"80,0{NB}%",
            "-8,0",
        ],
    ]
    assert v1["Väntande per enhet 2026-08-31"][1:] == [
        ["Enhet Ett", "–", "–", "–", "–", "–", "upphörde efter apr 2026"],
        # 23 - 6 - 15 would give Enhet Ett B's <5 back: the 6 is hidden, and the shares
        # (14 of 20 and 12 of 14 within 90 days) that would give either back; with the
        # shares gone, 20 and 14 (within 90 days + over) still left B's <5 at 2..4 through
        # the enheter's own sections, so they go too
        ["Enhet Ett A", "..", "..", "0", "–", "–", ""],
        ["Enhet Ett B", "..", "<5", "0", "–", "–", ""],
        ["Enhet Två ny", "48", "15", "6", f"68,8{NB}%", "+5", ""],
    ]
    e3 = tables_of(documents["E3"])
    # no August snapshot: missing, never zero; last year's 3 is small, so no share
    assert e3["Väntande per vårdåtgärd 2026-08-31"][1:2] == [
        ["besök", "saknas", "saknas", "saknas", "–", "saknas", "saknas", "0", "–", "–", "–"]
    ]


def test_document_production_cost_capacity_and_training_tables(documents):
    v1 = tables_of(documents["V1"])
    assert v1["Produktion mot plan per mått, aug 2026 och jan–aug 2026"][1:] == [
        ["besök", "100", "90", f"-10,0{NB}%", "800", "720", f"-10,0{NB}%", "640", f"+12,5{NB}%"],
        ["DRG-poäng", "50", "45", f"-10,0{NB}%", "400", "340", f"-15,0{NB}%", "360", f"-5,6{NB}%"],
    ]
    assert v1["Kostnad per mått, jan–aug 2026 mot jan–aug 2025 (kr)"][1:] == [
        ["besök", f"720{NB}000", f"608{NB}000", "per besök", f"1{NB}000", "950", f"+5,3{NB}%"],
        [
            "DRG-poäng",
            f"17{NB}000{NB}000",
            f"16{NB}200{NB}000",
            "per DRG-poäng",
            f"50{NB}000",
            f"45{NB}000",
            f"+11,1{NB}%",
        ],
    ]
    assert v1["Vårdplatser jan–aug 2026"][1:] == [
        ["Disponibla vårdplatser (medel per månad)", "20,0", "", ""],
        ["Överbeläggningar (dygn)", "32", "20,0", "10,0"],
        ["Utlokaliseringar (dygn)", "12", "7,5", "5,0"],
    ]
    # managers p1 (E1a) and p2 (E2); p1's production-planning course is after August: two
    # managers are a small count (issue 15.8), and so are their shares. V1's 2 managers are
    # Enhet Ett A's 1 and Enhet Två ny's 1: three <5 would pin each other (each 1..2), so the
    # total is written .. (it may be any count; the managers are protected alone, hidden
    # alike in every period's section); V1's 2 trained in patientsäkerhet the same way
    assert v1["Chefer som genomfört utbildning"][1:] == [
        ["Patientsäkerhet", "..", "..", "–", "–"],
        ["Produktionsplanering", "..", "0", "–", "–"],
    ]
    per_unit = v1["Produktion mot plan och kostnad per enhet, jan–aug 2026"][1:]
    assert per_unit == [
        [
            "Enhet Ett",
            "DRG-poäng",
            "200",
            "160",
            f"-20,0{NB}%",
            f"50{NB}000",
            f"+11,1{NB}%",
            "jan–apr (upphörde)",
        ],
        ["Enhet Ett A", "DRG-poäng", "120", "120", f"0,0{NB}%", f"50{NB}000", "–", "maj–aug"],
        ["Enhet Ett B", "DRG-poäng", "80", "60", f"-25,0{NB}%", f"50{NB}000", "–", "maj–aug"],
        ["Enhet Två ny", "besök", "800", "720", f"-10,0{NB}%", f"1{NB}000", f"+5,3{NB}%", ""],
    ]
    # beds over the whole period, 10 + 6 + 4 = V1's 20 (each had data for half of it)
    assert v1["Vårdplatser och chefers utbildning per enhet"][1:] == [
        ["Enhet Ett", "10,0", "20,0", "10,0", "0", "–", "–", "jan–apr (upphörde)"],
        # one manager each: <5, and no share of them
        ["Enhet Ett A", "6,0", "25,0", "0,0", "<5", "–", "–", "maj–aug"],
        ["Enhet Ett B", "4,0", "12,5", "12,5", "0", "–", "–", "maj–aug"],
        # V1's managers (..) = Enhet Ett A's <5 + Enhet Två ny's <5
        ["Enhet Två ny", "–", "–", "–", "<5", "–", "–", ""],
    ]


def test_document_marks_missing_months_and_says_where_it_came_from(documents):
    e3_html = documents["E3"].read_text("utf-8")
    e3 = tables_of(documents["E3"])
    production = e3["Produktion mot plan per mått, aug 2026 och jan–aug 2026"]
    assert production[0][4:6] == ["Plan jan–aug 2026 *", "Utfall jan–aug 2026 *"]
    # six months, not eight: March and April are missing, not zero
    assert production[1] == [
        "besök",
        "10",
        "10",
        f"0,0{NB}%",
        "60",
        "60",
        f"0,0{NB}%",
        "80",
        f"-25,0{NB}%",
    ]
    assert "Perioden är ofullständig: saknas: mar–apr" in e3_html
    # waiting: a snapshot in July only; the other months are missing, not zero
    months = e3["Väntande vid månadens slut jan–aug 2026"]
    assert months[1] == ["jan", "–", "–", "saknas: ingen mätning"]
    assert months[7] == ["jul", "9", "0", ""]
    assert "aldrig som noll" in e3_html and ">saknas<title>jan: saknas</title>" in e3_html
    assert "summan av enheternas värden, så att nivåerna\ngår ihop" in e3_html
    # the parts are rounded one by one: 6,04 + 4,04 beds show as 6,0 + 4,0 under a total
    # of 10,08 shown as 10,1; the text says so
    assert (
        "Värdena visas avrundade till en decimal: summan av de visade värdena för enheterna"
        " under kan därför skilja sig med någon tiondel från det visade värdet för nivån."
    ) in " ".join(e3_html.split())
    assert "<li>Väntelistor: saknas: aug</li>" in e3_html
    assert "<li>Produktion: saknas: mar–apr</li>" in e3_html
    v1_html = documents["V1"].read_text("utf-8")
    assert "Väntande mer än 90 dagar: 23 mot 10 samma period 2025 (+130,0" in v1_html
    # the enheter named are those that moved the most the same way, and the text says which
    assert "(+130,0\u00a0%). Störst ökning: Enhet Två ny (+5).</li>" in v1_html
    assert "Störst förändring" not in v1_html
    assert "hand.csv" in v1_html and "test-run" in v1_html
    assert v1_html.count("<svg") == 2  # waiting and waiting > 90 days by month


# --- the flow --------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_flow_writes_the_unit_and_above_and_records_the_period(workdir):
    from arshjul.workspace import open_workspace
    from flows.interim import interim_report_flow

    ws = open_workspace()
    with ws.engine.begin() as conn:
        load(conn)
    written = interim_report_flow("2026-T2", unit="E2", now=NOW, publish=False)
    html = sorted(p.relative_to(workdir / "out").as_posix() for p in written if p.suffix == ".html")
    assert html == [
        "2026-T2/enheter/E2/uppskjuten-vard.html",
        "2026-T2/omraden/A1/uppskjuten-vard.html",
        "2026-T2/region/R1/uppskjuten-vard.html",
        "2026-T2/verksamheter/V1/uppskjuten-vard.html",
    ]
    # the sections the region and its områden publish are PDF too
    pdfs = sorted(p.relative_to(workdir / "out").as_posix() for p in workdir.rglob("*.pdf"))
    assert pdfs == [
        "2026-T2/omraden/A1/uppskjuten-vard.pdf",
        "2026-T2/region/R1/uppskjuten-vard.pdf",
    ]
    e2 = tables_of(workdir / "out" / html[0])
    assert e2["Väntande per vårdåtgärd 2026-08-31"][-1][:7] == [
        "Totalt",
        "57",
        "9",
        "48",
        f"68,8{NB}%",
        "15",
        "6",
    ]
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    with engine.connect() as conn:
        steps = set(conn.execute(select(StepRun.step, StepRun.period, StepRun.unit_id)))
    assert steps == {("interim_report", "2026-T2", u) for u in ("E2", "V1", "A1", "R1")}
    # the full year 2026 has not ended on 2026-11-23: refused before anything is written
    with pytest.raises(UsageError, match="period: '2026' has not ended yet"):
        interim_report_flow("2026", now=NOW, publish=False)
    assert not (workdir / "out" / "2026").exists()


def test_controllers_get_the_tables_as_xlsx_and_csv(documents):
    import csv

    import openpyxl

    v1 = documents["V1"]
    sheet = openpyxl.load_workbook(v1.with_suffix(".xlsx")).worksheets[0]
    rows = {r[0]: r for r in sheet.iter_rows(values_only=True)}
    # numbers stay numbers; the suppressed count stays "<5"
    assert rows["Totalt"][1:7] == (91, 9, 82, pytest.approx(0.72), 23, 6)
    assert rows["operation"][5] == "<5"
    (per_unit,) = v1.parent.glob("uppskjuten-vard-tabeller/*vantande-per-enhet*.csv")
    with per_unit.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh, delimiter=";"))
    assert table[1] == ["Enhet Ett", "–", "–", "–", "–", "–", "upphörde efter apr 2026"]
    assert table[3][:3] == ["Enhet Ett B", "..", "<5"]


def test_a_wards_whole_cost_is_per_drg_point_wherever_it_was_booked(conn, config):
    """A ward books its cost on vårddagar and reports DRG points without cost (as the demo
    does): its cost per DRG point is all its cost over its DRG points, not "–"."""
    conn.execute(
        insert(OrgUnit),
        [
            {"id": "RW", "name": "Region W", "level": OrgLevel.REGION, "parent_id": None},
            {"id": "W1", "name": "Avdelning 1", "level": OrgLevel.UNIT, "parent_id": "RW"},
        ],
    )
    batch = conn.execute(
        insert(ImportBatch).values(
            kind="production",
            file_name="p.csv",
            sha256="w" * 64,
            rows=0,
            inserted=0,
            updated=0,
            imported_at=NOW,
        )
    ).inserted_primary_key[0]
    rows = [
        (date(year, 1, 1), "W1", measure, 10, actual, cost)
        for year, (days_cost, drg) in ((2026, (900_000, 30)), (2025, (800_000, 32)))
        for measure, actual, cost in (("vårddagar", 300, days_cost), ("DRG-poäng", drg, None))
    ]
    conn.execute(
        insert(Production),
        [
            dict(
                zip(
                    ("month", "unit_id", "measure", "planned", "actual", "cost_sek"), r, strict=True
                ),
                batch_id=batch,
            )
            for r in rows
        ],
    )
    tree = OrgTree.load(conn)
    figures = gather(conn, tree, Period(2026, "T1"))
    drg = production_line(figures["RW"], "DRG-poäng")
    assert drg.unit_cost == pytest.approx(900_000 / 30)  # 30 000 kr per DRG point
    assert drg.prev_unit_cost == pytest.approx(800_000 / 32)  # 25 000 kr
    assert production_line(figures["RW"], "vårddagar").unit_cost is None


def test_no_hidden_count_can_be_worked_out_from_the_tables_and_shares(documents):
    # before complementary suppression: 23 - 6 - 15 over 90 days gave Enhet Ett B's <5 back
    # (and 10 of operation's waiting, 80,0 % within 90 days, its 2)
    assert recovered(documents["V1"].parents[3]) == []

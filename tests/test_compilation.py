"""Compilation figures against hand-counted fixtures (tests/fixtures/compile)."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, insert

from arshjul import compilation, figures
from arshjul.config import UNMAPPED_KNOWLEDGE_AREA, Config, KnowledgeAreas
from arshjul.documents import provenance
from arshjul.importers import import_file
from arshjul.models import Base, Capacity, Deviation, DeviationStatus, ImportBatch, Training
from arshjul.org import OrgTree
from arshjul.periods import Period
from tests.conftest import FIXTURES, NOW

pytestmark = pytest.mark.both_databases

DATA = FIXTURES / "compile"


def insert_rows(conn: Connection, table: type[Base], rows: list[dict[str, Any]]) -> None:
    """Bulk-insert ``rows`` into ``table`` as one batch of their own (not through an importer:
    the tests of the figures must not depend on how a kind is imported)."""
    batch = conn.execute(
        insert(ImportBatch)
        .values(
            kind=f"test-{table.__tablename__}",
            file_name=f"{table.__tablename__}.csv",
            sha256=hashlib.sha256(repr(rows).encode()).hexdigest(),
            rows=len(rows),
            inserted=len(rows),
            updated=0,
            imported_at=NOW,
        )
        .returning(ImportBatch.id)
    ).scalar_one()
    conn.execute(insert(table), [{**r, "batch_id": batch} for r in rows])


def capacity(unit_id: str, month: date, patient_days: int | None) -> dict[str, Any]:
    return {"unit_id": unit_id, "month": month, "beds": 10.0, "patient_days": patient_days}


#: E1 has patient days in Jan-Mar 2025 (deviations: 2 in Jan, 1 in Feb, none in Mar; its Dec
#: deviation has no patient days); E3 in Jul (1 deviation); a Jan row of E3 without patient
#: days and a row of 2024 do not count
CAPACITY = [
    capacity("E1", date(2025, 1, 1), 1000),
    capacity("E1", date(2025, 2, 1), 1000),
    capacity("E1", date(2025, 3, 1), 1000),
    capacity("E3", date(2025, 7, 1), 500),
    capacity("E3", date(2025, 1, 1), None),
    capacity("E3", date(2024, 7, 1), 800),
]


def training(key: str, unit_id: str, role: str, course: str, done: date | None) -> dict[str, Any]:
    return dict(person_key=key, unit_id=unit_id, role=role, course=course, completed_date=done)


TRAINING = [
    training("p1", "E1", "chef", "patientsäkerhet", date(2025, 3, 1)),
    training("p2", "E1", "chef", "patientsäkerhet", None),
    training("p3", "E1", "medarbetare", "patientsäkerhet", date(2025, 5, 5)),
    training("p4", "E1", "medarbetare", "patientsäkerhet", date(2026, 1, 10)),  # after 2025
    training("p1", "E1", "chef", "produktionsplanering", date(2025, 2, 2)),
    training("p6", "E3", "chef", "patientsäkerhet", date(2024, 6, 1)),
]


@pytest.fixture
def tree(conn: Connection, config: Config) -> OrgTree:
    for kind in ("organisation", "deviations", "complaints"):
        import_file(conn, config, kind, DATA / f"{kind}.csv", now=NOW)
    return OrgTree.load(conn)


@pytest.fixture
def totals(conn: Connection, tree: OrgTree) -> dict[str, figures.Figures]:
    insert_rows(conn, Capacity, CAPACITY)
    insert_rows(conn, Training, TRAINING)
    return figures.roll_up(tree, figures.count_own(conn, 2025))


def test_unit_counts_only_its_own_records_of_the_year(totals):
    e1 = totals["E1"]
    assert e1.deviations == 4  # D11 is reported in 2026
    assert e1.by_category == {"Fall": 2, "Läkemedel": 2}
    assert e1.by_consequence == {1: 2, 2: 1, 3: 1}
    assert e1.by_status == {DeviationStatus.CLOSED: 3, DeviationStatus.NEW: 1}
    assert (e1.lex_maria, e1.care_chain) == (1, 1)
    assert e1.by_month == {1: 2, 2: 1, 12: 1}
    assert e1.complaints == 2
    assert e1.complaints_by_channel == {"1177": 1, "Patientnämnden": 1}


def test_year_is_taken_from_the_report_date(totals):
    # D08 happened 2024-12-30 but was reported 2025-01-02; D09 was reported in 2024
    assert totals["E3"].deviations == 2
    assert totals["E3"].by_category == {"Dokumentation": 2}


def test_labels_count_as_their_numbers(totals):
    assert totals["E2"].by_consequence == {4: 1, 2: 1}  # "Måttlig" is 2


def test_roll_up_adds_subtrees_and_records_on_higher_levels(totals):
    assert totals["V1"].deviations == totals["A1"].deviations == 6
    assert totals["V2"].deviations == 3  # E3's two plus one reported on V2 itself
    region = totals["R1"]
    assert region.deviations == 9
    assert region.by_category == {
        "Fall": 3,
        "Läkemedel": 2,
        "Vård och behandling": 1,
        "Dokumentation": 2,
        "Remisshantering": 1,
    }
    assert region.by_status == {
        DeviationStatus.CLOSED: 6,
        DeviationStatus.NEW: 1,
        DeviationStatus.IN_PROGRESS: 2,
    }
    assert (region.lex_maria, region.care_chain) == (2, 3)
    assert region.complaints == 4
    assert region.complaints_by_channel == {"1177": 2, "Patientnämnden": 1, "Direkt": 1}
    assert totals["A2"].complaints == 1


def test_risk_scores_are_consequence_times_probability_in_bands(conn, config, tree):
    # one deviation of E2 without a probability: it has no risk score
    insert_rows(
        conn,
        Deviation,
        [
            dict(
                source_id="D99",
                unit_id="E2",
                reported_date=date(2025, 4, 4),
                category="Fall",
                consequence=3,
                probability=None,
                status=DeviationStatus.NEW,
            )
        ],
    )
    totals = figures.roll_up(tree, figures.count_own(conn, 2025))
    # E1: D01 1×2, D02 2×2, D03 3×3, D04 1×1
    assert totals["E1"].by_risk_score == {2: 1, 4: 1, 9: 1, 1: 1}
    assert totals["E2"].by_risk_score == {4: 2, 0: 1}
    assert compilation.risk_band_rows(totals["R1"].by_risk_score, config.codes) == [
        ("låg (1–3)", 3),  # D01, D04, D08
        ("måttlig (4–6)", 5),  # D02, D05, D06, D07, D10
        ("hög (8–9)", 1),  # D03
        ("mycket hög (12–16)", 0),
        ("Ej riskbedömd", 1),  # D99
    ]


def test_closure_days_give_exact_medians_in_every_roll_up(totals):
    # closed: E1 D01 27, D02 40, D03 107 days; E2 D06 15; E3 D07 19, D08 8
    e1 = totals["E1"].closure(60)
    assert (e1.total, e1.median_days, e1.within_target) == (3, 40, 2)
    # V1: 15 27 40 107 -> 33,5, not the mean of the medians of E1 (40) and E2 (15)
    assert totals["V1"].closure(60).median_days == 33.5
    region = totals["R1"].closure(60)
    # 8 15 19 27 40 107 -> (19 + 27) / 2
    assert (region.total, region.median_days, region.within_target) == (6, 23, 5)
    assert region.share_within == pytest.approx(5 / 6)
    assert totals["E2"].closure(14).share_within == 0.0


def test_open_deviations_older_than_the_target(totals):
    # open: D04 reported 2025-12-31, D05 2025-03-02, D10 2025-09-10
    region = totals["R1"]
    assert region.open_reported == {
        date(2025, 12, 31): 1,
        date(2025, 3, 2): 1,
        date(2025, 9, 10): 1,
    }
    assert region.open_older_than(date(2026, 3, 1), 60) == 2  # D04 is exactly 60 days old
    assert region.open_older_than(date(2026, 3, 2), 60) == 3
    assert totals["A2"].open_older_than(NOW.date(), 60) == 1  # D10 on V2 itself


def test_a_closed_deviation_without_a_closing_date_is_counted_but_not_timed(conn, tree):
    before = figures.count_own(conn, 2025)["E2"]
    row = dict(
        source_id="X1",
        unit_id="E2",
        reported_date=date(2025, 6, 1),
        category="Fall",
        consequence=None,
        probability=None,
        lex_maria=True,
        care_chain=False,
        status=DeviationStatus.CLOSED,
        closed_date=None,
    )
    insert_rows(conn, Deviation, [row])
    after = figures.count_own(conn, 2025)["E2"]
    assert (after.deviations, after.lex_maria) == (before.deviations + 1, before.lex_maria + 1)
    assert after.by_status - before.by_status == Counter({DeviationStatus.CLOSED: 1})
    assert after.by_month - before.by_month == Counter({6: 1})
    assert after.by_risk_score - before.by_risk_score == Counter({0: 1})
    assert (after.closure_days, after.open_reported) == (before.closure_days, before.open_reported)


def test_answer_times_of_complaints(totals):
    # E1: K1 9 days, K2 45 days; E2: K3 not answered; E3: K4 9 days
    e1 = totals["E1"].answers(28)
    assert (e1.total, e1.done, e1.median_days, e1.within_target) == (2, 2, 27, 1)
    region = totals["R1"].answers(28)
    assert totals["R1"].answer_days == {9: 2, 45: 1, None: 1}
    assert (region.total, region.done, region.median_days, region.share_within) == (4, 3, 9, 0.5)


def test_median_of_a_histogram():
    assert figures.median_of(Counter()) is None
    assert figures.median_of(Counter({5: 1})) == 5
    assert figures.median_of(Counter({1: 1, 2: 1, 10: 2})) == 6  # 1 2 10 10
    assert figures.median_of(Counter({3: 2, 1: 1})) == 3


def test_reporting_rate_uses_only_units_and_months_with_patient_days(totals):
    e1 = totals["E1"]
    assert e1.patient_days_by_month == {1: 1000, 2: 1000, 3: 1000}
    assert (e1.exposed_deviations, e1.patient_days, e1.capacity_units) == (3, 3000, 1)
    assert e1.reporting_rate == 1.0
    assert totals["E3"].reporting_rate == 2.0  # D07 in July on 500 days; D08 in January not
    assert totals["E2"].reporting_rate is None  # no capacity data: no rate, never a guess
    v1 = totals["V1"]
    assert (v1.reporting_rate, v1.capacity_units, v1.deviations) == (1.0, 1, 6)
    region = totals["R1"]
    assert (region.exposed_deviations, region.patient_days) == (4, 3500)
    assert region.reporting_rate == pytest.approx(4000 / 3500)


def test_training_coverage_per_role_of_the_patient_safety_course(totals):
    e1 = totals["E1"]
    assert e1.training_rostered[("patientsäkerhet", "chef")] == 2
    assert e1.training_coverage("chef") == 0.5
    assert e1.training_coverage("medarbetare") == 0.5  # p4 completed only in 2026
    assert e1.training_coverage("chef", "produktionsplanering") == 1.0
    assert totals["E2"].training_coverage("chef") is None
    assert totals["R1"].training_coverage("chef") == pytest.approx(2 / 3)


def test_deviations_per_knowledge_area(totals):
    mapping = KnowledgeAreas(
        categories={"Fall": ("Prevention",), "Läkemedel": ("Läkemedel", "Prevention")}
    )
    # region: Fall 3, Läkemedel 2, Vård och behandling 1, Dokumentation 2, Remisshantering 1
    assert totals["R1"].by_knowledge_area(mapping) == {
        "Prevention": 5,
        "Läkemedel": 2,
        UNMAPPED_KNOWLEDGE_AREA: 4,
    }


def test_an_empty_year_gives_zeros_everywhere(conn, tree):
    totals = figures.roll_up(tree, figures.count_own(conn, 2019))
    assert {f.deviations + f.complaints for f in totals.values()} == {0}
    assert set(totals) == set(tree.units)


def test_one_unit_step_touches_the_unit_and_everything_above(tree):
    assert tree.affected("E2") == ["E2", "V1", "A1", "R1"]
    assert len(tree.affected(None)) == len(tree)


def test_documents_show_the_figures(conn, config, tree, totals, tmp_path: Path):
    origin = provenance(conn, ("deviations",), now=NOW, run_id="test-run")
    written = compilation.write_documents(
        tmp_path, config, tree, Period.full_year(2025), totals, ["R1", "E1"], origin
    )
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "2025/region/R1/sammanstallning.html",
        "2025/enheter/E1/sammanstallning.html",
    ]
    region = written[0].read_text("utf-8")
    assert "Sammanställning av avvikelser, klagomål och synpunkter 2025" in region
    assert "<b>9</b>avvikelser" in region
    assert "Område Ett" in region and "Område Två" in region  # the per-område table
    assert "deviations.csv" in region and "test-run" in region  # says where it came from
    assert "1,1</b> avvikelser per 1\u00a0000 vårddagar" in region
    assert "de 2 av 8 enheter" in region
    # closure 23 days; K: 50 % answered within 28 days; 2 of 3 managers trained
    assert "mediantid 23 dagar från rapport" in region and "83,3\u00a0% avslutades" in region
    assert "50,0\u00a0% besvarade inom 28 dagar" in region
    assert "66,7\u00a0% (2 av 3) – under målet" in region
    assert "3 avvikelser är fortfarande öppna mer än 60 dagar" in region
    # knowledge areas: the region's own table and one column per område
    assert "Vård- och omsorgsprevention (Äldres hälsa NPO)" in region
    assert "Ej kopplat till kunskapsområde" in region
    assert '<th class="n">Område Ett</th>' in region
    unit = written[1].read_text("utf-8")
    assert "Region Test › Område Ett › Verksamhet Ett › Enhet Ett A" in unit
    assert "Per verksamhet" not in unit and "Per enhet" not in unit  # no units below it
    assert "Bara månader med vårddagar i kapacitetsdata ingår." in unit
    assert '<td>dec</td><td class="n">1</td><td class="n">0</td>' in unit  # D04
    assert "mediantid 27 dagar" in unit and "50,0\u00a0% besvarade inom 28 dagar" in unit


def test_a_unit_without_capacity_data_says_so(conn, config, tree, totals, tmp_path: Path):
    origin = provenance(conn, ("deviations",), now=NOW, run_id="test-run")
    [path] = compilation.write_documents(
        tmp_path, config, tree, Period.full_year(2025), totals, ["E2"], origin
    )
    text = path.read_text("utf-8")
    assert "per 1\u00a0000 vårddagar: saknas" in text
    assert "avvikelser per 1\u00a0000 vårddagar" not in text

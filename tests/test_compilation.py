"""Compilation figures against hand-counted fixtures (tests/fixtures/compile)."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, insert

from arshjul import charts, compilation, figures
from arshjul.analysis import figures as analysis_figures
from arshjul.analysis.findings import analyse
from arshjul.config import UNMAPPED_KNOWLEDGE_AREA, Config, KnowledgeAreas
from arshjul.documents import provenance
from arshjul.figures import YearEndStatus
from arshjul.formats.tables import parse_html, read_tables
from arshjul.importers import import_file
from arshjul.models import (
    Base,
    Capacity,
    Complaint,
    ComplaintStatus,
    Deviation,
    DeviationStatus,
    ImportBatch,
    Training,
)
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
    # closed: E1 D01 27, D02 40, D03 107 days; E2 D06 15; E3 D07 19, D08 8; open: D04 (E1),
    # D05 (E2), D10 (V2): they count in the total, as not closed within the target
    e1 = totals["E1"].closure(60)
    assert (e1.total, e1.done, e1.median_days, e1.within_target) == (4, 3, 40, 2)
    # V1: 15 27 40 107 -> 33,5, not the mean of the medians of E1 (40) and E2 (15)
    assert totals["V1"].closure(60).median_days == 33.5
    region = totals["R1"].closure(60)
    # 8 15 19 27 40 107 -> (19 + 27) / 2; within 60 days: all but D03, of all 9 reported
    assert (region.total, region.done, region.median_days, region.within_target) == (9, 6, 23, 5)
    assert region.share_within == pytest.approx(5 / 9)
    assert totals["E2"].closure(14).share_within == 0.0


def test_open_deviations_older_than_the_target(totals):
    # open today: D04 reported 2025-12-31, D05 2025-03-02, D10 2025-09-10
    region = totals["R1"]
    assert region.open_reported == {
        date(2025, 12, 31): 1,
        date(2025, 3, 2): 1,
        date(2025, 9, 10): 1,
    }
    assert region.open_today == 3
    assert region.open_older_than(date(2026, 3, 1), 60) == 2  # D04 is exactly 60 days old
    assert region.open_older_than(date(2026, 3, 2), 60) == 3
    assert totals["A2"].open_older_than(NOW.date(), 60) == 1  # D10 on V2 itself
    # on 2025-12-31 D05 was 304 days old, D10 112, D04 0
    assert region.open_at_year_end_older_than(2025, 60) == 2


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
    # in the total of the closure times, as not closed within the target; never open
    assert after.closure_days - before.closure_days == Counter({None: 1})
    assert after.open_reported == before.open_reported
    assert after.by_year_end_status - before.by_year_end_status == Counter(
        {YearEndStatus.CLOSED_UNDATED: 1}
    )


def deviation(
    source_id: str, unit_id: str, reported: date, status: DeviationStatus, closed: date | None
) -> dict[str, Any]:
    return dict(
        source_id=source_id,
        unit_id=unit_id,
        reported_date=reported,
        category="Fall",
        status=status,
        closed_date=closed,
    )


#: 2024 besides D09 (E3, reported 2024-12-21, closed 2025-01-10: open at the end of 2024)
YEAR_END_2024 = [
    deviation("X2", "E3", date(2024, 12, 20), DeviationStatus.CLOSED, date(2024, 12, 31)),
    # closed in July and reopened: closed at the year's end, open today
    deviation("X3", "E3", date(2024, 6, 1), DeviationStatus.IN_PROGRESS, date(2024, 7, 1)),
    deviation("X4", "E1", date(2024, 3, 1), DeviationStatus.CLOSED, None),
    deviation("X5", "E1", date(2024, 9, 1), DeviationStatus.NEW, None),
]


def test_status_at_the_year_end_is_read_from_the_closing_date(conn, tree, totals):
    insert_rows(conn, Deviation, YEAR_END_2024)
    region = figures.roll_up(tree, figures.count_own(conn, 2024))["R1"]
    assert region.by_year_end_status == {
        YearEndStatus.CLOSED: 2,  # X2 (closed on 31 December), X3
        YearEndStatus.OPEN: 2,  # D09 (closed 2025-01-10), X5
        YearEndStatus.CLOSED_UNDATED: 1,  # X4
    }
    # today's statuses are another thing: D09, X2 and X4 are Avslutad now
    assert region.by_status == {
        DeviationStatus.CLOSED: 3,
        DeviationStatus.IN_PROGRESS: 1,
        DeviationStatus.NEW: 1,
    }
    assert compilation.year_end_rows(region, 2024) == [
        ("Avslutad senast 2024-12-31", 2),
        ("Ej avslutad vid årets slut", 2),
        ("Avslutad, avslutsdatum saknas", 1),
    ]
    # open on 2024-12-31: D09 for 10 days, X5 for 121
    assert region.open_at_year_end == {date(2024, 12, 21): 1, date(2024, 9, 1): 1}
    assert region.open_at_year_end_older_than(2024, 60) == 1
    # 2025: D04, D05 and D10 were open on 31 December, the six others closed by then
    assert totals["R1"].by_year_end_status == {YearEndStatus.CLOSED: 6, YearEndStatus.OPEN: 3}


def squeeze(html: str) -> str:
    """Line breaks and runs of spaces as one space (no-break spaces kept)."""
    return re.sub(r"[ \n]+", " ", html)


def tables_of(path: Path) -> dict[str, list[list[str]]]:
    """The document's tables by caption, header row first, as cell texts."""
    found = read_tables(parse_html(path.read_text("utf-8")))
    return {t.title: [[c.text for c in row] for row in t.rows] for t in found}


def test_documents_say_which_day_each_status_is_of(conn, config, tree, tmp_path: Path):
    insert_rows(conn, Deviation, YEAR_END_2024)
    totals = figures.roll_up(tree, figures.count_own(conn, 2024))
    origin = provenance(conn, ("deviations",), now=NOW, run_id="test-run")
    [path] = compilation.write_documents(
        tmp_path, config, tree, Period.full_year(2024), totals, ["R1"], origin
    )
    text = squeeze(path.read_text("utf-8"))
    tables = tables_of(path)
    year_end = tables["Avvikelser per status vid årets slut 2024"]
    assert year_end[0][0] == "Status 2024-12-31"
    assert [row[:2] for row in year_end[1:4]] == [
        ["Avslutad senast 2024-12-31", "2"],
        ["Ej avslutad vid årets slut", "2"],
        ["Avslutad, avslutsdatum saknas", "1"],
    ]
    assert "om den då var Ny eller Pågående går inte att veta" in text
    # one: the noun and its adjective agree with it (render.counted, the template's filter)
    assert "Vid årets slut var 1 avvikelse öppen mer än 60 dagar efter rapporten." in text
    today = tables["Avvikelser per dagens status"]
    assert today[0][0] == "Status 2026-11-23"
    assert [row[:2] for row in today[1:4]] == [["Ny", "1"], ["Pågående", "1"], ["Avslutad", "3"]]
    # closure as of the day of the run, of all 5: D09 after 20 days, X2 after 11; X4 untimed
    assert (
        "Läget per 2026-11-23: 2 av 5 avvikelser har avslutats med avslutsdatum, med en"
        " mediantid på 15,5 dagar från rapport till avslut. 2 av 5 (40,0\u00a0%) avslutades"
        " inom 60 dagar"
    ) in text
    assert "2 avvikelser är fortfarande öppna, varav 2 mer än 60 dagar efter rapporten." in text


#: 10 complaints of E2 in 2023: 7 answered within 28 days, 1 after 40, 2 closed (Avslutad)
#: without an answer date
ANSWERED_2023 = [(10, ComplaintStatus.CLOSED)] * 7 + [(40, ComplaintStatus.ANSWERED)]
ANSWERED_2023 += [(None, ComplaintStatus.CLOSED)] * 2


def test_the_answer_share_is_of_every_complaint_received(conn, config, tree, tmp_path: Path):
    received = date(2023, 3, 1)
    insert_rows(
        conn,
        Complaint,
        [
            dict(
                source_id=f"C{k}",
                unit_id="E2",
                received_date=received,
                channel="1177",
                category="Kommunikation",
                answered_date=None if days is None else received + timedelta(days=days),
                status=status,
            )
            for k, (days, status) in enumerate(ANSWERED_2023)
        ],
    )
    totals = figures.roll_up(tree, figures.count_own(conn, 2023))
    answers = totals["E2"].answers(28, NOW.date())
    assert (answers.received, answers.answered, answers.within_target) == (10, 8, 7)
    assert (answers.late, answers.closed_unanswered, answers.unanswered) == (1, 2, 0)
    assert answers.share_within == 0.7
    origin = provenance(conn, ("complaints",), now=NOW, run_id="test-run")
    [path] = compilation.write_documents(
        tmp_path, config, tree, Period.full_year(2023), totals, ["E2"], origin
    )
    text = squeeze(path.read_text("utf-8"))
    assert (
        "7 av 10 klagomål och synpunkter (70,0\u00a0%) besvarades inom 28 dagar. Andelen räknas"
        " på alla som inkom under året: 1 besvarades senare, 2 avslutades utan svarsdatum och 0"
        " var inte besvarade per 2026-11-23; de räknas som inte besvarade i tid."
    ) in text
    # the analysis judges the same share: 70 % against the target of 80 %
    data = analysis_figures.gather(conn, tree, 2023, wheel=config.wheel, today=NOW.date())
    [finding] = [f for f in analyse(data, tree, config)["E2"].findings if f.kind == "answer_time"]
    assert (finding.value, finding.baseline) == (0.7, 0.8)
    assert finding.title == (
        "70,0\u00a0% av klagomålen besvarade inom 28 dagar (7 av 10 inkomna; mål 80\u00a0%)"
    )


def test_unanswered_complaints_may_still_be_answered_in_time():
    f = figures.Figures(
        answer_days=Counter({5: 1, None: 3}),
        closed_unanswered=1,
        unanswered_received=Counter({date(2025, 12, 20): 1, date(2025, 11, 1): 1}),
    )
    # on 2026-01-17 the one of 20 December is 28 days old: it can still be answered in time
    answers = f.answers(28, date(2026, 1, 17))
    assert (answers.received, answers.unanswered, answers.still_in_time) == (4, 2, 1)
    assert answers.share_within == 0.25
    assert f.answers(28, date(2026, 1, 18)).still_in_time == 0
    assert f.answers(28, None).still_in_time == 0


def test_answer_times_of_complaints(totals):
    # E1: K1 9 days, K2 45 days; E2: K3 not answered; E3: K4 9 days
    e1 = totals["E1"].answers(28, NOW.date())
    assert (e1.received, e1.answered, e1.median_days, e1.within_target) == (2, 2, 27, 1)
    region = totals["R1"].answers(28, NOW.date())
    assert totals["R1"].answer_days == {9: 2, 45: 1, None: 1}
    assert (region.received, region.answered, region.median_days) == (4, 3, 9)
    assert (region.share_within, region.unanswered, region.still_in_time) == (0.5, 1, 0)


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
    assert "mediantid på 23 dagar från rapport" in region
    assert "5 av 9 (55,6\u00a0%) avslutades" in region
    assert "2 av 4 klagomål och synpunkter\n(50,0\u00a0%) besvarades inom 28 dagar" in region
    assert "66,7\u00a0% (2 av 3) – under målet" in region
    assert "3 avvikelser är fortfarande öppna, varav 3\nmer än 60 dagar" in region
    assert "Vid årets slut var 2 avvikelser öppna mer än 60 dagar" in region
    # knowledge areas: the region's own table and one column per område
    assert "Vård- och omsorgsprevention (Äldres hälsa NPO)" in region
    assert "Ej kopplat till kunskapsområde" in region
    assert '<th class="n">Område Ett</th>' in region
    unit = written[1].read_text("utf-8")
    assert "Region Test › Område Ett › Verksamhet Ett › Enhet Ett A" in unit
    assert "Per verksamhet" not in unit and "Per enhet" not in unit  # no units below it
    assert "Bara månader med vårddagar i kapacitetsdata ingår." in unit
    assert '<td>dec</td><td class="n">1</td><td class="n">0</td>' in unit  # D04
    assert "Mediantid till svar för de besvarade: 27 dagar" in unit
    assert "(50,0\u00a0%) besvarades inom 28 dagar" in unit


def test_a_unit_without_capacity_data_says_so(conn, config, tree, totals, tmp_path: Path):
    origin = provenance(conn, ("deviations",), now=NOW, run_id="test-run")
    [path] = compilation.write_documents(
        tmp_path, config, tree, Period.full_year(2025), totals, ["E2"], origin
    )
    text = path.read_text("utf-8")
    assert "per 1\u00a0000 vårddagar: saknas" in text
    assert "avvikelser per 1\u00a0000 vårddagar" not in text


def test_the_risk_bands_are_coloured_as_in_the_analysis_risk_matrix(
    conn, config, tree, totals, tmp_path: Path
):
    origin = provenance(conn, ("deviations",), now=NOW, run_id="test-run")
    [path] = compilation.write_documents(
        tmp_path, config, tree, Period.full_year(2025), totals, ["R1"], origin
    )
    html = path.read_text("utf-8")
    table = html.split("Avvikelser per risknivå</caption>")[1].split("</tbody>")[0]
    rows = table.split("<tr>")[2:]  # after the header
    fills = [re.search(r"background: (#[0-9a-f]{6})", row) for row in rows]
    # light green, yellow, orange, light red (charts.BAND_FILLS); no colour without a band
    assert [f and f[1] for f in fills] == ["#cfe8cf", "#fff1a8", "#ffc98a", "#f5a3a3", None]
    assert "Ej riskbedömd" in rows[-1]
    # the analysis' matrix fills its cells the same
    assert [b.fill for b in charts.risk_bands(config.codes.risk_bands)] == [
        f[1] for f in fills if f
    ]

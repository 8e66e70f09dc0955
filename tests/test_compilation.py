"""Compilation figures against hand-counted fixtures (tests/fixtures/compile)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection

from arshjul import compilation
from arshjul.config import Config
from arshjul.documents import provenance
from arshjul.importers import import_file
from arshjul.models import DeviationStatus
from arshjul.org import OrgTree
from tests.conftest import FIXTURES, NOW

DATA = FIXTURES / "compile"


@pytest.fixture
def tree(conn: Connection, config: Config) -> OrgTree:
    for kind in ("organisation", "deviations", "complaints"):
        import_file(conn, config, kind, DATA / f"{kind}.csv", now=NOW)
    return OrgTree.load(conn)


@pytest.fixture
def totals(conn: Connection, tree: OrgTree) -> dict[str, compilation.Figures]:
    return compilation.roll_up(tree, compilation.count_own(conn, 2025))


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


def test_an_empty_year_gives_zeros_everywhere(conn, tree):
    totals = compilation.roll_up(tree, compilation.count_own(conn, 2019))
    assert {f.deviations + f.complaints for f in totals.values()} == {0}
    assert set(totals) == set(tree.units)


def test_one_unit_step_touches_the_unit_and_everything_above(tree):
    assert compilation.affected(tree, "E2") == ["E2", "V1", "A1", "R1"]
    assert len(compilation.affected(tree, None)) == len(tree)


def test_documents_show_the_figures(conn, config, tree, totals, tmp_path: Path):
    origin = provenance(conn, ("deviations",), now=NOW, run_id="test-run")
    written = compilation.write_documents(
        tmp_path, config, tree, 2025, totals, ["R1", "E1"], origin
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
    unit = written[1].read_text("utf-8")
    assert "Region Test › Område Ett › Verksamhet Ett › Enhet Ett A" in unit
    assert "Per " not in unit  # a unit has no table of units below it

"""Importers against good files in every accepted shape and a corpus of bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from arshjul.errors import InputError
from arshjul.importers import import_file
from arshjul.importers.personnummer import find, luhn_ok
from arshjul.models import Complaint, Deviation, DeviationStatus, ImportBatch, OrgUnit
from tests.conftest import FIXTURES, NOW
from tests.fixtures.imports.cases import BAD, CASES, DEV_HEADER, DEV_OK, dev, lines

ORG = lines(
    "HSA-id;Namn;Nivå;Överordnad",
    "R1;Region;region;",
    "A1;Område;område;R1",
    "V1;Verksamhet;verksamhet;A1",
    "E1;Enhet ett;enhet;V1",
    "E2;Enhet två;enhet;V1",
)


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.fixture
def org(conn, config, tmp_path):
    import_file(conn, config, "organisation", write(tmp_path, "org.csv", ORG), now=NOW)


def count(conn, table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize(
    ("encoding", "delimiter", "newline"),
    [
        ("utf-8-sig", ";", "\r\n"),
        ("utf-8", ",", "\n"),
        ("cp1252", "\t", "\r\n"),
        ("utf-16", ";", "\n"),
    ],
)
def test_good_files_in_every_encoding_and_delimiter(
    conn, config, org, tmp_path, encoding, delimiter, newline
):
    rows = [DEV_HEADER, DEV_OK, "D2;E2;;2025-03-02;Läkemedel;Måttlig;;ja;x;Pågående;"]
    text = newline.join(r.replace(";", delimiter) for r in rows) + newline
    path = write(tmp_path, "deviations.csv", text.encode(encoding))
    result = import_file(conn, config, "deviations", path, now=NOW)
    assert (result.rows, result.inserted, result.updated) == (2, 2, 0)
    stored = conn.execute(select(Deviation).order_by(Deviation.source_id)).all()
    assert [(d.source_id, d.category, d.consequence) for d in stored] == [
        ("D1", "Fall", 1),
        ("D2", "Läkemedel", 2),
    ]
    d2 = stored[1]
    assert (d2.lex_maria, d2.care_chain, d2.status) == (True, True, DeviationStatus.IN_PROGRESS)
    assert d2.event_date is None and d2.probability is None


def test_headers_match_ignoring_case_accents_and_spacing(conn, config, org, tmp_path):
    header = "avvikelse_id,ENHET HSA ID,handelsedatum,rapporteringsdatum,handelsetyp,konsekvens"
    content = lines(header + ",STATUS", "D1,E1,2025-01-03,2025-01-05 14:30,fall,mindre,avslutad")
    result = import_file(conn, config, "deviations", write(tmp_path, "d.csv", content), now=NOW)
    assert result.inserted == 1
    assert conn.execute(select(Deviation.category)).scalar_one() == "Fall"


def test_free_text_is_dropped_and_reported(conn, config, org, tmp_path):
    content = lines(DEV_HEADER + ";Händelsebeskrivning", DEV_OK + ";Patienten föll vid sängen")
    result = import_file(conn, config, "deviations", write(tmp_path, "d.csv", content), now=NOW)
    assert result.ignored_columns == ("Händelsebeskrivning",)
    assert "föll" not in " ".join(str(v) for v in conn.execute(select(Deviation)).one())


def test_reimport_of_the_same_file_changes_nothing(conn, config, org, tmp_path):
    path = write(tmp_path, "d.csv", dev(DEV_OK))
    import_file(conn, config, "deviations", path, now=NOW)
    again = import_file(conn, config, "deviations", path, now=NOW)
    assert again.already_imported and again.inserted == again.updated == 0
    assert count(conn, Deviation) == 1
    assert count(conn, ImportBatch) == 2  # the organisation and the one deviations file


def test_a_later_export_updates_by_source_id(conn, config, org, tmp_path):
    import_file(conn, config, "deviations", write(tmp_path, "a.csv", dev(DEV_OK)), now=NOW)
    later = dev(
        DEV_OK.replace(";Avslutad;", ";Pågående;").replace("2025-02-01", ""),
        "D2;E2;2025-01-03;2025-01-05;Fall;1;2;nej;nej;Ny;",
    )
    result = import_file(conn, config, "deviations", write(tmp_path, "b.csv", later), now=NOW)
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 0)
    d1 = conn.execute(select(Deviation).where(Deviation.source_id == "D1")).one()
    assert d1.status == DeviationStatus.IN_PROGRESS and d1.closed_date is None
    # the same content under another file name: counted unchanged, batch kept
    same = dev(DEV_OK.replace(";Avslutad;", ";Pågående;").replace("2025-02-01", "")) + b"\n"
    result = import_file(conn, config, "deviations", write(tmp_path, "c.csv", same), now=NOW)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 1)


def test_identical_duplicate_rows_count_once(conn, config, org, tmp_path):
    result = import_file(
        conn, config, "deviations", write(tmp_path, "d.csv", dev(DEV_OK, DEV_OK)), now=NOW
    )
    assert result.rows == 1


def test_several_faulty_rows_are_all_listed_and_nothing_is_stored(conn, config, org, tmp_path):
    content = dev(
        DEV_OK,
        DEV_OK.replace("D1;E1", "D2;E9"),
        DEV_OK.replace("D1;", "D3;").replace("2025-01-05", "2025-13-05"),
        DEV_OK.replace("D1;", "D4;").replace(";Fall;", ";Fallolycka;"),
    )
    with pytest.raises(InputError) as raised:
        import_file(conn, config, "deviations", write(tmp_path, "d.csv", content), now=NOW)
    problems = raised.value.problems
    assert [(p.line, p.value) for p in problems] == [
        (3, "E9"),
        (4, "2025-13-05"),
        (5, "Fallolycka"),
    ]
    assert count(conn, Deviation) == 0
    assert count(conn, ImportBatch) == 1  # only the organisation


def test_personnummer_is_masked_in_the_message(conn, config, org, tmp_path):
    content = lines(DEV_HEADER + ";Beskrivning", DEV_OK + ";pat 19121212-1212 föll")
    with pytest.raises(InputError) as raised:
        import_file(conn, config, "deviations", write(tmp_path, "d.csv", content), now=NOW)
    message = str(raised.value)
    assert "19121212-****" in message and "1212121212" not in message.replace("-", "")
    assert raised.value.problems[0].column == "Beskrivning"


def test_hsa_ids_and_invalid_check_digits_are_not_personnummer():
    assert luhn_ok("1212121212") and not luhn_ok("1212121213")
    assert list(find("SE2321000016-E0001;SE2321000000-O001")) == []
    assert list(find("191212121213")) == []  # wrong check digit
    assert list(find("kund 20121212+1212")) == [(1, "20121212+****")]


def test_organisation_updates_names_and_keeps_one_region(conn, config, org, tmp_path):
    renamed = lines("HSA-id;Namn;Nivå;Överordnad", "E2;Enhet 2 (ny);enhet;V1")
    result = import_file(conn, config, "organisation", write(tmp_path, "o.csv", renamed), now=NOW)
    assert (result.inserted, result.updated) == (0, 1)
    assert conn.execute(select(OrgUnit.name).where(OrgUnit.id == "E2")).scalar_one() == (
        "Enhet 2 (ny)"
    )


def test_xlsx_input_is_read_from_the_first_sheet(conn, config, org, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(DEV_HEADER.split(";"))
    sheet.append(DEV_OK.split(";"))
    path = tmp_path / "deviations.xlsx"
    book.save(path)
    assert import_file(conn, config, "deviations", path, now=NOW).inserted == 1


def test_complaints_fixture_imports(conn, config, tmp_path):
    import_file(conn, config, "organisation", FIXTURES / "compile" / "organisation.csv", now=NOW)
    result = import_file(
        conn, config, "complaints", FIXTURES / "compile" / "complaints.csv", now=NOW
    )
    assert result.inserted == 5 == count(conn, Complaint)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_file_is_refused_precisely_and_stores_nothing(conn, config, org, case):
    before = count(conn, ImportBatch)
    with pytest.raises(InputError) as raised:
        import_file(conn, config, case.kind, BAD / case.name, now=NOW)
    message = str(raised.value)
    for fragment in case.expected:
        assert fragment in message
    assert count(conn, ImportBatch) == before
    assert count(conn, Deviation) == count(conn, Complaint) == 0


def test_the_committed_corpus_matches_its_definition():
    assert sorted(p.name for p in BAD.iterdir()) == sorted(c.name for c in CASES)
    for case in CASES:
        assert (BAD / case.name).read_bytes() == case.content, case.name

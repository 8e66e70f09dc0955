"""Importing in sheets: a file read a few lines at a time gives exactly what it gives read whole.

Large files are read, checked and staged in sheets of a few MB (arshjul.importers.read.BLOCK,
ROWS); here the sheets are made a line or two long, so that every rule that spans rows — the
same key twice, added-up waiting lists, quoted cells over several lines, line numbers after
them, encodings checked across blocks — is exercised across sheet boundaries.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Connection, select

from arshjul.config import Config
from arshjul.errors import InputError, Problem, UsageError
from arshjul.importers import ImportResult, import_file, read, validate
from arshjul.importers.read import sheets, survey
from arshjul.models import Deviation, WaitingSnapshot
from tests.conftest import NOW
from tests.fixtures.imports.cases import (
    BAD,
    CASES,
    DEV_HEADER,
    DEV_OK,
    ORGANISATION,
    WAIT_HEADER,
    lines,
    store_findings,
)

pytestmark = pytest.mark.both_databases


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sheets of a line or two, and values forgotten after a few."""
    monkeypatch.setattr(read, "BLOCK", 40)
    monkeypatch.setattr(read, "ROWS", 2)
    monkeypatch.setattr(validate, "REMEMBERED", 3)


@pytest.fixture
def org(conn: Connection, config: Config) -> None:
    import_file(conn, config, "organisation", ORGANISATION, now=NOW)


def deviation(i: int, unit: str = "E1", reported: str = "2025-01-05") -> str:
    return f"D{i};{unit};2025-01-03;{reported};Fall;1;2;nej;nej;Ny;"


def outcome(
    conn: Connection, config: Config, kind: str, path: Path
) -> tuple[ImportResult | None, list[Problem], list[tuple[object, ...]]]:
    """What importing ``path`` gives — its result or problems, and what is stored — rolled
    back afterwards."""
    with conn.begin_nested() as attempt:
        try:
            result, problems = import_file(conn, config, kind, path, now=NOW), []
        except InputError as refused:
            result, problems = None, refused.problems
        model = WaitingSnapshot if kind == "waiting" else Deviation
        columns = [c for c in model.__table__.c if c.name not in ("id", "batch_id")]
        stored = [tuple(r) for r in conn.execute(select(*columns).order_by(*columns))]
        attempt.rollback()
    return result, problems, stored


def same_in_sheets(
    conn: Connection, config: Config, monkeypatch: pytest.MonkeyPatch, kind: str, path: Path
) -> tuple[ImportResult | None, list[Problem], list[tuple[object, ...]]]:
    whole = outcome(conn, config, kind, path)
    monkeypatch.setattr(read, "BLOCK", 40)
    monkeypatch.setattr(read, "ROWS", 2)
    monkeypatch.setattr(validate, "REMEMBERED", 3)
    assert len(list(sheets(path, survey(path, path.name), path.name))) > 3  # really read in sheets
    assert outcome(conn, config, kind, path) == whole
    return whole


def test_problems_everywhere_are_the_same_in_sheets(conn, config, org, tmp_path, monkeypatch):
    rows = [deviation(i) for i in range(40)]
    rows[3] = deviation(3, unit="E9")  # unknown unit
    rows[11] = deviation(1)  # the same record again: counts once
    rows[17] = deviation(2, reported="2025-01-06")  # the same key, other content
    rows[18] = deviation(2, reported="2025-01-01")  # ... and reported before the event
    rows[22] = deviation(22) + ';"föll\nvid 19121212-1212"'  # quoted over two lines
    rows[25] = deviation(25, unit="E9")  # its line comes after the cell of two lines
    rows[30] = "D30;E1;2025-01-03"  # too few fields
    rows[33] = deviation(33, reported="2025-13-01")
    path = tmp_path / "deviations.csv"
    path.write_bytes(lines(DEV_HEADER + ";Beskrivning", *(r + ";" for r in rows)))
    _, problems, _ = same_in_sheets(conn, config, monkeypatch, "deviations", path)
    assert [(p.line, p.column, p.value) for p in problems] == [
        (5, "Enhet HSA-id", "E9"),
        (19, "Avvikelse-ID", "D2"),
        (20, "Avvikelse-ID", "D2"),  # a repeated record's own checks are not reported
        (24, "Beskrivning", "19121212-****"),
        (28, "Enhet HSA-id", "E9"),
        (33, None, None),
        (36, "Rapporteringsdatum", "2025-13-01"),
    ]
    assert problems[1].reason.startswith("same source_id as line 4 but different content")


def test_a_good_file_is_stored_the_same_in_sheets(conn, config, org, tmp_path, monkeypatch):
    rows = [deviation(i, unit=f"E{1 + i % 2}") for i in range(30)]
    rows.insert(20, rows[2])  # an identical repeated row, in another sheet
    content = lines(DEV_HEADER, *rows, encoding="cp1252", newline="\r\n")
    path = tmp_path / "deviations.csv"
    path.write_bytes(content.replace(b"Fall", "Läkemedel".encode("cp1252")))
    result, problems, stored = same_in_sheets(conn, config, monkeypatch, "deviations", path)
    assert problems == [] and result is not None
    assert (result.rows, result.inserted, result.updated) == (30, 30, 0)
    assert len(stored) == 30 and {row[4] for row in stored} == {"Läkemedel"}


def test_text_is_stored_as_written(conn, config, org, tmp_path):
    """Tabs, line breaks and backslashes in a cell survive staging (COPY's text format escapes
    them on PostgreSQL)."""
    odd = "A\\B\tC\nD"
    path = tmp_path / "deviations.csv"
    path.write_bytes(lines(DEV_HEADER, f'"{odd}"' + deviation(1)[2:], deviation(2)))
    assert import_file(conn, config, "deviations", path, now=NOW).inserted == 2
    stored = conn.execute(select(Deviation.source_id).order_by(Deviation.id)).scalars().all()
    assert stored == [odd, "D2"]


def test_waiting_lists_of_patients_add_up_across_sheets(conn, config, org, tmp_path, monkeypatch):
    header = "Mätdatum;HSA-id;Vårdåtgärd;Väntetid (dagar);Remiss-ID"
    rows = [f"2026-10-31;E{1 + i % 2};besök;{i % 3};R-{i}" for i in range(25)]
    path = tmp_path / "waiting.csv"
    path.write_bytes(lines(header, *rows))
    result, _, stored = same_in_sheets(conn, config, monkeypatch, "waiting", path)
    assert result is not None and (result.rows, result.inserted) == (6, 6)
    counts = {(unit, days): n for _, unit, _, days, _, n in stored}
    assert sum(cast(int, n) for n in counts.values()) == 25
    assert counts[("E1", 0)] == 5  # rows 0, 6, 12, 18, 24


def test_a_repeated_waiting_row_across_sheets(conn, config, org, tmp_path, monkeypatch):
    rows = [f"2026-10-31;E1;besök;{i};nej;{i + 1}" for i in range(12)]
    rows.append(rows[1])  # identical: counts once
    rows.append(rows[2].replace(";3", ";30"))  # the same key, another count
    path = tmp_path / "waiting.csv"
    path.write_bytes(lines(WAIT_HEADER, *rows))
    _, problems, _ = same_in_sheets(conn, config, monkeypatch, "waiting", path)
    assert [(p.line, p.column, p.value) for p in problems] == [
        (15, "Mätdatum", "2026-10-31, E1, besök, 2, nej")
    ]
    assert problems[0].reason.endswith("as line 4 but different content (Antal)")


@pytest.fixture
def findings(conn: Connection, org: None) -> None:
    """The stored findings the action cases answer."""
    store_findings(conn)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_bad_corpus_gives_the_same_problems_in_sheets(conn, config, findings, tiny, case):
    with pytest.raises(InputError) as raised:
        import_file(conn, config, case.kind, BAD / case.name, now=NOW)
    located = [(p.line, p.column) for p in raised.value.problems if case.reason in p.reason]
    assert (case.line, case.column) in located, str(raised.value)


def test_a_file_that_changes_while_it_is_read_is_refused(tmp_path):
    path = tmp_path / "deviations.csv"
    path.write_bytes(lines(DEV_HEADER, DEV_OK))
    surveyed = survey(path, path.name)
    path.write_bytes(lines(DEV_HEADER, DEV_OK.replace("2025-01-05", "2025-01-06")))
    with pytest.raises(UsageError, match="changed while it was imported"):
        list(sheets(path, surveyed, path.name))


def test_encodings_are_told_apart_across_blocks(tmp_path, tiny):
    rows = [deviation(i) for i in range(20)]
    path = tmp_path / "deviations.csv"
    latin = lines(DEV_HEADER, *rows, encoding="cp1252")
    path.write_bytes(latin)
    assert survey(path, path.name).form == "cp1252"
    # a UTF-8 letter far from the first Windows-1252 one: mixed, both lines named
    path.write_bytes(latin + "D99;E1;;2025-01-05;Läkemedel;;;;;Ny;\n".encode())
    problem = survey(path, path.name).problem
    assert problem is not None and problem.line == 1
    assert "mixed encodings: line 22 has UTF-8 text ('ä'" in problem.reason
    # a UTF-8 letter cut in two by the end of a block is still one letter
    path.write_bytes(("x" * 39 + "ä\n").encode())
    assert survey(path, path.name).form == "utf-8-sig"


def test_polars_and_the_csv_module_split_the_same_cells(tmp_path: Path) -> None:
    """A quote-free file is split by polars, one with a quote by the csv module: every other
    cell — spaces around it, empty, Unicode, invisible characters, a tab — comes out alike."""
    rows = [
        ["a", " b ", "", "Åsa\u00a0Öberg"],
        ["\u200bATK-2", "x\ty", " ", "199001011234"],
        ["", "", "", "ü"],
        ["e\u2060nd", "\ufeffbom", "1,5", "0"],
    ]
    plain = "h1;h2;h3;h4\r\n" + "".join(";".join(row) + "\r\n" for row in rows)
    quoted = plain.replace("h4", '"h4"', 1)
    read_as = {}
    for name, text in (("plain.csv", plain), ("quoted.csv", quoted)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8", newline="")
        (sheet,) = sheets(path, survey(path, name), name)
        read_as[name] = (sheet.header, [list(c) for c in sheet.columns], list(sheet.lines))
    assert read_as["plain.csv"] == read_as["quoted.csv"]
    header, columns, lines = read_as["plain.csv"]
    assert header == ["h1", "h2", "h3", "h4"]
    assert columns[0] == ["a", "ATK-2", "", "end"]  # invisible characters left out
    assert columns[1] == [" b ", "x\ty", "", "bom"]
    assert lines == [2, 3, 4, 5]

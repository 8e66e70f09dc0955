"""Status for the auditors: every unit and deadline of a year's cycle, done or not."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import Connection

from arshjul import status
from arshjul.cli import main
from arshjul.config import Config
from arshjul.documents import Provenance
from arshjul.importers import import_file
from arshjul.milestone_status import Progress
from arshjul.org import OrgTree
from tests.conftest import FIXTURES, NOW, STOCKHOLM

pytestmark = pytest.mark.both_databases

ORGANISATION = FIXTURES / "compile" / "organisation.csv"
#: the cycle for data year 2025 has its deadlines in 2026: all but the plan-next are past NOW
YEAR = 2025


@pytest.fixture
def tree(conn: Connection, config: Config) -> OrgTree:
    import_file(conn, config, "organisation", ORGANISATION, now=NOW)
    return OrgTree.load(conn)


def done(conn: Connection, step: str, period: str, units: list[str], at: datetime, run: str):
    return status.record_done(
        conn,
        step=step,
        period=period,
        unit_documents=[(u, 1) for u in units],
        run_id=run,
        started_at=at - timedelta(minutes=1),
        finished_at=at,
    )


def rows_of(conn, config, tree, milestone: str) -> dict[str, status.StatusRow]:
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    return {r.unit_id: r for r in rows if r.milestone == milestone}


def test_every_unit_of_a_deadlines_level_has_a_row(conn, config, tree):
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    compile_rows = [r for r in rows if r.milestone == "ps-compile"]
    # enheter E1-E3 by 20 Jan, områden A1-A2 by 31 Jan, the region by 7 Feb (a Saturday → 6th)
    assert [(r.unit_id, r.due_date) for r in compile_rows] == [
        ("E1", date(2026, 1, 20)),
        ("E2", date(2026, 1, 20)),
        ("E3", date(2026, 1, 20)),
        ("A1", date(2026, 1, 30)),
        ("A2", date(2026, 1, 30)),
        ("R1", date(2026, 2, 6)),
    ]
    assert {r.progress for r in rows if r.due_date < NOW.date()} == {Progress.OVERDUE}
    milestones = {r.milestone for r in rows}
    # the interim reports of 2025 and its annual report belong to the same data year
    assert milestones == {
        "ps-compile",
        "ps-analyse",
        "ps-report",
        "ps-action-plan",
        "ir-t1",
        "ir-t2",
        "ir-year",
    }


def test_done_records_the_first_run_and_marks_it_late_after_the_deadline(conn, config, tree):
    on_time = datetime(2026, 1, 19, 16, 0, tzinfo=STOCKHOLM)
    later = datetime(2026, 3, 2, 8, 0, tzinfo=STOCKHOLM)
    done(conn, "compile", "2025", ["E1"], on_time, "run-1")
    done(conn, "compile", "2025", ["E1", "E2"], later, "run-2")
    done(conn, "compile", "2024", ["E3"], on_time, "run-0")  # another year's cycle
    rows = rows_of(conn, config, tree, "ps-compile")
    assert (rows["E1"].progress, rows["E1"].run_id, rows["E1"].late) == (
        Progress.DONE,
        "run-1",
        False,
    )
    assert rows["E1"].finished_at == on_time
    assert (rows["E2"].progress, rows["E2"].run_id, rows["E2"].late) == (
        Progress.DONE,
        "run-2",
        True,
    )
    assert rows["E3"].progress is Progress.OVERDUE


def test_interim_periods_are_matched_to_their_milestones(conn, config, tree):
    done(conn, "interim_report", "2025-T2", ["R1"], NOW - timedelta(days=30), "run-9")
    assert rows_of(conn, config, tree, "ir-t2")["R1"].progress is Progress.DONE
    assert rows_of(conn, config, tree, "ir-t1")["R1"].progress is Progress.OVERDUE


def test_a_deadline_still_ahead_is_upcoming(conn, config, tree):
    rows = status.step_status(conn, config, tree, 2026, now=NOW)
    upcoming = {r.milestone for r in rows if r.progress is Progress.UPCOMING}
    assert upcoming == {"ps-compile", "ps-analyse", "ps-report", "ps-action-plan", "ir-year"}


def test_csv_and_json_read_back_to_the_same_rows(conn, config, tree):
    done(conn, "analyse", "2025", ["E2"], datetime(2026, 2, 9, 10, 0, tzinfo=STOCKHOLM), "r-7")
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    from_csv = list(csv.DictReader(io.StringIO(status.as_csv(rows))))
    from_json = json.loads(status.as_json(rows))
    assert len(from_csv) == len(from_json) == len(rows)
    e2 = next(r for r in from_json if r["unit_id"] == "E2" and r["milestone"] == "ps-analyse")
    assert e2["status"] == "done"
    assert e2["finished_at"] == "2026-02-09T10:00:00+01:00"
    assert e2["run_id"] == "r-7"
    e1 = next(r for r in from_csv if r["unit_id"] == "E1" and r["milestone"] == "ps-analyse")
    assert (e1["status"], e1["finished_at"], e1["due_date"]) == ("overdue", "", "2026-02-10")
    assert next(r for r in from_json if r["unit_id"] == "E1")["finished_at"] is None


def test_the_table_has_a_line_per_row_in_aligned_columns(conn, config, tree):
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    lines = status.as_table(rows).splitlines()
    assert len(lines) == len(rows) + 1
    assert lines[0].split() == ["milstolpe", "datum", "status", "nivå", "enhet", "klar"]
    assert lines[1].index("2025-05-15") == lines[0].index("datum")


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        self._in = tag == "td"
        if self._in:
            self.cells.append("")

    def handle_endtag(self, tag):
        self._in = False

    def handle_data(self, data):
        if self._in:
            self.cells[-1] += data


def test_the_status_document_counts_and_lists_every_unit(conn, config, tree, tmp_path):
    done(conn, "compile", "2025", ["E1", "E2"], datetime(2026, 1, 19, tzinfo=STOCKHOLM), "r-1")
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    origin = Provenance((), NOW, "run-x")
    path = status.write_status_document(tmp_path, config, YEAR, rows, origin)
    assert path == tmp_path / "2025" / "status.html"
    parser = _Cells()
    parser.feed(path.read_text("utf-8"))
    # the summary row of the enheter's compile deadline: 2 done, 1 overdue, 0 upcoming
    at = parser.cells.index("2026-01-20")
    assert parser.cells[at + 1 : at + 4] == ["2", "1", "0"]
    # compile, analyse and action plan have deadlines for enheter
    assert parser.cells.count("Enhet Ett A") == 3


def test_cli_prints_the_status_in_each_format(workdir, capsys):
    assert main(["import", "organisation", str(ORGANISATION)]) == 0
    capsys.readouterr()
    assert main(["status", "--year", "2025", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["unit_id"] for r in rows} == {"R1", "A1", "A2", "E1", "E2", "E3"}
    assert main(["status", "--format", "csv"]) == 0  # the default year is 2025 on NOW
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == len(rows)


def test_cli_status_before_any_import_says_what_to_do(workdir, capsys):
    assert main(["status"]) == 2
    assert "import the organisation file first" in capsys.readouterr().err


def test_recording_counts_the_units_that_did_the_step_for_the_first_time(conn, tree):
    assert done(conn, "compile", "2025", ["E1", "E2"], NOW, "run-1") == 2
    assert done(conn, "compile", "2025", ["E1", "E2"], NOW, "run-2") == 0
    assert done(conn, "compile", "2025", ["E2", "E3"], NOW, "run-3") == 1
    assert done(conn, "compile", "2024", ["E2"], NOW, "run-4") == 1
    assert done(conn, "analyse", "2025", ["E2"], NOW, "run-5") == 1

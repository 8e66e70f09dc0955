"""Status for the auditors: every unit and deadline of a year's cycle, done or not."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Connection

from arshjul import status
from arshjul.cli import main
from arshjul.config import Config
from arshjul.db import make_engine
from arshjul.documents import Provenance
from arshjul.errors import InputError
from arshjul.importers import import_file
from arshjul.milestone_status import Progress, load_status
from arshjul.org import OrgTree
from arshjul.workdays import wheel_dates
from tests.conftest import FIXTURES, NOW, STOCKHOLM
from tests.evidence import (
    ACTION_HEADER,
    DATED_HEADER,
    add_findings,
    decide,
    import_actions,
    import_roster,
    run_step,
)

pytestmark = pytest.mark.both_databases

ORGANISATION = FIXTURES / "compile" / "organisation.csv"
#: the cycle for data year 2025 has its deadlines in 2026: all but the plan-next are past NOW
YEAR = 2025


@pytest.fixture
def tree(conn: Connection, config: Config) -> OrgTree:
    import_file(conn, config, "organisation", ORGANISATION, now=NOW)
    return OrgTree.load(conn)


def rows_of(conn, config, tree, milestone: str) -> dict[str, status.StatusRow]:
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    return {r.unit_id: r for r in rows if r.milestone == milestone}


def states_of(
    conn, config, tree, milestone: str
) -> dict[str, tuple[Progress, str, datetime | None]]:
    """Each unit's (status, reason, when done) for the single deadline of ``milestone``."""
    return {
        unit: (r.progress, r.reason, r.finished_at)
        for unit, r in rows_of(conn, config, tree, milestone).items()
    }


def test_every_unit_of_a_deadlines_level_has_a_row(conn, config, tree):
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    compile_rows = [r for r in rows if r.milestone == "ps-compile"]
    # enheter E1-E3 by 20 Jan, verksamheter V1-V2 by 25 Jan (a Sunday → 23rd), områden A1-A2
    # by 31 Jan (a Saturday → 30th), the region by 7 Feb (a Saturday → 6th)
    assert [(r.unit_id, r.level, r.due_date) for r in compile_rows] == [
        ("E1", "enhet", date(2026, 1, 20)),
        ("E2", "enhet", date(2026, 1, 20)),
        ("E3", "enhet", date(2026, 1, 20)),
        ("V1", "verksamhet", date(2026, 1, 23)),
        ("V2", "verksamhet", date(2026, 1, 23)),
        ("A1", "område", date(2026, 1, 30)),
        ("A2", "område", date(2026, 1, 30)),
        ("R1", "region", date(2026, 2, 6)),
    ]
    follow_ups = [r for r in rows if r.milestone == "ps-follow-up"]
    # three follow-ups for every unit at every level; nothing to follow up without actions
    assert len(follow_ups) == 3 * 8
    assert {(r.progress, r.reason) for r in follow_ups if r.due_date < NOW.date()} == {
        (Progress.DONE, "inga öppna åtgärder att följa upp")
    }
    # the training follow-up for every enhet, verksamhet and område, not the region
    assert [r.unit_id for r in rows if r.milestone == "training"] == [
        "E1", "E2", "E3", "V1", "V2", "A1", "A2"
    ]  # fmt: skip
    passed = {r.progress for r in rows if r.due_date < NOW.date() and r not in follow_ups}
    assert passed == {Progress.OVERDUE}
    milestones = {r.milestone for r in rows}
    # the interim reports of 2025 and its annual report belong to the same data year, the
    # follow-ups and training of 2026 to its cycle
    assert milestones == {
        "ps-compile",
        "ps-analyse",
        "ps-report",
        "ps-action-plan",
        "ps-follow-up",
        "training",
        "ir-t1",
        "ir-t2",
        "ir-year",
    }


def test_done_records_the_first_run_and_marks_it_late_after_the_deadline(conn, config, tree):
    on_time = datetime(2026, 1, 19, 16, 0, tzinfo=STOCKHOLM)
    later = datetime(2026, 3, 2, 8, 0, tzinfo=STOCKHOLM)
    run_step(conn, "compile", "2025", ["E1"], on_time, "run-1")
    run_step(conn, "compile", "2025", ["E1", "E2"], later, "run-2")
    run_step(conn, "compile", "2024", ["E3"], on_time, "run-0")  # another year's cycle
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
    run_step(conn, "interim_report", "2025-T2", ["R1"], NOW - timedelta(days=30), "run-9")
    assert rows_of(conn, config, tree, "ir-t2")["R1"].progress is Progress.DONE
    assert rows_of(conn, config, tree, "ir-t1")["R1"].progress is Progress.OVERDUE


def test_a_deadline_still_ahead_is_upcoming(conn, config, tree):
    rows = status.step_status(conn, config, tree, 2026, now=NOW)
    upcoming = {r.milestone for r in rows if r.progress is Progress.UPCOMING}
    assert upcoming == {
        "ps-compile",
        "ps-analyse",
        "ps-report",
        "ps-action-plan",
        "ps-follow-up",
        "training",
        "ir-year",
    }
    # the first follow-up of 2027 looks at the actions open after 15 Dec 2026: not yet
    may = next(r for r in rows if r.milestone == "ps-follow-up" and r.unit_id == "E1")
    assert (may.due_date, may.reason) == (date(2027, 5, 14), "perioden börjar 2026-12-16")


def test_csv_and_json_read_back_to_the_same_rows(conn, config, tree):
    run_step(conn, "analyse", "2025", ["E2"], datetime(2026, 2, 9, 10, 0, tzinfo=STOCKHOLM), "r-7")
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
    assert lines[0].split() == [
        "milstolpe", "datum", "status", "nivå", "enhet", "klar", "förklaring"
    ]  # fmt: skip
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


def test_klar_says_whether_in_time_or_late_on_every_page_and_line(conn, config, tree, tmp_path):
    # the enheter's compilation is due on 20 January 2026: E1 in time, E2 a day late, E3 not
    run_step(conn, "compile", "2025", ["E1"], datetime(2026, 1, 19, 16, tzinfo=STOCKHOLM), "r-1")
    run_step(conn, "compile", "2025", ["E2"], datetime(2026, 1, 21, 9, tzinfo=STOCKHOLM), "r-2")
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    origin = Provenance((), NOW, "run-x")
    path = status.write_status_document(tmp_path, config, YEAR, rows, origin)
    assert path == tmp_path / "2025" / "status.html"
    html = path.read_text("utf-8")
    parser = _Cells()
    parser.feed(html)
    # the summary row: 1 in time, 1 late, 1 overdue, 0 upcoming
    at = parser.cells.index("2026-01-20")
    assert parser.cells[at + 1 : at + 5] == ["1", "1", "1", "0"]
    assert "Klara i tid</th>" in html and "Klara sent</th>" in html
    assert "2 av 3 klara: 1 i tid, 1 sent (efter 2026-01-20)." in html
    e1 = parser.cells.index("E1")
    assert parser.cells[e1 + 1] == "klar i tid"
    e2 = parser.cells.index("E2")
    assert parser.cells[e2 + 1] == "klar sent (efter 2026-01-20)"
    # compile, analyse, action plan, three follow-ups and training have deadlines for enheter
    assert parser.cells.count("Enhet Ett A") == 7
    compiled = {r.unit_id: r for r in rows if r.milestone == "ps-compile"}
    assert [compiled[u].status_sv for u in ("E1", "E2", "E3")] == [
        "klar i tid",
        "klar sent",
        "försenad",
    ]
    table = status.as_table([compiled["E2"]]).splitlines()[1]
    assert "klar sent" in table
    [record] = list(csv.DictReader(io.StringIO(status.as_csv([compiled["E2"]]))))
    assert (record["status"], record["late"]) == ("done", "true")
    assert json.loads(status.as_json([compiled["E1"]]))[0]["late"] is False
    # the wheel and the calendar page count the same, and the event says it was late
    book = load_status(conn, config, tree, (2026,), now=NOW)
    due = next(
        d
        for d in wheel_dates(config.wheel, 2026)
        if d.milestone.id == "ps-compile" and d.deadline.level == "unit"
    )
    assert book.tally(due, ["E1", "E2", "E3"]).counted == "2 av 3 klara, 1 av dem sent"
    assert book.tally(due, ["E1", "E3"]).counted == "1 av 2 klar"
    assert book.status(due, "E2").line == "Status: klar 2026-01-21, efter sista dagen."
    assert book.status(due, "E1").line == "Status: klar 2026-01-19."


def test_cli_prints_the_status_in_each_format(workdir, capsys):
    assert main(["import", "organisation", str(ORGANISATION)]) == 0
    capsys.readouterr()
    assert main(["status", "--year", "2025", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["unit_id"] for r in rows} == {"R1", "A1", "A2", "V1", "V2", "E1", "E2", "E3"}
    assert main(["status", "--format", "csv"]) == 0  # the default year is 2025 on NOW
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == len(rows)


def test_cli_status_before_any_import_says_what_to_do(workdir, capsys):
    assert main(["status"]) == 2
    assert "import the organisation file first" in capsys.readouterr().err


def test_recording_counts_the_units_that_did_the_step_for_the_first_time(conn, tree):
    assert run_step(conn, "compile", "2025", ["E1", "E2"], NOW, "run-1") == 2
    assert run_step(conn, "compile", "2025", ["E1", "E2"], NOW, "run-2") == 0
    assert run_step(conn, "compile", "2025", ["E2", "E3"], NOW, "run-3") == 1
    assert run_step(conn, "compile", "2024", ["E2"], NOW, "run-4") == 1
    assert run_step(conn, "analyse", "2025", ["E2"], NOW, "run-5") == 1


# --- the evidence of each step (arshjul.evidence), hand-computed ---------------------------


def at(month: int, day: int, hour: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=STOCKHOLM)


def state(conn, config, tree, milestone: str, unit: str, due: date | None = None):
    rows = status.step_status(conn, config, tree, YEAR, now=NOW)
    [row] = [
        r
        for r in rows
        if r.milestone == milestone and r.unit_id == unit and due in (None, r.due_date)
    ]
    return row


def test_a_document_is_out_of_date_when_its_years_data_came_after_it(conn, config, tree, tmp_path):
    run_step(conn, "compile", "2025", ["E1", "E2", "V1", "A1", "A2"], at(1, 19), "run-1")
    # a corrected export of E1's 2025 deviations on 25 Jan; a 2024 deviation changes nothing
    header = ("Ärendenummer", "HSA-id", "Rapporteringsdatum", "Händelsetyp", "Status")
    rows = [("D1", "E1", "2025-06-01", "Fall", "Ny"), ("D0", "E2", "2024-06-01", "Fall", "Ny")]
    path = tmp_path / "avvikelser.csv"
    path.write_text("\n".join(";".join(r) for r in (header, *rows)) + "\n", encoding="utf-8")
    import_file(conn, config, "deviations", path, now=at(1, 25))

    stale = "inaktuell: nya data importerade 2026-01-25"
    for unit in ("E1", "V1", "A1"):  # E1 and the roll-ups that count E1's data
        row = state(conn, config, tree, "ps-compile", unit)
        assert (row.progress, row.reason, row.finished_at) == (Progress.OVERDUE, stale, None)
    for unit in ("E2", "A2"):
        row = state(conn, config, tree, "ps-compile", unit)
        assert (row.progress, row.finished_at, row.run_id) == (Progress.DONE, at(1, 19), "run-1")

    run_step(conn, "compile", "2025", ["E1", "V1", "A1"], at(2, 1), "run-2")
    row = state(conn, config, tree, "ps-compile", "E1")
    # done by the first run after the import: late, after 20 Jan
    assert (row.progress, row.finished_at, row.run_id, row.late) == (
        Progress.DONE,
        at(2, 1),
        "run-2",
        True,
    )


def plan_tree(conn, config, folder: Path) -> None:
    """The analysis and the plan written for every unit on 1 Mar 2026; E1 with two findings
    of Medel/Hög and one Låg and no answer, E2's Hög finding decided Ingen åtgärd with its
    reason, E3's Medel finding with an action, the region's own finding unanswered; the
    worksheets returned on 10 Mar."""
    everyone = ["R1", "A1", "A2", "V1", "V2", "E1", "E2", "E3"]
    for step in ("analyse", "action_plan"):
        run_step(conn, step, "2025", everyone, at(3, 1), f"run-{step}")
    add_findings(
        conn,
        2025,
        [
            ("E1", "fall", 3),
            ("E1", "lakemedel", 2),
            ("E1", "klagomal", 1),
            ("E2", "fall", 3),
            ("E3", "fall", 2),
            ("R1", "fall", 2),
        ],
    )
    import_actions(
        conn,
        config,
        folder,
        [
            ("E2-2025-001", "E2", "2025:E2:trend:fall", "", "Enhetschef", "", "Ingen åtgärd",
             "Ökningen är nya rapportörer, inte fler fall"),
            ("E2-2025-002", "E2", "", "Rutin för överrapportering", "Enhetschef", "2026-12-31",
             "Planerad", ""),
            ("E3-2025-001", "E3", "2025:E3:trend:fall", "Fallriskbedömning", "Enhetschef",
             "2026-06-30", "Planerad", ""),
        ],
        at(3, 10),
    )  # fmt: skip


def test_the_action_plan_is_done_when_every_medel_and_hog_finding_is_answered(
    conn, config, tree, tmp_path
):
    plan_tree(conn, config, tmp_path)
    assert states_of(conn, config, tree, "ps-action-plan") == {
        # the Låg finding need not be answered
        "E1": (Progress.OVERDUE, "2 fynd utan åtgärd", None),
        # answered when the worksheet came back, after the plan was written
        "E2": (Progress.DONE, "", at(3, 10)),
        "E3": (Progress.DONE, "", at(3, 10)),
        # a roll-up: its own plan, and every unit below it that has the deadline
        "V1": (Progress.OVERDUE, "1 av 2 underliggande inte klar", None),
        "V2": (Progress.DONE, "", at(3, 10)),
        "A1": (Progress.OVERDUE, "1 av 3 underliggande inte klar", None),
        "A2": (Progress.DONE, "", at(3, 10)),
        "R1": (Progress.OVERDUE, "1 fynd utan åtgärd; 1 av 7 underliggande inte klar", None),
    }


def test_an_empty_region_plan_is_not_done_though_its_version_1_was_approved(
    conn, config, tree, tmp_path
):
    plan_tree(conn, config, tmp_path)
    decide(conn, "action_plan", "2025", "R1", approved=True, at=at(3, 2))
    row = state(conn, config, tree, "ps-action-plan", "R1")
    assert (row.progress, row.reason) == (
        Progress.OVERDUE,
        "1 fynd utan åtgärd; 1 av 7 underliggande inte klar",
    )


def test_the_region_plan_needs_its_findings_answered_below_and_its_approval(
    conn, config, tree, tmp_path
):
    plan_tree(conn, config, tmp_path)
    import_actions(
        conn,
        config,
        tmp_path,
        [
            ("E1-2025-001", "E1", "2025:E1:trend:fall", "Fallrond", "Enhetschef", "2026-09-30",
             "Pågår", ""),
            ("E1-2025-002", "E1", "2025:E1:trend:lakemedel", "Dubbelkontroll", "Enhetschef",
             "2026-09-30", "Planerad", ""),
            ("R1-2025-001", "R1", "2025:R1:trend:fall", "Regional fallstrategi", "Områdeschef",
             "2026-12-31", "Planerad", ""),
        ],
        at(4, 20),
    )  # fmt: skip
    row = state(conn, config, tree, "ps-action-plan", "R1")
    assert (row.progress, row.reason) == (Progress.OVERDUE, "väntar på fastställande")
    decide(conn, "action_plan", "2025", "R1", approved=True, at=at(4, 28, 15))
    row = state(conn, config, tree, "ps-action-plan", "R1")
    assert (row.progress, row.reason, row.finished_at, row.run_id, row.late) == (
        Progress.DONE,
        "fastställd version 1",
        at(4, 28, 15),
        "sign-1",
        False,
    )
    # the enheter's deadline was 13 March: E1 answered on 20 April, late
    e1 = state(conn, config, tree, "ps-action-plan", "E1")
    assert (e1.progress, e1.finished_at, e1.late) == (Progress.DONE, at(4, 20), True)


def test_a_decision_ingen_atgard_without_a_reason_is_refused_in_swedish(
    conn, config, tree, tmp_path
):
    plan_tree(conn, config, tmp_path)
    rows = [
        ("E1-2025-001", "E1", "2025:E1:trend:fall", "", "Enhetschef", "", "Ingen åtgärd", ""),
        ("E1-2025-002", "E1", "", "", "Enhetschef", "", "Ingen åtgärd", "Redan åtgärdat"),
        ("E1-2025-003", "E1", "2025:E1:trend:lakemedel", "Rond", "Enhetschef", "",
         "Ingen åtgärd", "Behövs inte"),
    ]  # fmt: skip
    with pytest.raises(InputError) as refused:
        import_actions(conn, config, tmp_path, rows, at(3, 11))
    problems = [(p.line, p.column, p.reason) for p in refused.value.problems]
    assert problems == [
        (2, "Motivering", "Status 'Ingen åtgärd' kräver en Motivering: skriv varför fyndet inte"
         " behöver någon åtgärd"),
        (3, "Fynd-ID", "Status 'Ingen åtgärd' är ett beslut om ett fynd: ange fyndets Fynd-ID"),
        (4, "Åtgärd", "Status 'Ingen åtgärd' men en Åtgärd är ifylld: välj en annan status"
         " eller töm Åtgärd"),
    ]  # fmt: skip
    assert state(conn, config, tree, "ps-action-plan", "E1").reason == "2 fynd utan åtgärd"


def test_an_action_needs_its_atgard_and_an_empty_prefilled_row_is_skipped(
    conn, config, tree, tmp_path
):
    plan_tree(conn, config, tmp_path)
    with pytest.raises(InputError) as refused:
        import_actions(
            conn,
            config,
            tmp_path,
            [("E1-2025-001", "E1", "2025:E1:trend:fall", "", "Enhetschef", "", "Planerad",
              "Vi gör en rond")],
            at(3, 11),
        )  # fmt: skip
    assert [(p.column, p.reason) for p in refused.value.problems] == [
        (
            "Åtgärd",
            "tom: en åtgärd behöver sin Åtgärd (eller välj Status 'Ingen åtgärd' och skriv en"
            " Motivering)",
        )
    ]
    prefilled = [("E1-2025-001", "E1", "2025:E1:trend:fall", "", "", "", "Planerad", "")]
    result = import_actions(conn, config, tmp_path, prefilled, at(3, 11))
    assert (result.rows, result.skipped) == (0, 1)


def test_the_safety_report_is_done_only_when_approved(conn, config, tree):
    run_step(conn, "safety_report", "2025", ["R1"], at(2, 18), "run-1")
    row = state(conn, config, tree, "ps-report", "R1")
    assert (row.progress, row.reason, row.finished_at) == (
        Progress.OVERDUE,
        "väntar på fastställande",
        None,
    )
    decide(conn, "safety_report", "2025", "R1", approved=False, at=at(2, 20))
    row = state(conn, config, tree, "ps-report", "R1")
    assert (row.progress, row.reason) == (
        Progress.OVERDUE,
        "version 1 återremitterad 2026-02-20",
    )
    run_step(conn, "safety_report", "2025", ["R1"], at(2, 24), "run-2")
    row = state(conn, config, tree, "ps-report", "R1")
    assert row.reason == "väntar på fastställande (version 1 återremitterad 2026-02-20)"
    decide(conn, "safety_report", "2025", "R1", approved=True, at=at(2, 26), version=2)
    row = state(conn, config, tree, "ps-report", "R1")
    assert (row.progress, row.finished_at, row.run_id, row.reason, row.late) == (
        Progress.DONE,
        at(2, 26),
        "sign-2",
        "fastställd version 2",
        False,  # the deadline, 1 March 2026, a Sunday: Friday 27 February
    )


def dated_actions(conn, config, folder, rows, imported: datetime):
    """A returned worksheet with the Statusdatum column, imported at ``imported``."""
    return import_actions(conn, config, folder, rows, imported, header=DATED_HEADER)


def test_a_follow_up_needs_an_update_of_every_action_open_when_its_window_began(
    conn, config, tree, tmp_path
):
    plan_tree(conn, config, tmp_path)  # E2-2025-002 and E3-2025-001 planned on 10 March
    # an action of the 2024 plan, open since November 2025, followed up on 20 May: late for
    # the May follow-up (window 16 Dec 2025 – 15 May 2026), in time for September's
    e1 = ("E1-2024-001", "E1", "", "Avvikelseutbildning", "Enhetschef")
    dated_actions(
        conn,
        config,
        tmp_path,
        [(*e1, "2026-06-30", "Pågår", "", "2025-11-01")],
        at(11, 1, year=2025),
    )
    dated_actions(
        conn, config, tmp_path, [(*e1, "2026-08-31", "Pågår", "", "2026-05-20")], at(5, 20)
    )
    # E3 writes its follow-up on 10 June (inside September's window); E2 does not
    e3 = ("E3-2025-001", "E3", "2025:E3:trend:fall", "Fallriskbedömning", "Enhetschef")
    dated_actions(
        conn, config, tmp_path, [(*e3, "2026-06-30", "Pågår", "", "2026-06-10")], at(6, 10)
    )

    def follow_up(unit: str, month: int):
        row = state(conn, config, tree, "ps-follow-up", unit, date(2026, month, 15))
        return row.progress, row.reason, row.finished_at, row.late

    # a follow-up is done on the day the unit wrote: a day, no time
    assert follow_up("E1", 5) == (Progress.DONE, "", date(2026, 5, 20), True)
    # E2's and E3's actions came after the May window began: nothing to follow up there
    nothing = (Progress.DONE, "inga öppna åtgärder att följa upp", None, False)
    assert follow_up("E2", 5) == follow_up("E3", 5) == nothing
    assert follow_up("E1", 9) == (Progress.DONE, "", date(2026, 5, 20), False)
    assert follow_up("E3", 9) == (Progress.DONE, "", date(2026, 6, 10), False)
    # E2's planned action was last updated on 10 March, before September's window
    assert follow_up("E2", 9) == (
        Progress.OVERDUE,
        "1 öppen åtgärd utan daterad uppföljning",
        None,
        False,
    )
    # December's window began on 16 September: no update since for the open actions; NOW
    # is 23 November, before the deadline
    assert follow_up("E1", 12) == (
        Progress.UPCOMING,
        "1 öppen åtgärd utan daterad uppföljning",
        None,
        False,
    )
    assert follow_up("V1", 9) == (
        Progress.OVERDUE,
        "1 av 2 underliggande inte klar",
        None,
        False,
    )
    assert follow_up("V2", 9) == (Progress.DONE, "", date(2026, 6, 10), False)
    # an action struck out is no longer open: the follow-up of the rest is what counts
    dated_actions(
        conn,
        config,
        tmp_path,
        [("E2-2025-002", "E2", "", "Rutin för överrapportering", "Enhetschef", "2026-12-31",
          "Struken", "Ersatt av regional rutin", "2026-09-30")],
        at(9, 30),
    )  # fmt: skip
    assert follow_up("E2", 9) == (Progress.DONE, "", date(2026, 9, 30), True)
    # open when December's window began on 16 September, and updated in it
    assert follow_up("E2", 12) == (Progress.DONE, "", date(2026, 9, 30), False)


def test_a_follow_up_is_judged_by_the_day_written_not_the_day_imported(
    conn, config, tree, tmp_path
):
    plan_tree(conn, config, tmp_path)  # E2-2025-002 and E3-2025-001 planned on 10 March

    def follow_up(unit: str, month: int):
        row = state(conn, config, tree, "ps-follow-up", unit, date(2026, month, 15))
        return row.progress, row.reason, row.finished_at, row.late

    e2 = ("E2-2025-002", "E2", "", "Rutin för överrapportering", "Enhetschef", "2026-12-31")
    e3 = ("E3-2025-001", "E3", "2025:E3:trend:fall", "Fallriskbedömning", "Enhetschef")
    missing = (Progress.OVERDUE, "1 öppen åtgärd utan daterad uppföljning", None, False)
    # E3's worksheet comes on 10 June, inside September's window (16 May – 15 Sep), but its
    # row has no Statusdatum: an import is no follow-up
    import_actions(conn, config, tmp_path, [(*e3, "2026-06-30", "Pågår", "")], at(6, 10))
    assert follow_up("E3", 9) == missing
    # the same row dated 12 September, imported on 2 October: in time, on the 12th
    late_import = tmp_path / "e3-returned.csv"
    late_import.write_text(
        ";".join(DATED_HEADER)
        + "\n"
        + ";".join((*e3, "2026-06-30", "Pågår", "", "2026-09-12"))
        + "\n",
        encoding="utf-8",
    )
    import_file(conn, config, "actions", late_import, now=at(10, 2))
    assert follow_up("E3", 9) == (Progress.DONE, "", date(2026, 9, 12), False)
    # E2 writes on 15 September and the file is imported on 16 September, the first day of
    # December's window: it follows up September, in time, and nothing of December
    dated_actions(conn, config, tmp_path, [(*e2, "Pågår", "", "2026-09-15")], at(9, 16))
    assert follow_up("E2", 9) == (Progress.DONE, "", date(2026, 9, 15), False)
    upcoming = (Progress.UPCOMING, "1 öppen åtgärd utan daterad uppföljning", None, False)
    assert follow_up("E2", 12) == upcoming
    # the same bytes imported again on 20 November add no update, and hold the same day: no
    # follow-up of December appears, and September's stays as it was
    again = import_file(conn, config, "actions", late_import, now=at(11, 20))
    assert again.already_imported
    assert follow_up("E3", 9) == (Progress.DONE, "", date(2026, 9, 12), False)
    assert follow_up("E3", 12) == upcoming
    # a Statusdatum after the day of the import is refused, in Swedish
    with pytest.raises(InputError) as refused:
        dated_actions(conn, config, tmp_path, [(*e2, "Pågår", "", "2026-12-01")], at(11, 20))
    assert "utanför 1990-01-01–2026-11-20 (i dag): Statusdatum är dagen då statusen skrevs" in str(
        refused.value
    )
    assert follow_up("E2", 12) == upcoming


def test_training_is_done_when_the_units_roster_was_imported_in_the_year(
    conn, config, tree, tmp_path
):
    import_roster(conn, config, tmp_path, ["E3"], at(12, 1, year=2025))  # another year
    import_roster(conn, config, tmp_path, ["E1", "E2", "V1", "V2", "A1"], at(4, 1))
    assert states_of(conn, config, tree, "training") == {
        "E1": (Progress.DONE, "", at(4, 1)),
        "E2": (Progress.DONE, "", at(4, 1)),
        "E3": (Progress.OVERDUE, "ingen utbildningsdata 2026", None),
        "V1": (Progress.DONE, "", at(4, 1)),
        "V2": (Progress.OVERDUE, "1 av 1 underliggande inte klar", None),
        "A1": (Progress.DONE, "", at(4, 1)),
        "A2": (
            Progress.OVERDUE,
            "ingen utbildningsdata 2026; 1 av 2 underliggande inte klar",
            None,
        ),
    }


def test_cli_status_json_gives_each_rows_reason(workdir, capsys):
    assert main(["import", "organisation", str(ORGANISATION)]) == 0
    engine = make_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    with engine.begin() as conn:
        for step in ("analyse", "action_plan"):
            run_step(conn, step, "2025", ["E1", "E2"], at(3, 1), f"run-{step}")
        add_findings(conn, 2025, [("E1", "fall", 3), ("E2", "fall", 2)])
    engine.dispose()
    worksheet = workdir / "handlingsplan.csv"
    header = ";".join(ACTION_HEADER)
    refused = "E1-2025-001;E1;2025:E1:trend:fall;;Enhetschef;;Ingen åtgärd;"
    worksheet.write_text(f"{header}\n{refused}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["import", "actions", str(worksheet)]) == 2
    assert "Status 'Ingen åtgärd' kräver en Motivering" in capsys.readouterr().err
    worksheet.write_text(f"{header}\n{refused}Inga fall efter ombyggnaden\n", encoding="utf-8")
    assert main(["import", "actions", str(worksheet)]) == 0
    capsys.readouterr()
    assert main(["status", "--year", "2025", "--format", "json"]) == 0
    plans = {
        r["unit_id"]: (r["status"], r["reason"], r["finished_at"])
        for r in json.loads(capsys.readouterr().out)
        if r["milestone"] == "ps-action-plan"
    }
    # the import is dated by the CLI's clock, NOW; E3 was neither analysed nor planned
    assert plans["E1"] == ("done", "", NOW.isoformat(timespec="seconds"))
    assert plans["E2"] == ("overdue", "1 fynd utan åtgärd", None)
    assert plans["E3"] == ("overdue", "analysen saknas", None)
    assert plans["V2"] == ("overdue", "analysen saknas; 1 av 1 underliggande inte klar", None)

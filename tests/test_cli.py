"""The command line through its real entry points: ``arshjul.cli.main`` under the session's
Prefect harness, and the installed ``arshjul`` script in a subprocess for what a person sees."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from arshjul.cli import main
from arshjul.clock import local
from arshjul.inputs import handed_back
from arshjul.models import Deviation, ImportBatch, StepRun
from tests.conftest import FIXTURES

pytestmark = pytest.mark.usefixtures("prefect_harness")

DATA = FIXTURES / "compile"


def count(workdir: Path, table) -> int:
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def import_fixture(*kinds: str) -> None:
    for kind in kinds:
        assert main(["import", kind, str(DATA / f"{kind}.csv")]) == 0


def test_import_then_compile_one_unit_updates_its_roll_ups(workdir, capsys):
    import_fixture("organisation", "deviations", "complaints")
    assert count(workdir, Deviation) == 11
    assert main(["compile", "--year", "2025", "--unit", "E2"]) == 0
    assert main(["analyse", "--year", "2025", "--unit", "E2"]) == 0
    assert (workdir / "out" / "2025" / "region" / "R1" / "analys.html").exists()
    written = sorted(
        p.relative_to(workdir / "out").as_posix()
        for p in (workdir / "out").rglob("sammanstallning.html")
    )
    assert written == [
        "2025/enheter/E2/sammanstallning.html",
        "2025/omraden/A1/sammanstallning.html",
        "2025/region/R1/sammanstallning.html",
        "2025/verksamheter/V1/sammanstallning.html",
    ]
    assert count(workdir, StepRun) == 8  # two steps for four units


def test_a_rerun_leaves_the_calendars_alone_a_first_run_publishes_them(workdir):
    import_fixture("organisation", "deviations", "complaints")
    calendars = workdir / "out" / "calendar"
    assert main(["compile", "--year", "2025", "--unit", "E2"]) == 0
    assert (calendars / "region.ics").is_file()  # E2 and its ancestors met a deadline

    shutil.rmtree(calendars)
    assert main(["compile", "--year", "2025", "--unit", "E2"]) == 0
    assert not calendars.exists()  # the same units again: no deadline changed

    assert main(["compile", "--year", "2025", "--unit", "E1"]) == 0
    assert (calendars / "region.ics").is_file()  # E1 is new
    assert (workdir / "out" / "2025" / "index.html").exists()


def test_a_file_with_several_faulty_rows_lists_them_all_and_stores_nothing(
    workdir, tmp_path, capsys
):
    import_fixture("organisation")
    bad = tmp_path / "deviations.csv"
    lines = (DATA / "deviations.csv").read_text("utf-8").splitlines()
    lines[2] = lines[2].replace(";E1;", ";E9;")  # unknown unit, line 3
    lines[5] = lines[5].replace("2025-03-02", "2025-02-30")  # impossible date, line 6
    lines[7] = lines[7].replace(";Dokumentation;", ";Dokumentationn;")  # unknown category, line 8
    bad.write_text("\n".join(lines) + "\n", "utf-8")
    capsys.readouterr()

    assert main(["import", "deviations", str(bad)]) == 2

    err = capsys.readouterr().err
    assert "line 3" in err and "E9" in err
    assert "line 6" in err and "2025-02-30" in err
    assert "line 8" in err and "Dokumentationn" in err
    assert "Traceback" not in err
    assert count(workdir, Deviation) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compile", "--year", "25"], "not a year"),
        (["import", "waiting-list", "x.csv"], "invalid choice"),
        (["import", "deviations", "no/such/file.csv"], "FILE: no such file"),
        (["compile", "--year", "2025", "--unit", "NOPE"], "--unit: no unit with id 'NOPE'"),
    ],
)
def test_usage_errors_exit_2_with_a_message(workdir, capsys, argv, message):
    import_fixture("organisation")
    with pytest.raises(SystemExit) as exited:
        sys.exit(main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_the_library_names_fields_and_the_command_line_spells_them_as_options():
    import pickle

    from arshjul.cli import _message
    from arshjul.errors import UsageError
    from arshjul.org import OrgTree

    with pytest.raises(UsageError) as refused:
        OrgTree([]).get("NOPE")
    assert (refused.value.field, str(refused.value)) == (
        "unit",
        "unit: no unit with id 'NOPE' in the organisation",
    )
    back = pickle.loads(pickle.dumps(refused.value))  # from a worker process
    assert _message(back) == "--unit: no unit with id 'NOPE' in the organisation"


def test_bad_config_exits_2_naming_file_key_and_value(workdir, tmp_path, monkeypatch, capsys):
    own = tmp_path / "region-config"
    own.mkdir()
    (own / "settings.yaml").write_text("region: {id: R1, name: X}\ntargets: {suppress_below: -3}\n")
    monkeypatch.setenv("ARSHJUL_CONFIG", str(own))
    assert main(["compile", "--year", "2025"]) == 2
    err = capsys.readouterr().err
    assert "settings.yaml" in err and "targets.suppress_below" in err and "-3" in err


def test_run_writes_every_document_of_the_cycle_for_the_demo_region(workdir, capsys):
    # the session's Prefect server can resume a paused run, so sign-off would wait: approve
    assert main(["run", "--approve", "--out", str(workdir / "elsewhere")]) == 0
    out = capsys.readouterr().out
    assert "Data year 2025" in out
    year = workdir / "elsewhere" / "2025"
    units = 1 + 3 + 12 + 35  # region, områden, verksamheter, enheter
    for name in (
        "sammanstallning",
        "analys",
        "handlingsplan",
        "uppskjuten-vard",  # the annual report's section for 2025
    ):
        assert len(list(year.rglob(f"{name}.html"))) == units, name
        assert len(list(year.rglob(f"{name}.docx"))) == units, name
    assert len(list(year.rglob("handlingsplan-arbetsblad.xlsx"))) == units
    report = next(year.glob("region/*/patientsakerhetsberattelse.html")).read_text("utf-8")
    assert "Fastställd av automatiskt godkänd" in report
    assert len(list((workdir / "elsewhere" / "2026-T2").rglob("uppskjuten-vard.html"))) == units
    # PDF for what the region publishes: the report (and its signed version), the region's
    # and the områdens deferred-care sections
    pdfs = sorted(p.relative_to(year).as_posix().split("/", 2)[::2] for p in year.rglob("*.pdf"))
    assert pdfs == [
        *[["omraden", "uppskjuten-vard.pdf"]] * 3,
        ["region", "patientsakerhetsberattelse-v1.pdf"],
        ["region", "patientsakerhetsberattelse.pdf"],
        ["region", "uppskjuten-vard.pdf"],
    ]
    # compile, analyse, action plan and five interim periods per unit (2025's tertials and
    # year, 2026's two ended tertials), one safety report, and the analyses of the three
    # years whose plans the units handed back (2025's before its worksheets, then again)
    assert count(workdir, StepRun) == 11 * units + 1
    for period in ("2025-T1", "2025-T2", "2025", "2026-T1", "2026-T2"):
        assert f"  interim       {period}: {units} documents (uppskjuten vård)" in out
    # no interim deadline of 2025's status page or of 2026's wheel is left "inte skrivet"
    capsys.readouterr()
    assert main(["status", "--year", "2025", "--format", "json"]) == 0
    interim = [r for r in json.loads(capsys.readouterr().out) if r["milestone"].startswith("ir-")]
    assert [(r["milestone"], r["status"]) for r in interim] == [
        ("ir-t1", "done"),
        ("ir-t2", "done"),
        ("ir-year", "done"),
    ]
    assert main(["status", "--year", "2026", "--format", "json"]) == 0
    interim = [r for r in json.loads(capsys.readouterr().out) if r["milestone"].startswith("ir-")]
    # 2026's tertials are written; its year is not over
    assert [(r["milestone"], r["status"]) for r in interim] == [
        ("ir-t1", "done"),
        ("ir-t2", "done"),
        ("ir-year", "upcoming"),
    ]
    assert "imported      action plans 2023: 181 worksheets, 135 actions" in out
    # fewer returns of 2024's plans than when a Klar was only written at a follow-up after
    # its date: a unit with nothing open left hands back no more
    assert "imported      action plans 2024: 179 worksheets, 186 actions" in out
    # 2025's analysis ran before its plans' worksheets came in and again in the cycle: the
    # summary counts the documents the second run did not write again, all of them in all
    analysed = re.search(r"  analyse +(\d+) documents?(?: \((\d+) unchanged)?", out)
    assert analysed and int(analysed[1]) + int(analysed[2] or 0) == units
    # 2025's plans, due 13 March 2026, handed back since February (issue 14)
    assert "imported      action plans 2025: 143 worksheets, 162 actions" in out
    # each worksheet as of the day it was handed back (the demo's days, noon): the plans from
    # February 2024, the last follow-up before today (ARSHJUL_NOW: 23 Nov 2026)
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    try:
        with engine.connect() as conn:
            days = conn.execute(
                select(ImportBatch.imported_at).where(ImportBatch.kind == "actions")
            ).scalars()
            on = sorted({local(at).date() for at in days})
    finally:
        engine.dispose()
    assert date(2024, 2, 14) <= on[0] < date(2024, 3, 31) and on[-1] <= date(2026, 11, 23)
    assert len(on) > 50  # the units hand back on days of their own
    plan = next(year.glob("region/*/handlingsplan.html")).read_text("utf-8")
    assert "<h2>Försenade åtgärder</h2>" in plan and "(försenad)" in plan
    index = (year / "index.html").read_text("utf-8")
    assert index.count('sammanstallning.html"') == units
    assert index.count('uppskjuten-vard.pdf" aria-label="Uppskjuten vård som PDF">PDF</a>') == 4
    assert "sign-off      safety_report 2025 version 1: approved" in out
    feeds = {p.name for p in (workdir / "elsewhere" / "calendar").glob("*.ics")}
    assert "region.ics" in feeds


def test_worksheets_handed_back_are_found_by_year_then_by_day(tmp_path):
    data = tmp_path / "data"
    for name in (
        "actions-2024/2025-05-12/b.xlsx",
        "actions-2024/2025-03-01/b.xlsx",
        "actions-2024/2025-03-01/a.xlsx",
        "actions-2024/c.xlsx",  # no day: as of the import, after the dated ones
        "actions-2023/2024-03-01/a.xlsx",
        "actions-2025/2026-03-01/a.xlsx",  # the plan of the year run: after its analysis
        "actions-2026/2027-03-01/a.xlsx",  # a later year's plan: not in this run
        "actions-2024/notes/d.xlsx",  # a folder not named by a day is no return
    ):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(b"")
    found = [
        (year, [(p.relative_to(data).as_posix(), on) for p, on in files])
        for year, files in handed_back(data, 2025)
    ]
    assert found == [
        (2023, [("actions-2023/2024-03-01/a.xlsx", date(2024, 3, 1))]),
        (
            2024,
            [
                ("actions-2024/2025-03-01/a.xlsx", date(2025, 3, 1)),
                ("actions-2024/2025-03-01/b.xlsx", date(2025, 3, 1)),
                ("actions-2024/2025-05-12/b.xlsx", date(2025, 5, 12)),
                ("actions-2024/c.xlsx", None),
            ],
        ),
        (2025, [("actions-2025/2026-03-01/a.xlsx", date(2026, 3, 1))]),
    ]


def fill_in_one_action(worksheet: Path, returned: Path) -> None:
    """What a unit does in Excel: an action on the first finding's row."""
    from openpyxl import load_workbook

    book = load_workbook(worksheet)
    sheet = book.worksheets[0]
    column = {cell.value: cell.column for cell in sheet[1]}
    for header, value in {
        "Åtgärd": "Dubbelkontroll vid läkemedelsgivning",
        "Ansvarig": "Enhetschef",
        "Klart senast": date(2026, 12, 31),
        "Status": "Pågår",
    }.items():
        sheet.cell(2, column[header], value)
    returned.parent.mkdir(parents=True, exist_ok=True)
    book.save(returned)


@pytest.mark.slow
@pytest.mark.timeout(900)  # two runs of the cycle and two imports, each its own Prefect server
def test_the_guide_as_written_from_any_folder(tmp_path):
    """What `make run` and the guide do, as a person does it: the real script, its own
    ephemeral server, started from folders other than arshjul's home. The returned worksheet
    is imported from the folder holding it; no command leaves var/ or out/ where it stood."""
    home, elsewhere, mail = tmp_path / "home", tmp_path / "elsewhere", tmp_path / "mail"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ARSHJUL_"))}
    env.update(
        ARSHJUL_HOME=str(home),
        ARSHJUL_NOW="2026-11-23T09:30",
        PREFECT_HOME=str(tmp_path / "prefect-home"),
    )
    script = Path(sys.executable).with_name("arshjul")

    def arshjul(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )

    done = arshjul("run", cwd=elsewhere)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for noise in ("Traceback", "ERROR", "telemetry", "Warning"):
        assert noise not in output
    assert f"a new database: sqlite:///{home / 'var' / 'arshjul.sqlite'}" in done.stderr
    assert "Data year 2025" in done.stdout
    # no Prefect server to resume a paused run: the report waits for sign-off, the run ends
    assert "safety_report 2025 version 1: awaiting sign-off by Chefläkare" in done.stdout
    region = next((home / "out" / "2025" / "region").glob("*/sammanstallning.html"))
    assert "Region Demoland" in region.read_text("utf-8")
    feeds = {p.name for p in (home / "out" / "calendar").glob("*.ics")}
    assert "region.ics" in feeds and sum(f.startswith("area-") for f in feeds) == 3
    # a second run imports nothing new and still succeeds
    again = arshjul("run", cwd=elsewhere)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr and "a new database" not in again.stderr

    # guide, Handlingsplanen 3: the unit's returned worksheet, imported where it was saved
    worksheet = next((home / "out" / "2025" / "enheter").glob("*/handlingsplan-arbetsblad.xlsx"))
    fill_in_one_action(worksheet, mail / worksheet.name)
    imported = arshjul("import", "actions", worksheet.name, cwd=mail)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    status = arshjul("status", "--year", "2025", "--format", "csv", cwd=mail)
    assert status.returncode == 0, status.stderr
    assert worksheet.parent.name in status.stdout
    for folder in (elsewhere, mail):
        assert not (folder / "var").exists() and not (folder / "out").exists()

    # another home has no organisation: the message names the database it looked in
    env["ARSHJUL_HOME"] = str(tmp_path / "empty-home")
    refused = arshjul("import", "actions", worksheet.name, cwd=mail)
    assert refused.returncode == 2
    empty = f"sqlite:///{tmp_path / 'empty-home' / 'var' / 'arshjul.sqlite'}"
    assert f"the database {empty} has no organisation: import the organisation file first" in (
        refused.stderr
    )
    assert "unknown unit" not in refused.stderr


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-T3", "'2026-T3' is not a period"),
        ("2026", "'2026' has not ended yet: it ends 2026-12-31"),
        ("26-T1", "'26-T1' is not a period"),
    ],
)
def test_report_interim_refuses_a_malformed_or_future_period(workdir, capsys, period, message):
    assert main(["report", "interim", "--period", period]) == 2
    err = capsys.readouterr().err
    assert "--period" in err and message in err
    assert not (workdir / "out").exists()


def test_report_interim_and_safety_write_their_documents(workdir, capsys):
    import_fixture("organisation", "deviations", "complaints")
    assert main(["report", "interim", "--period", "2026-T2"]) == 0
    section = workdir / "out" / "2026-T2" / "region" / "R1" / "uppskjuten-vard.html"
    assert "Uppskjuten vård januari–augusti 2026" in section.read_text("utf-8")
    assert section.with_suffix(".docx").exists() and section.with_suffix(".xlsx").exists()
    capsys.readouterr()
    assert main(["report", "safety", "--year", "2025", "--approve"]) == 0
    out = capsys.readouterr().out
    assert "safety_report 2025 version 1: approved by automatiskt godkänd" in out
    assert (workdir / "out" / "2025" / "region" / "R1" / "patientsakerhetsberattelse.docx").exists()


def test_a_locked_database_is_one_clean_line_without_sql_or_parameters(
    workdir, tmp_path, capsys, monkeypatch
):
    """SQLAlchemy's message of a failed statement holds the SQL and its parameters."""
    import sqlite3

    from sqlalchemy import text

    from arshjul import cli

    path = tmp_path / "locked.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    locked = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})

    def write_to_the_locked_database(_args) -> int:
        with locked.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "19121212-1212"})
        return 0

    monkeypatch.setattr(cli, "cmd_status", write_to_the_locked_database)
    try:
        assert main(["status"]) == 1
    finally:
        holder.close()
        locked.dispose()
    err = capsys.readouterr().err
    assert err == (
        "arshjul: failed: the database: OperationalError: database is locked"
        " (run with -v for details)\n"
    )


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid`` -> their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found[int(entry.name)] = command
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_kill_9_of_the_cli_takes_its_ephemeral_prefect_server_with_it(tmp_path):
    """`arshjul import` in ephemeral mode, killed with SIGKILL while Prefect's API server is
    starting: the server (uvicorn) must not run on as an orphan."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ARSHJUL_"))}
    env.update(
        ARSHJUL_NOW="2026-11-23T09:30",
        ARSHJUL_HOME=str(tmp_path),
        ARSHJUL_DATABASE_URL=f"sqlite:///{tmp_path / 'arshjul.sqlite'}",
        PREFECT_HOME=str(tmp_path / "prefect-home"),
    )
    script = Path(sys.executable).with_name("arshjul")
    cli = subprocess.Popen(
        [str(script), "import", "organisation", str(FIXTURES / "imports" / "organisation.csv")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and cli.poll() is None and not servers:
            servers = [pid for pid, cmd in _children(cli.pid).items() if "uvicorn" in cmd]
            time.sleep(0.1)
        assert servers, "no API server started"
        time.sleep(1.0)  # it takes seconds to answer: the command is still waiting for it
        assert cli.poll() is None
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(map(_running, servers)):
            time.sleep(0.2)
        assert not any(map(_running, servers))
    finally:
        cli.kill()
        for pid in filter(_running, servers):
            os.kill(pid, signal.SIGKILL)


def test_a_count_and_its_noun_agree_in_the_summary_and_the_documents():
    from arshjul.cli import _n
    from arshjul.render import counted

    assert [_n(n, "document") for n in (0, 1, 2)] == ["0 documents", "1 document", "2 documents"]
    assert counted(1, "avvikelse", "avvikelser") == "1 avvikelse"
    assert counted(0, "åtgärd", "åtgärder") == "0 åtgärder"
    assert counted(1234, "åtgärd", "åtgärder") == "1\u00a0234 åtgärder"

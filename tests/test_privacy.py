"""Privacy and access (issue 9): no personnummer or free text at rest, small counts suppressed in
published documents, a sandbox for the templates regions edit, unit ids that never pick a path
outside the output folder, and a feed server that cuts off clients that stop reading."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError
from sqlalchemy import Connection, Engine, String, Text, select

from arshjul import render
from arshjul.compilation import write_documents as write_compilations
from arshjul.db import make_engine, migrate
from arshjul.documents import provenance, unit_dir
from arshjul.errors import InputError
from arshjul.figures import count_own, roll_up
from arshjul.files import inside
from arshjul.formats.tables import parse_html, read_tables
from arshjul.importers import import_file
from arshjul.importers import personnummer as pnr
from arshjul.models import Base, OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.periods import Period
from tests.conftest import NOW
from tests.fixtures.imports.cases import (
    BAD,
    CASES,
    COMPLAINT_HEADER,
    COMPLAINT_OK,
    DEV_HEADER,
    DEV_OK,
    ORG_HEADER,
    ORGANISATION,
    TRAIN_HEADER,
    TRAIN_OK,
    WAIT_HEADER,
    WAIT_OK,
    lines,
)
from tests.tools import feed_server

#: free text in good files: dropped by the importer, so never anywhere in the database
FREE_TEXT = ("Patienten föll vid sängen", "Anhörig ringde om bemötandet", "Remiss från VC Norr")


# --- nothing personal at rest ---------------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'arshjul.sqlite'}")
    migrate(engine)
    return engine


def good_files_with_free_text(folder: Path) -> list[tuple[str, Path]]:
    files = {
        "deviations": lines(DEV_HEADER + ";Händelsebeskrivning", DEV_OK + f";{FREE_TEXT[0]}"),
        "complaints": lines(COMPLAINT_HEADER + ";Beskrivning", COMPLAINT_OK + f";{FREE_TEXT[1]}"),
        "waiting": lines(WAIT_HEADER + ";Kommentar", WAIT_OK + f";{FREE_TEXT[2]}"),
        "training": lines(TRAIN_HEADER, TRAIN_OK),
    }
    paths = []
    for kind, content in files.items():
        path = folder / f"{kind}.csv"
        path.write_bytes(content)
        paths.append((kind, path))
    return paths


def every_text_value(conn: Connection) -> list[str]:
    values: list[str] = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        for row in conn.execute(select(*columns)) if columns else ():
            values.extend(str(v) for v in row if v is not None)
    return values


def test_no_personnummer_or_free_text_at_rest_after_the_whole_corpus(database, config, tmp_path):
    """Every bad file of the corpus is tried on top of good files with free text; then the
    database's text columns, and its bytes on disk, hold no personnummer and no free text."""
    good = good_files_with_free_text(tmp_path)
    named = tmp_path / "avvikelser 19121212-1212.csv"  # a personnummer in the file's name
    named.write_bytes(lines(DEV_HEADER, DEV_OK.replace("D1;", "D9;")))
    refused = 0
    with database.begin() as conn:
        import_file(conn, config, "organisation", ORGANISATION, now=NOW)
        for kind, path in [*good, ("deviations", named)]:
            import_file(conn, config, kind, path, now=NOW)
    for case in CASES:
        with database.begin() as conn:
            try:
                import_file(conn, config, case.kind, BAD / case.name, now=NOW)
            except InputError:
                refused += 1
    assert refused == len(CASES)
    with database.connect() as conn:
        values = every_text_value(conn)
    assert len(values) > 50
    assert pnr.find_in(values) == {}
    assert not [v for v in values if any(t in v for t in FREE_TEXT)]
    database.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("arshjul.sqlite*"))
    as_text = raw.decode("latin-1")
    assert pnr.find_in([as_text]) == {}, "a personnummer in the database file"
    assert not any(t.encode() in raw or t.encode("cp1252") in raw for t in FREE_TEXT)
    assert b"19121212-****" in raw  # the file's name is kept, masked


# --- published documents: no count from 1 to 4 ---------------------------------------------

#: documents meant for publication (SPEC §5): the patientsäkerhetsberättelse, deferred care
PUBLIC = ("patientsakerhetsberattelse", "uppskjuten-vard")
_SMALL_IN_PROSE = re.compile(r"(?<![\d,.])[1-4] (avvikelse|klagom|händelse|anmäl|åtgärd)")


def small_counts_in_public_documents(out: Path) -> list[str]:
    """Every count from 1 to 4 that a published document under ``out`` shows: numeric table
    cells (not shares) of its HTML and its CSV tables, and counts in its sentences."""
    shown = []
    for page in sorted(out.rglob("*.html")):
        if not page.name.startswith(PUBLIC):
            continue
        root = parse_html(page.read_text("utf-8"))
        for table in read_tables(root):
            for row in table.rows:
                shown += [
                    f"{page}: {table.title}: {c.text}"
                    for c in row
                    if c.value in (1, 2, 3, 4) and not c.percent
                ]
        prose = " ".join("".join(p.itertext()) for p in root.iter("p", "li"))
        shown += [f"{page}: …{m.group()}…" for m in _SMALL_IN_PROSE.finditer(prose)]
    for table_csv in sorted(out.rglob("*.csv")):
        if table_csv.parent.name.startswith(PUBLIC):
            cells = table_csv.read_text("utf-8-sig").replace("\r\n", ";").split(";")
            shown += [f"{table_csv}: {c}" for c in cells if c in ("1", "2", "3", "4")]
    return shown


def test_the_check_for_small_counts_finds_them(tmp_path):
    page = tmp_path / "2025" / "region" / "R1" / "patientsakerhetsberattelse.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        "<h2>Avvikelser</h2><table><tr><td>Fall</td><td class='n'>3</td>"
        "<td class='n'>3,0 %</td></tr></table><p>Under 2025 anmäldes 2 händelser.</p>",
        "utf-8",
    )
    assert len(small_counts_in_public_documents(tmp_path)) == 2


# --- templates regions edit run in a sandbox --------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ f.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_a_template_cannot_reach_python_internals(source):
    env = render.environment()
    with pytest.raises(SecurityError):
        env.from_string(source).render(f=render.number)


def test_a_template_cannot_include_files_outside_the_template_folder():
    from jinja2.exceptions import TemplateNotFound

    env = render.environment()
    with pytest.raises(TemplateNotFound):
        env.from_string("{% include '../config/settings.yaml' %}").render()


# --- unit ids never pick a path outside the output folder ----------------------------------

HOSTILE_IDS = ["../../../etc", "..", "E1/../../x", "/tmp/abs", "C:\\Windows", "E1\x00x", " ."]


@pytest.mark.parametrize("unit_id", HOSTILE_IDS)
def test_a_hostile_unit_id_stays_inside_the_output_folder(tmp_path, unit_id):
    out = tmp_path / "out"
    folder = unit_dir(out, Period.full_year(2025), Unit(unit_id, "../x", OrgLevel.UNIT, "V1"))
    assert folder.resolve().is_relative_to(out.resolve())
    assert folder.parent == (out / "2025" / "enheter").resolve()


def test_inside_refuses_parts_that_leave_the_folder(tmp_path):
    for parts in (("..", "x"), ("a", "..", "..", "x"), ("/etc/passwd",)):
        with pytest.raises(ValueError, match="leaves the output folder"):
            inside(tmp_path / "out", *parts)


def test_documents_of_units_with_hostile_ids_are_written_inside_the_output_folder(
    conn, config, tmp_path
):
    """The ids as a region's export might have them: the importer takes them as they are, the
    documents go under the output folder all the same."""
    rows = [f"{uid};Enhet {i};enhet;V1" for i, uid in enumerate(HOSTILE_IDS[:4])]
    import_file(conn, config, "organisation", ORGANISATION, now=NOW)
    org_file = tmp_path / "organisation.csv"
    org_file.write_bytes(lines(ORG_HEADER, *rows))
    import_file(conn, config, "organisation", org_file, now=NOW)
    tree = OrgTree.load(conn)
    out = tmp_path / "work" / "out"
    origin = provenance(conn, ("organisation",), now=NOW, run_id="run-1")
    totals = roll_up(tree, count_own(conn, 2025))
    unit_ids = [u.id for u in tree.walk(tree.root.id)]
    written = write_compilations(
        out, config, tree, Period.full_year(2025), totals, unit_ids, origin
    )
    assert len(written) == len(unit_ids) == 9
    made = {p.resolve() for p in tmp_path.rglob("*") if p.is_file()} - {org_file.resolve()}
    assert made and all(p.is_relative_to(out.resolve()) for p in made)
    assert {p.resolve() for p in written} <= made


# --- the feed server: a client that stops reading is cut off -------------------------------


def test_a_client_that_stops_reading_is_cut_off(tmp_path):
    out = tmp_path / "out"
    (out / "calendar").mkdir(parents=True)
    big = b"BEGIN:VCALENDAR\r\n" + b"X-FILLER:" + b"x" * 16 * 1024 * 1024 + b"\r\n"
    (out / "calendar" / "big.ics").write_bytes(big)
    (out / "calendar" / "region.ics").write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    with feed_server(out, client_timeout=1.0) as server:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.server_port))
        stalled.sendall(b"GET /calendar/big.ics HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(3.5)  # reads nothing for longer than the server waits
        # meanwhile others are served
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as other:
            other.sendall(b"GET /calendar/region.ics HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert other.recv(100).startswith(b"HTTP/1.1 200")
        received = 0
        stalled.settimeout(5)
        try:
            while chunk := stalled.recv(1 << 20):
                received += len(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
        stalled.close()
    assert received < len(big), "the server kept the answer for a client that did not read"


def test_the_request_size_limits_hold(tmp_path):
    from tests.test_feedserver import raw, status_of

    out = tmp_path / "out"
    (out / "calendar").mkdir(parents=True)
    with feed_server(out, client_timeout=1.0) as server:
        endless = b"GET /calendar/x.ics HTTP/1.1\r\n" + b"X: " + b"y" * 70_000 + b"\r\n\r\n"
        assert status_of(raw(server, endless)) == 431
        assert status_of(raw(server, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")) == 414


# --- a personnummer in an input file's name (issue 15) --------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_a_personnummer_in_a_file_name_is_masked_in_messages_and_in_prefect(
    workdir, tmp_path, capsys
):
    """Everything a person or Prefect's database sees: the CLI's lines, the refusal, the
    import batch, the flow runs' parameters, the task runs' states and the logs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter

    from arshjul.cli import main

    folder = tmp_path / "export 471124–8809"
    folder.mkdir()
    good = folder / "avvikelser 19121212-1212.csv"
    good.write_bytes(lines(DEV_HEADER, DEV_OK))
    bad = folder / "avvikelser 121212 1212.csv"
    bad.write_bytes(lines(DEV_HEADER, DEV_OK.replace(";E1;", ";E9;")))
    assert main(["import", "organisation", str(ORGANISATION)]) == 0
    capsys.readouterr()
    assert main(["import", "deviations", str(good)]) == 0
    assert main(["import", "deviations", str(bad)]) == 2
    assert main(["import", "deviations", str(folder / "saknas 19121212-1212.csv")]) == 2
    said = capsys.readouterr()
    printed = said.out + said.err
    assert "avvikelser 19121212-****.csv (deviations): 1 rows" in printed
    assert "avvikelser 121212 ****.csv, line 2" in printed
    assert "export 471124-****/saknas 19121212-****.csv" in printed

    engine = make_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    with engine.connect() as conn:
        stored = every_text_value(conn)
    engine.dispose()
    assert "avvikelser 19121212-****.csv" in stored

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        parameters = json.dumps([run.parameters for run in runs], ensure_ascii=False)
        states = json.dumps(
            [str(run.state and run.state.message) for run in client.read_task_runs()],
            ensure_ascii=False,
        )
        logs = [log.message for log in client.read_logs(LogFilter())]
    assert "export 471124-****/avvikelser 19121212-****.csv" in parameters
    assert "avvikelser 121212 ****.csv" in parameters
    assert "avvikelser 121212 ****.csv, line 2" in states
    seen = [printed, *stored, parameters, states, *logs]
    assert pnr.find_in(seen) == {}

"""Sign-off: versions, the record of who decided when, and a real pause/resume on Prefect."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import docx
import pytest
import yaml
from sqlalchemy import Connection, create_engine, insert, select

from arshjul import signoff
from arshjul.cli import main
from arshjul.config import BUNDLED_CONFIG
from arshjul.errors import ConflictError
from arshjul.files import write_text_atomic
from arshjul.models import OrgLevel, OrgUnit, SignOff, SignOffState
from arshjul.render import render
from arshjul.signoff import Decision, Stamp
from tests.conftest import FIXTURES, NOW
from tests.test_safety_report import squeeze
from tests.tools import pdf_pages

pytestmark = pytest.mark.both_databases

YEAR = 2025


# --- the library ---------------------------------------------------------------------------


def document(text: str, stamp: Stamp) -> str:
    block = render("sign_off.html.j2", sign_off=stamp)
    return f"<html><body><h1>{text}</h1>\n{block}</body></html>\n"


@pytest.fixture
def latest(conn: Connection, tmp_path: Path) -> Path:
    conn.execute(insert(OrgUnit).values(id="R1", name="Region Test", level=OrgLevel.REGION))
    return tmp_path / "doc.html"


def write_run(conn: Connection, latest: Path, text: str) -> signoff.Draft:
    """What a flow does: write the latest as the current draft, then keep it as its version."""
    stamp = signoff.draft_stamp(conn, "safety_report", str(YEAR), "R1", "Chefläkare")
    write_text_atomic(latest, document(text, stamp))
    return signoff.open_draft(conn, "safety_report", str(YEAR), "R1", latest)


def approval(name: str = "Eva Ek") -> Decision:
    return Decision(True, name, "Chefläkare", NOW)


def test_a_rerun_of_an_undecided_version_rewrites_it(conn, latest):
    first = write_run(conn, latest, "första")
    assert first.version == 1 and first.path == latest.with_name("doc-v1.html")
    again = write_run(conn, latest, "andra")
    assert again.version == 1
    assert "andra" in again.path.read_text() and "Version 1." in again.path.read_text()
    assert not latest.with_name("doc-v2.html").exists()


def test_an_approval_is_stamped_recorded_and_never_overwritten(conn, latest):
    draft = write_run(conn, latest, "första")
    result = signoff.record(conn, draft, approval(), run_id="run-1")

    v1 = draft.path.read_bytes()
    assert "Fastställd av Eva Ek, Chefläkare, 2026-11-23 09:30." in v1.decode()
    assert "Utkast" not in v1.decode()
    assert latest.read_bytes() == v1
    # the DOCX for editing shows the decision too
    words = "\n".join(p.text for p in docx.Document(str(latest.with_suffix(".docx"))).paragraphs)
    assert "Fastställd av Eva Ek, Chefläkare, 2026-11-23 09:30." in words
    [row] = signoff.history(conn, "safety_report", str(YEAR), "R1")
    assert (row.version, row.state, row.signed_by, row.role, row.run_id) == (
        1,
        SignOffState.APPROVED,
        "Eva Ek",
        "Chefläkare",
        "run-1",
    )
    assert row.at == NOW and row.sha256 == result.sha256 == signoff.sha256_file(draft.path)

    second = write_run(conn, latest, "andra")
    assert second.version == 2 and "Version 2." in latest.read_text()
    assert draft.path.read_bytes() == v1

    with pytest.raises(ConflictError, match="never overwritten"):
        signoff.record(conn, draft, approval("Någon Annan"), run_id="run-2")
    with pytest.raises(ConflictError, match="version 1"):
        signoff.write_draft(conn, "safety_report", str(YEAR), "R1", latest, 1)
    assert draft.path.read_bytes() == v1


def test_a_returned_version_stays_and_the_next_run_makes_a_new_one(conn, latest):
    draft = write_run(conn, latest, "första")
    returned = Decision(False, "Eva Ek", "Chefläkare", NOW, "Komplettera målen.")
    signoff.record(conn, draft, returned, run_id="run-1")
    text = draft.path.read_text()
    assert "Återremitterad av Eva Ek, Chefläkare, 2026-11-23 09:30: Komplettera målen." in text
    assert write_run(conn, latest, "andra").version == 2
    assert draft.path.read_text() == text
    assert [r.state for r in signoff.history(conn, "safety_report", str(YEAR), "R1")] == [
        SignOffState.RETURNED
    ]


def test_a_document_without_a_sign_off_block_cannot_be_stamped():
    with pytest.raises(ValueError, match="sign-off block"):
        signoff.stamp_html("<p>inget block</p>", Stamp(1, "approved", "Chefläkare"))


# --- the flow ------------------------------------------------------------------------------


def rows(workdir: Path) -> list[Any]:
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(SignOff.__table__).order_by(SignOff.version)))
    finally:
        engine.dispose()


@pytest.fixture
def region(workdir: Path) -> Path:
    """The compile fixtures imported; the folder of the region's documents."""
    for kind in ("organisation", "deviations", "complaints"):
        assert main(["import", kind, str(FIXTURES / "compile" / f"{kind}.csv")]) == 0
    return workdir / "out" / str(YEAR) / "region" / "R1"


@pytest.mark.usefixtures("prefect_harness")
def test_approve_records_an_automatic_approval_and_new_data_makes_version_two(workdir, region):
    from flows.safety_report import safety_report_flow

    first = safety_report_flow(year=YEAR, now=NOW, publish=False, approve=True)
    assert (first.version, first.state, first.signed_by) == (1, "approved", signoff.AUTOMATIC)
    v1 = region / "patientsakerhetsberattelse-v1.html"
    assert first.path == v1
    signed = v1.read_bytes()
    assert f"Fastställd av {signoff.AUTOMATIC}, Chefläkare, 2026-11-23 09:30." in signed.decode()
    # the published PDF of the version and of the latest show the decision too
    signed_pdf = v1.with_suffix(".pdf").read_bytes()
    assert (region / "patientsakerhetsberattelse.pdf").read_bytes() == signed_pdf
    assert "Fastställd av automatiskt godkänd" in squeeze(pdf_pages(v1.with_suffix(".pdf"))[0])

    # the same data again: the approved version stands, nothing new to sign off
    again = safety_report_flow(year=YEAR, now=NOW, publish=False, approve=False)
    assert (again.version, again.state, again.sha256) == (1, "approved", first.sha256)
    assert (region / "patientsakerhetsberattelse.html").read_bytes() == signed
    assert (region / "patientsakerhetsberattelse.pdf").read_bytes() == signed_pdf
    assert not (region / "patientsakerhetsberattelse-v2.html").exists()

    # one more deviation reported: the report says something else, so it is a new version
    more = workdir / "more-deviations.csv"
    more.write_text(
        "Avvikelse-ID;Enhet HSA-id;Händelsedatum;Rapporteringsdatum;Händelsetyp;Status\n"
        "D99;E1;2025-06-01;2025-06-02;Läkemedel;Ny\n",
        "utf-8",
    )
    assert main(["import", "deviations", str(more)]) == 0
    second = safety_report_flow(year=YEAR, now=NOW, publish=False, approve=True)
    assert second.version == 2 and v1.read_bytes() == signed
    assert (region / "patientsakerhetsberattelse.html").read_bytes() == second.path.read_bytes()
    assert v1.with_suffix(".pdf").read_bytes() == signed_pdf
    v2_pdf = second.path.with_suffix(".pdf").read_bytes()
    assert (region / "patientsakerhetsberattelse.pdf").read_bytes() == v2_pdf != signed_pdf
    recorded = rows(workdir)
    assert [(r.version, r.state, r.signed_by, r.at) for r in recorded] == [
        (1, SignOffState.APPROVED, signoff.AUTOMATIC, NOW),
        (2, SignOffState.APPROVED, signoff.AUTOMATIC, NOW),
    ]
    assert recorded[0].sha256 == signoff.sha256_file(v1)


@pytest.mark.usefixtures("prefect_harness")
def test_without_a_server_the_version_is_left_awaiting(workdir, region):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.safety_report import safety_report_flow

    # ephemeral mode: no API URL (the harness's server stands in for the throw-away one)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = safety_report_flow(year=YEAR, now=NOW, publish=False)
        again = safety_report_flow(year=YEAR, now=NOW, publish=False)
    assert (result.state, result.version, again.version) == ("awaiting", 1, 1)
    latest = (region / "patientsakerhetsberattelse.html").read_text("utf-8")
    assert "Utkast – väntar på fastställande av chefläkare." in latest
    assert rows(workdir) == []


def quick_config(workdir: Path, **sign_off: Any) -> Path:
    """The bundled settings with a run that polls every second."""
    folder = workdir / "config"
    folder.mkdir()
    settings = yaml.safe_load((BUNDLED_CONFIG / "settings.yaml").read_text("utf-8"))
    settings["sign_off"].update(poll_seconds=1, **sign_off)
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
    return folder


def paused_run(flow_name: str, after: set[str], timeout: float = 90) -> Any:
    """The flow run of ``flow_name`` that is paused with a pause key not in ``after``."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=10,
            )
            for run in runs:
                state = run.state
                if state and state.is_paused() and state.state_details.pause_key not in after:
                    return run
            time.sleep(0.3)
    raise AssertionError(f"no paused run of {flow_name} within {timeout} s")


@pytest.mark.usefixtures("prefect_harness")
def test_a_paused_run_is_resumed_with_a_decision(workdir, region, monkeypatch):
    from prefect.flow_runs import resume_flow_run

    from flows.safety_report import safety_report_flow

    monkeypatch.setenv("ARSHJUL_CONFIG", str(quick_config(workdir)))
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = safety_report_flow(year=YEAR, now=NOW, publish=False)
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        paused = paused_run("safety_report", after=set())
        assert "Utkast" in (region / "patientsakerhetsberattelse-v1.html").read_text("utf-8")
        # a role that may not approve is refused: the run pauses again for a new answer
        wrong = {"decision": "godkänn", "name": "Kim Berg", "role": "Enhetschef"}
        resume_flow_run(paused.id, run_input=wrong)
        again = paused_run("safety_report", after={paused.state.state_details.pause_key})
        assert again.id == paused.id
        assert rows(workdir) == []
        answer = {"decision": "godkänn", "name": "Eva Ek", "role": "Chefläkare", "comment": None}
        resume_flow_run(again.id, run_input=answer)
    finally:
        thread.join(timeout=120)
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert (result.state, result.version, result.signed_by) == ("approved", 1, "Eva Ek")
    [row] = rows(workdir)
    assert (row.state, row.signed_by, row.role, row.at) == (
        SignOffState.APPROVED,
        "Eva Ek",
        "Chefläkare",
        NOW,  # the clock when the run resumed (ARSHJUL_NOW fixes it in tests)
    )
    assert row.run_id == str(paused.id)
    v1 = region / "patientsakerhetsberattelse-v1.html"
    assert row.sha256 == signoff.sha256_file(v1)
    assert "Fastställd av Eva Ek, Chefläkare, 2026-11-23 09:30." in v1.read_text("utf-8")


@pytest.mark.usefixtures("prefect_harness")
def test_nobody_answering_in_time_fails_the_run_and_leaves_the_version_awaiting(
    workdir, region, monkeypatch
):
    from flows.safety_report import safety_report_flow

    monkeypatch.setenv("ARSHJUL_CONFIG", str(quick_config(workdir, wait_hours=0.0005)))
    state = safety_report_flow(year=YEAR, now=NOW, publish=False, return_state=True)
    assert state.is_failed()
    assert rows(workdir) == []
    assert "Utkast" in (region / "patientsakerhetsberattelse-v1.html").read_text("utf-8")

"""Sign-off: versions, the record of who decided when, and a real pause/resume on Prefect."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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
from tests.conftest import FIXTURES, NOW, STOCKHOLM, Blips
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


def one_more_deviation(workdir: Path) -> None:
    """A deviation of 2025 reported late: the year's documents say something else."""
    more = workdir / "more-deviations.csv"
    more.write_text(
        "Avvikelse-ID;Enhet HSA-id;Händelsedatum;Rapporteringsdatum;Händelsetyp;Status\n"
        "D99;E1;2025-06-01;2025-06-02;Läkemedel;Ny\n",
        "utf-8",
    )
    assert main(["import", "deviations", str(more)]) == 0


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
    one_more_deviation(workdir)
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
    """The bundled settings with ``sign_off`` settings of the test's own."""
    folder = workdir / "config"
    folder.mkdir()
    settings = yaml.safe_load((BUNDLED_CONFIG / "settings.yaml").read_text("utf-8"))
    settings["sign_off"].update(sign_off)
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
    return folder


@pytest.fixture
def sign_off_deployment(prefect_harness: None) -> None:
    """``sign_off/arshjul`` on the harness's server, as ``arshjul serve`` registers it."""
    from flows.deployments import DEPLOYMENT
    from flows.signoff import sign_off_flow

    sign_off_flow.to_deployment(name=DEPLOYMENT).apply()


def flow_run(flow_run_id: Any) -> Any:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def asking_run(workdir: Path) -> Any:
    """The sign_off run that the open question names."""
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    try:
        with engine.connect() as conn:
            request = signoff.pending(conn, "safety_report", str(YEAR), "R1")
    finally:
        engine.dispose()
    assert request is not None and request.flow_run_id is not None
    return flow_run(request.flow_run_id)


def execute(run: Any) -> Any:
    """What ``arshjul serve`` or a worker does with a scheduled sign_off run, in this process:
    run the flow from the start; None when it suspended itself."""
    from prefect.exceptions import Pause
    from prefect.flow_engine import run_flow

    from flows.signoff import sign_off_flow

    try:
        return run_flow(sign_off_flow, flow_run=flow_run(run.id), parameters=run.parameters)
    except Pause:
        return None


@pytest.mark.usefixtures("sign_off_deployment")
def test_a_sign_off_run_waits_suspended_and_records_the_decision_given(
    workdir, region, monkeypatch
):
    from prefect.flow_runs import resume_flow_run

    from flows.safety_report import safety_report_flow

    monkeypatch.setenv("ARSHJUL_CONFIG", str(quick_config(workdir)))
    # on a server the step does not wait: a run of its own asks the question
    result = safety_report_flow(year=YEAR, now=NOW, publish=False)
    assert (result.state, result.version) == ("awaiting", 1)
    run = asking_run(workdir)
    assert run.name == "Fastställ patientsäkerhetsberättelse 2025, version 1"
    assert run.parameters == {
        "document": "safety_report",
        "period": "2025",
        "unit_id": "R1",
        "version": 1,
    }
    assert execute(run) is None
    suspended = flow_run(run.id).state
    assert (suspended.type.value, suspended.name) == ("PAUSED", "Suspended")
    assert suspended.state_details.pause_reschedule  # no process waits: it is started again
    assert "Utkast" in (region / "patientsakerhetsberattelse-v1.html").read_text("utf-8")

    # a role that may not approve is refused: the run suspends again for a new answer
    wrong = {"decision": "godkänn", "name": "Kim Berg", "role": "Enhetschef"}
    resume_flow_run(run.id, run_input=wrong)
    assert execute(run) is None
    assert flow_run(run.id).state.state_details.pause_key == "2"
    assert rows(workdir) == []
    answer = {"decision": "godkänn", "name": "Eva Ek", "role": "Chefläkare", "comment": None}
    before = datetime.now(UTC)
    resume_flow_run(run.id, run_input=answer)
    after = datetime.now(UTC)
    result = execute(run)
    assert (result.state, result.version, result.signed_by) == ("approved", 1, "Eva Ek")
    [row] = rows(workdir)
    assert (row.state, row.signed_by, row.role, row.run_id) == (
        SignOffState.APPROVED,
        "Eva Ek",
        "Chefläkare",
        str(run.id),
    )
    # the time the answer was given (the real clock, as the Prefect server keeps it)
    assert before - timedelta(seconds=1) <= row.at <= after + timedelta(seconds=1)
    v1 = region / "patientsakerhetsberattelse-v1.html"
    assert row.sha256 == signoff.sha256_file(v1)
    assert f"Fastställd av Eva Ek, Chefläkare, {row.at.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}." in (
        v1.read_text("utf-8")
    )
    assert flow_run(run.id).state.is_completed()
    # the question is answered; the same data again asks nothing
    again = safety_report_flow(year=YEAR, now=NOW, publish=False)
    assert (again.state, again.version) == ("approved", 1)
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    with engine.connect() as conn:
        assert signoff.every_pending(conn) == []
    engine.dispose()


@pytest.mark.usefixtures("sign_off_deployment")
def test_a_question_nobody_answered_in_time_is_closed_and_a_rerun_asks_again(
    workdir, region, monkeypatch
):
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import resume_flow_run
    from prefect.states import Crashed

    from arshjul.workspace import open_workspace
    from flows.safety_report import safety_report_flow
    from flows.signoff import ask_pending

    monkeypatch.setenv("ARSHJUL_CONFIG", str(quick_config(workdir, wait_hours=0.0003)))
    safety_report_flow(year=YEAR, now=NOW, publish=False)
    first = asking_run(workdir)
    # a run that crashed before it suspended is started again, the same run
    from prefect import get_client

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(first.id, Crashed(), force=True)
    ws = open_workspace()
    assert ask_pending(ws) == 1
    assert flow_run(first.id).state.is_scheduled()
    assert asking_run(workdir).id == first.id
    assert execute(first) is None
    time.sleep(1.5)  # the suspension's one second is over
    with pytest.raises(FlowPauseTimeout):
        resume_flow_run(first.id, run_input={"decision": "godkänn", "name": "E", "role": "X"})
    assert flow_run(first.id).state.is_failed()
    # serve starting (or schedule --apply) closes the question: nothing recorded
    assert ask_pending(ws) == 1
    with ws.engine.connect() as conn:
        assert signoff.every_pending(conn) == []
    assert ask_pending(ws) == 0
    assert rows(workdir) == []
    assert "Utkast" in (region / "patientsakerhetsberattelse-v1.html").read_text("utf-8")
    # running the step again asks again, in a new run
    assert safety_report_flow(year=YEAR, now=NOW, publish=False).state == "awaiting"
    second = asking_run(workdir)
    assert second.id != first.id and second.state.is_scheduled()
    ws.engine.dispose()


@pytest.mark.usefixtures("sign_off_deployment")
def test_a_rerun_that_rewrites_the_version_asks_again_and_the_old_question_is_cancelled(
    workdir, region, monkeypatch, arshjul_log
):
    from flows.safety_report import safety_report_flow

    monkeypatch.setenv("ARSHJUL_CONFIG", str(quick_config(workdir)))
    safety_report_flow(year=YEAR, now=NOW, publish=False)
    first = asking_run(workdir)
    assert execute(first) is None  # suspended, waiting for the approver
    # the same data again: the version says the same, the same question stands
    safety_report_flow(year=YEAR, now=NOW, publish=False)
    assert asking_run(workdir).id == first.id
    assert flow_run(first.id).state.is_paused()
    # new data: version 1 is rewritten to say something else; nobody may decide on the words
    # the first question was about, so that run is cancelled and another asks
    one_more_deviation(workdir)
    result = safety_report_flow(year=YEAR, now=NOW, publish=False)
    assert (result.state, result.version) == ("awaiting", 1)
    second = asking_run(workdir)
    assert second.id != first.id
    assert flow_run(first.id).state.is_cancelled()
    assert (
        "Fastställ patientsäkerhetsberättelse 2025, version 1: versionen har skrivits om sedan"
        f" frågan ställdes; körning {first.name}, som frågade om den äldre lydelsen, avbryts och"
        " en ny fråga ställs"
    ) in arshjul_log.messages
    assert rows(workdir) == []


def test_a_question_no_longer_holds_once_its_version_says_something_else(conn, latest):
    def ask(text: str, run: str) -> tuple[signoff.Request, signoff.Request | None]:
        return signoff.ask(conn, write_run(conn, latest, text), "Chefläkare", run, NOW)

    request, replaced = ask("första", "run-1")
    assert replaced is None and request.still_asked(conn)
    # a rerun by another run: only which run wrote it when differs, the question stands
    assert ask("första", "run-2") == (request, None) and request.still_asked(conn)
    # other words in version 1: a new question replaces the old one
    newer, replaced = ask("andra", "run-3")
    assert replaced == request and newer.asked_by_run == "run-3"
    assert not request.still_asked(conn) and newer.still_asked(conn)
    # a decision closes the question
    signoff.record(conn, newer.draft, approval(), run_id="run-4")
    assert signoff.every_pending(conn) == [] and not newer.still_asked(conn)


# --- a database blip while asking or recording ----------------------------------------------


def sign_off_runs() -> set[Any]:
    """The ids of every run of the flow ``sign_off`` the Prefect server knows."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    only = FlowFilter(name=FlowFilterName(any_=["sign_off"]))
    with get_client(sync_client=True) as client:
        return {run.id for run in client.read_flow_runs(flow_filter=only)}


@pytest.mark.usefixtures("sign_off_deployment")
@pytest.mark.parametrize(
    ("asking", "recording"),
    [
        # nothing committed yet: the retry asks from the start; the decision's row fails
        ("INSERT INTO sign_off_request", "fail"),
        # the sign_off run was made, noting it in the question failed: the retry finds the
        # same run by its idempotency key; the decision was committed, the answer lost
        ("UPDATE sign_off_request", "lose_commit"),
    ],
)
def test_a_database_blip_while_asking_or_recording_is_retried_and_each_happens_once(
    workdir, region, monkeypatch, blips: Blips, asking, recording
):
    from prefect.flow_runs import resume_flow_run

    from flows.safety_report import safety_report_flow

    monkeypatch.setenv("ARSHJUL_CONFIG", str(quick_config(workdir)))
    before = sign_off_runs()
    blips.fail(asking)
    result = safety_report_flow(year=YEAR, now=NOW, publish=False)
    assert (result.state, result.version) == ("awaiting", 1)
    assert [sql.split(" SET ")[0].split(" (")[0] for sql in blips.blipped] == [asking]
    run = asking_run(workdir)
    assert sign_off_runs() - before == {run.id}  # one run asks, not two

    assert execute(run) is None
    getattr(blips, recording)("INSERT INTO sign_off (")
    answer = {"decision": "godkänn", "name": "Eva Ek", "role": "Chefläkare", "comment": None}
    resume_flow_run(run.id, run_input=answer)
    result = execute(run)
    assert len(blips.blipped) == 2
    assert (result.state, result.version, result.signed_by) == ("approved", 1, "Eva Ek")
    [row] = rows(workdir)
    assert (row.signed_by, row.run_id, row.sha256) == ("Eva Ek", str(run.id), result.sha256)
    assert row.sha256 == signoff.sha256_file(region / "patientsakerhetsberattelse-v1.html")
    assert flow_run(run.id).state.is_completed()


@pytest.mark.usefixtures("prefect_harness")
def test_an_automatic_approval_whose_commit_answer_was_lost_is_recorded_once(
    workdir, region, blips: Blips
):
    from flows.safety_report import safety_report_flow

    blips.lose_commit("INSERT INTO sign_off (")
    result = safety_report_flow(year=YEAR, now=NOW, publish=False, approve=True)
    assert len(blips.blipped) == 1
    # the retry finds version 1 approved with the same words: it stands, nothing new
    assert (result.state, result.version, result.signed_by) == ("approved", 1, signoff.AUTOMATIC)
    [row] = rows(workdir)
    assert row.sha256 == result.sha256 == signoff.sha256_file(result.path)


@pytest.mark.usefixtures("sign_off_deployment")
def test_an_unreachable_prefect_server_while_replacing_a_question_is_retried(
    workdir, region, monkeypatch, blips: Blips
):
    import httpx
    from prefect.client.orchestration import SyncPrefectClient

    from flows.safety_report import safety_report_flow

    monkeypatch.setenv("ARSHJUL_CONFIG", str(quick_config(workdir)))
    safety_report_flow(year=YEAR, now=NOW, publish=False)
    first = asking_run(workdir)
    assert execute(first) is None
    one_more_deviation(workdir)
    # cancelling the run that asks about the old words fails once: the replacement is not
    # committed, so the retry still sees what it replaces and cancels it
    set_state, refused = SyncPrefectClient.set_flow_run_state, []

    def unreachable_once(client: Any, flow_run_id: Any, state: Any, **kwargs: Any) -> Any:
        if state.is_cancelled() and not refused:
            refused.append(flow_run_id)
            raise httpx.ConnectError("connection refused")
        return set_state(client, flow_run_id, state, **kwargs)

    monkeypatch.setattr(SyncPrefectClient, "set_flow_run_state", unreachable_once)
    before = sign_off_runs()
    result = safety_report_flow(year=YEAR, now=NOW, publish=False)
    assert refused == [first.id]
    assert (result.state, result.version) == ("awaiting", 1)
    second = asking_run(workdir)
    assert sign_off_runs() - before == {second.id}
    assert flow_run(first.id).state.is_cancelled()

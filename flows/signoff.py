"""Asking for a sign-off: approve automatically, ask a person through Prefect, or leave the
version awaiting.

Which of the three happens (``request_sign_off``):

* ``approve=True`` (``arshjul run --approve``, ``make run`` on the demo): an automatic approval
  is recorded at ``now``, signed by :data:`arshjul.signoff.AUTOMATIC`, with the configured role.
* Server mode — Prefect's settings name an API (``PREFECT_API_URL``) and we are inside a flow
  run: the question is kept in arshjul's database (``sign_off_request``) and a flow run of the
  deployment ``sign_off/arshjul`` asks it, named e.g. "Fastställ patientsäkerhetsberättelse
  2025, version 1". The step does not wait: it ends with the version awaiting sign-off.
* Ephemeral mode — no API URL: Prefect runs a throw-away server inside this process that
  nobody else can reach, so nobody could ever answer. The version is left awaiting sign-off;
  its document says "Utkast – väntar på fastställande". Run the step again on a server (or
  with ``--approve``) to decide it.

The ``sign_off`` run (:func:`sign_off_flow`) suspends itself with
``suspend_flow_run(wait_for_input=SignOffInput)``: no process waits through the days a decision
may take, so restarts of ``arshjul serve``, of workers and of the Prefect server lose nothing.
The approver opens the run in the Prefect UI, chooses *godkänn* or *återremittera*, gives name
and role and resumes it (or ``resume_flow_run(flow_run_id, run_input={...})``). Prefect keeps
the answer with the run and schedules the run again; whoever serves the deployment then runs
it from the start, the suspension returns the answer kept, and the decision is recorded, with
the time the answer was given. The role must be the one configured for the document
(``settings.yaml: sign_off.roles``) and a return must say why; otherwise the answer is refused
(said in the run's log, in Swedish) and the run suspends again for a new one, so a wrong click
never becomes a record. If nobody answers within ``sign_off.wait_hours``, Prefect fails the
run: nothing is recorded, the version stays awaiting, and running the step again asks again.

A rerun of the step while a version awaits rewrites that version's files. If it says the same
(only which run wrote it when differs), the question stands; if it says something else (new
data), the run asking about the old words is cancelled and a new one asks, and an answer that
reaches a question no longer open is not recorded: nobody decides on words other than those
the question was about.

:func:`ask_pending` looks at every open question whose run is no longer waiting (it never
started, crashed, or was left half-started by a stopped ``serve``) and has it asked again, by
the same run where there is one, so the answers given to it still count. ``arshjul serve``
calls it when it starts, ``arshjul schedule --apply`` (the work-pool path) likewise.
"""

from __future__ import annotations

import enum
import logging
import signal
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

from prefect import flow, get_client, suspend_flow_run
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound, Pause
from prefect.input import RunInput
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelled, Scheduled
from pydantic import Field, create_model

from arshjul import signoff
from arshjul.clock import STOCKHOLM, real_now
from arshjul.signoff import Decision, Request, SignOffResult
from arshjul.workspace import Workspace
from flows.runtime import run_id
from flows.steps import open_ws, step_task

log = logging.getLogger("arshjul")

#: the deployment whose runs ask for decisions (``arshjul serve`` and prefect.yaml register it)
SIGN_OFF_DEPLOYMENT = "sign_off/arshjul"
#: a sign-off run takes seconds to reach its suspension: one still pending or running after
#: this long has lost its process (its serve or worker stopped under it)
ORPHANED_AFTER = timedelta(minutes=10)


class Choice(enum.StrEnum):
    APPROVE = "godkänn"
    RETURN = "återremittera"


Role = Annotated[
    str,
    Field(
        min_length=1,
        max_length=60,
        title="Roll",
        description="Din roll: den som fastställer dokumentet (ifylld)",
    ),
]


class SignOffInput(RunInput):
    """The form a waiting sign-off run shows in the Prefect UI: the decision and who made
    it. Field names are the API's (``run_input``), titles and descriptions the form's."""

    decision: Choice = Field(title="Beslut", description="godkänn eller återremittera")
    name: str = Field(min_length=1, max_length=120, title="Namn", description="Ditt namn")
    role: Role
    comment: str | None = Field(
        None, max_length=2000, title="Kommentar", description="Krävs vid återremiss"
    )


def server_mode() -> bool:
    """True when someone else can answer: Prefect talks to a server (an API URL is set) and
    this code runs inside a flow run."""
    return bool(PREFECT_API_URL.value()) and FlowRunContext.get() is not None


def refusal(answer: SignOffInput, role: str) -> str | None:
    """Why ``answer`` cannot be recorded (in Swedish, for the run's log), or None."""
    if answer.role.strip().casefold() != role.casefold():
        return f"rollen {answer.role.strip()!r} får inte fastställa; det gör {role}"
    if not answer.name.strip():
        return "namn saknas"
    if answer.decision is Choice.RETURN and not (answer.comment or "").strip():
        return "en återremiss behöver en kommentar som säger varför"
    return None


def question(ws: Workspace, request: Request) -> str:
    """What the form says: the document, its version and file, who decides, and where to
    read it (``calendar.base_url``, where the output folder is published)."""
    draft = request.draft
    text = (
        f"**{signoff.title(draft.document, draft.period, draft.version)}**"
        f" ({draft.path.name}). Roll som fastställer: {request.role}."
    )
    out = ws.out.resolve()
    if draft.path.resolve().is_relative_to(out):
        base = ws.config.settings.calendar.base_url.rstrip("/")
        text += f" Läs dokumentet: {base}/{draft.path.resolve().relative_to(out).as_posix()}"
    return text


def sign_off_form(ws: Workspace, request: Request) -> type[SignOffInput]:
    """The form with the role filled in and the question as its description."""
    form = create_model("SignOffInput", __base__=SignOffInput, role=(Role, request.role))
    return form.with_initial_data(description=question(ws, request))


@step_task
def answered_at(answer: SignOffInput) -> datetime:
    """When Prefect stored ``answer``: the time the person resumed the run, however long
    before this run was started again."""
    key = answer.metadata.key
    with get_client(sync_client=True) as client:
        stored = client.filter_flow_run_input(
            answer.metadata.receiver, key_prefix=key, limit=1, exclude_keys=set()
        )
    if not stored or stored[0].created is None:
        raise RuntimeError(f"answer {key} is not stored with run {answer.metadata.receiver}")
    return stored[0].created.astimezone(STOCKHOLM)


def suspend(form: type[SignOffInput], timeout: int) -> SignOffInput:
    """``suspend_flow_run`` that a stop of ``serve`` or a worker (SIGTERM) cannot cut short.
    Suspending takes a few API calls (the state, then the form); a SIGTERM among them, or
    while the suspended run's process ends, makes Prefect 3.8.8's engine, which does not take
    Suspended for a final state, mark the run Crashed: it would be started again and an answer
    given meanwhile refused. So SIGTERM waits (ignored) until the answer is back, and for
    good once the run is suspended: its process has nothing left to do but end."""
    if threading.current_thread() is not threading.main_thread():
        return suspend_flow_run(wait_for_input=form, timeout=timeout)
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    suspended = False
    try:
        return suspend_flow_run(wait_for_input=form, timeout=timeout)
    except Pause:
        suspended = True
        raise
    finally:
        if not suspended:
            signal.signal(signal.SIGTERM, previous)


def wait_for_decision(ws: Workspace, request: Request) -> Decision:
    """Suspend until a person's answer can be recorded (see the module docstring). Each
    suspension raises Prefect's Pause the first time through; when the run starts again,
    the same call returns the answer given to it."""
    form = sign_off_form(ws, request)
    wait = int(ws.config.settings.sign_off.wait_hours * 3600)
    what = signoff.title(request.draft.document, request.draft.period, request.draft.version)
    answers = 0
    while True:
        answer = suspend(form, wait)
        answers += 1
        reason = refusal(answer, request.role)
        if reason is None:
            return Decision(
                approved=answer.decision is Choice.APPROVE,
                signed_by=answer.name.strip(),
                role=request.role,
                at=answered_at(answer),
                comment=(answer.comment or "").strip() or None,
            )
        log.warning(
            "%s: svar %d (%s, %s) avvisades: %s. Körningen väntar på ett nytt svar.",
            what,
            answers,
            answer.name.strip(),
            answer.decision,
            reason,
        )


@flow(name="sign_off", log_prints=False)
def sign_off_flow(document: str, period: str, unit_id: str, version: int) -> SignOffResult | None:
    """Ask for the decision on ``version`` of ``document`` for ``period`` and ``unit_id``, wait
    for it without holding a process, and record it. Returns the result, or None when there
    was nothing (left) to ask."""
    ws = open_ws()
    me = run_id()
    what = signoff.title(document, period, version)
    request = open_question(ws, document, period, unit_id)
    # a decision deletes the question (signoff.record), in the same transaction
    if request is None or request.draft.version != version:
        log.info("%s: ingen fråga är öppen längre (beslutad eller ställd på nytt)", what)
        return None
    if request.flow_run_id not in (None, me):
        log.warning(
            "%s: frågan ställs i körning %s, inte i denna; svar här registreras inte",
            what,
            request.flow_run_id,
        )
        return None
    decision = wait_for_decision(ws, request)
    result = record_decision(ws, request, decision, me)
    if result is None:
        log.warning(
            "%s: svaret registreras inte: steget har körts igen och skrivit om versionen"
            " sedan frågan ställdes, och frågan ställs på nytt i en annan körning",
            what,
        )
        return None
    log.info(
        "%s: %s av %s, %s, %s (sha256 %s)",
        what,
        "fastställd" if decision.approved else "återremitterad",
        decision.signed_by,
        decision.role,
        f"{decision.at:%Y-%m-%d %H:%M}",
        result.sha256,
    )
    return result


@step_task
def open_question(ws: Workspace, document: str, period: str, unit_id: str) -> Request | None:
    with ws.engine.connect() as conn:
        return signoff.pending(conn, document, period, unit_id)


@step_task
def record_decision(
    ws: Workspace, request: Request, decision: Decision, me: str
) -> SignOffResult | None:
    """Record ``decision`` on ``request``'s version if its question is still the open one
    (None when it is not). Once only: a retry after a commit that went through, though the
    database's answer was lost, returns the decision this run recorded then."""
    with ws.engine.begin() as conn:
        done = signoff.recorded_by(conn, request.draft, me)
        if done is not None:
            return done
        if not request.still_asked(conn):
            return None
        return signoff.record(conn, request.draft, decision, me)


# --- keeping every open question asked ------------------------------------------------------


class Asking(enum.Enum):
    """What the run asking a question is doing, as far as the question goes."""

    WAITING = enum.auto()  # scheduled, starting or suspended: it will hear the answer
    ORPHANED = enum.auto()  # crashed, or half-started by a serve or worker that stopped
    ENDED = enum.auto()  # completed, failed (nobody answered in time) or cancelled
    NONE = enum.auto()  # no run yet, or the Prefect server does not know it


def asking_run(client: SyncPrefectClient, flow_run_id: str | None) -> FlowRun | None:
    """The run asking a question, if the Prefect server knows it."""
    if flow_run_id is None:
        return None
    try:
        return client.read_flow_run(UUID(flow_run_id))
    except ObjectNotFound:
        return None


def asking(run: FlowRun | None, now: datetime) -> Asking:
    """What ``run`` is doing; ``now`` is the real time (the server's run states are)."""
    state = None if run is None else run.state
    if state is None:
        return Asking.NONE
    if state.type is StateType.CRASHED:
        return Asking.ORPHANED
    if state.type in (StateType.PENDING, StateType.RUNNING) and (
        state.timestamp is None or now - state.timestamp > ORPHANED_AFTER
    ):
        return Asking.ORPHANED
    if state.is_final():
        return Asking.ENDED
    return Asking.WAITING


def keep_asked(ws: Workspace, request: Request, *, again: bool) -> None:
    """Make sure a run asks ``request``'s question: leave a waiting one, start an orphaned
    one again (its answers stay with it) and, when none is left, start a new one — or, unless
    ``again`` (the step was run again to ask), close the question whose run ended."""
    draft = request.draft
    what = signoff.title(draft.document, draft.period, draft.version)
    with get_client(sync_client=True) as client:
        run = asking_run(client, request.flow_run_id)
        found = asking(run, real_now())
        if run is not None and found is Asking.WAITING:
            log.info("%s: körning %s väntar på beslut av %s", what, run.name, request.role)
            return
        if run is not None and found is Asking.ORPHANED:
            client.set_flow_run_state(run.id, Scheduled(), force=True)
            log.warning(
                "%s: körning %s stannade (%s: %s) och startas om; svar som redan getts gäller",
                what,
                run.name,
                run.state_name,
                run.state.message if run.state else None,
            )
            return
        if run is not None and found is Asking.ENDED and not again:
            with ws.engine.begin() as conn:
                signoff.withdraw(conn, request)
            log.warning(
                "%s: körning %s slutade (%s) utan beslut; versionen väntar på fastställande."
                " Kör steget igen för att fråga på nytt.",
                what,
                run.name,
                run.state_name,
            )
            return
        try:
            deployment = client.read_deployment_by_name(SIGN_OFF_DEPLOYMENT)
        except ObjectNotFound:
            log.warning(
                "%s väntar på fastställande, men Prefect-servern har ingen deployment %s:"
                " frågan ställs när arshjul serve startar (eller arshjul schedule --apply körs)",
                what,
                SIGN_OFF_DEPLOYMENT,
            )
            return
        created = client.create_flow_run_from_deployment(
            deployment.id,
            parameters=draft.key,  # sign_off_flow's parameters
            name=what,
            # two callers asking at once (a step and serve starting) make one run, not two
            idempotency_key=(
                f"{what} {draft.unit_id} asked by {request.asked_by_run}"
                f" after {request.flow_run_id}"
            ),
        )
    with ws.engine.begin() as conn:
        signoff.asked_by(conn, request, str(created.id))
    log.info(
        "%s väntar på fastställande av %s: öppna körningen %r i Prefect UI och svara där",
        what,
        request.role,
        what,
    )


def stop_asking(request: Request) -> None:
    """Cancel the run asking a question that was replaced: the version it asks about says
    something else now (or is no longer the current one), and a new run asks."""
    if request.flow_run_id is None:
        return
    what = signoff.title(request.draft.document, request.draft.period, request.draft.version)
    with get_client(sync_client=True) as client:
        run = asking_run(client, request.flow_run_id)
        if run is None or run.state is None or run.state.is_final():
            return
        client.set_flow_run_state(
            run.id,
            Cancelled(message="Versionen har skrivits om; frågan ställs i en ny körning"),
            force=True,
        )
    log.info(
        "%s: versionen har skrivits om sedan frågan ställdes; körning %s, som frågade om den"
        " äldre lydelsen, avbryts och en ny fråga ställs",
        what,
        run.name,
    )


def ask_pending(ws: Workspace) -> int:
    """Keep every open question asked (:func:`keep_asked`); returns how many are open."""
    with ws.engine.connect() as conn:
        requests = signoff.every_pending(conn)
    for request in requests:
        keep_asked(ws, request, again=False)
    return len(requests)


@step_task
def request_sign_off(
    ws: Workspace,
    *,
    document: str,
    period: str,
    unit_id: str,
    path: Path,
    role: str,
    approve: bool,
    now: datetime,
) -> SignOffResult:
    """Keep the document just written at ``path`` as its current version and have it decided
    (see the module docstring for the three ways). Raises ConflictError rather than touch a
    decided version's file.

    A task: retried whole when the database or the Prefect server was unavailable. A retry
    asks once: the question committed by the attempt before is kept (same version, same
    words), and the run it started is found again by its idempotency key
    (:func:`keep_asked`). The run asking about replaced words is cancelled before the
    replacement commits, so that a retry, which no longer sees what was replaced, never
    leaves it asking."""
    asking_a_person = not approve and server_mode()
    with ws.engine.begin() as conn:
        unchanged = signoff.still_approved(conn, document, period, unit_id, path)
        if unchanged is not None:
            log.info(
                "%s: samma innehåll som fastställd version %d, som gäller; ingen ny version",
                path.name,
                unchanged.version,
            )
            return unchanged
        draft = signoff.open_draft(conn, document, period, unit_id, path)
        if approve:
            decision = Decision(True, signoff.AUTOMATIC, role, now)
            return signoff.record(conn, draft, decision, run_id())
        if asking_a_person:
            request, replaced = signoff.ask(conn, draft, role, run_id(), now)
            if replaced is not None:
                stop_asking(replaced)
    if asking_a_person:
        keep_asked(ws, request, again=True)
    else:
        log.info(
            "%s version %d väntar på fastställande av %s: ingen Prefect-server kan ta emot"
            " svaret (kör steget på servern, eller med --approve)",
            path.name,
            draft.version,
            role,
        )
    return signoff.awaiting(draft, role)

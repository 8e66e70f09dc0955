"""Asking for a sign-off inside a flow: approve automatically, wait for a person, or leave the
version awaiting.

Which of the three happens (``request_sign_off``):

* ``approve=True`` (``arshjul run --approve``, ``make run`` on the demo): an automatic approval
  is recorded at ``now``, signed by :data:`arshjul.signoff.AUTOMATIC`, with the configured role.
* Server mode — Prefect's settings name an API (``PREFECT_API_URL``, from the environment, a
  profile or the test harness) and we are inside a flow run: the flow pauses with
  ``pause_flow_run(wait_for_input=SignOffInput)``. In the Prefect UI (or with
  ``resume_flow_run(flow_run_id, run_input={...})``) the person chooses *godkänn* or
  *återremittera* and gives name and role. The role must be the one configured for the
  document (``settings.yaml: sign_off.roles``) and a return must say why; otherwise the input
  is refused (logged) and the run pauses again for a new answer, so a wrong click never
  becomes a record. The time of a person's decision is the clock when the run resumes. If
  nobody answers within ``sign_off.wait_hours``, Prefect fails the run (``FlowPauseTimeout``;
  a run whose pause expired cannot complete): nothing is recorded, the version stays awaiting
  and its document says so; run the step again to ask again.
* Ephemeral mode — no API URL: Prefect runs a throw-away server inside this process that
  nobody else can reach, so nobody could ever resume a paused run. The version is left
  awaiting sign-off and the flow returns; its document says "Utkast – väntar på fastställande".
  Run the step again on a server (or with ``--approve``) to decide it.
"""

from __future__ import annotations

import enum
import logging
import time
from datetime import datetime
from pathlib import Path

from prefect import pause_flow_run
from prefect.context import FlowRunContext
from prefect.input import RunInput
from prefect.settings import PREFECT_API_URL
from pydantic import Field

from arshjul import signoff
from arshjul.clock import now as wall_clock
from arshjul.signoff import Decision, SignOffResult
from arshjul.workspace import Workspace
from flows.runtime import run_id

log = logging.getLogger("arshjul")


class Choice(enum.StrEnum):
    APPROVE = "godkänn"
    RETURN = "återremittera"


class SignOffInput(RunInput):
    """The form a paused run shows: the decision and who made it."""

    decision: Choice
    name: str = Field(min_length=1, max_length=120, description="Ditt namn")
    role: str = Field(min_length=1, max_length=60, description="Din roll")
    comment: str | None = Field(
        None, max_length=2000, description="Kommentar (krävs vid återremiss)"
    )


def server_mode() -> bool:
    """True when a paused run can be resumed from elsewhere: Prefect talks to a server (an
    API URL is set) and this code runs inside a flow run."""
    return bool(PREFECT_API_URL.value()) and FlowRunContext.get() is not None


def refusal(answer: SignOffInput, role: str) -> str | None:
    """Why ``answer`` cannot be recorded, or None."""
    if answer.role.strip().casefold() != role.casefold():
        return f"rollen {answer.role!r} får inte fastställa; {role} fastställer"
    if not answer.name.strip():
        return "namn saknas"
    if answer.decision is Choice.RETURN and not (answer.comment or "").strip():
        return "en återremiss behöver en kommentar"
    return None


def wait_for_decision(
    draft: signoff.Draft, role: str, wait_seconds: float, poll_seconds: int
) -> Decision | None:
    """Pause until a person decides. None when the time ran out between refused answers;
    raises Prefect's FlowPauseTimeout when a pause itself expires."""
    form = SignOffInput.with_initial_data(
        description=(
            f"Fastställ {draft.document} {draft.period}, version {draft.version}"
            f" ({draft.path.name}). Roll som fastställer: {role}."
        ),
        role=role,
    )
    deadline = time.monotonic() + wait_seconds
    while (left := deadline - time.monotonic()) > 0:
        # no answer in time raises FlowPauseTimeout: Prefect fails a run whose pause expired
        answer = pause_flow_run(
            wait_for_input=form, timeout=max(1, int(left)), poll_interval=poll_seconds
        )
        reason = refusal(answer, role)
        if reason is None:
            return Decision(
                approved=answer.decision is Choice.APPROVE,
                signed_by=answer.name.strip(),
                role=role,
                at=wall_clock(),
                comment=(answer.comment or "").strip() or None,
            )
        log.warning("sign-off of %s refused: %s; waiting again", draft.path.name, reason)
    return None


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
    decided version's file."""
    with ws.engine.begin() as conn:
        unchanged = signoff.still_approved(conn, document, period, unit_id, path)
        if unchanged is not None:
            log.info("%s: the same as approved version %d", path.name, unchanged.version)
            return unchanged
        draft = signoff.open_draft(conn, document, period, unit_id, path)
    if approve:
        decision: Decision | None = Decision(True, signoff.AUTOMATIC, role, now)
    elif server_mode():
        settings = ws.config.settings.sign_off
        log.info("%s version %d waits for sign-off by %s", path.name, draft.version, role)
        decision = wait_for_decision(draft, role, settings.wait_hours * 3600, settings.poll_seconds)
    else:
        decision = None
    if decision is None:
        log.info("%s version %d awaits sign-off by %s", path.name, draft.version, role)
        return signoff.awaiting(draft, role)
    with ws.engine.begin() as conn:
        return signoff.record(conn, draft, decision, run_id())

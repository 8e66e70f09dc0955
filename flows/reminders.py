"""Flow ``send_reminders``: e-mail the owners of overdue steps, at most once a week each.

Run every morning after the calendars are renewed. With ``smtp.enabled: false`` it only logs
what it would send. A message the mail server refuses fails the run at the end, after the
others went; the flow's retries send it later (what was sent is recorded and not sent again).
"""

from __future__ import annotations

import logging
from datetime import datetime

from prefect import flow

from arshjul import reminders
from arshjul.workspace import Workspace, open_workspace
from flows.runtime import resolve_now, run_id
from flows.steps import step_task

log = logging.getLogger("arshjul")


@step_task
def deliver_reminders(ws: Workspace, now: datetime) -> reminders.Outcome:
    return reminders.send_reminders(ws.engine, ws.config, now=now, run_id=run_id())


@flow(name="send_reminders", retries=2, retry_delay_seconds=1800)
def send_reminders_flow(now: datetime | None = None) -> int:
    """Send the reminders due now; returns how many were sent (0 with SMTP disabled)."""
    now = resolve_now(now)
    outcome = deliver_reminders(open_workspace(), now)
    if not outcome.delivered:
        for reminder in outcome.due:
            log.info("reminder not sent (smtp.enabled is false): %s", reminder)
        log.info("reminders: %d due, none sent: SMTP is disabled", len(outcome.due))
        return 0
    for reminder in outcome.sent:
        log.info("reminder sent: %s", reminder)
    for failure in outcome.failed:
        log.error("reminder failed: %s", failure)
    log.info("reminders: %d sent, %d failed", len(outcome.sent), len(outcome.failed))
    outcome.raise_for_failures()
    return len(outcome.sent)

"""Flow ``send_reminders``: e-mail the owners of overdue steps, one message a day per address,
the same step at most once a week.

Run every morning after the calendars are renewed. With ``smtp.enabled: false`` it only logs
what it would send. A message the mail server refuses fails the run at the end, after the
others went; the flow's retries send it later (what was sent is recorded and not sent again).
What went out, what would have and what failed is logged in Swedish: the coordinator reads it
in the flow run's log.
"""

from __future__ import annotations

import logging
from datetime import datetime

from prefect import flow

from arshjul import reminders
from arshjul.workspace import Workspace
from flows.runtime import resolve_now, run_id
from flows.steps import open_ws, step_task

log = logging.getLogger("arshjul")


@step_task
def deliver_reminders(ws: Workspace, now: datetime) -> reminders.Outcome:
    return reminders.send_reminders(ws.engine, ws.config, ws.out, now=now, run_id=run_id())


@flow(name="send_reminders", retries=2, retry_delay_seconds=1800)
def send_reminders_flow(now: datetime | None = None) -> int:
    """Send the reminders due now; returns how many messages were sent (0 with SMTP
    disabled)."""
    now = resolve_now(now)
    outcome = deliver_reminders(open_ws(), now)
    if not outcome.delivered:
        for digest in outcome.due:
            log.info("Påminnelse skickas inte (smtp.enabled är false) till %s", digest.swedish())
        log.info(
            "Påminnelser: %d meddelanden skulle ha skickats; inget skickades, SMTP är avstängt",
            len(outcome.due),
        )
        return 0
    for digest in outcome.sent:
        log.info("Påminnelse skickad till %s", digest.swedish())
    for failure in outcome.failed:
        log.error("Påminnelse gick inte iväg till %s: %s", failure.digest.swedish(), failure.error)
    log.info(
        "Påminnelser: %d meddelanden skickade, %d gick inte iväg (försöker igen senare)",
        len(outcome.sent),
        len(outcome.failed),
    )
    outcome.raise_for_failures()
    return len(outcome.sent)

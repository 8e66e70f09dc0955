"""Flow ``publish_calendars``: the wheel's milestones as iCalendar feeds and the index page.

Run after every step, so that the calendars show what is done and what is overdue.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from arshjul import calendar_site
from arshjul.feed_tokens import load_secret
from arshjul.org import OrgTree
from arshjul.workspace import Workspace, open_workspace
from flows.runtime import resolve_now, run_id

log = logging.getLogger("arshjul")


@task(cache_policy=NO_CACHE)
def build_calendar_site(ws: Workspace, now: datetime) -> calendar_site.Site:
    # the secret is read here, not passed in: Prefect may record a task's parameters
    secret = load_secret() if ws.config.settings.calendar.unit_tokens else None
    with ws.engine.begin() as conn:
        tree = OrgTree.load(conn)
        return calendar_site.build_site(
            conn, ws.config, tree, ws.out, now=now, run_id=run_id(), secret=secret
        )


@task(cache_policy=NO_CACHE)
def write_calendar_site(ws: Workspace, site: calendar_site.Site) -> list[Path]:
    return calendar_site.write_site(ws.out, site)


@flow(name="publish_calendars")
def publish_calendars(now: datetime | None = None) -> list[Path]:
    """Write the feeds for the current and the next calendar year and the index page under
    ``<out>/calendar``; returns the files written."""
    now = resolve_now(now)
    ws = open_workspace()
    written = write_calendar_site(ws, build_calendar_site(ws, now))
    log.info("calendars: %d feeds in %s", len(written) - 1, ws.out / "calendar")
    return written

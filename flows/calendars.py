"""Flow ``publish_calendars``: the wheel's milestones as iCalendar feeds and the index page.

Run after every step, so that the calendars show what is done and what is overdue.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from prefect import flow

from arshjul import calendar_site, status
from arshjul.clock import STOCKHOLM
from arshjul.documents import provenance, write_start_page, write_year_index
from arshjul.feed_tokens import load_secret
from arshjul.org import OrgTree
from arshjul.periods import period_of
from arshjul.workspace import Workspace
from flows.runtime import resolve_now, run_id
from flows.steps import open_ws, step_task, unwalked

log = logging.getLogger("arshjul")


@step_task
def build_calendar_site(ws: Workspace, now: datetime) -> calendar_site.Site:
    # the secret is read here, not passed in: Prefect may record a task's parameters
    secret = load_secret() if ws.config.settings.calendar.unit_tokens else None
    with ws.engine.begin() as conn:
        tree = OrgTree.load(conn)
        return calendar_site.build_site(
            conn, ws.config, tree, ws.out, now=now, run_id=run_id(), secret=secret
        )


@step_task
def write_calendar_site(ws: Workspace, site: calendar_site.Site) -> list[Path]:
    return calendar_site.write_site(ws.out, site)


@step_task
def write_status_documents(ws: Workspace, now: datetime) -> list[Path]:
    """The status of the cycles the calendars show: data years C-1 and C of calendar year C;
    and the pages that link them and the calendars: those years' indexes, the start page."""
    year = now.astimezone(STOCKHOLM).year
    written = []
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        if not len(tree):  # nothing imported yet: no unit has anything to show
            return []
        origin = provenance(conn, ("organisation",), now=now, run_id=run_id())
        region = ws.config.settings.region.name
        for data_year in (year - 1, year):
            rows = status.step_status(conn, ws.config, tree, data_year, now=now)
            written.append(status.write_status_document(ws.out, ws.config, data_year, rows, origin))
        # every folder's index, the interim periods' too: one written before the calendars
        # existed would not link them (and a rerun would, so the output depends on history)
        for folder in sorted(ws.out.iterdir()):
            period = period_of(folder.name) if folder.is_dir() else None
            if period is not None and (folder / "index.html").exists():
                written.append(write_year_index(ws.out, tree, period, region))
    written.append(write_start_page(ws.out, tree, region))
    return written


def publish_site(ws: Workspace, now: datetime) -> list[Path]:
    """Write the feeds for the current and the next calendar year and the index page under
    ``<out>/calendar``, the status documents of the cycles they show and the start page;
    returns the files written."""
    written = write_calendar_site(ws, unwalked(build_calendar_site(ws, now)))
    written += write_status_documents(ws, now)
    feeds = sum(path.suffix == ".ics" for path in written)
    log.info("calendars: %d feeds in %s", feeds, ws.out / "calendar")
    return written


@flow(name="publish_calendars")
def publish_calendars(now: datetime | None = None) -> list[Path]:
    """:func:`publish_site` as a flow run of its own (every morning, ``calendar export``)."""
    return publish_site(open_ws(), resolve_now(now))

"""The published calendars under ``<out>/calendar``: every feed and an index page with the wheel.

``arshjul calendar export`` and the flow ``publish_calendars`` write this folder; the feed
server and any other web server serve it as it is, next to the documents under ``<out>``,
whose URLs the events link to. With ``calendar.unit_tokens`` each unit's feed lives under
``t/<token>/`` and the index page does not list it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from arshjul.config import Config
from arshjul.documents import provenance
from arshjul.errors import ConfigError
from arshjul.feed_tokens import unit_token
from arshjul.files import inside, write_text_atomic
from arshjul.ics import (
    Feed,
    FeedKind,
    TokenFor,
    build_feeds,
    feed_specs,
    region_scope,
    remove_other_feeds,
    write_feeds,
)
from arshjul.milestone_status import PROGRESS_SV, load_status
from arshjul.models import OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.render import render
from arshjul.wheel_chart import wheel_chart
from arshjul.workdays import wheel_dates

CALENDAR_FOLDER = "calendar"
INDEX_PAGE = "index.html"
#: the index page's sections, in order
KIND_HEADINGS: dict[FeedKind, str] = {
    "region": "Regionen",
    "area": "Områden",
    "role": "Roller",
    "unit": "Verksamheter och enheter",
}


@dataclass(frozen=True)
class Site:
    feeds: list[Feed]
    index_html: str


@dataclass(frozen=True)
class FeedLink:
    about: str
    kind: FeedKind
    url: str

    @property
    def webcal(self) -> str:
        return webcal_url(self.url)


def calendar_years(now: datetime, config: Config) -> list[int]:
    """The current and the next calendar year, in the wheel's time zone (SPEC §6)."""
    year = now.astimezone(ZoneInfo(config.wheel.timezone)).year
    return [year, year + 1]


def build_site(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    out: Path,
    *,
    now: datetime,
    run_id: str,
    secret: bytes | None = None,
) -> Site:
    """Every feed and the index page, as of ``now``; ``secret`` is needed for unit tokens."""
    calendar_dir = out / CALENDAR_FOLDER
    feeds = build_feeds(
        conn,
        config,
        tree,
        calendar_years(now, config),
        now=now,
        token_for=token_function(config, secret),
        previous=lambda path: _published(calendar_dir, path),
    )
    return Site(feeds, render_index(conn, config, tree, feeds, now=now, run_id=run_id))


def write_site(out: Path, site: Site) -> list[Path]:
    """Write the feeds and the index page; feeds no longer published are removed."""
    calendar_dir = out / CALENDAR_FOLDER
    written = write_feeds(calendar_dir, site.feeds)
    remove_other_feeds(calendar_dir, written)
    written.append(write_text_atomic(calendar_dir / INDEX_PAGE, site.index_html))
    return written


def token_function(config: Config, secret: bytes | None) -> TokenFor | None:
    if not config.settings.calendar.unit_tokens:
        return None
    if secret is None:
        raise ConfigError("calendar.unit_tokens is on: a feed secret is needed for the links")
    return functools.partial(unit_token, secret)


def unit_feed_links(config: Config, tree: OrgTree, secret: bytes | None) -> list[tuple[Unit, str]]:
    """Every unit's feed URL, for the coordinator to hand out."""
    base = config.settings.calendar.base_url
    return [
        (spec.scope, feed_url(base, spec.path))
        for spec in feed_specs(config, tree, token_function(config, secret))
        if spec.kind == "unit"
    ]


def feed_url(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{CALENDAR_FOLDER}/{path}"


def webcal_url(url: str) -> str:
    """The subscribe link calendar programs open: the same address with scheme ``webcal``."""
    return "webcal://" + url.split("://", 1)[1]


def _published(calendar_dir: Path, path: str) -> bytes | None:
    try:
        return inside(calendar_dir, *path.split("/")).read_bytes()
    except FileNotFoundError:
        return None


# --- the index page ------------------------------------------------------------------------


def render_index(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    feeds: Sequence[Feed],
    *,
    now: datetime,
    run_id: str,
) -> str:
    """The page with the wheel of the current year, its status, and links to the feeds that
    are not secret."""
    year = calendar_years(now, config)[0]
    status = load_status(conn, config, tree, [year], now=now)
    units_at = {
        level: [region_scope(config, tree).id]
        if level == OrgLevel.REGION
        else [u.id for u in tree.at_level(level)]
        for level in OrgLevel
    }
    milestones = [
        (due, status.tally(due, units_at[OrgLevel(due.deadline.level)]))
        for due in wheel_dates(config.wheel, year)
        if not due.milestone.removed
    ]
    base = config.settings.calendar.base_url
    links = [
        FeedLink(feed.about, feed.kind, feed_url(base, feed.path))
        for feed in feeds
        if feed.token is None
    ]
    return render(
        "calendar_index.html.j2",
        year=year,
        today=status.today,
        region_name=config.settings.region.name,
        chart=wheel_chart(year, milestones, status.today),
        milestones=milestones,
        # (heading, links, folded): the many units' feeds are folded away
        sections=[
            (heading, [link for link in links if link.kind == kind], kind == "unit")
            for kind, heading in KIND_HEADINGS.items()
        ],
        unit_tokens=config.settings.calendar.unit_tokens,
        progress_sv=PROGRESS_SV,
        origin=provenance(conn, ("organisation",), now=now, run_id=run_id),
    )

"""The wheel's milestones as iCalendar (RFC 5545) feeds to subscribe to.

One list of events is built from the wheel for the calendar years asked for; each feed is a
scope (whom its events concern) and a filter over that list: the region's feed holds every
deadline of every level, an område's or a unit's feed its own deadlines and those of the
levels below it, a role's feed the deadlines that role owns. Where a feed's scope owns a
deadline, the event says whether the deadline is done or overdue (from the step runs).

Output is deterministic: the same wheel, tree, status and years give the same bytes. Every
UID is derived from the milestone, level, scope, calendar year and occurrence only, so a
subscribed client updates its events in place; SEQUENCE, LAST-MODIFIED and DTSTAMP move only
when an event's content does (:mod:`arshjul.event_revisions`), so a feed whose events did not
change keeps its bytes and is not written again; an event that was published and is no longer
in the wheel is published once more as cancelled.

DTSTAMP is the moment the event's content was first published (its LAST-MODIFIED), not the
run's: RFC 5545 3.8.7.2 makes DTSTAMP of an object without METHOD "the date and time that the
information associated with the calendar component was last revised in the calendar store";
with METHOD:PUBLISH (kept for the clients that look for it) it is when "the instance of the
iCalendar object was created", and an event's instance as published is created when its
content is, a feed written again with the same events being the same instance.
"""

from __future__ import annotations

import calendar as _stdcal
import hashlib
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection

from arshjul.config import LEVEL_SV, LEVELS, Config, DateRule, Level, Milestone, Wheel
from arshjul.documents import LEVEL_FOLDER
from arshjul.errors import ArshjulError, ConfigError
from arshjul.event_revisions import Content, Revision, RevisionLog
from arshjul.evidence import step_period
from arshjul.files import inside, slug, write_bytes_changed
from arshjul.ical_text import (
    CALENDAR_ORDER,
    Line,
    VEvent,
    component,
    day,
    duration,
    line,
    read_events,
    text,
    utc,
)
from arshjul.milestone_status import Progress, StatusBook, load_status
from arshjul.models import OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.workdays import Due, rule_dates, wheel_dates

PRODID = "-//arshjul//Årshjul patientsäkerhet//SV"
UID_DOMAIN = "arshjul"
FEED_TITLE = "Årshjul patientsäkerhet – {about}"
WEEKDAYS_SV = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
#: plural of each level, for "enheter i Område Nord"
LEVEL_PLURAL_SV = {
    "region": "regioner",
    "area": "områden",
    "department": "verksamheter",
    "unit": "enheter",
}
#: what a subscriber sees first in the title of a deadline its scope owns
PROGRESS_PREFIX = {Progress.DONE: "✔ ", Progress.OVERDUE: "Försenad: "}
CANCELLED_PREFIX = "Struken: "
CANCELLED_LINE = "Milstolpen är struken ur årshjulet."
#: the document a unit reads or fills in for a step, in its folder (documents.unit_dir)
STEP_DOCUMENTS = {"compile": "sammanstallning.html", "analyse": "analys.html"}
#: levels whose units get a feed of their own (områden have theirs as area feeds)
UNIT_FEED_LEVELS = (OrgLevel.DEPARTMENT, OrgLevel.UNIT)
_RRULE_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")
_FEWEST_WEEKDAYS_IN_MONTH = 20  # a February of 28 days
_SAFE_FEED_NAME = re.compile(r"^[A-Za-z0-9-]+\.ics$")
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_UID_YEAR = re.compile(r"-(\d{4})-\d+@" + UID_DOMAIN + "$")
#: the properties that say when and how often an event was published, not what it says
_REVISION_PROPERTIES = ("DTSTAMP", "SEQUENCE", "LAST-MODIFIED")

DueFilter = Callable[[Due], bool]
FeedKind = Literal["region", "area", "unit", "role"]
#: a unit's id -> the secret token of its feed's path
TokenFor = Callable[[str], str]
#: a feed's path under the calendar folder -> what was published there last, if anything
Previous = Callable[[str], bytes | None]


def feed_path(name: str, token: str | None) -> str:
    """Where a feed lives under the calendar folder: ``t/<token>/<name>`` when it is secret."""
    return f"t/{token}/{name}" if token else name


@dataclass(frozen=True)
class Feed:
    name: str
    title: str
    content: bytes
    kind: FeedKind = "region"
    token: str | None = None
    #: whom the feed is for, the title without the wheel's name
    about: str = ""

    @property
    def path(self) -> str:
        return feed_path(self.name, self.token)


@dataclass(frozen=True)
class FeedSpec:
    """What one feed holds: the events of the wheel that ``include`` keeps, seen from ``scope``."""

    name: str
    kind: FeedKind
    scope: Unit
    include: DueFilter
    #: whom the feed is for, as in "Område Nord" or "enhetschef i Region Demoland"
    about: str
    token: str | None = None

    @property
    def title(self) -> str:
        return FEED_TITLE.format(about=self.about)

    @property
    def path(self) -> str:
        return feed_path(self.name, self.token)


@dataclass(frozen=True)
class Entry:
    """One calendar event: a deadline on one date, or a monthly deadline's dates in one year."""

    dues: tuple[Due, ...]

    @property
    def first(self) -> Due:
        return self.dues[0]

    @property
    def level(self) -> Level:
        return self.first.deadline.level

    @property
    def dates(self) -> list[date]:
        return [due.date for due in self.dues]

    # computed once: every feed whose scope the entry concerns renders it again
    @cached_property
    def series(self) -> Series | None:
        return monthly_series(self)

    @cached_property
    def notes(self) -> tuple[str, ...]:
        """The description's lines that do not depend on the feed."""
        return tuple(_description_lines(self))


def at_levels(levels: Collection[str]) -> DueFilter:
    return lambda due: due.deadline.level in levels


def owned_by(role_key: str) -> DueFilter:
    return lambda due: role_slug(due.deadline.owner_role) == role_key


def role_slug(role: str) -> str:
    """``hälso- och sjukvårdsdirektör`` -> ``halso-och-sjukvardsdirektor``."""
    ascii_only = unicodedata.normalize("NFKD", role).encode("ascii", "ignore").decode()
    return re.sub(r"-{2,}", "-", slug(ascii_only.lower()))


# --- building ------------------------------------------------------------------------------


def build_feeds(
    conn: Connection,
    config: Config,
    tree: OrgTree,
    calendar_years: Sequence[int],
    *,
    now: datetime,
    token_for: TokenFor | None = None,
    previous: Previous | None = None,
) -> list[Feed]:
    """Every feed (:func:`feed_specs`) covering ``calendar_years``, as of ``now``.

    Records each event's revision in ``conn``; ``previous`` gives the feeds published last,
    from which events no longer in the wheel are carried over as cancelled.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    status = load_status(conn, config, tree, calendar_years, now=now)
    entries = sorted(
        (entry for year in calendar_years for entry in wheel_entries(config.wheel, year)),
        key=_entry_order,
    )
    specs = feed_specs(config, tree, token_for)
    events: dict[str, VEvent] = {}
    members: list[list[str]] = []
    for spec in specs:
        uids = []
        for entry in entries:
            if spec.include(entry.first):
                uid = event_uid(entry.first, spec.scope)
                if uid not in events:
                    events[uid] = vevent(event_data(entry, spec.scope, config, status))
                uids.append(uid)
        members.append(uids)
    log = RevisionLog(conn)
    withdrawn = {uid for uid in log.uids - events.keys() if uid_year(uid) in calendar_years}
    if withdrawn and previous is not None:
        for spec, uids in zip(specs, members, strict=True):
            for event in withdrawn_events(previous(spec.path), withdrawn):
                events.setdefault(event.uid, event)
                uids.append(event.uid)
    revisions = log.revise({uid: _content(event) for uid, event in events.items()}, now)
    stamped = {uid: _stamped(event, revisions[uid]) for uid, event in events.items()}
    return [
        render_feed(spec, [stamped[uid] for uid in uids], config)
        for spec, uids in zip(specs, members, strict=True)
    ]


def feed_specs(config: Config, tree: OrgTree, token_for: TokenFor | None = None) -> list[FeedSpec]:
    """The region's feed, one per område, one per verksamhet and enhet, one per owner role.

    With ``token_for``, a unit's feed lives under its secret token (:func:`feed_path`).
    """
    region = config.settings.region
    region_unit = region_scope(config, tree)
    specs = [FeedSpec("region.ics", "region", region_unit, at_levels(LEVELS), region.name)]
    for area in tree.at_level(OrgLevel.AREA):
        specs.append(_scoped(area, f"area-{slug(area.id)}.ics", "area", tree))
    for unit in (u for level in UNIT_FEED_LEVELS for u in tree.at_level(level)):
        token = token_for(unit.id) if token_for else None
        specs.append(_scoped(unit, f"unit-{slug(unit.id)}.ics", "unit", tree, token))
    roles = {
        role_slug(d.owner_role): d.owner_role for m in config.wheel.milestones for d in m.deadlines
    }
    for key in sorted(roles):
        about = f"{roles[key]} i {region.name}"
        specs.append(FeedSpec(f"role-{key}.ics", "role", region_unit, owned_by(key), about))
    _refuse_name_clashes(specs)
    return specs


def region_scope(config: Config, tree: OrgTree) -> Unit:
    """The region the region-wide feeds are about: the imported organisation's top (its
    deadlines are recorded under that id), or the configured region before any import."""
    if len(tree):
        return tree.root
    region = config.settings.region
    return Unit(region.id, region.name, OrgLevel.REGION, None)


def _scoped(
    unit: Unit, name: str, kind: FeedKind, tree: OrgTree, token: str | None = None
) -> FeedSpec:
    # a unit's own deadlines and those of the levels that exist below it
    levels = {str(u.level) for u in tree.walk(unit.id)}
    return FeedSpec(name, kind, unit, at_levels(levels), unit.name, token)


def _refuse_name_clashes(specs: Iterable[FeedSpec]) -> None:
    # ids that differ only in characters the slug drops would overwrite each other's file
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise ArshjulError(
                f"units {seen[spec.name]!r} and {spec.scope.id!r} give the same calendar file"
                f" name {spec.name!r}: make their HSA-ids differ in letters or digits"
            )
        seen[spec.name] = spec.scope.id


def wheel_entries(wheel: Wheel, calendar_year: int) -> list[Entry]:
    """The wheel's events in one calendar year: one per due date, one per monthly deadline."""
    _refuse_two_deadlines_at_one_level(wheel)
    singles: list[Entry] = []
    series: dict[tuple[str, str], list[Due]] = {}
    for due in wheel_dates(wheel, calendar_year):
        if monthly_setpos(due.deadline.due) is None:
            singles.append(Entry((due,)))
        else:
            series.setdefault((due.milestone.id, due.deadline.level), []).append(due)
    return singles + [Entry(tuple(dues)) for dues in series.values()]


def _refuse_two_deadlines_at_one_level(wheel: Wheel) -> None:
    # milestone and level identify an event (its UID); two deadlines would share one
    for milestone in wheel.milestones:
        levels = [deadline.level for deadline in milestone.deadlines]
        if len(set(levels)) != len(levels):
            raise ConfigError(
                f"milestone {milestone.id!r}: give each level at most one deadline,"
                f" found levels {levels}"
            )


def _entry_order(entry: Entry) -> tuple[date, str, int, int, int]:
    due = entry.first
    return (
        due.date,
        due.milestone.id,
        LEVELS.index(entry.level),
        due.calendar_year,
        due.occurrence,
    )


# --- rendering -----------------------------------------------------------------------------


def render_feed(spec: FeedSpec, events: Iterable[bytes], config: Config) -> Feed:
    refresh = duration(timedelta(hours=config.settings.calendar.refresh_hours))
    about = text(f"Milstolpar i årshjulet för {spec.about}.")
    uid = f"{slug(config.settings.region.id)}-{spec.name.removesuffix('.ics')}@{UID_DOMAIN}"
    properties = [
        line("VERSION", "2.0"),
        line("PRODID", text(PRODID)),
        line("CALSCALE", "GREGORIAN"),
        line("METHOD", "PUBLISH"),
        line("DESCRIPTION", about),
        line("X-WR-CALDESC", about),
        line("NAME", text(spec.title)),
        line("X-WR-CALNAME", text(spec.title)),
        # RFC 7986 asks for VALUE=DURATION; X-PUBLISHED-TTL is what Outlook reads
        line("REFRESH-INTERVAL", refresh, ";VALUE=DURATION"),
        line("X-PUBLISHED-TTL", refresh),
        line("UID", text(uid)),
        line("X-WR-TIMEZONE", text(config.wheel.timezone)),
    ]
    content = component("VCALENDAR", properties, CALENDAR_ORDER, events)
    return Feed(spec.name, spec.title, content, spec.kind, spec.token, spec.about)


@dataclass(frozen=True)
class EventData:
    """What one event says, as values: :func:`vevent` writes it (``bench.formats`` writes the
    same with the icalendar package, to show what the hand-written text saves)."""

    uid: str
    summary: str
    start: date
    #: the level's name and the owner's role
    categories: tuple[str, str]
    description: str
    cancelled: bool
    url: str | None
    series: Series | None
    #: (days before the deadline, the alarm's text)
    alarms: tuple[tuple[int, str], ...]


def event_data(entry: Entry, scope: Unit, config: Config, status: StatusBook) -> EventData:
    due = entry.first
    milestone = due.milestone
    series = entry.series
    # a status belongs to one date of the scope's own deadline
    owned = series is None and not milestone.removed and entry.level == scope.level
    state = status.status(due, scope.id) if owned else None
    progress = state.progress if state else None
    summary = f"{due.title} ({concerns(entry.level, scope)})"
    shown = summary
    if milestone.removed:
        shown = CANCELLED_PREFIX + summary
    elif progress is not None:
        shown = PROGRESS_PREFIX.get(progress, "") + summary
    link = document_link(due, scope, config.settings.calendar.base_url)
    description = list(entry.notes)
    if state is not None and progress is not Progress.UPCOMING:
        description.append(state.line)
    if link:
        description.append(f"Underlag: {link}")
    if milestone.removed:
        description.append(CANCELLED_LINE)
    alarms: tuple[tuple[int, str], ...] = ()
    if not milestone.removed and progress is not Progress.DONE:
        alarms = tuple(
            (days, f"Om {'1 dag' if days == 1 else f'{days} dagar'}: {summary}")
            for days in _reminder_days(milestone, config)
        )
    return EventData(
        uid=event_uid(due, scope),
        summary=shown,
        start=series.start if series else due.date,
        categories=(LEVEL_SV[entry.level], due.deadline.owner_role),
        description="\n".join(description),
        cancelled=milestone.removed,
        url=link,
        series=series,
        alarms=alarms,
    )


def vevent(data: EventData) -> VEvent:
    lines = [
        line("SUMMARY", text(data.summary)),
        line("DTSTART", day(data.start), ";VALUE=DATE"),
        line("DTEND", day(data.start + timedelta(days=1)), ";VALUE=DATE"),
        line("UID", text(data.uid)),
        line("CATEGORIES", ",".join(map(text, data.categories))),
        line("DESCRIPTION", text(data.description)),
        line("STATUS", "CANCELLED" if data.cancelled else "CONFIRMED"),
        line("TRANSP", "TRANSPARENT"),
    ]
    if data.url:
        lines.append(line("URL", data.url))
    if data.series:
        lines.extend(data.series.lines())
    return VEvent(data.uid, tuple(lines), tuple(_alarm(t, days) for days, t in data.alarms))


def event_uid(due: Due, scope: Unit) -> str:
    parts = (due.milestone.id, due.deadline.level, slug(scope.id), due.calendar_year)
    return f"{'-'.join(map(str, parts))}-{due.occurrence}@{UID_DOMAIN}"


def uid_year(uid: str) -> int | None:
    """The calendar year in an :func:`event_uid`, read from its end (ids hold hyphens)."""
    match = _UID_YEAR.search(uid)
    return int(match.group(1)) if match else None


def concerns(level: Level, scope: Unit) -> str:
    """Whom an event concerns, as seen from the feed's scope: "enhet", "enheter i Område Nord"."""
    if scope.level == OrgLevel.REGION or LEVELS.index(level) < LEVELS.index(scope.level):
        return LEVEL_SV[level]
    if OrgLevel(level) == scope.level:
        return scope.name
    return f"{LEVEL_PLURAL_SV[level]} i {scope.name}"


def document_path(due: Due, scope: Unit) -> str | None:
    """The page to work from, relative to the output folder: the scope's own document for its
    deadline, else the year's index of every unit's documents; None for steps with no year
    folder (interim periods)."""
    period = step_period(due)
    if due.milestone.step is None or not period.isdigit():
        return None
    name = STEP_DOCUMENTS.get(str(due.milestone.step))
    if name and due.deadline.level == scope.level:
        # the folder documents.unit_dir writes to
        return f"{period}/{LEVEL_FOLDER[scope.level]}/{slug(scope.id)}/{name}"
    return f"{period}/index.html"


def document_link(due: Due, scope: Unit, base_url: str) -> str | None:
    """:func:`document_path` under ``base_url``."""
    path = document_path(due, scope)
    return None if path is None else f"{base_url.rstrip('/')}/{path}"


def _description_lines(entry: Entry) -> list[str]:
    due = entry.first
    lines = [due.milestone.description] if due.milestone.description else []
    lines.append(f"Ansvarig: {due.deadline.owner_role}")
    setpos = monthly_setpos(due.deadline.due)
    if setpos is not None:
        lines.append(f"Återkommer {_monthly_phrase(setpos)}.")
    elif (original := unshifted_date(due)) != due.date:
        weekday = WEEKDAYS_SV[original.weekday()]
        lines.append(f"Flyttad från {original.isoformat()} ({weekday}), som inte är en arbetsdag.")
    return lines


def unshifted_date(due: Due) -> date:
    """The date the rule names before a move to the previous working day."""
    rule = due.deadline.due.model_copy(update={"shift": "none"})
    return rule_dates(rule, due.calendar_year)[due.occurrence]


def _monthly_phrase(setpos: int) -> str:
    if setpos == -1:
        return "den sista arbetsdagen i varje månad"
    suffix = "a" if setpos % 10 in (1, 2) and setpos % 100 not in (11, 12) else "e"
    return f"den {setpos}:{suffix} arbetsdagen i varje månad"


def _reminder_days(milestone: Milestone, config: Config) -> list[int]:
    chosen = milestone.reminder_days
    days = config.settings.calendar.reminder_days if chosen is None else chosen
    return sorted(set(days), reverse=True)


def _alarm(description: str, days: int) -> bytes:
    return component(
        "VALARM",
        [
            line("ACTION", "DISPLAY"),
            line("DESCRIPTION", text(description)),
            line("TRIGGER", duration(timedelta(days=-days))),
        ],
    )


# --- revisions and withdrawn events --------------------------------------------------------


def _content(event: VEvent) -> Content:
    """What the event says, without when it was stamped and revised (which it never holds
    before :func:`_stamped`); in a fixed order, so that how it was built does not matter."""
    said = hashlib.sha256("\r\n".join(sorted(c for _, c in event.lines)).encode())
    for alarm in event.alarms:
        said.update(alarm)
    return Content(said.hexdigest(), event.value("STATUS") == "CANCELLED")


def _stamped(event: VEvent, revision: Revision) -> bytes:
    """``event`` with its revision; DTSTAMP is LAST-MODIFIED (see the module's docstring)."""
    return event.to_ical(
        [
            line("DTSTAMP", utc(revision.last_modified)),
            line("SEQUENCE", str(revision.sequence)),
            line("LAST-MODIFIED", utc(revision.last_modified)),
        ]
    )


def withdrawn_events(published: bytes | None, uids: Collection[str]) -> list[VEvent]:
    """The events of a feed ``published`` before whose UID is in ``uids``, as cancelled."""
    if not published:
        return []
    found = [e for e in read_events(published.decode("utf-8", "replace")) if e.uid in uids]
    return sorted((_cancelled(e) for e in found), key=lambda e: (e.value("DTSTART"), e.uid))


def _cancelled(event: VEvent) -> VEvent:
    kept = [(n, c) for n, c in event.lines if n not in _REVISION_PROPERTIES and n != "STATUS"]
    lines = []
    for name, content in kept:
        head, value = content.split(":", 1)
        if name == "SUMMARY":
            for prefix in PROGRESS_PREFIX.values():
                value = value.removeprefix(text(prefix))
            if not value.startswith(text(CANCELLED_PREFIX)):
                value = text(CANCELLED_PREFIX) + value
        elif name == "DESCRIPTION" and text(CANCELLED_LINE) not in value:
            value = "\\n".join(filter(None, [value, text(CANCELLED_LINE)]))
        lines.append((name, f"{head}:{value}"))
    lines.append(line("STATUS", "CANCELLED"))
    return VEvent(event.uid, tuple(lines))


# --- monthly recurrence --------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """A monthly deadline as one RRULE over weekdays, corrected for holidays.

    The RRULE counts weekdays; where holidays make the n-th working day another date, the
    RRULE's date goes to EXDATE and the real one to RDATE, so that a client expanding the
    event gets exactly the deadline's dates.
    """

    setpos: int
    rrule_dates: tuple[date, ...]
    dates: tuple[date, ...]

    @property
    def start(self) -> date:
        # DTSTART must be the RRULE's first date (RFC 5545 3.8.5.3), even if it is excluded
        return self.rrule_dates[0]

    def lines(self) -> list[Line]:
        until = day(date(self.start.year, 12, 31))
        weekdays = ",".join(_RRULE_WEEKDAYS)
        out = [line("RRULE", f"FREQ=MONTHLY;UNTIL={until};BYDAY={weekdays};BYSETPOS={self.setpos}")]
        if extra := sorted(set(self.dates) - set(self.rrule_dates)):
            out.append(line("RDATE", ",".join(map(day, extra)), ";VALUE=DATE"))
        if wrong := sorted(set(self.rrule_dates) - set(self.dates)):
            out.append(line("EXDATE", ",".join(map(day, wrong)), ";VALUE=DATE"))
        return out


def monthly_setpos(rule: DateRule) -> int | None:
    """BYSETPOS for a working-day rule of every month (n, or -1 for the last), else None.

    Beyond the 20th the RRULE would miss a month that has fewer weekdays (a February), so
    such a rule stays one event per date.
    """
    if sorted(rule.all_months) != list(range(1, 13)):
        return None
    if rule.last_working_day:
        return -1
    if rule.nth_working_day is not None and rule.nth_working_day <= _FEWEST_WEEKDAYS_IN_MONTH:
        return rule.nth_working_day
    return None


def monthly_series(entry: Entry) -> Series | None:
    setpos = monthly_setpos(entry.first.deadline.due)
    if setpos is None:
        return None
    year = entry.first.date.year
    index = setpos - 1 if setpos > 0 else setpos
    rrule_dates = tuple(_weekdays_in_month(year, month)[index] for month in range(1, 13))
    return Series(setpos, rrule_dates, tuple(entry.dates))


def _weekdays_in_month(year: int, month: int) -> list[date]:
    last = _stdcal.monthrange(year, month)[1]
    return [d for d in (date(year, month, n) for n in range(1, last + 1)) if d.weekday() < 5]


# --- writing -------------------------------------------------------------------------------


def write_feeds(out_dir: Path, feeds: Sequence[Feed]) -> list[Path]:
    """Write each feed atomically into ``out_dir`` (created), a secret one under its token,
    unless it holds the same bytes already; returns every feed's path. Names must be plain
    file names and tokens plain words."""
    for feed in feeds:
        if not _SAFE_FEED_NAME.match(feed.name):
            raise ValueError(f"unsafe calendar file name {feed.name!r}")
        if feed.token is not None and not _SAFE_TOKEN.match(feed.token):
            raise ValueError(f"unsafe calendar token for {feed.name!r}")
    return [
        write_bytes_changed(inside(out_dir, *feed.path.split("/")), feed.content) for feed in feeds
    ]


def remove_other_feeds(out_dir: Path, keep: Collection[Path]) -> list[Path]:
    """Delete the feeds in ``out_dir`` that are not in ``keep`` (no longer published, or
    moved behind a token or out from it); other files are left alone."""
    kept = {path.resolve() for path in keep}
    found = [*out_dir.glob("*.ics"), *out_dir.glob("t/*/*.ics")]
    removed = [p for p in found if _SAFE_FEED_NAME.match(p.name) and p.resolve() not in kept]
    for path in removed:
        path.unlink()
    for folder in out_dir.glob("t/*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return removed

"""The milestone calendars: RFC 5545 feeds, parsed back and expanded like a client would.

The golden file ``tests/golden/region-2026.ics`` is the region's feed for the calendar years
2026 and 2027, first published at NOW on an empty database (DTSTAMP normalised all the same:
it is NOW, the events' first publication). After an
intended change to the feeds, rewrite it with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_ics.py

and review the diff before committing it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
import yaml
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar, Event
from icalendar.parser.string import _foldline
from sqlalchemy import Connection, insert, select

from arshjul.config import LEVEL_SV, Config
from arshjul.errors import ArshjulError, ConfigError
from arshjul.ical_text import fold
from arshjul.ics import Feed, build_feeds, remove_other_feeds, role_slug, write_feeds
from arshjul.models import OrgLevel, OrgUnit, RunState, StepRun
from arshjul.org import OrgTree, Unit
from arshjul.workdays import Due, rule_dates, wheel_dates
from tests.conftest import NOW, STOCKHOLM

GOLDEN = Path(__file__).parent / "golden" / "region-2026.ics"
YEARS = (2026, 2027)
REGION = "SE2321000000-DEMO"
NORD, SYD, TOMT = "SE2321000000-O001", "SE2321000000-O002", "SE2321000000-O003"
MEDICIN, STROKE = "SE2321000000-V001", "SE2321000000-E0001"
UNITS = [
    Unit(REGION, "Region Demoland", OrgLevel.REGION, None),
    Unit(NORD, "Område Nord", OrgLevel.AREA, REGION),
    Unit(SYD, "Område Syd", OrgLevel.AREA, REGION),
    Unit(TOMT, "Område Tomt", OrgLevel.AREA, REGION),  # no enheter below it yet
    Unit("SE2321000000-V001", "Medicinkliniken Nord", OrgLevel.DEPARTMENT, NORD),
    Unit("SE2321000000-E0001", "Strokeenhet", OrgLevel.UNIT, "SE2321000000-V001"),
    Unit("SE2321000000-E0002", "Hjärtmottagning", OrgLevel.UNIT, "SE2321000000-V001"),
    Unit("SE2321000000-V002", "Kvinnokliniken", OrgLevel.DEPARTMENT, SYD),
    Unit("SE2321000000-E0003", "Förlossning", OrgLevel.UNIT, "SE2321000000-V002"),
]
_DTSTAMP = re.compile(rb"DTSTAMP:\d{8}T\d{6}Z")
_STATUS_PREFIX = re.compile(r"^(✔ |Försenad: )")


def build(
    conn: Connection,
    config: Config,
    now: datetime = NOW,
    units: Sequence[Unit] = UNITS,
    years: Sequence[int] = YEARS,
    **options: Any,
) -> dict[str, Feed]:
    feeds = build_feeds(conn, config, OrgTree(units), years, now=now, **options)
    return {f.name: f for f in feeds}


def parse(feed: Feed) -> Calendar:
    return Calendar.from_ical(feed.content)


def events(feed: Feed) -> dict[str, Event]:
    return {str(e["UID"]): e for e in parse(feed).walk("VEVENT")}


def normalised(content: bytes) -> bytes:
    return _DTSTAMP.sub(b"DTSTAMP:19700101T000000Z", content).replace(b"\r\n", b"\n")


def expanded(feed: Feed) -> list[tuple[date, str]]:
    """Every (date, summary) a client shows for the calendar years, recurrences expanded;
    without the status in front (done, overdue), which tests of its own look at."""
    found = recurring_ical_events.of(parse(feed)).between(date(YEARS[0], 1, 1), date(2028, 1, 1))
    return sorted((e["DTSTART"].dt, _STATUS_PREFIX.sub("", str(e["SUMMARY"]))) for e in found)


def expected(config: Config, label: Callable[[Due], str | None]) -> list[tuple[date, str]]:
    """What a client should show: each deadline ``label`` names, as "title (label)"."""
    return sorted(
        (due.date, f"{due.title} ({name})")
        for year in YEARS
        for due in wheel_dates(config.wheel, year)
        if (name := label(due)) is not None
    )


def own_config(tmp_path: Path, wheel: str = "", settings: str = "") -> Config:
    """The bundled configuration with a region's own wheel milestones and settings."""
    if wheel:
        (tmp_path / "arshjul.yaml").write_text(wheel, "utf-8")
    if settings:
        (tmp_path / "settings.yaml").write_text(settings, "utf-8")
    return Config(tmp_path)


# --- the feeds -----------------------------------------------------------------------------


def test_feeds_for_the_region_each_omrade_each_unit_and_each_role(conn, config):
    feeds = build(conn, config)
    by_kind: dict[str, list[str]] = {}
    for feed in feeds.values():
        by_kind.setdefault(feed.kind, []).append(feed.name)
    assert by_kind == {
        "region": ["region.ics"],
        "area": [f"area-{NORD}.ics", f"area-{SYD}.ics", f"area-{TOMT}.ics"],
        "unit": [
            "unit-SE2321000000-V002.ics",  # Kvinnokliniken: verksamheter first, by name
            "unit-SE2321000000-V001.ics",
            "unit-SE2321000000-E0003.ics",  # Förlossning
            "unit-SE2321000000-E0002.ics",
            "unit-SE2321000000-E0001.ics",
        ],
        "role": [
            "role-cheflakare.ics",
            "role-controller.ics",
            "role-enhetschef.ics",
            "role-halso-och-sjukvardsdirektor.ics",
            "role-omradeschef.ics",
            "role-verksamhetschef.ics",
        ],
    }
    assert feeds["region.ics"].title == "Årshjul patientsäkerhet – Region Demoland"
    assert feeds[f"area-{NORD}.ics"].title == "Årshjul patientsäkerhet – Område Nord"
    assert feeds[f"unit-{STROKE}.ics"].title == "Årshjul patientsäkerhet – Strokeenhet"
    assert feeds["role-enhetschef.ics"].title == (
        "Årshjul patientsäkerhet – enhetschef i Region Demoland"
    )
    assert all(feed.token is None and feed.path == feed.name for feed in feeds.values())


def test_calendar_properties(conn, config):
    feed = build(conn, config)[f"area-{NORD}.ics"]
    calendar = parse(feed)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]).startswith("-//arshjul//")
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["NAME"]) == "Årshjul patientsäkerhet – Område Nord"
    assert str(calendar["X-WR-CALNAME"]) == "Årshjul patientsäkerhet – Område Nord"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Stockholm"
    assert calendar.refresh_interval == timedelta(hours=12)
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT12H\r\n" in feed.content
    assert b"\r\nX-PUBLISHED-TTL:PT12H\r\n" in feed.content
    calendar.validate()


def test_refresh_interval_and_reminders_come_from_the_settings(conn, tmp_path):
    config = own_config(
        tmp_path,
        settings="region: {id: R-1, name: Region Test}\n"
        "calendar: {refresh_hours: 6, reminder_days: [7]}\n",
    )
    feed = build(conn, config)["region.ics"]
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT6H\r\n" in feed.content
    assert b"\r\nX-PUBLISHED-TTL:PT6H\r\n" in feed.content
    assert feed.title == "Årshjul patientsäkerhet – Region Test"
    # the region's events are about the imported organisation's top, whatever settings say
    compile_unit = events(feed)[f"ps-compile-unit-{REGION}-2026-0@arshjul"]
    assert [alarm["TRIGGER"].dt for alarm in compile_unit.walk("VALARM")] == [timedelta(days=-7)]


def test_lines_end_in_crlf_and_are_folded_at_75_octets(conn, config):
    for feed in build(conn, config).values():
        assert feed.content.endswith(b"END:VCALENDAR\r\n")
        assert feed.content.count(b"\n") == feed.content.count(b"\r\n")
        lines = feed.content.split(b"\r\n")
        assert max(len(line) for line in lines) <= 75, feed.name
        assert any(line.startswith(b" ") for line in lines), "long Swedish text is folded"


def test_events_are_all_day(conn, config):
    for feed in build(conn, config).values():
        for event in events(feed).values():
            start, end = event["DTSTART"].dt, event["DTEND"].dt
            assert type(start) is date and type(end) is date
            assert end - start == timedelta(days=1)
        assert b"DTSTART;VALUE=DATE:" in feed.content


# --- what the events say -------------------------------------------------------------------


def test_a_moved_deadline_says_where_it_was_moved_from(conn, config):
    report = events(build(conn, config)["region.ics"])[f"ps-report-region-{REGION}-2026-0@arshjul"]
    assert str(report["SUMMARY"]) == (
        "Försenad: Patientsäkerhetsberättelse för 2025 fastställd och publicerad (region)"
    )
    assert report["DTSTART"].dt == date(2026, 2, 27)
    description = str(report["DESCRIPTION"])
    assert "senast 1 mars (PSL 3 kap. 10 §)" in description
    assert "Ansvarig: chefläkare" in description
    assert "Flyttad från 2026-03-01 (söndag)" in description
    assert report.categories == ["region", "chefläkare"]
    assert str(report["STATUS"]) == "CONFIRMED"


def test_a_deadline_on_a_working_day_is_not_moved(conn, config):
    unit = events(build(conn, config)["region.ics"])[f"ps-compile-unit-{REGION}-2026-0@arshjul"]
    assert str(unit["SUMMARY"]) == (
        "Sammanställning av avvikelser, klagomål och synpunkter för 2025 (enhet)"
    )
    assert unit["DTSTART"].dt == date(2026, 1, 20)
    assert "Ansvarig: enhetschef" in str(unit["DESCRIPTION"])
    assert "Flyttad" not in str(unit["DESCRIPTION"])


def test_an_omrade_feed_names_the_omrade_and_its_enheter(conn, config):
    nord = events(build(conn, config)[f"area-{NORD}.ics"])
    area = nord[f"ps-compile-area-{NORD}-2026-0@arshjul"]
    units = nord[f"ps-compile-unit-{NORD}-2026-0@arshjul"]
    assert str(area["SUMMARY"]).endswith("för 2025 (Område Nord)")
    assert str(units["SUMMARY"]).endswith("för 2025 (enheter i Område Nord)")


def test_reminders_are_display_alarms_per_reminder_day(conn, config):
    region = events(build(conn, config)["region.ics"])
    compile_unit = region[f"ps-compile-unit-{REGION}-2026-0@arshjul"]
    alarms = compile_unit.walk("VALARM")
    assert [a["TRIGGER"].dt for a in alarms] == [timedelta(days=-14), timedelta(days=-3)]
    assert {str(a["ACTION"]) for a in alarms} == {"DISPLAY"}
    assert str(alarms[1]["DESCRIPTION"]) == f"Om 3 dagar: {compile_unit['SUMMARY']}"
    # the monthly milestone has its own reminder days
    monthly = region[f"monthly-region-{REGION}-2026-0@arshjul"]
    assert [a["TRIGGER"].dt for a in monthly.walk("VALARM")] == [timedelta(days=-3)]


def test_a_removed_milestone_is_cancelled_not_dropped(conn, tmp_path):
    config = own_config(
        tmp_path,
        wheel="milestones:\n  - id: training\n    title: Uppföljning utbildning\n"
        "    removed: true\n"
        "    deadlines: [{level: unit, owner_role: enhetschef, due: {month: 10, day: 31}}]\n",
    )
    region = events(build(conn, config)["region.ics"])
    training = region[f"training-unit-{REGION}-2026-0@arshjul"]
    assert str(training["STATUS"]) == "CANCELLED"
    assert str(training["SUMMARY"]) == "Struken: Uppföljning utbildning (enhet)"
    assert not training.walk("VALARM")
    assert str(region[f"ps-report-region-{REGION}-2026-0@arshjul"]["STATUS"]) == "CONFIRMED"


# --- what a client expands them to ---------------------------------------------------------


def test_the_region_feed_holds_every_deadline_of_every_level_once(conn, config):
    shown = expected(config, lambda due: LEVEL_SV[due.deadline.level])
    assert expanded(build(conn, config)["region.ics"]) == shown


def test_an_omrade_feed_holds_its_own_and_its_enheters_deadlines_once(conn, config):
    label = {
        "area": "Område Nord",
        "department": "verksamheter i Område Nord",
        "unit": "enheter i Område Nord",
    }
    shown = expected(config, lambda due: label.get(due.deadline.level))
    assert expanded(build(conn, config)[f"area-{NORD}.ics"]) == shown


@pytest.mark.parametrize(
    ("name", "concerns"),
    [
        # an område without verksamheter and enheter: its own only
        (f"area-{TOMT}.ics", ("(Område Tomt)",)),
        (f"unit-{MEDICIN}.ics", ("(Medicinkliniken Nord)", "(enheter i Medicinkliniken Nord)")),
    ],
)
def test_a_feed_shows_only_the_levels_its_scope_has(conn, config, name, concerns):
    summaries = {summary for _, summary in expanded(build(conn, config)[name])}
    assert {c for c in concerns if any(s.endswith(c) for s in summaries)} == set(concerns)
    assert all(s.endswith(concerns) for s in summaries)


def test_the_monthly_milestone_is_one_rrule_per_year_corrected_for_holidays(conn, config):
    region = events(build(conn, config)["region.ics"])
    monthly = [e for uid, e in region.items() if uid.startswith("monthly-")]
    assert len(monthly) == len(YEARS)
    first = region[f"monthly-region-{REGION}-2026-0@arshjul"]
    rrule = first["RRULE"]
    assert rrule["FREQ"] == ["MONTHLY"]
    assert rrule["BYDAY"] == ["MO", "TU", "WE", "TH", "FR"]
    assert rrule["BYSETPOS"] == [10]
    assert rrule["UNTIL"] == [date(2026, 12, 31)]
    # the 10th weekday of January, April and May 2026 falls before a holiday is skipped
    assert first["DTSTART"].dt == date(2026, 1, 14)
    assert first.exdates == [date(2026, 1, 14), date(2026, 4, 14), date(2026, 5, 14)]
    assert [d for d, _ in first.rdates] == [date(2026, 1, 16), date(2026, 4, 16), date(2026, 5, 18)]


def test_the_monthly_milestone_expands_to_exactly_its_working_days(conn, config):
    rule = config.wheel.milestone("monthly").deadlines[0].due
    found = [d for d, s in expanded(build(conn, config)["region.ics"]) if s.startswith("Månads")]
    assert found == [d for year in YEARS for d in rule_dates(rule, year)]


def test_other_monthly_rules_expand_to_their_working_days(conn, tmp_path):
    config = own_config(
        tmp_path,
        wheel="milestones:\n"
        "  - id: month-end\n    title: Månadsbokslut\n    deadlines:\n"
        "      - {level: region, owner_role: controller,"
        " due: {months: [1,2,3,4,5,6,7,8,9,10,11,12], last_working_day: true}}\n"
        "  - id: late\n    title: Sen rapport\n    deadlines:\n"
        "      - {level: region, owner_role: controller,"
        " due: {months: [1,2,3,4,5,6,7,8,9,10,11,12], nth_working_day: 21}}\n",
    )
    feed = build(conn, config)["region.ics"]
    for milestone_id, title in (("month-end", "Månadsbokslut"), ("late", "Sen rapport")):
        rule = config.wheel.milestone(milestone_id).deadlines[0].due
        found = [d for d, s in expanded(feed) if s.startswith(title)]
        assert found == [d for year in YEARS for d in rule_dates(rule, year)], milestone_id
    region = events(feed)
    assert region[f"month-end-region-{REGION}-2026-0@arshjul"]["RRULE"]["BYSETPOS"] == [-1]
    # a February has only 20 weekdays: the 21st working day is one event per month
    assert "RRULE" not in region[f"late-region-{REGION}-2026-0@arshjul"]
    assert f"late-region-{REGION}-2026-11@arshjul" in region


# --- stable and deterministic --------------------------------------------------------------


def test_uids_are_unique_and_do_not_depend_on_now(conn, config):
    first = build(conn, config)
    later = build(conn, config, now=datetime(2027, 3, 1, 23, 59, tzinfo=ZoneInfo("Asia/Tokyo")))
    for name, feed in first.items():
        uids = [str(e["UID"]) for e in parse(feed).walk("VEVENT")]
        assert len(uids) == len(set(uids)), name
        assert list(events(later[name])) == uids
    assert f"ps-compile-unit-{NORD}-2026-0@arshjul" in events(first[f"area-{NORD}.ics"])
    assert f"ps-follow-up-unit-{REGION}-2027-2@arshjul" in events(first["region.ics"])


def test_two_builds_of_the_same_events_are_the_same_bytes(conn, config):
    first = build(conn, config)
    # later the same day in Stockholm: no deadline has become overdue meanwhile
    later = build(conn, config, now=datetime(2026, 11, 23, 23, 59, tzinfo=ZoneInfo("Asia/Tokyo")))
    reordered = build(conn, config, units=list(reversed(UNITS)))
    for name, feed in first.items():
        assert feed.content == later[name].content
        assert feed.content == reordered[name].content
    # DTSTAMP is when the event's content was first published (NOW is 08:30 UTC), not the run's
    assert b"\r\nDTSTAMP:20261123T083000Z\r\n" in later["region.ics"].content
    assert b"\r\nDTSTAMP:20261123T145900Z\r\n" not in later["region.ics"].content


def test_next_years_export_repeats_a_years_events_unchanged(conn, config):
    this_year = events(build(conn, config, years=[2026, 2027])["region.ics"])
    next_year = events(build(conn, config, years=[2027, 2028])["region.ics"])
    shared = [uid for uid in this_year if "-2027-" in uid]
    assert shared
    for uid in shared:
        assert this_year[uid].to_ical() == next_year[uid].to_ical()


def test_the_region_feed_matches_the_golden_file(conn, config):
    content = normalised(build(conn, config)["region.ics"].content)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(content.replace(b"\n", b"\r\n"))
    assert content == GOLDEN.read_bytes().replace(b"\r\n", b"\n")


# --- refusals and writing ------------------------------------------------------------------


def test_now_must_be_timezone_aware(conn, config):
    with pytest.raises(ValueError, match="timezone-aware"):
        build(conn, config, now=datetime(2026, 11, 23, 9, 30))


def test_two_deadlines_of_one_milestone_at_one_level_are_refused(conn, tmp_path):
    config = own_config(
        tmp_path,
        wheel="milestones:\n  - id: twice\n    title: Två gånger\n    deadlines:\n"
        "      - {level: unit, owner_role: enhetschef, due: {month: 1, day: 5}}\n"
        "      - {level: unit, owner_role: enhetschef, due: {month: 2, day: 5}}\n",
    )
    with pytest.raises(ConfigError, match="'twice'"):
        build(conn, config)


def test_feed_names_are_slugs_of_the_hsa_id(conn, config, tmp_path):
    odd = Unit("../../etc/passwd O9", "Område Udda", OrgLevel.AREA, REGION)
    feeds = build(conn, config, units=[*UNITS, odd])
    assert "area-etc-passwd-O9.ics" in feeds
    written = write_feeds(tmp_path / "out", list(feeds.values()))
    assert {p.parent for p in written} == {(tmp_path / "out").resolve()}


def test_ids_giving_the_same_file_name_are_refused(conn, config):
    clash = [
        Unit("O.1", "Område Ett", OrgLevel.AREA, REGION),
        Unit("O-1", "Område Ettan", OrgLevel.AREA, REGION),
    ]
    with pytest.raises(ArshjulError, match="area-O-1.ics"):
        build(conn, config, units=[*UNITS, *clash])


def test_write_feeds_creates_the_folder_and_replaces_files(tmp_path):
    out = tmp_path / "out" / "calendar"
    paths = write_feeds(out, [Feed("region.ics", "R", b"one"), Feed("area-A1.ics", "A", b"two")])
    assert [p.name for p in paths] == ["region.ics", "area-A1.ics"]
    assert (out / "area-A1.ics").read_bytes() == b"two"
    write_feeds(out, [Feed("region.ics", "R", b"three")])
    assert (out / "region.ics").read_bytes() == b"three"
    assert sorted(p.name for p in out.iterdir()) == ["area-A1.ics", "region.ics"]


def test_a_feed_of_the_same_bytes_is_not_written_again(conn, config, tmp_path):
    """An unchanged feed keeps its file (and so a web server's Last-Modified and ETag, and a
    subscriber's conditional request answered 304), however often the calendars are published;
    a feed whose events changed is written, with the changed event's DTSTAMP moved only."""
    out = tmp_path / "calendar"
    write_feeds(out, list(build(conn, config).values()))
    region, stroke = out / "region.ics", out / f"unit-{STROKE}.ics"
    for path in (region, stroke):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    paths = write_feeds(out, list(build(conn, config, now=NOW + timedelta(minutes=5)).values()))
    assert region in paths and stroke in paths
    assert region.stat().st_mtime_ns == stroke.stat().st_mtime_ns == 1_000_000_000
    record(conn, "compile", "2025", STROKE)  # the enhet's compile done: its event changes
    write_feeds(out, list(build(conn, config, now=NOW + timedelta(minutes=10)).values()))
    assert region.stat().st_mtime_ns == 1_000_000_000
    assert stroke.stat().st_mtime_ns != 1_000_000_000
    stamps = {
        str(e["UID"]): e["DTSTAMP"].dt
        for e in Calendar.from_ical(stroke.read_bytes()).walk("VEVENT")
    }
    moved = {uid for uid, stamp in stamps.items() if stamp != NOW.astimezone(UTC)}
    assert moved == {f"ps-compile-unit-{STROKE}-2026-0@arshjul"}
    assert stamps[f"ps-compile-unit-{STROKE}-2026-0@arshjul"] == (
        NOW + timedelta(minutes=10)
    ).astimezone(UTC)


@pytest.mark.parametrize("name", ["../region.ics", "sub/region.ics", "region.txt", ".ics", ""])
def test_write_feeds_refuses_a_name_that_is_not_a_plain_file_name(tmp_path, name):
    with pytest.raises(ValueError, match="unsafe"):
        write_feeds(tmp_path, [Feed("region.ics", "R", b"ok"), Feed(name, "X", b"bad")])
    assert not list(tmp_path.iterdir()), "nothing is written when one name is bad"


# --- unit and role feeds -------------------------------------------------------------------


def test_a_unit_feed_holds_the_units_own_deadlines_once(conn, config):
    shown = expected(config, lambda due: "Strokeenhet" if due.deadline.level == "unit" else None)
    assert expanded(build(conn, config)[f"unit-{STROKE}.ics"]) == shown


def test_a_role_feed_holds_every_deadline_the_role_owns(conn, config):
    feeds = build(conn, config)
    for role, name in (
        ("enhetschef", "role-enhetschef.ics"),
        ("hälso- och sjukvårdsdirektör", "role-halso-och-sjukvardsdirektor.ics"),
    ):
        shown = expected(
            config,
            lambda due, role=role: (
                LEVEL_SV[due.deadline.level] if due.deadline.owner_role == role else None
            ),
        )
        assert shown
        assert expanded(feeds[name]) == shown
    # the same deadline in the region's feed and a role's feed is one event, said the same way
    region, role = events(feeds["region.ics"]), events(feeds["role-enhetschef.ics"])
    for uid, event in role.items():
        assert event.to_ical() == region[uid].to_ical()


@pytest.mark.parametrize(
    ("role", "key"),
    [
        ("enhetschef", "enhetschef"),
        ("hälso- och sjukvårdsdirektör", "halso-och-sjukvardsdirektor"),
        ("Områdeschef", "omradeschef"),
        ("../chef", "chef"),
    ],
)
def test_role_feed_names_are_ascii_slugs(role, key):
    assert role_slug(role) == key


# --- status from the step runs -------------------------------------------------------------


def record(conn: Connection, step: str, period: str, unit_id: str, **extra: Any) -> None:
    """A run of ``step`` for ``unit_id`` (of UNITS) that finished on 18 January 2026."""
    if conn.execute(select(OrgUnit.id).where(OrgUnit.id == unit_id)).first() is None:
        conn.execute(insert(OrgUnit), [u.__dict__ for u in OrgTree(UNITS).walk(REGION)])
    finished = datetime(2026, 1, 18, 15, 0, tzinfo=STOCKHOLM)
    run = {"step": step, "period": period, "unit_id": unit_id, "run_id": "test"}
    times = {"started_at": finished, "finished_at": finished}
    conn.execute(insert(StepRun), [{**run, **times, "state": RunState.DONE, **extra}])


def test_a_units_deadlines_show_done_overdue_or_upcoming(conn, config):
    record(conn, "compile", "2025", STROKE)
    stroke = events(build(conn, config)[f"unit-{STROKE}.ics"])
    done = stroke[f"ps-compile-unit-{STROKE}-2026-0@arshjul"]
    assert str(done["SUMMARY"]).startswith("✔ Sammanställning av avvikelser")
    assert "Status: klar 2026-01-18." in str(done["DESCRIPTION"])
    assert not done.walk("VALARM"), "no reminders for what is done"
    overdue = stroke[f"ps-analyse-unit-{STROKE}-2026-0@arshjul"]
    assert str(overdue["SUMMARY"]).startswith("Försenad: Analys för 2025")
    assert "Status: försenad, inte klar: inte skrivet." in str(overdue["DESCRIPTION"])
    upcoming = stroke[f"ps-compile-unit-{STROKE}-2027-0@arshjul"]
    assert str(upcoming["SUMMARY"]).startswith("Sammanställning av avvikelser")
    assert "Status" not in str(upcoming["DESCRIPTION"])
    assert len(upcoming.walk("VALARM")) == 2
    # a milestone without a step has a status when it has an evidence: no open action
    follow_up = stroke[f"ps-follow-up-unit-{STROKE}-2026-0@arshjul"]
    assert str(follow_up["SUMMARY"]).startswith("✔ Uppföljning av handlingsplanens åtgärder")
    assert "Status: klar (inga öppna åtgärder att följa upp)." in str(follow_up["DESCRIPTION"])


def test_only_a_successful_run_for_the_deadlines_period_counts(conn, config):
    record(conn, "compile", "2024", STROKE)
    record(conn, "compile", "2025", STROKE, state=RunState.FAILED)
    record(conn, "compile", "2025", "SE2321000000-E0002")
    stroke = events(build(conn, config)[f"unit-{STROKE}.ics"])
    assert str(stroke[f"ps-compile-unit-{STROKE}-2026-0@arshjul"]["SUMMARY"]).startswith("Förs")


def test_an_interim_report_is_done_for_its_period(conn, config):
    record(conn, "interim_report", "2026-T1", REGION)
    record(conn, "interim_report", "2025", REGION)
    region = events(build(conn, config)["region.ics"])
    for milestone in ("ir-t1", "ir-year"):
        summary = str(region[f"{milestone}-region-{REGION}-2026-0@arshjul"]["SUMMARY"])
        assert summary.startswith("✔ "), milestone
    assert str(region[f"ir-t2-region-{REGION}-2026-0@arshjul"]["SUMMARY"]).startswith("Förs")


def test_a_status_is_shown_only_where_the_feeds_scope_owns_the_deadline(conn, config):
    record(conn, "compile", "2025", STROKE)
    feeds = build(conn, config)
    nord = events(feeds[f"area-{NORD}.ics"])
    assert str(nord[f"ps-compile-area-{NORD}-2026-0@arshjul"]["SUMMARY"]).startswith("Förs")
    # the enheter's deadline as the område sees it: many units, no single status
    units = str(nord[f"ps-compile-unit-{NORD}-2026-0@arshjul"]["SUMMARY"])
    assert units.startswith("Sammanställning")
    region = events(feeds["region.ics"])
    assert str(region[f"ps-compile-unit-{REGION}-2026-0@arshjul"]["SUMMARY"]).startswith("Samm")


def test_events_link_to_the_units_documents(conn, config):
    feeds = build(conn, config)
    stroke = events(feeds[f"unit-{STROKE}.ics"])
    compile_event = stroke[f"ps-compile-unit-{STROKE}-2026-0@arshjul"]
    document = f"http://127.0.0.1:8080/2025/enheter/{STROKE}/sammanstallning.html"
    assert str(compile_event["URL"]) == document
    assert f"Underlag: {document}" in str(compile_event["DESCRIPTION"])
    analyse = stroke[f"ps-analyse-unit-{STROKE}-2027-0@arshjul"]
    assert str(analyse["URL"]) == f"http://127.0.0.1:8080/2026/enheter/{STROKE}/analys.html"
    # no document of its own (yet): the year's index of every unit's documents
    action_plan = stroke[f"ps-action-plan-unit-{STROKE}-2026-0@arshjul"]
    assert str(action_plan["URL"]) == "http://127.0.0.1:8080/2025/index.html"
    region = events(feeds["region.ics"])
    assert str(region[f"ps-compile-region-{REGION}-2026-0@arshjul"]["URL"]) == (
        f"http://127.0.0.1:8080/2025/region/{REGION}/sammanstallning.html"
    )
    assert "URL" not in region[f"ir-t1-region-{REGION}-2026-0@arshjul"]
    assert "URL" not in region[f"monthly-region-{REGION}-2026-0@arshjul"]


# --- revisions: SEQUENCE, LAST-MODIFIED, cancelled -----------------------------------------


def revisions(feeds: dict[str, Feed]) -> dict[str, tuple[int, datetime]]:
    """uid -> (SEQUENCE, LAST-MODIFIED) over every feed; the same in each feed it is in, and
    DTSTAMP always LAST-MODIFIED (RFC 5545 3.8.7.2: when the event was last revised)."""
    out: dict[str, tuple[int, datetime]] = {}
    for feed in feeds.values():
        for uid, event in events(feed).items():
            seen = (int(event["SEQUENCE"]), event["LAST-MODIFIED"].dt)
            assert event["DTSTAMP"].dt == seen[1], uid
            assert out.setdefault(uid, seen) == seen, uid
    return out


def test_a_first_publication_is_sequence_0_modified_now(conn, config):
    first = revisions(build(conn, config))
    assert set(first.values()) == {(0, NOW.astimezone(UTC))}


def test_moving_one_milestones_date_raises_only_its_events_sequence(conn, config, tmp_path):
    before = revisions(build(conn, config))
    moved = own_config(
        tmp_path,
        wheel="milestones:\n  - id: ps-report\n    title: Patientsäkerhetsberättelse för"
        " {data_year} fastställd och publicerad\n    step: safety_report\n"
        "    description: Patientsäkerhetsberättelsen ska vara klar senast 1 mars"
        " (PSL 3 kap. 10 §).\n"
        "    deadlines: [{level: region, owner_role: chefläkare, due: {month: 2, day: 26}}]\n",
    )
    later = NOW + timedelta(hours=2)
    after = revisions(build(conn, moved, now=later))
    changed = {uid for uid in before if after[uid] != before[uid]}
    assert changed == {f"ps-report-region-{REGION}-{year}-0@arshjul" for year in YEARS}
    assert {after[uid] for uid in changed} == {(1, later.astimezone(UTC))}
    # and publishing it once more changes nothing
    assert revisions(build(conn, moved, now=later + timedelta(hours=1))) == after


def test_a_status_change_is_a_new_sequence_of_that_event_only(conn, config):
    before = revisions(build(conn, config))
    record(conn, "compile", "2025", STROKE)
    after = revisions(build(conn, config, now=NOW + timedelta(minutes=5)))
    changed = {uid for uid in before if after[uid] != before[uid]}
    assert changed == {f"ps-compile-unit-{STROKE}-2026-0@arshjul"}


def _without(config: Config, tmp_path: Path, milestone_id: str) -> Config:
    """The bundled wheel less one milestone, as a region that deleted it from its file."""
    wheel = yaml.safe_load(config.wheel_file.read_text("utf-8"))
    wheel["milestones"] = [m for m in wheel["milestones"] if m["id"] != milestone_id]
    (tmp_path / "wheel.yaml").write_text(yaml.safe_dump(wheel, allow_unicode=True), "utf-8")
    return Config(None, tmp_path / "wheel.yaml")


def test_a_milestone_gone_from_the_wheel_is_published_as_cancelled(conn, config, tmp_path):
    first = build(conn, config)
    reduced = _without(config, tmp_path, "training")
    second = build(conn, reduced, previous=lambda path: first[path].content)
    for name, uid in (
        ("region.ics", f"training-unit-{REGION}-2026-0@arshjul"),
        (f"unit-{STROKE}.ics", f"training-unit-{STROKE}-2027-0@arshjul"),
        ("role-enhetschef.ics", f"training-unit-{REGION}-2026-0@arshjul"),
    ):
        gone = events(second[name])[uid]
        assert str(gone["STATUS"]) == "CANCELLED", name
        assert int(gone["SEQUENCE"]) == 1
        assert str(gone["SUMMARY"]).startswith("Struken: Uppföljning utbildning")
        assert str(gone["DESCRIPTION"]).endswith("Milstolpen är struken ur årshjulet.")
        assert not gone.walk("VALARM")
    # published again: still there, still cancelled, its sequence raised only that once
    third = build(conn, reduced, now=NOW + timedelta(days=1), previous=lambda p: second[p].content)
    for name, feed in second.items():
        assert normalised(third[name].content) == normalised(feed.content), name
    assert not any("training" in uid for uid in events(third["role-controller.ics"]))


def test_a_cancelled_event_comes_back_when_the_milestone_does(conn, config, tmp_path):
    first = build(conn, config)
    reduced = _without(config, tmp_path, "training")
    second = build(conn, reduced, previous=lambda path: first[path].content)
    back = events(build(conn, config, previous=lambda path: second[path].content)["region.ics"])
    training = back[f"training-unit-{REGION}-2026-0@arshjul"]
    assert (str(training["STATUS"]), int(training["SEQUENCE"])) == ("CONFIRMED", 2)


def test_a_year_leaving_the_feeds_is_not_cancelled(conn, config):
    first = build(conn, config, years=[2026, 2027])
    nxt = build(conn, config, years=[2027, 2028], previous=lambda path: first[path].content)
    uids = events(nxt["region.ics"])
    assert not any("-2026-" in uid for uid in uids)
    assert all(str(e["STATUS"]) == "CONFIRMED" for e in uids.values())


# --- secret unit feeds ---------------------------------------------------------------------


def test_unit_feeds_live_under_their_token(conn, config, tmp_path):
    feeds = build(conn, config, token_for=lambda unit_id: f"token-for-{unit_id}")
    stroke = feeds[f"unit-{STROKE}.ics"]
    assert stroke.path == f"t/token-for-{STROKE}/unit-{STROKE}.ics"
    assert feeds["region.ics"].path == "region.ics"
    assert {f.kind for f in feeds.values() if f.token} == {"unit"}
    out = tmp_path / "calendar"
    write_feeds(out, [Feed(f"unit-{STROKE}.ics", "old", b"plain")])  # from before tokens
    written = write_feeds(out, list(feeds.values()))
    assert (out / stroke.path).read_bytes() == stroke.content
    removed = remove_other_feeds(out, written)
    assert removed == [(out / f"unit-{STROKE}.ics").resolve()]
    assert not (out / f"unit-{STROKE}.ics").exists()
    assert (out / "region.ics").exists()


@pytest.mark.parametrize("token", ["../x", "short", "a/b" * 10, "x" * 200])
def test_write_feeds_refuses_an_unsafe_token(tmp_path, token):
    with pytest.raises(ValueError, match="unsafe"):
        write_feeds(tmp_path, [Feed("unit-A.ics", "A", b"x", "unit", token)])


# --- the iCalendar text itself -------------------------------------------------------------


def test_the_feeds_are_what_icalendar_itself_would_write(conn, config):
    """Parsed and written again by icalendar, every feed comes out byte for byte the same:
    the fast writer folds, escapes and orders as icalendar does."""
    record(conn, "compile", "2025", STROKE)
    for name, feed in build(conn, config).items():
        assert parse(feed).to_ical() == feed.content, name


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")))
def test_folding_is_icalendars(value):
    assert fold(value) == _foldline(value).encode("utf-8")
    assert all(len(part) <= 75 for part in fold(value).split(b"\r\n"))

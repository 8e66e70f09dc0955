"""The published calendar folder: feeds, secret unit links and the index page with the wheel."""

from __future__ import annotations

import os
import re
import stat
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from arshjul.calendar_site import Site, build_site, unit_feed_links, write_site
from arshjul.config import Config
from arshjul.errors import ConfigError
from arshjul.feed_tokens import SECRET_ENV, load_secret, unit_token
from arshjul.milestone_status import Progress, Tally
from arshjul.models import OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.wheel_chart import CENTRE, HUB_RADIUS, LABEL_RADIUS, RIM_RADIUS, wheel_chart
from arshjul.workdays import wheel_dates
from tests.conftest import NOW, STOCKHOLM
from tests.test_ics import REGION, STROKE, UNITS, own_config, record

SECRET = b"s" * 32
TOKENS_ON = (
    "region: {id: SE2321000000-DEMO, name: Region Demoland}\ncalendar: {unit_tokens: true}\n"
)


def site(conn: Connection, config: Config, units: list[Unit] = UNITS, **options: Any) -> Site:
    """The calendar site as of NOW, for an output folder ``out`` (nothing published there)."""
    out = options.pop("out", Path("/nonexistent"))
    return build_site(conn, config, OrgTree(units), out, run_id="t", **{"now": NOW, **options})


# --- the folder ----------------------------------------------------------------------------


def test_a_feed_exported_twice_without_change_is_not_written_again(conn, config, tmp_path):
    first = write_site(tmp_path, site(conn, config, out=tmp_path))
    before = {p: (p.read_bytes(), p.stat().st_ino) for p in first if p.suffix == ".ics"}
    second = write_site(tmp_path, site(conn, config, out=tmp_path, now=NOW + timedelta(hours=3)))
    assert sorted(first) == sorted(second)
    assert len(before) == 1 + 3 + 5 + 6
    for path, (content, inode) in before.items():  # an atomic write is a new file
        assert (path.read_bytes(), path.stat().st_ino) == (content, inode), path.name


def test_the_folder_holds_the_feeds_and_the_index_page(conn, config, tmp_path):
    written = write_site(tmp_path, site(conn, config, out=tmp_path))
    folder = tmp_path / "calendar"
    assert written[-1] == folder / "index.html"
    assert {p.parent for p in written} == {folder.resolve(), folder}
    (folder / "area-GONE.ics").write_bytes(b"an omrade that no longer exists")
    (folder / "notes.txt").write_text("not a feed", "utf-8")
    write_site(tmp_path, site(conn, config, out=tmp_path))
    assert not (folder / "area-GONE.ics").exists()
    assert (folder / "notes.txt").exists(), "only feeds are cleaned up"


def test_with_tokens_unit_feeds_are_written_only_under_their_token(conn, tmp_path):
    config = own_config(tmp_path, settings=TOKENS_ON)
    out = tmp_path / "out"
    published = site(conn, config, out=out, secret=SECRET)
    write_site(out, published)
    token = unit_token(SECRET, STROKE)
    assert (out / "calendar" / "t" / token / f"unit-{STROKE}.ics").is_file()
    assert not list((out / "calendar").glob("unit-*.ics"))
    assert len(list((out / "calendar" / "t").iterdir())) == 5
    index = (out / "calendar" / "index.html").read_text("utf-8")
    assert "unit-" not in index and token not in index
    assert "egen hemlig länk, som kvalitetssamordnaren" in index
    links = dict((unit.id, url) for unit, url in unit_feed_links(config, OrgTree(UNITS), SECRET))
    assert links[STROKE] == f"http://127.0.0.1:8080/calendar/t/{token}/unit-{STROKE}.ics"


def test_tokens_need_a_secret(conn, tmp_path):
    config = own_config(tmp_path, settings=TOKENS_ON)
    with pytest.raises(ConfigError, match="secret"):
        site(conn, config)


# --- the index page ------------------------------------------------------------------------


def test_the_index_page_links_every_open_feed_for_subscribing(conn, config):
    html = site(conn, config).index_html
    for name in (
        "region.ics",
        "area-SE2321000000-O001.ics",
        f"unit-{STROKE}.ics",
        "role-enhetschef.ics",
    ):
        assert f'href="webcal://127.0.0.1:8080/calendar/{name}"' in html
        assert f'href="http://127.0.0.1:8080/calendar/{name}"' in html
    assert "<h1>Årshjul patientsäkerhet 2026</h1>" in html
    assert "status per 2026-11-23" in html


def test_the_index_page_escapes_names_from_the_data(conn, config):
    odd = Unit("SE2321000000-E0666", "<script>alert(1)</script> & Co", OrgLevel.UNIT, STROKE)
    html = site(conn, config, units=[*UNITS, odd]).index_html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html


def test_the_wheel_has_a_mark_per_deadline_coloured_by_status(conn, config):
    for unit_id in ("SE2321000000-E0001", "SE2321000000-E0002", "SE2321000000-E0003"):
        record(conn, "compile", "2025", unit_id)
    record(conn, "analyse", "2025", STROKE)
    html = site(conn, config, now=datetime(2026, 2, 12, 9, 0, tzinfo=STOCKHOLM)).index_html
    marks = re.findall(r'<circle class="mark (\w+)"[^>]*><title>([^<]*)</title>', html)
    assert len(marks) == len(wheel_dates(config.wheel, 2026))
    by_title = {title: progress for progress, title in marks}
    compile_units = next(t for t in by_title if t.startswith("2026-01-20: Sammanställning"))
    assert by_title[compile_units] == "done"
    assert compile_units.endswith("klar, 3 av 3 klara")
    analyse_units = next(t for t in by_title if t.startswith("2026-02-10: Analys"))
    assert by_title[analyse_units] == "overdue"
    assert analyse_units.endswith("försenad, 1 av 3 klar")
    # a deadline of the region, one unit: its reason, as on the status page
    compile_region = next(t for t in by_title if t.startswith("2026-02-06: Sammanställning"))
    assert compile_region.endswith("(region, chefläkare) – försenad, 0 av 1 klara: inte skrivet")
    # December's follow-up has a status; the monthly report to HSN has none
    assert by_title[next(t for t in by_title if t.startswith("2026-12-15: Uppföljning"))] == (
        "upcoming"
    )
    assert {by_title[t] for t in by_title if "Månadsuppföljning" in t} == {"none"}
    analyse_areas = next(t for t in by_title if t.startswith("2026-02-20: Analys"))
    assert by_title[analyse_areas] == "upcoming"
    assert analyse_areas.endswith("(område, områdeschef) – kommande, 0 av 3 klara")
    for month in ("januari", "juni", "december"):
        assert f">{month}</text>" in html
    assert 'role="img"' in html and '<desc id="wheel-desc">' in html


def test_the_wheels_milestones_are_named_in_its_key_by_the_number_in_their_mark(conn, config):
    html = site(conn, config, now=datetime(2026, 2, 12, 9, 0, tzinfo=STOCKHOLM)).index_html
    numbers = [int(n) for n in re.findall(r'<text class="mark-number \w+"[^>]*>(\d+)</text>', html)]
    assert len(numbers) == len(wheel_dates(config.wheel, 2026))
    key = dict(re.findall(r'<li value="(\d+)"><b>([^<]*)</b> – [^<]*</li>', html))
    titles = {due.title for due in wheel_dates(config.wheel, 2026) if not due.milestone.removed}
    assert set(key.values()) == titles and set(numbers) == {int(n) for n in key}
    compile_number = next(n for n, t in key.items() if t.startswith("Sammanställning"))
    # numbered by first date: the monthly follow-up (January's 10th working day), then this
    assert key["1"].startswith("Månadsuppföljning") and compile_number == "2"
    dates = dict(re.findall(r'<li value="(\d+)"><b>[^<]*</b> – ([^<]*)</li>', html))
    assert dates[compile_number] == (
        "enhet 20 januari; verksamhet 23 januari; område 30 januari; region 6 februari"
    )
    monthly = next(n for n, t in key.items() if t.startswith("Månadsuppföljning"))
    assert dates[monthly].startswith("region 12 gånger, ")


def test_the_wheel_geometry():
    dues = [(due, Tally(Progress.UPCOMING, 0, 1)) for due in _dues()]
    chart = wheel_chart(2026, dues, date(2026, 7, 2))
    assert [ring.level for ring in chart.rings] == ["region", "area", "department", "unit"]
    radii = [ring.radius for ring in chart.rings]
    assert radii == sorted(radii, reverse=True)
    for mark in chart.marks:
        distance = ((mark.at.x - CENTRE) ** 2 + (mark.at.y - CENTRE) ** 2) ** 0.5
        assert HUB_RADIUS < distance < RIM_RADIUS
    january = chart.months[0]
    assert (january.start_outer.x, january.start_outer.y) == (CENTRE, CENTRE - RIM_RADIUS)
    assert chart.months[6].label.x < CENTRE < chart.months[0].label.x  # July on the left
    assert all(abs(m.label.x - CENTRE) <= LABEL_RADIUS for m in chart.months)
    # 2 July is the middle of the year: the hand points straight down
    assert chart.today is not None and abs(chart.today.x - CENTRE) < 1
    assert wheel_chart(2027, dues, date(2026, 7, 2)).today is None


def test_close_deadlines_of_one_ring_do_not_cover_each_other():
    region = [(d, None) for d in _dues() if d.deadline.level == "region"]
    marks = wheel_chart(2026, region, date(2026, 1, 1)).marks
    for i, a in enumerate(marks):
        for b in marks[i + 1 :]:
            assert (a.at.x - b.at.x) ** 2 + (a.at.y - b.at.y) ** 2 >= 14**2, (a.title, b.title)


def _dues():
    from arshjul.config import load_config

    return wheel_dates(load_config().wheel, 2026)


# --- the secret ----------------------------------------------------------------------------


def test_the_secret_is_made_once_private_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    path = tmp_path / "var" / "feed-secret"
    first = load_secret(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(path) == first
    assert len(first) >= 32
    assert [p.name for p in path.parent.iterdir()] == ["feed-secret"], "no temporary file left"


def test_the_secret_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "x" * 20)
    assert load_secret(tmp_path / "feed-secret") == b"x" * 20
    assert not (tmp_path / "feed-secret").exists()
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(ConfigError, match=SECRET_ENV):
        load_secret(tmp_path / "feed-secret")


def test_tokens_are_stable_per_unit_and_secret():
    token = unit_token(SECRET, STROKE)
    assert token == unit_token(SECRET, STROKE)
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", token)
    assert token != unit_token(SECRET, REGION)
    assert token != unit_token(b"t" * 32, STROKE)

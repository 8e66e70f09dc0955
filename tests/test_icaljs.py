"""Every feed through ical.js, the parser of Thunderbird and Nextcloud, in Node.

The script ``tests/js/parse_feeds.mjs`` parses each file and expands the recurrences; what it
reads must be what icalendar and recurring-ical-events read in Python.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta
from pathlib import Path

import recurring_ical_events
from icalendar import Calendar

from arshjul.calendar_site import build_site, write_site
from arshjul.org import OrgTree
from tests.conftest import NOW
from tests.test_ics import STROKE, UNITS, own_config, record
from tests.tools import node_with

JS = Path(__file__).parent / "js"
UNTIL = date(2028, 1, 1)


def ical_js(files: list[Path]) -> dict[str, dict]:
    node = node_with(JS, "ical.js")
    done = subprocess.run(
        [node, "parse_feeds.mjs", UNTIL.isoformat(), *map(str, files)],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def python_view(path: Path) -> dict:
    """What icalendar and recurring-ical-events read in one feed, shaped as the script's."""
    calendar = Calendar.from_ical(path.read_bytes())
    occurrences: dict[str, list[str]] = {}
    for event in recurring_ical_events.of(calendar).between(date(2026, 1, 1), UNTIL):
        occurrences.setdefault(str(event["UID"]), []).append(event["DTSTART"].dt.isoformat())
    events = {
        str(e["UID"]): {
            "summary": str(e["SUMMARY"]),
            "sequence": int(e["SEQUENCE"]),
            "status": str(e["STATUS"]),
            "alarms": len(e.walk("VALARM")),
            "dates": sorted(occurrences.get(str(e["UID"]), [])),
        }
        for e in calendar.walk("VEVENT")
    }
    refresh = calendar["REFRESH-INTERVAL"].dt
    assert refresh == timedelta(hours=12)
    return {"name": str(calendar["X-WR-CALNAME"]), "refresh": "PT12H", "events": events}


def test_every_feed_parses_in_ical_js_as_in_python(conn, tmp_path):
    # a published wheel with every kind of event: done, overdue, upcoming, monthly with
    # holiday corrections, secret unit feeds, and a milestone withdrawn and cancelled
    config = own_config(
        tmp_path,
        settings="region: {id: SE2321000000-DEMO, name: Region Demoland}\n"
        "calendar: {unit_tokens: true}\n",
    )
    out = tmp_path / "out"
    record(conn, "compile", "2025", STROKE)
    tree = OrgTree(UNITS)
    site = build_site(conn, config, tree, out, now=NOW, run_id="t", secret=b"k" * 32)
    write_site(out, site)
    (tmp_path / "arshjul.yaml").write_text(
        "milestones:\n  - id: training\n    title: Utbildning\n    removed: true\n"
        "    deadlines: [{level: unit, owner_role: enhetschef, due: {month: 10, day: 31}}]\n",
        "utf-8",
    )
    changed = own_config(tmp_path)
    write_site(out, build_site(conn, changed, tree, out, now=NOW, run_id="t", secret=b"k" * 32))
    files = sorted((out / "calendar").rglob("*.ics"))
    assert len(files) == 1 + 3 + 5 + 6

    parsed = ical_js(files)
    assert sorted(parsed) == sorted(map(str, files))
    for path in files:
        assert parsed[str(path)] == python_view(path), path.name
    region = parsed[str(out / "calendar" / "region.ics")]["events"]
    monthly = region["monthly-region-SE2321000000-DEMO-2026-0@arshjul"]
    assert len(monthly["dates"]) == 12
    assert "2026-01-16" in monthly["dates"] and "2026-01-14" not in monthly["dates"]
    training = region["training-unit-SE2321000000-DEMO-2026-0@arshjul"]
    assert (training["status"], training["sequence"]) == ("CANCELLED", 1)

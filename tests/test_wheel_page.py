"""The index page with the wheel, served by the feed server and opened in headless Chromium.

Chromium writes what a page logs to its console on stderr (``--enable-logging=stderr``); the
page logs nothing and asks the server for nothing but itself. The screenshot is kept in the
test's folder for a person to look at.
"""

from __future__ import annotations

import re
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from arshjul.calendar_site import build_site, write_site
from arshjul.feedserver import FeedServer
from arshjul.org import OrgTree
from tests.conftest import NOW
from tests.test_ics import STROKE, UNITS, record
from tests.tools import feed_server, require_program

WINDOW = (1100, 1600)
_CONSOLE = re.compile(r":CONSOLE[:(]")


@pytest.fixture
def out(conn, config, tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    for unit_id in ("SE2321000000-E0001", "SE2321000000-E0002", "SE2321000000-E0003"):
        record(conn, "compile", "2025", unit_id)
    record(conn, "analyse", "2025", STROKE)
    write_site(folder, build_site(conn, config, OrgTree(UNITS), folder, now=NOW, run_id="t"))
    return folder


@pytest.fixture
def server(out: Path) -> Iterator[FeedServer]:
    with feed_server(out) as httpd:
        yield httpd


def chromium(url: str, profile: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    program = require_program("chromium")
    command = [
        program,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *flags,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if _CONSOLE.search(line)]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_wheel_page_loads_cleanly_and_draws_the_wheel(server, tmp_path, capsys):
    url = f"{server.url}/calendar/"
    shot = tmp_path / "wheel.png"
    capsys.readouterr()
    taken = chromium(url, tmp_path / "profile", f"--screenshot={shot}")
    assert console_lines(taken.stderr) == []
    requests = capsys.readouterr().err.splitlines()
    assert len(requests) == 1 and '"GET /calendar/ HTTP/1.1" 200' in requests[0], requests
    assert png_size(shot) == WINDOW
    assert shot.stat().st_size > 30_000, "a blank page compresses to almost nothing"

    dom = chromium(url, tmp_path / "profile", "--dump-dom").stdout
    assert '<svg role="img" aria-labelledby="wheel-title wheel-desc"' in dom
    assert len(re.findall(r'<circle class="mark done"', dom)) >= 1
    assert len(re.findall(r'<circle class="mark overdue"', dom)) >= 1
    assert 'href="webcal://127.0.0.1:8080/calendar/region.ics"' in dom


def test_a_console_error_would_be_seen(server, out, tmp_path):
    """The check above can fail: a page running a script is refused and says so."""
    (out / "calendar" / "broken.html").write_text(
        "<!doctype html><title>x</title><script>console.error('boom')</script>", "utf-8"
    )
    done = chromium(f"{server.url}/calendar/broken.html", tmp_path / "profile", "--dump-dom")
    assert console_lines(done.stderr)

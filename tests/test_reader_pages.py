"""The pages a reader opens, from a whole run on the demo region with one unit that has no
data: every kind passes axe-core in headless Chromium, the start page leads everywhere, a unit
without deviations or complaints is told in sentences, and no page shows a file name.

axe-core runs the rules of WCAG 2.1 A and AA and its best practices (landmarks, heading order)
on each page as the feed server serves it (tests/js/check_pages.mjs, playwright-core driving
the system's Chromium).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from arshjul.cli import main
from tests.conftest import NOW
from tests.tools import feed_server, node_with, require_program

# a whole run of the demo takes 30-90 s on two busy cores, several minutes on a crowded one
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

JS = Path(__file__).parent / "js"
REGION = "region/SE2321000000-DEMO"
#: a unit added to the demo's organisation, without any deviation, complaint or other data
EMPTY = "SE2321000000-E9999"
EMPTY_ROW = f"{EMPTY};Enhet utan data;enhet;SE2321000000-V001\n"


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Path]:
    """``arshjul run --approve`` on the demo region plus the empty unit; the output folder."""
    folder = tmp_path_factory.mktemp("reader")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("ARSHJUL_DATABASE_URL", f"sqlite:///{folder / 'arshjul.sqlite'}")
        mp.setenv("ARSHJUL_OUT", str(folder / "out"))
        mp.setenv("ARSHJUL_NOW", NOW.isoformat())
        mp.delenv("ARSHJUL_CONFIG", raising=False)
        assert main(["demo", "--out", str(folder / "data")]) == 0
        with (folder / "data" / "organisation.csv").open("a", encoding="utf-8") as fh:
            fh.write(EMPTY_ROW)
        # the demo's returned action plans answer the findings of the demo's own units: with
        # one more unit the peers' median, and so the findings, differ
        for worksheet in (folder / "data").rglob("handlingsplan-*.xlsx"):
            worksheet.unlink()
        assert main(["run", "--approve", "--data", str(folder / "data")]) == 0
        yield folder / "out"


def pages(out: Path) -> dict[str, str]:
    """One page of each kind (a region's and an enhet's, and the empty unit's documents)."""
    enhet = "enheter/SE2321000000-E0001"
    empty = f"enheter/{EMPTY}"
    return {
        "start page": "index.html",
        "year index": "2025/index.html",
        "period index": "2026-T2/index.html",
        "status": "2025/status.html",
        "calendar page": "calendar/index.html",
        "compilation": f"2025/{REGION}/sammanstallning.html",
        "analysis": f"2025/{REGION}/analys.html",
        "action plan": f"2025/{REGION}/handlingsplan.html",
        "patientsäkerhetsberättelse": f"2025/{REGION}/patientsakerhetsberattelse.html",
        "deferred care (year)": f"2025/{REGION}/uppskjuten-vard.html",
        "deferred care (period)": f"2026-T2/{REGION}/uppskjuten-vard.html",
        "enhet compilation": f"2025/{enhet}/sammanstallning.html",
        "enhet analysis": f"2025/{enhet}/analys.html",
        "enhet action plan": f"2025/{enhet}/handlingsplan.html",
        "enhet deferred care": f"2026-T2/{enhet}/uppskjuten-vard.html",
        "empty compilation": f"2025/{empty}/sammanstallning.html",
        "empty analysis": f"2025/{empty}/analys.html",
        "empty action plan": f"2025/{empty}/handlingsplan.html",
        "empty deferred care": f"2026-T2/{empty}/uppskjuten-vard.html",
    }


class Page(HTMLParser):
    """A page's links, its tables and SVG charts, and the text it shows outside the footer
    (where the files a document was built from are named, as they must be)."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[str] = []
        self.tables = 0
        self.charts = 0
        self.text = ""
        self._hidden: list[str] = []  # the footer, or a style sheet, being read
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs)["href"] or "")
        self.tables += tag == "table"
        self.charts += tag == "svg"
        if tag in ("footer", "style"):
            self._hidden.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text += data


def read(out: Path, page: str) -> Page:
    return Page((out / page).read_text("utf-8"))


def axe(out: Path, pages: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The violations axe-core finds on each of ``pages`` (paths under ``out``) as the feed
    server serves them, by page."""
    chromium = require_program("chromium")
    node = node_with(JS, "axe-core", "playwright-core")
    with feed_server(out) as server:
        done = subprocess.run(
            [node, "check_pages.mjs", chromium, *(f"{server.url}/{p}" for p in pages)],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        found = json.loads(done.stdout)
        return {page: found[f"{server.url}/{page}"] for page in pages}


def test_every_kind_of_page_passes_axe_in_chromium(out: Path):
    kinds = pages(out)
    found = axe(out, list(kinds.values()))
    violations = {
        kind: [(v["id"], v["help"], v["nodes"][0]["target"]) for v in found[page]]
        for kind, page in kinds.items()
        if found[page]
    }
    assert violations == {}


def test_axe_would_see_a_violation(out: Path):
    """The check above can fail: a page without a language, a landmark or an image's text."""
    bad = out / "calendar" / "bad.html"
    bad.write_text("<!doctype html><title>x</title><img src='data:,'><h3>y</h3>", "utf-8")
    try:
        [violations] = axe(out, ["calendar/bad.html"]).values()
    finally:
        bad.unlink()
    assert {"html-has-lang", "image-alt", "landmark-one-main"} <= {v["id"] for v in violations}


def test_the_start_page_leads_to_every_year_period_status_calendar_and_report(out: Path):
    start = read(out, "index.html")
    for href in (
        "calendar/index.html",
        "2025/index.html",
        "2025/status.html",
        "2026/status.html",
        "2026-T2/index.html",
        f"2025/{REGION}/patientsakerhetsberattelse.html",
        f"2025/{REGION}/patientsakerhetsberattelse.pdf",
        f"2025/{REGION}/sammanstallning.html",
        f"2025/{REGION}/analys.html",
        f"2025/{REGION}/handlingsplan.html",
        f"2025/{REGION}/uppskjuten-vard.html",
        f"2025/{REGION}/uppskjuten-vard.pdf",
        f"2026-T2/{REGION}/uppskjuten-vard.html",
        f"2026-T2/{REGION}/uppskjuten-vard.pdf",
    ):
        assert href in start.links, href
    # the latest first: the year's folder ends in December, after its periods
    assert re.search(r"2026-T2.*Patientsäkerhet och uppskjuten vård 2025", start.text, re.S)
    year = read(out, "2025/index.html")
    assert {"../index.html", "status.html", "../calendar/index.html"} <= set(year.links)
    assert "../index.html" in read(out, "calendar/index.html").links
    # every link on the start page and the indexes leads to a file that is there
    for page in ("index.html", "2025/index.html", "2026-T2/index.html"):
        folder = (out / page).parent
        for href in read(out, page).links:
            assert (folder / href).exists(), f"{page}: {href}"


def test_every_document_and_the_status_page_lead_back_to_the_start_page(out: Path):
    pages = [
        f"2025/{REGION}/{name}.html"
        for name in ("sammanstallning", "analys", "handlingsplan", "patientsakerhetsberattelse")
    ]
    pages += [f"2025/enheter/{EMPTY}/analys.html", f"2026-T2/{REGION}/uppskjuten-vard.html"]
    for page in [*pages, "2025/status.html"]:
        links = read(out, page).links
        start = next(href for href in links if href.endswith("index.html"))
        assert (out / page).parent.joinpath(start).resolve() == (out / "index.html"), page
        for href in links:  # and to its period's index, the status page's calendars
            if href.endswith("index.html"):
                assert ((out / page).parent / href).exists(), f"{page}: {href}"


def test_a_unit_without_data_is_told_in_sentences_not_tables_of_zeros(out: Path):
    compilation = read(out, f"2025/enheter/{EMPTY}/sammanstallning.html")
    text = re.sub(r"\s+", " ", compilation.text)
    where = "Enhet utan data"
    assert (
        f"Inga avvikelser rapporterades och inga klagomål eller synpunkter kom in 2025 för {where}."
        in text
    )
    assert f"Inga avvikelser rapporterades 2025 för {where}." in text
    assert f"Inga klagomål eller synpunkter kom in 2025 för {where}." in text
    assert compilation.charts == 0
    assert compilation.tables == 1  # the training coverage, which is not about deviations
    analysis = read(out, f"2025/enheter/{EMPTY}/analys.html")
    text = re.sub(r"\s+", " ", analysis.text)
    assert "Inga avvikelser 2025 att riskbedöma." in text
    assert "inget att visa i ett styrdiagram" in text
    assert analysis.charts == 0
    # a unit with data still has its tables and charts
    full = read(out, "2025/enheter/SE2321000000-E0001/sammanstallning.html")
    assert full.charts == 2 and full.tables >= 8


def test_no_page_shows_a_file_name_or_a_command(out: Path):
    shown = re.compile(r"\b[\w-]+\.(?:ya?ml|xlsx|csv|py|j2|json)\b|\barshjul [a-z]+ [a-z]+")
    for page in out.rglob("*.html"):
        leaks = shown.findall(read(out, page.relative_to(out).as_posix()).text)
        assert leaks == [], f"{page.relative_to(out)}: {leaks}"

"""Secondary disclosure (issue 15.8), attacked from the published files of whole runs: the demo
and a hand-made region with many small cells. ``tests/disclosure_attack.py`` is the reader: it
parses every published document, writes down every sum, share, sentence and repeated figure
it can find, across documents, and narrows each hidden count's interval; nothing printed
``<5`` may come out narrower than 1..4.

Slow (a whole run each): marked ``slow``, as the crash tests are.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from arshjul.cli import main
from arshjul.formats.tables import parse_html, read_tables
from tests.disclosure_attack import (
    HIDDEN,
    SMALL,
    Knowledge,
    knowledge,
    public_documents,
    recovered,
    solve,
)
from tests.tools import pdf_pages

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1200),
    pytest.mark.usefixtures("prefect_harness"),
]


def run(home: Path, *args: str) -> Path:
    """``arshjul run --approve`` in ``home`` (its own database and output); returns out/."""
    env = {
        "ARSHJUL_HOME": str(home),
        "ARSHJUL_DATABASE_URL": f"sqlite:///{home / 'arshjul.sqlite'}",
        "ARSHJUL_OUT": str(home / "out"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("ARSHJUL_CONFIG", raising=False)
        mp.chdir(home)
        assert main(["run", "--approve", *args]) == 0
    return home / "out"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import NOW

    home = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARSHJUL_NOW", NOW.isoformat())
        return run(home)


# --- a hand-made region with many small cells ----------------------------------------------

AREAS = ("Ett", "Två", "Tre")
CATEGORIES = ("Fall", "Läkemedel", "Dokumentation", "Trycksår")
CHANNELS = ("1177", "Patientnämnden", "Direkt", "IVO")
COMPLAINTS = ("Kommunikation", "Vård och behandling", "Tillgänglighet", "Resurser")
ACTIVITIES = ("besök", "operation", "åtgärd")


def small_region(folder: Path, seed: int = 15) -> Path:
    """Region Liten: three områden of two verksamheter of two enheter, each with a handful
    of deviations, complaints, patients waiting (a few over 90 and 180 days) and managers
    who completed their courses over 2025 and 2026: most counts of every table are 0 to 6."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    org = ["HSA-id;Namn;Nivå;Överordnad", "R1;Region Liten;region;"]
    enheter = []
    for a, area in enumerate(AREAS, 1):
        org.append(f"A{a};Område {area};område;R1")
        for v in (1, 2):
            org.append(f"V{a}{v};Klinik {area} {v};verksamhet;A{a}")
            for e in (1, 2):
                enheter.append(f"E{a}{v}{e}")
                org.append(f"E{a}{v}{e};Enhet {area} {v}{e};enhet;V{a}{v}")
    dev = [
        "Avvikelse-ID;Enhet HSA-id;Händelsedatum;Rapporteringsdatum;Händelsetyp;Konsekvens;"
        "Sannolikhet;Lex Maria;Vårdkedja;Status;Avslutad datum"
    ]
    complaints = ["Ärende-ID;Enhet HSA-id;Inkommet datum;Kanal;Kategori;Besvarat datum;Status"]
    waiting = ["Mätdatum;Enhet HSA-id;Vårdåtgärd;Väntetid dagar;PvV;Antal"]
    training = ["Pseudonym;Enhet HSA-id;Roll;Kurs;Genomförd"]
    n = 0
    for unit in enheter:
        for year in (2024, 2025):
            for _ in range(rng.randint(2, 9)):
                n += 1
                month, day = rng.randint(1, 11), rng.randint(1, 28)
                closed = rng.random() < 0.8
                dev.append(
                    f"D{n};{unit};{year}-{month:02}-{day:02};{year}-{month:02}-{day:02};"
                    f"{rng.choice(CATEGORIES)};{rng.randint(1, 4)};{rng.randint(1, 4)};"
                    f"{rng.choice(('ja', 'nej', 'nej', 'nej'))};{rng.choice(('ja', 'nej'))};"
                    f"{'Avslutad' if closed else 'Ny'};{f'{year}-12-20' if closed else ''}"
                )
            for _ in range(rng.randint(0, 4)):
                n += 1
                month = rng.randint(1, 10)
                answered = (
                    f"{year}-{month:02}-{rng.randint(1, 28):02}" if rng.random() < 0.8 else ""
                )
                complaints.append(
                    f"K{n};{unit};{year}-{month:02}-01;{rng.choice(CHANNELS)};"
                    f"{rng.choice(COMPLAINTS)};{answered};{'Avslutad' if answered else 'Pågående'}"
                )
        for day in ("2024-08-31", "2024-12-31", "2025-08-31", "2025-12-31", "2026-08-31"):
            for activity in rng.sample(ACTIVITIES, rng.randint(1, 3)):
                for days, pvv in ((20, "nej"), (60, "ja"), (120, "nej"), (200, "nej")):
                    count = rng.randint(0, 12 if days < 90 else 3)
                    if count:
                        waiting.append(f"{day};{unit};{activity};{days};{pvv};{count}")
        for p in range(rng.randint(1, 3)):
            for course in ("patientsäkerhet", "produktionsplanering"):
                # completed in any tertial of 2025 or 2026 up to the run: the sections of
                # every period count a different part of the same managers
                year, month = rng.choice(((2025, rng.randint(1, 12)), (2026, rng.randint(1, 8))))
                done = f"{year}-{month:02}-15" if rng.random() < 0.6 else ""
                training.append(f"P-{unit}{p};{unit};chef;{course};{done}")
    for name, rows in (
        ("organisation", org),
        ("deviations", dev),
        ("complaints", complaints),
        ("waiting", waiting),
        ("training", training),
    ):
        (folder / f"{name}.csv").write_text("\n".join(rows) + "\n", "utf-8")
    return folder


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import NOW

    home = tmp_path_factory.mktemp("small")
    data = small_region(home / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARSHJUL_NOW", NOW.isoformat())
        return run(home, "--data", str(data))


# --- the attack --------------------------------------------------------------------------


def hidden_cells(out: Path) -> tuple[int, int]:
    """How many cells of the published documents' tables are ``<5`` and ``..``."""
    marks = [
        c.text
        for page in public_documents(out)
        for t in read_tables(parse_html(page.read_text("utf-8")))
        for r in (*t.body, *t.foot)
        for c in r[1:]
    ]
    return marks.count(SMALL), marks.count(HIDDEN)


@pytest.mark.parametrize("region", ["demo", "small"])
def test_no_hidden_count_can_be_narrowed_from_the_published_documents(region, request):
    """Every document of a period read together: the patientsäkerhetsberättelse and every
    unit's deferred-care section of 2025, and every unit's section of 2026-T2."""
    out = request.getfixturevalue(region)
    for period in ("2025", "2026-T2"):
        k = knowledge(out / period)
        assert len(list(public_documents(out / period))) > 20
        assert sum(len(v) for v in k.printed.values()) > 500
        assert recovered(out / period) == [], period
    assert hidden_cells(out)[0] > 10  # there is something to protect


@pytest.mark.parametrize("region", ["demo", "small"])
def test_every_period_read_together(region, request):
    """Every period's documents the run writes read together (2025-T1, 2025-T2, 2025,
    2026-T1, 2026-T2): a section's last-year columns are printed as last year's sections
    print them, a month's row as the section of the period ending that month prints it, and
    the managers and the trained of every period's sections are the same roster's."""
    assert {p.name for p in request.getfixturevalue(region).iterdir()} >= {
        "2025-T1",
        "2025-T2",
        "2025",
        "2026-T1",
        "2026-T2",
    }
    assert recovered(request.getfixturevalue(region)) == []


def test_the_small_region_has_many_small_cells(small):
    primary, secondary = hidden_cells(small)
    assert primary > 100 and secondary > 10


def test_the_attacker_narrows_what_primary_suppression_alone_leaves(tmp_path):
    """The attacker itself: the issue's cases, written as a page would print them with
    primary suppression only."""
    page = tmp_path / "2025" / "region" / "R1" / "patientsakerhetsberattelse.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        "<h1>Patientsäkerhetsberättelse 2025</h1><p class='path'>Region R</p>"
        "<p class='rule'>Antal 1–4 visas som &lt;5. Ett värde markerat .. kan vara vilket"
        " antal som helst, också 1–4.</p>"
        "<table><caption>Klagomål och synpunkter per kanal 2025</caption><thead><tr>"
        "<th>Kanal</th><th class='n'>Antal</th><th class='n'>Andel</th></tr></thead><tbody>"
        "<tr><td>1177</td><td class='n'>227</td><td class='n'>43,4 %</td></tr>"
        "<tr><td>Patientnämnden</td><td class='n'>155</td><td class='n'>29,6 %</td></tr>"
        "<tr><td>Direkt</td><td class='n'>137</td><td class='n'>26,2 %</td></tr>"
        "<tr><td>IVO</td><td class='n'>&lt;5</td><td class='n'>–</td></tr></tbody>"
        "<tfoot><tr><td>Totalt</td><td class='n'>523</td><td class='n'></td></tr></tfoot>"
        "</table>",
        "utf-8",
    )
    assert recovered(tmp_path) == [
        f"{page}: Klagomål och synpunkter per kanal 2025: count/2025/Klagomål och synpunkter"
        " per kanal/IVO is 4..4"
    ]


def test_a_rounded_share_bounds_its_count():
    k = Knowledge()
    k.cell(("whole",), "149", "x")
    k.cell(("over",), SMALL, "x")
    k.sum(("whole",), [("le90",), ("over",)])
    k.ratio(("le90",), ("whole",), "97,3 %")
    assert solve(k)[("over",)] == (4, 4)  # 97,3 % of 149 is 145: 149 - 145


# --- every format carries the same cells -------------------------------------------------


def _count_text(text: str) -> str:
    """A cell's text as a count would be written (a change "+3" as 3)."""
    return text.replace("\u00a0", " ").removeprefix("+")


def _cells_of_tables(page: Path) -> list[str]:
    return [
        _count_text(c.text)
        for t in read_tables(parse_html(page.read_text("utf-8")))
        for r in t.rows
        for c in r
    ]


def test_every_format_of_a_published_document_shows_the_same_suppressed_cells(small):
    """DOCX, CSV, XLSX and PDF are made from the HTML: none of them shows a count that the
    HTML hides, or more numbers from 1 to 4."""
    for page in public_documents(small):
        html = _cells_of_tables(page)
        hidden = html.count(SMALL) + html.count(HIDDEN)
        docx = Document(str(page.with_suffix(".docx")))
        docx_cells = [
            c.text.replace("\u00a0", " ") for t in docx.tables for r in t.rows for c in r.cells
        ]
        csvs = sorted((page.parent / f"{page.stem}-tabeller").glob("*.csv"))
        csv_cells = [
            c
            for f in csvs
            for line in f.read_text("utf-8-sig").splitlines()
            for c in line.split(";")
        ]
        formats = {"docx": docx_cells, "csv": csv_cells}
        xlsx = page.with_suffix(".xlsx")
        if xlsx.exists():
            book = load_workbook(io.BytesIO(xlsx.read_bytes()))
            # a share is a fraction formatted as per cent (100 % is 1), a change of a share in
            # procentenheter has a decimal (+4,0 in the HTML is 4 in the cell): not counts
            formats["xlsx"] = [
                str(c.value)
                for ws in book.worksheets
                for row in ws.iter_rows()
                for c in row
                if c.value is not None
                and "%" not in c.number_format
                and ".0" not in c.number_format
            ]
        for name, cells in formats.items():
            marks = cells.count(SMALL) + cells.count(HIDDEN)
            assert marks == hidden, (page, name, marks, hidden)
            assert [c for c in map(_count_text, cells) if c in ("1", "2", "3", "4")] == [
                c for c in html if c in ("1", "2", "3", "4")
            ], (page, name)
        pdf = page.with_suffix(".pdf")
        if pdf.exists():
            text = " ".join(pdf_pages(pdf))
            assert text.count(SMALL) >= html.count(SMALL), page
            assert len(re.findall(r"(?<![\d,])\.\.(?![\d.])", text)) >= html.count(HIDDEN), page
        assert zipfile.is_zipfile(page.with_suffix(".docx"))

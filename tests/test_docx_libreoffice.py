"""The demo's DOCX as LibreOffice lays it out: no number split over two lines, no header word
broken letter by letter, wide tables on landscape pages, the charts as pictures.

LibreOffice (``soffice --headless``) converts a few representative documents (the region's
compilation and analysis, an område's compilation: the widest tables) to PDF, and
``pdftotext -layout`` reads the pages back as lines. A table column narrower than its content
makes LibreOffice break inside a word or a number (``1 69 3``); then that word or number is on
no line whole.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from arshjul import compilation, figures
from arshjul.analysis import document as analysis_document
from arshjul.analysis import figures as analysis_figures
from arshjul.analysis.findings import analyse
from arshjul.config import Config
from arshjul.db import make_engine, migrate
from arshjul.demo import write_demo
from arshjul.documents import provenance
from arshjul.formats.tables import parse_html, read_tables
from arshjul.importers import KINDS, import_file
from arshjul.inputs import find_input_files
from arshjul.models import OrgLevel
from arshjul.org import OrgTree
from arshjul.periods import Period
from tests.conftest import NOW
from tests.tools import require_program

YEAR = NOW.year - 1


class Printed(NamedTuple):
    """A document's DOCX as LibreOffice printed it: the PDF, and its text page by page."""

    pdf: Path
    pages: list[str]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory, config: Config) -> dict[Path, Printed]:
    """HTML document -> its DOCX as LibreOffice prints it."""
    soffice = require_program("soffice")
    pdftotext = require_program("pdftotext")
    folder = tmp_path_factory.mktemp("libreoffice")
    write_demo(folder / "data", config, today=NOW.date())
    engine = make_engine(f"sqlite:///{folder / 'demo.sqlite'}")
    migrate(engine)
    with engine.begin() as conn:
        for found in find_input_files(folder / "data", KINDS):
            import_file(conn, config, found.kind, found.path, now=NOW)
        tree = OrgTree.load(conn)
        origin = provenance(conn, KINDS, now=NOW, run_id="libreoffice")
        totals = figures.roll_up(tree, figures.count_own(conn, YEAR))
        analyses = analyse(
            analysis_figures.gather(conn, tree, YEAR, wheel=config.wheel, today=NOW.date()),
            tree,
            config,
        )
    area = tree.at_level(OrgLevel.AREA)[0].id
    out = folder / "out"
    year = Period.full_year(YEAR)
    written = compilation.write_documents(
        out, config, tree, year, totals, [tree.root.id, area], origin
    ) + analysis_document.write_documents(out, config, tree, year, analyses, [tree.root.id], origin)
    # unique names: two folders hold a sammanstallning.docx, and one call converts them all
    docx = folder / "docx"
    docx.mkdir()
    names = {html: f"{i}-{html.stem}" for i, html in enumerate(written)}
    for html, name in names.items():
        (docx / f"{name}.docx").write_bytes(html.with_suffix(".docx").read_bytes())
    pdfs = folder / "pdf"
    subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation=file://{folder / 'profile'}",
         "--convert-to", "pdf", "--outdir", str(pdfs), *map(str, sorted(docx.iterdir()))],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    out_of: dict[Path, Printed] = {}
    for html, name in names.items():
        pdf = pdfs / f"{name}.pdf"
        text = subprocess.run(
            [pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
        ).stdout
        out_of[html] = Printed(pdf, text.split("\f"))
    return out_of


def test_numbers_stay_whole(printed: dict[Path, Printed]):
    for html, (_, pages) in printed.items():
        lines = [" ".join(line.split()) for page in pages for line in page.splitlines()]
        numbers = {
            cell.text
            for table in read_tables(parse_html(html.read_text("utf-8")))
            for row in table.rows
            for cell in row
            if cell.value is not None and len(cell.text) >= 3
        }
        assert numbers, f"{html.name}: no numbers to look for"
        split = [n for n in numbers if not any(" ".join(n.split()) in line for line in lines)]
        assert not split, f"{html.parent.name}/{html.name}: numbers not whole on a line: {split}"


def test_header_words_are_not_broken(printed: dict[Path, Printed]):
    for html, (_, pages) in printed.items():
        words = {word.strip("(),.:;") for page in pages for word in page.split()}
        headers = {
            word.strip("(),.:;")
            for table in read_tables(parse_html(html.read_text("utf-8")))
            for row in table.head
            for cell in row
            for word in cell.text.split()
        }
        broken = sorted(w for w in headers if len(w) >= 4 and w not in words)
        assert not broken, f"{html.parent.name}/{html.name}: header words broken: {broken}"


def test_wide_tables_are_on_landscape_pages(printed: dict[Path, Printed]):
    """The per-område table of the region's compilation has eight columns: its page is A4
    landscape, the pages before it portrait."""
    pdf, pages = next(p for h, p in printed.items() if h.stem == "sammanstallning")
    number = next(i for i, page in enumerate(pages, start=1) if "Mediandagar" in page)
    info = subprocess.run(
        [require_program("pdfinfo"), "-f", "1", "-l", str(number), str(pdf)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    sizes = re.findall(r"Page +(\d+) size: +([\d.]+) x ([\d.]+)", info)
    orientation = {int(n): float(w) > float(h) for n, w, h in sizes}
    assert orientation[number] and not orientation[1]


def test_the_charts_are_printed_as_pictures(printed: dict[Path, Printed]):
    """Every chart of the document is a picture on its pages (pdfimages lists them)."""
    for html, (pdf, _) in printed.items():
        charts = sum(1 for _ in parse_html(html.read_text("utf-8")).iter("svg"))
        listing = subprocess.run(
            [require_program("pdfimages"), "-list", str(pdf)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        images = [line for line in listing.splitlines()[2:] if " image " in line]
        assert charts and len(images) == charts, f"{html.parent.name}/{html.name}"

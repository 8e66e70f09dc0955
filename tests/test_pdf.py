"""PDF of the published documents, checked as a PDF/UA validator and a reader would.

veraPDF is not packaged here; pikepdf reads what PDF/UA-1 asks of a document (a structure
tree, marked content, the language, the title shown as the window title, embedded fonts) and
poppler's pdftotext reads the pages as a person does: numbered, the table of contents giving
the page each heading is on, a long table's header on every page it runs over.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pikepdf
import pytest
from sqlalchemy import Connection

from arshjul import safety_report
from arshjul.config import Config
from arshjul.formats import pdf
from arshjul.render import environment
from arshjul.signoff import Stamp
from tests.conftest import NOW
from tests.test_safety_report import HEADINGS, ORIGIN, YEAR, build
from tests.tools import pdf_pages


@pytest.fixture
def report(conn: Connection, config: Config, tmp_path: Path) -> Path:
    """The test region's patientsäkerhetsberättelse as written: its PDF beside its HTML."""
    tree = build(conn)
    data = safety_report.report_data(conn, config, tree, YEAR, NOW.date())
    written = safety_report.write_document(
        tmp_path, config, tree, data, Stamp(1, "draft", "Chefläkare"), ORIGIN
    )
    html = next(p for p in written if p.name == safety_report.FILE_NAME)
    assert html.with_suffix(".pdf").is_file()
    return html.with_suffix(".pdf")


def page(body: str) -> str:
    """A document made with the documents' own base template (its print style sheet)."""
    source = (
        '{% extends "base.html.j2" %}{% block title %}Prov{% endblock %}'
        "{% block body %}<h1>Provdokument</h1>" + body + "{% endblock %}"
    )
    return environment().from_string(source).render(origin=ORIGIN)


def test_the_report_is_tagged_pdf_ua_with_language_title_and_embedded_fonts(report: Path):
    with pikepdf.open(report) as doc:
        root = doc.Root
        assert root.MarkInfo.Marked is True
        assert str(root.Lang) == "sv"
        title = f"Patientsäkerhetsberättelse {YEAR} – Region Test"
        assert str(doc.docinfo.Title) == title
        assert root.ViewerPreferences.DisplayDocTitle is True
        with doc.open_metadata() as xmp:
            assert xmp["pdfuaid:part"] == "1"
            assert xmp["dc:title"] == title
        # the structure tree holds the document's headings, tables and lists as tags
        tags = set()
        todo = [root.StructTreeRoot]
        while todo:
            node = todo.pop()
            kids = node.get("/K")
            if isinstance(kids, pikepdf.Dictionary):
                kids = [kids]
            for kid in kids if isinstance(kids, pikepdf.Array | list) else []:
                if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                    tags.add(str(kid.S))
                    todo.append(kid)
        assert {"/H1", "/H2", "/P", "/Table", "/TH", "/TD", "/L", "/LI", "/Link"} <= tags
        for number, pdf_page in enumerate(doc.pages, 1):
            assert "/StructParents" in pdf_page, number
            for name, font in pdf_page.Resources.Font.items():
                descendant = font.DescendantFonts[0] if "/DescendantFonts" in font else font
                descriptor = descendant.FontDescriptor
                assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.keys()), (
                    f"page {number}: font {name} ({font.BaseFont}) is not embedded"
                )


def test_every_page_is_numbered_and_the_contents_give_each_headings_page(report: Path):
    pages = pdf_pages(report)
    assert len(pages) >= 3
    for number, text in enumerate(pages, 1):
        footer = text.rstrip().splitlines()[-1]
        assert re.fullmatch(
            rf"Patientsäkerhetsberättelse {YEAR}\s+Sida {number} av {len(pages)}", footer
        ), footer
    contents = re.findall(r"^\s*\d+\. (.+?) ?\.{2,}\s*(\d+)$", pages[0], re.MULTILINE)
    assert [title for title, _ in contents] == HEADINGS
    for title, shown in contents:
        heading = title
        on = [n for n, text in enumerate(pages, 1) if re.search(rf"^{heading}$", text, re.M)]
        assert on[-1:] == [int(shown)], heading  # the page whose text has the heading alone


def test_a_long_table_repeats_its_header_on_every_page_it_runs_over(tmp_path: Path):
    rows = "".join(f"<tr><td>Enhet {i}</td><td class='n'>{i}</td></tr>" for i in range(1, 151))
    html = page(
        "<table><caption>Lång tabell</caption><thead><tr><th>Namnkolumn</th>"
        f"<th class='n'>Antalkolumn</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    path = pdf.write_pdf(tmp_path / "lang.pdf", html)
    pages = pdf_pages(path)
    assert len(pages) >= 3
    for text in pages:
        assert re.search(r"Namnkolumn\s+Antalkolumn", text)
    # no row is lost or cut between pages
    found = [int(n) for text in pages for n in re.findall(r"Enhet (\d+)\b", text)]
    assert found == list(range(1, 151))
    assert pages[0].index("Lång tabell") < pages[0].index("Namnkolumn")


def test_the_same_html_gives_the_same_bytes():
    html = page("<p>Samma innehåll.</p>")
    assert pdf.pdf_bytes(html) == pdf.pdf_bytes(html)


def test_a_document_loads_nothing_from_files_or_the_network(tmp_path: Path):
    from PIL import Image

    picture = tmp_path / "bild.png"
    Image.new("RGB", (4, 4), "red").save(picture)
    inline = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    loaded = pdf.pdf_bytes(page(f'<p><img alt="en ruta" src="{inline}"></p>'))
    refused = pdf.pdf_bytes(page(f'<p><img alt="en ruta" src="{picture.as_uri()}"></p>'))
    with pikepdf.open(io.BytesIO(loaded)) as doc:
        assert doc.pages[0].Resources.XObject.keys(), "a data: picture is drawn"
    with pikepdf.open(io.BytesIO(refused)) as doc:
        assert not doc.pages[0].Resources.XObject.keys(), "a file: picture is not read"

"""Documents in every format: HTML, DOCX and the tables as CSV (and XLSX), from one template.

The golden tests render the compilation and the analysis of one enhet and of the region from
the hand-made tree in ``tests/fixtures/compile`` and compare them with the files in
``tests/golden/documents/``: the HTML and the CSV files byte for byte, the DOCX as a text dump
read back with python-docx (paragraphs with their style names, tables cell by cell, the core
properties). After a deliberate change to a template or to the converters, regenerate them with

    ARSHJUL_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_documents.py -p no:cacheprovider

and read the diff (``git diff tests/golden/documents``) before committing it.
"""

from __future__ import annotations

import csv
import difflib
import io
import itertools
import os
import shutil
import stat
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.table import Table as DocxTable
from docx.text.hyperlink import Hyperlink
from docx.text.paragraph import Paragraph
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Connection

from arshjul import compilation, documents, figures, files, render
from arshjul.analysis import document as analysis_document
from arshjul.analysis import figures as analysis_figures
from arshjul.analysis.findings import analyse
from arshjul.clock import local
from arshjul.config import Config
from arshjul.documents import Provenance, Source, provenance
from arshjul.formats.docx import docx_bytes
from arshjul.formats.tables import (
    name_slug,
    parse_html,
    parse_number,
    read_tables,
    sheet_names,
    write_csv_tables,
)
from arshjul.importers import import_file
from arshjul.org import OrgTree
from arshjul.periods import Period
from tests.conftest import FIXTURES, NOW, STOCKHOLM

GOLDEN = Path(__file__).parent / "golden" / "documents"
UPDATE = os.environ.get("ARSHJUL_UPDATE_GOLDEN") == "1"
W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WP_NS = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
YEAR = 2025


# --- reading the formats back --------------------------------------------------------------


def _inline(paragraph: Paragraph) -> str:
    parts = []
    for item in paragraph.iter_inner_content():
        if isinstance(item, Hyperlink):
            parts.append(f"[{item.text}]({item.address})")
        elif item.text:
            mark = ("**" if item.bold else "") + ("_" if item.italic else "")
            text = item.text.replace("\n", "\\n")  # a line break, on the paragraph's line
            parts.append(f"{mark}{text}{mark[::-1]}")
    return "".join(parts)


def docx_dump(path: Path) -> str:
    """A DOCX as text: what a reader of the document sees and which Word styles carry it."""
    document = docx.Document(str(path))
    core = document.core_properties
    section = document.sections[0]
    lang = document.styles.element.find(f"{W_NS}docDefaults//{W_NS}lang")
    lines = [
        f"title: {core.title}",
        f"author: {core.author}; language: {core.language}; revision: {core.revision}",
        f"created: {core.created.isoformat()}; modified: {core.modified.isoformat()}",
        f"description: {core.comments}",
        f"page: {section.page_width.mm:.0f} × {section.page_height.mm:.0f} mm; "
        f"text language: {lang.get(W_NS + 'val') if lang is not None else None}",
        "",
    ]
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            for inline in block._p.iter(f"{WP_NS}inline"):  # a chart's picture
                extent, about = inline.find(f"{WP_NS}extent"), inline.find(f"{WP_NS}docPr")
                cm = [int(extent.get(side)) / 360_000 for side in ("cx", "cy")]
                lines.append(f"<picture {cm[0]:.1f} × {cm[1]:.1f} cm: {about.get('descr')}>")
            size = block._p.find(f"{W_NS}pPr/{W_NS}sectPr/{W_NS}pgSz")
            if size is not None:  # a section ends: the pages before it are of this orientation
                lines.append(f"--- section: {size.get(W_NS + 'orient') or 'portrait'} ---")
                continue
            if block.text or not block._p.findall(f".//{WP_NS}inline"):
                lines.append(f"[{block.style.name}] {_inline(block)}")
            continue
        assert isinstance(block, DocxTable)
        grid = block._tbl.tblGrid.iterchildren(f"{W_NS}gridCol")
        widths = ", ".join(f"{int(col.get(W_NS + 'w')) / 567:.1f}" for col in grid)
        lines.append(f"<table {block.style.name}; cm: {widths}>")
        for row in block.rows:
            header = row._tr.find(f"{W_NS}trPr/{W_NS}tblHeader") is not None
            cells = [
                (">" if c.paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT else "")
                + " / ".join(_inline(p) for p in c.paragraphs)
                for c in row.cells
            ]
            lines.append(("  H| " if header else "   | ") + " | ".join(cells))
        lines.append("</table>")
    return "\n".join(lines) + "\n"


def read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), f"{path.name}: no byte-order mark for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


# --- the documents of the hand-made tree ---------------------------------------------------


@pytest.fixture
def tree(conn: Connection, config: Config) -> OrgTree:
    for kind in ("organisation", "deviations", "complaints"):
        import_file(conn, config, kind, FIXTURES / "compile" / f"{kind}.csv", now=NOW)
    return OrgTree.load(conn)


@pytest.fixture
def origin(conn: Connection, tree: OrgTree) -> Provenance:
    return provenance(conn, ("deviations", "complaints"), now=NOW, run_id="golden-run")


@pytest.fixture
def written(
    conn: Connection, config: Config, tree: OrgTree, origin: Provenance, tmp_path: Path
) -> list[Path]:
    """The compilation and the analysis of E1 and the region, in all formats."""
    totals = figures.roll_up(tree, figures.count_own(conn, YEAR))
    data = analysis_figures.gather(conn, tree, YEAR, wheel=config.wheel, today=NOW.date())
    analyses = analyse(data, tree, config)
    out = tmp_path / "out"
    return compilation.write_documents(
        out, config, tree, Period.full_year(YEAR), totals, ["E1", "R1"], origin
    ) + analysis_document.write_documents(
        out, config, tree, Period.full_year(YEAR), analyses, ["E1", "R1"], origin
    )


def _golden_texts(root: Path) -> dict[str, bytes]:
    """Each file under ``root`` as the golden tests compare it (a DOCX as its dump)."""
    texts = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".docx":
            texts[rel + ".txt"] = docx_dump(path).encode("utf-8")
        else:
            texts[rel] = path.read_bytes()
    return texts


def test_documents_match_the_golden_files(written: list[Path]):
    year_dir = written[0].parents[2]
    actual = _golden_texts(year_dir)
    assert {"enheter/E1/sammanstallning.docx.txt", "region/R1/analys.docx.txt"} <= set(actual)
    assert any(name.startswith("region/R1/sammanstallning-tabeller/") for name in actual)
    if UPDATE:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in actual.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    expected = {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in GOLDEN.rglob("*.*")}
    assert sorted(actual) == sorted(expected), "other files than the golden ones"
    for name, data in actual.items():
        if data != expected[name]:
            diff = difflib.unified_diff(
                expected[name].decode("utf-8-sig").splitlines(),
                data.decode("utf-8-sig").splitlines(),
                f"golden/{name}",
                "now",
                lineterm="",
            )
            pytest.fail(f"{name} differs (ARSHJUL_UPDATE_GOLDEN=1 to accept):\n" + "\n".join(diff))


def test_docx_bytes_are_the_same_when_written_again(written: list[Path], origin: Provenance):
    compiled = written[0]
    first = compiled.with_suffix(".docx").read_bytes()
    html = compiled.read_text("utf-8")
    again = documents.write_document(compiled.parent / "again.html", html, origin)
    assert again.with_suffix(".docx").read_bytes() == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    # the provenance's time, never the wall clock's
    assert stamps == {local(NOW).timetuple()[:6]}
    core = docx.Document(io.BytesIO(first)).core_properties
    assert core.created == core.modified == NOW


def test_compilation_docx_reads_as_the_html_does(written: list[Path]):
    document = docx.Document(str(written[1].with_suffix(".docx")))  # the region
    styles = [p.style.name for p in document.paragraphs]
    assert styles[0] == "Heading 1" and "Heading 2" in styles
    assert styles[-2:] == ["Ursprung", "Ursprung"]  # the provenance closes the document
    assert "golden-run" in document.paragraphs[-1].text
    assert "deviations.csv" in document.paragraphs[-2].text
    assert round(document.sections[0].page_width.mm) == 210
    assert document.core_properties.language == "sv-SE"
    table = document.tables[0]
    assert table.style.name == "Light List Accent 1"
    header = table.rows[0]
    assert header._tr.find(f"{W_NS}trPr/{W_NS}tblHeader") is not None  # repeats on each page
    assert [c.text for c in header.cells][:2] == ["Månad", "Avvikelser"]


# --- the converters on a document with the whole subset -----------------------------------

SUBSET = """<!doctype html><html lang="sv"><head><title>Prov – Enhet</title></head><body>
<h1>Prov</h1>
<p class="path">Enhet · Region › Enhet</p>
<div class="key"><div><b>1&nbsp;234</b>avvikelser</div><div><b>&lt;5</b>klagomål</div></div>
<p>Se <a href="https://example.org/a?b=1&amp;c=2">källan</a>, id <code>2025:E1:x</code>,
 <em>kursivt</em><br>ny rad.</p>
<h2>Listor</h2>
<ul><li>ett<ul><li>ett a</li></ul></li><li>två</li></ul>
<ol><li>först</li><li>sedan</li></ol>
<ol><li>igen först</li></ol>
<h2>Staplar</h2>
<svg role="img" aria-label="Per månad" width="60" height="20"><title>Per månad</title>
<line x1="0" y1="0" x2="1" y2="1"/>
<rect x="1" y="1" width="1" height="1"><title>jan: 1&nbsp;200</title></rect><text>jan</text>
<rect x="1" y="1" width="1" height="1"><title>feb: 0</title></rect><text>feb</text>
</svg>
<h2>Styrdiagram</h2>
<svg role="img" aria-label="Styrdiagram" width="60" height="20"><title>Styrdiagram</title>
<circle cx="1" cy="1" r="1"><title>Utanför styrgränserna</title></circle></svg>
<h2>Händelsetyper</h2>
<table><caption class="visually-hidden">Avvikelser per händelsetyp</caption>
<thead><tr><th>Händelsetyp</th><th class="n">Antal</th><th class="n">Andel</th></tr></thead>
<tbody>
<tr><td>Fall</td><td class="n">1&nbsp;234</td><td class="n">12,5&nbsp;%</td></tr>
<tr><td>Läkemedel</td><td class="n">&lt;5</td><td class="n">–</td></tr>
<tr><td>0012</td><td class="n">-3</td><td class="n">-0,5&nbsp;%</td></tr>
</tbody>
<tfoot><tr><td>Totalt</td><td class="n">1&nbsp;240</td><td class="n"></td></tr></tfoot>
</table>
<table><caption>Synlig rubrik: med kolon och en mycket lång titel som inte ryms</caption>
<thead><tr><th colspan="2">Två kolumner</th></tr></thead>
<tbody><tr><th>Rad</th><td class="n">2 <small>(låg)</small></td></tr></tbody></table>
<footer><p>Underlag: a.csv.</p><p>Skapad 2025-03-01 10:00 av körning r-1 (arshjul).</p></footer>
</body></html>"""
CREATED = datetime(2025, 3, 1, 10, 0, tzinfo=STOCKHOLM)
ORIGIN = Provenance((Source("deviations", "a.csv", 3, CREATED),), CREATED, "r-1")


def test_docx_of_the_whole_subset_uses_word_styles(tmp_path: Path):
    path = documents.write_document(tmp_path / "prov.html", SUBSET, ORIGIN)
    dump = docx_dump(path.with_suffix(".docx"))
    assert dump.splitlines()[:6] == [
        "title: Prov – Enhet",
        "author: arshjul; language: sv-SE; revision: 1",
        "created: 2025-03-01T09:00:00+00:00; modified: 2025-03-01T09:00:00+00:00",
        "description: Underlag: a.csv. Skapad 2025-03-01 10:00 av körning r-1 (arshjul).",
        "page: 210 × 297 mm; text language: sv-SE",
        "",
    ]
    body = dump.splitlines()[6:]
    assert body[:4] == [
        "[Heading 1] Prov",
        "[Normal] Enhet · Region › Enhet",
        "[Normal] **1\u00a0234** avvikelser",
        "[Normal] **<5** klagomål",
    ]
    assert body[4] == (
        "[Normal] Se [källan](https://example.org/a?b=1&c=2), id 2025:E1:x, _kursivt_\\nny rad."
    )
    assert body[6:11] == [
        "[List Bullet] ett",
        "[List Bullet 2] ett a",
        "[List Bullet] två",
        "[List Number] först",
        "[List Number] sedan",
    ]
    # a chart is a picture described by its title, then its data in a table under its title;
    # a chart without data is the picture only
    assert body[13:19] == [
        "<picture 1.6 × 0.5 cm: Per månad>",
        "[Caption] Per månad",
        "<table Light List Accent 1; cm: 8.4, 7.6>",
        "  H| Kategori | >Värde",
        "   | jan | >1\u00a0200",
        "   | feb | >0",
    ]
    assert "<picture 1.6 × 0.5 cm: Styrdiagram>" in body
    assert not any("HTML-versionen" in line for line in body)
    # a caption hidden in HTML is hidden in Word too; a visible one is a Word caption
    assert "Avvikelser per händelsetyp" not in dump
    assert "[Caption] Synlig rubrik: med kolon och en mycket lång titel som inte ryms" in body
    assert "   | Totalt | >1\u00a0240 | >" in body
    assert "  H| Två kolumner | Två kolumner" in body  # a merged cell is read as both columns
    assert "   | **Rad** | >2 (låg)" in body
    assert body[-2:] == [
        "[Ursprung] Underlag: a.csv.",
        "[Ursprung] Skapad 2025-03-01 10:00 av körning r-1 (arshjul).",
    ]
    # each ordered list restarts at 1: its own numbering instance
    document = docx.Document(str(path.with_suffix(".docx")))
    num_ids = [
        p._p.find(f"{W_NS}pPr/{W_NS}numPr/{W_NS}numId").get(f"{W_NS}val")
        for p in document.paragraphs
        if p.style.name == "List Number"
    ]
    assert num_ids[0] == num_ids[1] != num_ids[2]


def test_csv_files_hold_numbers_as_swedish_excel_reads_them(tmp_path: Path):
    path = documents.write_document(tmp_path / "prov.html", SUBSET, ORIGIN)
    folder = tmp_path / "prov-tabeller"
    assert sorted(p.name for p in folder.iterdir()) == [
        "01-per-manad.csv",
        "02-avvikelser-per-handelsetyp.csv",
        "03-synlig-rubrik-med-kolon-och-en-mycket-lang-titel-som-inte.csv",
    ]
    assert path.with_suffix(".xlsx").exists() is False  # only when asked for
    assert read_csv(folder / "01-per-manad.csv") == [
        ["Kategori", "Värde"],
        ["jan", "1200"],
        ["feb", "0"],
    ]
    assert read_csv(folder / "02-avvikelser-per-handelsetyp.csv") == [
        ["Händelsetyp", "Antal", "Andel"],
        ["Fall", "1234", "12,5"],
        ["Läkemedel", "<5", "–"],  # suppressed and missing values stay as they are shown
        ["0012", "-3", "-0,5"],  # text columns are never numbers
        ["Totalt", "1240", ""],
    ]
    assert read_csv(
        folder / "03-synlig-rubrik-med-kolon-och-en-mycket-lang-titel-som-inte.csv"
    ) == [
        ["Två kolumner", ""],
        ["Rad", "2 (låg)"],
    ]
    assert (folder / "01-per-manad.csv").read_bytes().endswith(b"0\r\n")


def _without_tables(html: str, count: int) -> str:
    """``html`` without its first ``count`` tables."""
    for _ in range(count):
        start = html.index("<table>")
        html = html[:start] + html[html.index("</table>", start) + len("</table>") :]
    return html


def test_tables_of_an_earlier_run_that_are_gone_are_removed(tmp_path: Path):
    documents.write_document(tmp_path / "prov.html", SUBSET, ORIGIN, xlsx=True)
    no_chart = SUBSET.replace("<title>jan", "<desc>jan").replace("<title>feb", "<desc>feb")
    documents.write_document(tmp_path / "prov.html", _without_tables(no_chart, 1), ORIGIN)
    assert [p.name for p in (tmp_path / "prov-tabeller").iterdir()] == [
        "01-synlig-rubrik-med-kolon-och-en-mycket-lang-titel-som-inte.csv"
    ]
    assert (tmp_path / "prov.xlsx").exists()  # not asked for this time: left as it was
    documents.write_document(
        tmp_path / "prov.html", _without_tables(no_chart, 2), ORIGIN, xlsx=True
    )
    assert not (tmp_path / "prov-tabeller").exists()
    assert not (tmp_path / "prov.xlsx").exists()


def test_xlsx_has_a_sheet_per_table_with_numeric_cells(tmp_path: Path):
    path = documents.write_document(tmp_path / "prov.html", SUBSET, ORIGIN, xlsx=True)
    data = path.with_suffix(".xlsx").read_bytes()
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == [
        "Per månad",
        "Avvikelser per händelsetyp",
        "Synlig rubrik- med kolon och en",
    ]
    ws = wb["Avvikelser per händelsetyp"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows == [
        ["Händelsetyp", "Antal", "Andel"],
        ["Fall", 1234, 0.125],
        ["Läkemedel", "<5", "–"],
        ["0012", -3, -0.005],
        ["Totalt", 1240, None],
    ]
    assert ws["C2"].number_format == "0.0 %" and ws["B2"].number_format == "#,##0"
    assert ws["A1"].font.b and ws["A5"].font.b and not ws["A2"].font.b
    assert ws.column_dimensions["A"].width == 13  # "Händelsetyp" and a margin
    assert ws.freeze_panes == "A2"
    assert wb.properties.created == wb.properties.modified == datetime(2025, 3, 1, 9, 0)
    again = documents.write_document(tmp_path / "again.html", SUBSET, ORIGIN, xlsx=True)
    assert again.with_suffix(".xlsx").read_bytes() == data


def test_numbers_are_read_only_as_the_filters_write_them():
    assert parse_number("1\u00a0234".replace("\u00a0", " ")) == (1234, False)
    assert parse_number("12,5 %") == (Decimal("12.5"), True)
    assert parse_number("-0,5 %") == (Decimal("-0.5"), True)
    assert parse_number("+1,3 %") == (Decimal("1.3"), True)  # a change
    assert parse_number("−7") == (-7, False)  # a typographic minus
    for text in ("<5", "–", "", "1 23", "12,", "2 (låg)", "12 %%"):
        assert parse_number(text) is None, text


def test_names_are_ascii_slugs_and_excel_sheet_names():
    assert name_slug("Avvikelser per händelsetyp") == "avvikelser-per-handelsetyp"
    assert name_slug("Öppna åtgärder: 2025/26") == "oppna-atgarder-2025-26"
    assert name_slug("–") == "tabell"
    long = "Klagomål och synpunkter per kategori och kanal"
    assert sheet_names([long, long, "a[b]:c"]) == [
        "Klagomål och synpunkter per",  # whole words when they fit
        "Klagomål och synpunkter per (2)",
        "a-b--c",
    ]


def test_a_table_without_caption_is_named_by_its_heading():
    root = parse_html(
        "<html><body><h2>Per enhet</h2><table><tr><th>Namn</th></tr><tr><td>E1</td></tr>"
        "</table></body></html>"
    )
    (table,) = read_tables(root)
    assert table.title == "Per enhet"
    assert [c.text for row in table.body for c in row] == ["Namn", "E1"]


def test_a_chart_whose_figures_are_in_a_table_of_its_section_is_not_repeated():
    chart = "<svg><title>Per månad</title><rect><title>jan: 3</title></rect></svg>"
    table = (
        '<table><tr><th>Månad</th><th class="n">Antal</th></tr>'
        '<tr><td>jan</td><td class="n">3</td></tr></table>'
    )
    root = parse_html(
        f"<html><body><h2>Per månad</h2>{chart}{table}<h2>Sedan</h2>{chart}</body></html>"
    )
    assert [(t.title, len(t.rows)) for t in read_tables(root)] == [
        ("Per månad", 2),
        ("Per månad", 2),
    ]
    document = docx.Document(io.BytesIO(docx_bytes(root, created=CREATED)))
    # the first chart a picture only, its figures in the table after it; the second one's data
    # is a table of its own
    assert len(document.inline_shapes) == 2
    assert [len(t.rows) for t in document.tables] == [2, 2]


def test_docx_without_body_content_is_still_a_document():
    root = parse_html(
        "<html><head><title>Tom</title></head><body><table><caption>Inga rader</caption>"
        "<tbody></tbody></table></body></html>"
    )
    document = docx.Document(io.BytesIO(docx_bytes(root, created=CREATED)))
    assert document.core_properties.title == "Tom"
    assert document.paragraphs == [] and document.tables == []


# --- the index -----------------------------------------------------------------------------


def test_year_index_links_each_document_and_its_other_formats(written: list[Path], tree: OrgTree):
    out = written[0].parents[3]
    index = documents.write_year_index(out, tree, Period.full_year(YEAR), "Region Test").read_text(
        "utf-8"
    )
    assert '<a href="enheter/E1/sammanstallning.html">Sammanställning</a>' in index
    assert (
        '<a class="format" href="enheter/E1/sammanstallning.docx"'
        ' aria-label="Sammanställning som DOCX">DOCX</a>'
    ) in index
    assert 'href="region/R1/analys-tabeller/" aria-label="Analys som CSV">CSV</a>' in index
    assert "enheter/E2/" not in index  # no documents were written for E2


def test_docx_drops_characters_xml_cannot_hold():
    # imported text may hold control characters; Word refuses a file that has them
    root = parse_html(
        "<html><head><title>Kontroll</title></head><body><p>a\x01b\x0bc\ufffed\uffffe\tf</p>"
        "<table><tr><td>g\x1fh</td><td>i&amp;j&lt;k</td></tr></table></body></html>"
    )
    document = docx.Document(io.BytesIO(docx_bytes(root, created=CREATED)))
    assert [p.text for p in document.paragraphs] == ["abcde f"]
    assert [c.text for c in document.tables[0].rows[0].cells] == ["gh", "i&j<k"]


# --- writing files -------------------------------------------------------------------------


def test_files_are_written_whole_readable_and_without_leftovers(tmp_path: Path):
    path = tmp_path / "ny" / "mapp" / "a.csv"
    old_umask = os.umask(0o077)
    try:
        assert files.write_bytes_atomic(path, b"first") == path  # its folders are made
        files.write_bytes_atomic(path, b"second")
    finally:
        os.umask(old_umask)
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # to be served, whatever the umask
    assert os.listdir(path.parent) == ["a.csv"]  # no temporary file left
    with pytest.raises(NotADirectoryError):
        files.write_bytes_atomic(path / "b.csv", b"under a file")
    assert os.listdir(path.parent) == ["a.csv"]


def test_a_temporary_file_left_by_a_killed_run_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(files, "_SERIAL", itertools.count(7))
    left = tmp_path / f".a.csv.{os.getpid()}-7.tmp"  # the name this process would use next
    left.write_bytes(b"half written")
    files.write_bytes_atomic(tmp_path / "a.csv", b"whole")
    assert (tmp_path / "a.csv").read_bytes() == b"whole"
    assert left.read_bytes() == b"half written"


def test_a_tables_folder_with_other_files_is_kept(tmp_path: Path):
    folder = tmp_path / "prov-tabeller"
    documents.write_document(tmp_path / "prov.html", SUBSET, ORIGIN)
    (folder / "anteckningar.txt").write_text("egen fil")
    documents.write_document(tmp_path / "prov.html", _without_tables(SUBSET, 2), ORIGIN)
    assert sorted(p.name for p in folder.iterdir()) == ["01-per-manad.csv", "anteckningar.txt"]
    assert write_csv_tables([], folder) == []
    assert [p.name for p in folder.iterdir()] == ["anteckningar.txt"]


# --- the template sandbox ------------------------------------------------------------------


def test_the_sandbox_refuses_the_attributes_jinja2s_refuses():
    def function() -> None:
        pass

    async def coroutine_function() -> None:
        pass

    async def async_generator_function() -> AsyncIterator[int]:
        yield 1

    try:
        raise ValueError("x")
    except ValueError as error:
        traceback = error.__traceback__
    assert traceback is not None
    coroutine = coroutine_function()
    objects = [
        function,
        Provenance.__init__,
        "text".upper,
        ORIGIN,
        Provenance,
        function.__code__,
        traceback,
        traceback.tb_frame,
        (n for n in range(2)),
        coroutine,
        async_generator_function(),
        {"a": 1},
        "text",
    ]
    names = ["mro", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code"]
    names += ["co_code", "f_globals", "tb_frame", "__globals__", "__class__", "_x", "upper"]
    ours, jinja2s = render.environment(), SandboxedEnvironment()
    try:
        for obj in objects:
            for name in names:
                value = getattr(obj, name, None)
                expected = jinja2s.is_safe_attribute(obj, name, value)
                assert ours.is_safe_attribute(obj, name, value) == expected, (obj, name)
    finally:
        coroutine.close()
    assert not ours.is_safe_attribute(Provenance, "mro", Provenance.mro)
    assert ours.is_safe_attribute(ORIGIN, "run_id", ORIGIN.run_id)


def test_a_charts_picture_is_the_svg_drawn(written: list[Path]):
    """The region's monthly chart as the DOCX holds it: a PNG twice the SVG's size, white
    where the SVG is, bars of the SVG's colour where its rects are."""
    from PIL import Image

    region = next(p for p in written if p.parent.name == "R1" and p.stem == "sammanstallning")
    svg = next(parse_html(region.read_text("utf-8")).iter("svg"))
    with zipfile.ZipFile(region.with_suffix(".docx")) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("word/media/"))
        assert names == ["word/media/diagram1.png", "word/media/diagram2.png"]
        image = Image.open(io.BytesIO(archive.read(names[0]))).convert("RGB")
    assert image.size == (2 * int(svg.get("width")), 2 * int(svg.get("height")))
    assert image.getpixel((1, 1)) == (255, 255, 255)
    tallest = max(
        (r for r in svg.iter("rect") if r.find("title") is not None),
        key=lambda r: float(r.get("height")),
    )
    middle = (
        round(2 * (float(tallest.get("x")) + float(tallest.get("width")) / 2)),
        round(2 * (float(tallest.get("y")) + float(tallest.get("height")) / 2)),
    )
    assert image.getpixel(middle) == (0x2F, 0x6F, 0x9F)

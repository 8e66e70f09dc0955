"""PDF of the documents a region publishes, from the same HTML as the web page.

WeasyPrint lays the HTML out with the print rules of ``templates/base.html.j2`` (A4, page
numbers, table headers repeated on every page a table runs over) and writes tagged PDF/UA-1:
a structure tree from the HTML's elements, the document's language and its title shown as the
window title, every font embedded. The same HTML gives the same bytes (no time stamp, a file
identifier from the content).

A document loads nothing: the fetcher allows ``data:`` URLs only, so a template (which
regions edit) cannot make the PDF writer read a file or reach the network.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from arshjul.files import write_bytes_atomic

# WeasyPrint warns about every rule of the page's style sheet meant for browsers only (SVG's
# ``fill``, ``font-variant-numeric``); its errors still show
logging.getLogger("weasyprint").setLevel(logging.ERROR)

#: PDF/UA-1 (ISO 14289-1): tagged, with /Lang, /Title and DisplayDocTitle
VARIANT = "pdf/ua-1"


def pdf_bytes(html: str) -> bytes:
    # imported here: WeasyPrint takes a second and a half to import, and most commands
    # write no PDF
    from weasyprint import HTML, URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    written: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf(pdf_variant=VARIANT)
    return written


def write_pdf(path: Path, html: str) -> Path:
    """Write ``html`` as a PDF to ``path``, atomically."""
    return write_bytes_atomic(path, pdf_bytes(html))


@functools.cache
def prepare() -> None:
    """Import WeasyPrint and lay out a page once (fonts found, style sheets parsed), so that
    processes forked afterwards (:mod:`arshjul.parallel`) start warm; once per process, as
    it stays warm (a run has six steps with PDFs)."""
    pdf_bytes('<!doctype html><html lang="sv"><title>-</title><p>-</p></html>')

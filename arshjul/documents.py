"""Where documents go, what every document says about its origin, and its formats.

A template renders each document once, to HTML (for reading); the HTML is then converted to
DOCX (for editing, ``arshjul.formats.docx``), its tables to CSV files and, when asked for, an
XLSX workbook (``arshjul.formats.tables``), and a document the region publishes to PDF
(``arshjul.formats.pdf``), so one Jinja template set gives every format.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from arshjul import unit_data
from arshjul.files import inside, slug, write_text_atomic, write_text_changed
from arshjul.formats.docx import write_docx
from arshjul.formats.pdf import prepare as prepare_pdf
from arshjul.formats.pdf import write_pdf
from arshjul.formats.tables import parse_html, read_tables, write_csv_tables, write_workbook
from arshjul.models import ImportBatch, OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.parallel import map_units
from arshjul.periods import Period, period_of
from arshjul.render import compile_templates, counted, render
from arshjul.render_key import Unkeyable
from arshjul.render_key import key as keyed

LEVEL_FOLDER = {
    OrgLevel.REGION: "region",
    OrgLevel.AREA: "omraden",
    OrgLevel.DEPARTMENT: "verksamheter",
    OrgLevel.UNIT: "enheter",
}


def unit_dir(out: Path, period: Period, unit: Unit) -> Path:
    """``out/<period>/<level>/<id>``: ids are slugged so that data never picks the path."""
    return inside(out, period.label, LEVEL_FOLDER[unit.level], slug(unit.id))


def unit_link(unit: Unit, file_name: str) -> str:
    """A relative link from any unit's document of a period to ``file_name`` of ``unit`` in
    the same period: every unit's folder is ``<period>/<level>/<id>``, two levels below the
    period, so the link works on disk and served alike."""
    return f"../../{LEVEL_FOLDER[unit.level]}/{slug(unit.id)}/{file_name}"


@dataclass(frozen=True)
class Source:
    kind: str
    file_name: str
    rows: int
    imported_at: datetime


@dataclass(frozen=True)
class Provenance:
    """Which data a document was built from, and which run built it when.

    ``sources`` are every imported file of the step's kinds; with ``by_unit``, a unit's
    document names only the files holding records of the unit or of a unit below it
    (:meth:`of`), so that an import touching one unit changes no other unit's footer."""

    sources: tuple[Source, ...]
    generated_at: datetime
    run_id: str
    by_unit: Mapping[str, tuple[Source, ...]] | None = field(default=None, compare=False)

    def of(self, unit_id: str) -> Provenance:
        """What ``unit_id``'s document was built from."""
        if self.by_unit is None:
            return self
        return Provenance(self.by_unit[unit_id], self.generated_at, self.run_id)


#: a kind imported from more files than this is one source, "N filer" (the action plans come
#: back as a worksheet per unit and year: every document would list them all)
LISTED_FILES = 3


def provenance(
    conn: Connection,
    kinds: tuple[str, ...],
    *,
    now: datetime,
    run_id: str,
    tree: OrgTree | None = None,
) -> Provenance:
    """The files of ``kinds``; with ``tree``, also each unit's (:class:`Provenance`): of the
    kinds whose records belong to units (:data:`arshjul.unit_data.UNIT_TABLES`), the files
    holding records of the unit's subtree (of any year), of the others every file."""
    rows = conn.execute(
        select(
            ImportBatch.id,
            ImportBatch.kind,
            ImportBatch.file_name,
            ImportBatch.rows,
            ImportBatch.imported_at,
        )
        .where(ImportBatch.kind.in_(kinds))
        .order_by(ImportBatch.imported_at, ImportBatch.id)
    )
    files = {row.id: Source(row.kind, row.file_name, row.rows, row.imported_at) for row in rows}
    every = _sources(files.values())
    if tree is None:
        return Provenance(every, now, run_id)
    held = unit_data.batches(conn, kinds)
    fixed = [b for b, s in files.items() if s.kind not in held]
    subtrees = tree.roll_up(
        lambda unit_id: _Held({kind: set(units.get(unit_id, ())) for kind, units in held.items()})
    )
    listed: dict[frozenset[int], tuple[Source, ...]] = {}
    by_unit = {}
    for unit_id, subtree in subtrees.items():
        chosen = frozenset(fixed).union(*subtree.values())
        if chosen not in listed:
            listed[chosen] = _sources(s for b, s in files.items() if b in chosen)
        by_unit[unit_id] = listed[chosen]
    return Provenance(every, now, run_id, by_unit)


class _Held(dict[str, set[int]]):
    """A subtree's batches per kind, for :meth:`OrgTree.roll_up`."""

    def add(self, other: _Held) -> None:
        for kind, batches in other.items():
            self[kind] |= batches


def _sources(files: Iterable[Source]) -> tuple[Source, ...]:
    """``files`` (oldest first) as a footer lists them: a kind of more than
    :data:`LISTED_FILES` files as one source."""
    by_kind: dict[str, list[Source]] = {}
    for file in files:
        by_kind.setdefault(file.kind, []).append(file)
    sources = []
    for kind, of_kind in by_kind.items():
        if len(of_kind) <= LISTED_FILES:
            sources += of_kind
        else:
            rows_in_all = sum(f.rows for f in of_kind)
            last = max(f.imported_at for f in of_kind)
            sources.append(Source(kind, counted(len(of_kind), "fil", "filer"), rows_in_all, last))
    return tuple(sorted(sources, key=lambda s: s.imported_at))


#: document file names and their Swedish titles, in the order the cycle makes them; the year
#: index (and a period's) links those that exist for a unit
DOCUMENT_TITLES = {
    "sammanstallning.html": "Sammanställning",
    "analys.html": "Analys",
    "handlingsplan.html": "Handlingsplan",
    "handlingsplan-arbetsblad.xlsx": "Arbetsblad för handlingsplan (XLSX)",
    "patientsakerhetsberattelse.html": "Patientsäkerhetsberättelse",
    "uppskjuten-vard.html": "Uppskjuten vård",
}


#: the documents a region publishes on its web site, written as PDF too (the HTML's print
#: layout): the patientsäkerhetsberättelse and the deferred-care section of the interim reports
PUBLISHED = frozenset({"patientsakerhetsberattelse.html", "uppskjuten-vard.html"})
#: the levels whose published documents are: the region's and each område's (nämnd's)
#: delårsrapport. A verksamhet's or enhet's section is followed up in its område's tables and
#: read on the web; a PDF for each would cost a third of a second apiece (~20 CPU minutes for
#: a large region's two periods)
PUBLISHED_LEVELS = frozenset({OrgLevel.REGION, OrgLevel.AREA})


def published(file_name: str, unit: Unit) -> bool:
    """Whether ``unit``'s document ``file_name`` is published, and so written as PDF too."""
    return file_name in PUBLISHED and unit.level in PUBLISHED_LEVELS


def docx_path(html: Path) -> Path:
    return html.with_suffix(".docx")


def tables_dir(html: Path) -> Path:
    """``x.html`` → ``x-tabeller/``: one CSV file per table of the document."""
    return html.with_name(f"{html.stem}-tabeller")


def xlsx_path(html: Path) -> Path:
    return html.with_suffix(".xlsx")


def pdf_path(html: Path) -> Path:
    return html.with_suffix(".pdf")


def write_document(
    path: Path,
    html: str,
    origin: Provenance,
    *,
    docx: bool = True,
    tables: bool = True,
    xlsx: bool = False,
    pdf: bool = False,
) -> Path:
    """Write ``html`` to ``path`` (``x.html``) and beside it ``x.docx``, the tables as
    ``x-tabeller/NN-<caption>.csv``, with ``xlsx`` ``x.xlsx`` (one sheet per table; none
    when the document has no table) and with ``pdf`` ``x.pdf``. The DOCX and XLSX take their
    time stamps from ``origin.generated_at``: the same data and run give the same bytes.
    Returns ``path``."""
    write_text_atomic(path, html)
    if pdf:
        write_pdf(pdf_path(path), html)
    if not (docx or tables or xlsx):
        return path
    root = parse_html(html)
    found = read_tables(root) if tables or xlsx else []
    if tables:
        write_csv_tables(found, tables_dir(path))
    if xlsx:
        title = root.findtext("head/title") or path.stem
        if found:
            write_workbook(found, xlsx_path(path), title=title, created=origin.generated_at)
        else:
            xlsx_path(path).unlink(missing_ok=True)
    if docx:
        write_docx(docx_path(path), root, created=origin.generated_at)
    return path


@dataclass(frozen=True)
class Kept:
    """A document not written again: what this run would write says what it says already."""

    path: Path
    #: the run its footer names: the run that wrote what it says
    run_id: str


#: a document's run line, the last of its footer (base.html.j2): which run wrote it, when
_RUN_LINE = re.compile(r"<p>Skapad [^<]*? av körning ([^<]*?) \(arshjul\)\.</p>\s*</footer>")


def unchanged_since(path: Path, html: str) -> str | None:
    """The run that wrote the document at ``path`` when it says what ``html`` says: every byte
    the same but the run line (:data:`_RUN_LINE`), so it is not written again and keeps the
    footer of the run that made its content. None when it says something else, or there is
    none (or no run line to tell)."""
    new = _RUN_LINE.search(html)
    try:
        old_html = path.read_text("utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    old = _RUN_LINE.search(old_html)
    if new is None or old is None or old_html[: old.start()] != html[: new.start()]:
        return None
    return old.group(1) if old_html[old.end() :] == html[new.end() :] else None


#: the extended attribute of a document's HTML file that says what it was rendered from:
#: ``<render key> <SHA-256 of the file>`` (:func:`rendered_as`)
RENDERED_FROM = "user.arshjul.rendered-from"


def render_key(template: str, context: dict[str, Any], origin: Provenance) -> str | None:
    """The key of rendering ``template`` with ``context`` (:mod:`arshjul.render_key`), of
    ``origin`` its sources only: which run renders it, when, is the run line alone, which
    says what :func:`unchanged_since` ignores. None for a context that cannot be keyed."""
    try:
        return keyed(template, {**context, "origin": origin.sources})
    except Unkeyable:
        return None


def rendered_as(path: Path, render_key: str) -> str | None:
    """The run that wrote the document at ``path`` when it was rendered from ``render_key``
    and is the file as written then (its SHA-256, kept with the key: a file changed or
    replaced since is rendered again); None when it was not, or nothing says (a file system
    without extended attributes, a copy that lost them)."""
    try:
        kept = os.getxattr(path, RENDERED_FROM).decode("ascii").split()
        html = path.read_bytes()
    except (OSError, UnicodeDecodeError):
        return None
    if kept != [render_key, hashlib.sha256(html).hexdigest()]:
        return None
    found = _RUN_LINE.search(html.decode("utf-8", "replace"))
    return found.group(1) if found else None


def remember_render(path: Path, render_key: str | None) -> None:
    """Keep with the file at ``path`` the key it was rendered from (or found to say what that
    render says) and its SHA-256; a file system without extended attributes keeps nothing,
    and every run renders."""
    if render_key is None:
        return
    with contextlib.suppress(OSError):
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        os.setxattr(path, RENDERED_FROM, f"{render_key} {sha256}".encode("ascii"))


def write_unit_documents(
    out: Path,
    period: Period,
    tree: OrgTree,
    unit_ids: Iterable[str],
    file_name: str,
    template: str,
    context: Callable[[Unit], dict[str, Any]],
    *,
    docx: bool = True,
    tables: bool = True,
    xlsx: bool = False,
    keyed: bool = True,
) -> list[Path | Kept]:
    """Render ``template`` for each unit (with ``unit``, its ``path`` and ``context(unit)``,
    which holds the ``origin`` Provenance, of which the unit's is shown: :meth:`Provenance.of`)
    into the unit's folder under ``period`` (a data year, ``2025``, or an interim period such
    as ``2026-T2``) as ``file_name``, with its other formats (see ``write_document``); returns
    the HTML files written, and those :class:`Kept` as they were because they said the same
    already. A document rendered from the same context as the file's (:func:`rendered_as`) is
    not even rendered; one rendered anew is compared with the file (:func:`unchanged_since`).
    Either way an unchanged document keeps the footer of the run that made its content. A
    ``published`` document gets a PDF too. Not ``keyed``: every document is rendered (a
    context whose key costs more than its render). Units are written in parallel
    (:mod:`arshjul.parallel`): ``context`` must not use the database."""

    def write_one(unit_id: str) -> Path | Kept:
        unit = tree[unit_id]
        extra = context(unit)
        origin = extra["origin"] = extra["origin"].of(unit_id)
        extra.update(unit=unit, path=tree.path(unit_id))
        path = unit_dir(out, period, unit) / file_name
        pdf = published(file_name, unit)
        formats = [p for p, wanted in ((docx_path(path), docx), (pdf_path(path), pdf)) if wanted]
        rendering = render_key(template, extra, origin) if keyed else None
        if rendering is not None and all(p.exists() for p in formats):
            kept = rendered_as(path, rendering)
            if kept is not None:
                return Kept(path, kept)
        html = render(template, **extra)
        kept = unchanged_since(path, html)
        if kept is not None and all(p.exists() for p in formats):
            remember_render(path, rendering)
            return Kept(path, kept)
        written = write_document(path, html, origin, docx=docx, tables=tables, xlsx=xlsx, pdf=pdf)
        remember_render(path, rendering)
        return written

    compile_templates(template)
    if file_name in PUBLISHED:
        prepare_pdf()

    def with_pdf(unit_id: str) -> bool:
        # a PDF is most of a unit's time (WeasyPrint's layout, ~1 s): those units go first
        return published(file_name, tree[unit_id])

    return map_units(write_one, list(unit_ids), first=with_pdf)


def _formats(folder: Path, name: str, root: Path) -> list[tuple[str, str]]:
    """The other formats of document ``name`` in ``folder`` that exist, as (label, href)."""
    if not name.endswith(".html"):
        return []
    html = folder / name
    others = [
        ("PDF", pdf_path(html)),
        ("DOCX", docx_path(html)),
        ("XLSX", xlsx_path(html)),
        ("CSV", tables_dir(html)),
    ]
    return [
        (label, p.relative_to(root).as_posix() + ("/" if p.is_dir() else ""))
        for label, p in others
        if p.exists()
    ]


#: a document link: its title, its href and its other formats as (label, href)
Link = tuple[str, str, list[tuple[str, str]]]


def _links(folder: Path, root: Path) -> list[Link]:
    """The documents in ``folder`` (a unit's) that exist, as links relative to ``root``."""
    return [
        (title, (folder / name).relative_to(root).as_posix(), _formats(folder, name, root))
        for name, title in DOCUMENT_TITLES.items()
        if (folder / name).exists()
    ]


STATUS_PAGE = "status.html"
CALENDAR_PAGE = "calendar/index.html"
START_PAGE = "index.html"


def write_year_index(out: Path, tree: OrgTree, period: Period, region_name: str) -> Path:
    """``out/<year>/index.html`` (or a period's, ``out/2026-T2/index.html``): every unit,
    parents before children, with links to the documents that exist for it and their PDF,
    DOCX, XLSX and CSV tables, and to the start page, the year's status and the calendars.
    The start page is written again too (it lists the folders there are)."""
    root = inside(out, period.label)
    rows = [
        (unit, len(tree.ancestors(unit.id)), _links(unit_dir(out, period, unit), root))
        for unit in tree.walk(tree.root.id)
    ]
    html = render(
        "index.html.j2",
        year=period.label,
        title=_folder_title(period),
        region_name=region_name,
        rows=rows,
        status=STATUS_PAGE if (root / STATUS_PAGE).exists() else None,
        calendar=f"../{CALENDAR_PAGE}" if (out / CALENDAR_PAGE).exists() else None,
    )
    written = write_text_changed(root / "index.html", html)
    write_start_page(out, tree, region_name)
    return written


def _folder_title(period: Period) -> str:
    """What a year's or period's folder holds, as its heading says."""
    if period.part == "year":
        return f"Patientsäkerhet och uppskjuten vård {period.year}"
    return f"Delårsrapport {period.title_sv}: uppskjuten vård"


@dataclass(frozen=True)
class Folder:
    """A year's or a period's folder as the start page lists it."""

    label: str
    title: str
    index: str | None
    status: str | None
    #: the region's documents in the folder
    documents: list[Link]


def write_start_page(out: Path, tree: OrgTree, region_name: str) -> Path:
    """``out/index.html``: the calendars, and every year's and period's folder (latest first)
    with its index of all units' documents, its status page and the region's own documents."""
    root = inside(out)
    periods = sorted(
        (p for d in root.iterdir() if d.is_dir() and (p := period_of(d.name)) is not None),
        key=lambda p: p.last,
        reverse=True,
    )
    folders = [
        Folder(
            p.label,
            _folder_title(p),
            f"{p.label}/index.html" if (root / p.label / "index.html").exists() else None,
            f"{p.label}/{STATUS_PAGE}" if (root / p.label / STATUS_PAGE).exists() else None,
            _links(unit_dir(out, p, tree.root), root),
        )
        for p in periods
    ]
    html = render(
        "start.html.j2",
        region_name=region_name,
        region=tree.root,
        folders=folders,
        calendar=CALENDAR_PAGE if (root / CALENDAR_PAGE).exists() else None,
    )
    return write_text_changed(root / START_PAGE, html)

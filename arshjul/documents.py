"""Where documents go and what every document says about its origin."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from arshjul.files import inside, slug, write_text_atomic
from arshjul.models import ImportBatch, OrgLevel
from arshjul.org import OrgTree, Unit
from arshjul.render import render

LEVEL_FOLDER = {
    OrgLevel.REGION: "region",
    OrgLevel.AREA: "omraden",
    OrgLevel.DEPARTMENT: "verksamheter",
    OrgLevel.UNIT: "enheter",
}


def unit_dir(out: Path, period: int | str, unit: Unit) -> Path:
    """``out/<period>/<level>/<id>``: ids are slugged so that data never picks the path."""
    return inside(out, str(period), LEVEL_FOLDER[unit.level], slug(unit.id))


@dataclass(frozen=True)
class Source:
    kind: str
    file_name: str
    rows: int
    imported_at: datetime


@dataclass(frozen=True)
class Provenance:
    """Which data a document was built from, and which run built it when."""

    sources: tuple[Source, ...]
    generated_at: datetime
    run_id: str


def provenance(
    conn: Connection, kinds: tuple[str, ...], *, now: datetime, run_id: str
) -> Provenance:
    rows = conn.execute(
        select(ImportBatch.kind, ImportBatch.file_name, ImportBatch.rows, ImportBatch.imported_at)
        .where(ImportBatch.kind.in_(kinds))
        .order_by(ImportBatch.imported_at, ImportBatch.id)
    )
    return Provenance(tuple(Source(*r) for r in rows), now, run_id)


#: document file names and their Swedish titles, in the order the cycle makes them
DOCUMENT_TITLES = {
    "sammanstallning.html": "Sammanställning",
    "analys.html": "Analys",
}


def write_unit_documents(
    out: Path,
    year: int,
    tree: OrgTree,
    unit_ids: Iterable[str],
    file_name: str,
    template: str,
    context: Callable[[Unit], dict[str, Any]],
) -> list[Path]:
    """Render ``template`` for each unit (with ``unit``, its ``path`` and ``context(unit)``)
    into the unit's folder as ``file_name``; returns the files written."""
    written = []
    for unit_id in unit_ids:
        unit = tree[unit_id]
        html = render(template, unit=unit, path=tree.path(unit_id), **context(unit))
        written.append(write_text_atomic(unit_dir(out, year, unit) / file_name, html))
    return written


def write_year_index(out: Path, tree: OrgTree, year: int, region_name: str) -> Path:
    """``out/<year>/index.html``: every unit, parents before children, with links to the
    documents that exist for it."""
    root = inside(out, str(year))
    rows = []
    for unit in tree.walk(tree.root.id):
        folder = unit_dir(out, year, unit)
        links = [
            (title, (folder / name).relative_to(root).as_posix())
            for name, title in DOCUMENT_TITLES.items()
            if (folder / name).exists()
        ]
        rows.append((unit, len(tree.ancestors(unit.id)), links))
    html = render("index.html.j2", year=year, region_name=region_name, rows=rows)
    return write_text_atomic(root / "index.html", html)

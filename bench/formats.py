"""Hand-written formats against the libraries: DOCX (python-docx), XLSX (xlsxwriter), ICS
(icalendar), on the documents, workbooks and feeds of a finished run.

``arshjul/formats/docx.py``, ``arshjul/formats/xlsx.py`` and ``arshjul/ical_text.py`` write
their formats as text instead of through a library's object model, for speed. This measures
that claim on the run's own material, each writer given the same input and its output kept
in memory (no disk): every unit's compilation document to DOCX; the interim sections' tables
and every unit's action-plan worksheet to XLSX; every calendar feed to ICS. The library side
is each library's ordinary API building the same content (the same blocks, cells, styles,
properties); where it cannot say something (python-docx has no hyperlinks or repeated header
rows), it does a little less work than the hand-writer, never more.

    python -m bench.formats --scale small      # makes the demo and runs the pipeline first
    python -m bench.formats --database sqlite:///var/arshjul.sqlite --out out --year 2025

``bench.run`` runs it on the output of its ``arshjul run``, at each scale. Times are CPU
seconds of this process (the writers are single-threaded; the product spreads documents over
its worker processes, which divides wall time, not the ratio).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from arshjul import ics
from arshjul.action_plan import worksheet
from arshjul.action_plan.plans import build_plans
from arshjul.config import load_config
from arshjul.demo import Scale, write_demo
from arshjul.documents import unit_dir
from arshjul.event_revisions import Revision
from arshjul.formats import docx as hand_docx
from arshjul.formats import picture, tables, xlsx
from arshjul.formats.tables import Element, parse_html
from arshjul.ical_text import CALENDAR_ORDER, component, duration, line, text
from arshjul.milestone_status import StatusBook
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.workspace import open_workspace
from bench import plain


@dataclass(frozen=True)
class Row:
    """One format's comparison: the same ``items`` written by hand and by the library."""

    format: str
    what: str
    items: int
    hand_seconds: float
    library: str
    library_seconds: float

    @property
    def ratio(self) -> float:
        return self.library_seconds / self.hand_seconds if self.hand_seconds else 0.0


def cpu(fn: Callable[[], object]) -> float:
    """Process CPU seconds of ``fn()``: the machine is shared, wall time would measure others."""
    start = time.process_time()
    fn()
    return time.process_time() - start


# --- DOCX ----------------------------------------------------------------------------------


def python_docx_bytes(root: Element) -> bytes:
    """The document through python-docx's object model: headings, paragraphs with their bold
    and italic runs, lists, tables with the table style and numbers right-aligned, the charts
    as the same pictures (``picture.png``)."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Emu

    document = docx.Document()
    reader = hand_docx._Body(hand_docx._skeleton())  # the same reading of the HTML

    def runs(paragraph: Any, segments: Sequence[hand_docx.Segment]) -> None:
        for content, fmt, _ in segments:
            run = paragraph.add_run(content)
            run.bold = bool(fmt & hand_docx.BOLD) or None
            run.italic = bool(fmt & hand_docx.ITALIC) or None

    def table(el: Element) -> None:
        rows = [
            [(c, "n" in (c.get("class") or "").split()) for c in tr if c.tag in ("td", "th")]
            for tr in el.iter("tr")
        ]
        rows = [r for r in rows if r]
        if not rows:
            return
        caption = el.find("caption")
        if caption is not None:
            runs(document.add_paragraph(style="Caption"), reader.segments(caption))
        columns = max(len(r) for r in rows)
        grid = document.add_table(rows=len(rows), cols=columns)
        grid.style = "Light List Accent 1"
        for cells, row in zip(rows, grid.rows, strict=True):
            for (cell, numeric), target in zip(cells, row.cells, strict=False):
                paragraph = target.paragraphs[0]
                runs(paragraph, reader.segments(cell))
                if numeric:
                    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    def blocks(parent: Element, depth: int = 0) -> None:
        for el in parent:
            if not isinstance(el.tag, str) or tables.hidden(el):
                continue
            if el.tag in ("h1", "h2", "h3"):
                runs(document.add_heading(level=int(el.tag[1])), reader.segments(el))
            elif el.tag in ("ul", "ol"):
                style = "List Number" if el.tag == "ol" else "List Bullet"
                for li in el.iter("li"):
                    runs(document.add_paragraph(style=style), reader.segments(li, ("ul", "ol")))
            elif el.tag == "table":
                table(el)
            elif el.tag == "svg":  # the same picture, then the data
                data, width, _ = picture.png(el)
                document.add_picture(io.BytesIO(data), width=Emu(round(min(width * 9525, 5760720))))
                if (chart := tables.chart_data(el)) is not None:
                    table(chart)
            elif el.tag in ("div", "section", "main", "footer", "body") and len(el):
                blocks(el, depth)
            elif segments := reader.segments(el):
                runs(document.add_paragraph(), segments)

    body = root.find("body")
    blocks(body if body is not None else root)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_row(documents: Sequence[Path], now: datetime) -> Row:
    roots = [parse_html(p.read_text("utf-8")) for p in documents]
    hand_docx.docx_bytes(roots[0], created=now)  # python-docx's template read once, not timed
    hand = cpu(lambda: [hand_docx.docx_bytes(r, created=now) for r in roots])
    library = cpu(lambda: [python_docx_bytes(r) for r in roots])
    what = "every unit's compilation document"
    return Row("DOCX", what, len(roots), hand, "python-docx", library)


# --- XLSX ----------------------------------------------------------------------------------


def xlsxwriter_bytes(book: xlsx.Workbook) -> bytes:
    """The same workbook (cells, styles, widths, frozen header, hidden sheet, protection,
    validations) through xlsxwriter, in memory."""
    import xlsxwriter

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    workbook.set_properties({"title": book.title, "created": book.created.replace(tzinfo=None)})
    formats: dict[xlsx.Style, Any] = {}

    def fmt(style: xlsx.Style) -> Any:
        if style not in formats:
            spec: dict[str, object] = {"num_format": style.number_format, "locked": style.locked}
            spec |= {"bold": True} if style.bold else {}
            spec |= {"bg_color": f"#{style.fill}", "pattern": 1} if style.fill else {}
            spec |= {"text_wrap": True} if style.wrap else {}
            spec |= {"valign": style.vertical} if style.vertical else {}
            formats[style] = workbook.add_format(spec)
        return formats[style]

    for sheet in book.sheets:
        ws = workbook.add_worksheet(sheet.name)
        for c, column in sheet.columns.items():
            style = fmt(column.style) if column.style else None
            ws.set_column(c - 1, c - 1, column.width, style)
        for r, row in enumerate(sheet.rows):
            for c, cell in enumerate(row):
                if cell is None:
                    continue
                value, style = cell.value, fmt(cell.style)
                if isinstance(value, str):
                    ws.write_string(r, c, value, style)
                elif isinstance(value, int | float):
                    ws.write_number(r, c, value, style)
                elif value is None:
                    ws.write_blank(r, c, None, style)
                else:
                    ws.write_datetime(r, c, datetime.combine(value, clock_time()), style)
        if sheet.freeze_header:
            ws.freeze_panes(1, 0)
        if sheet.hidden:
            ws.hide()
        if sheet.protected:
            ws.protect("", {"format_columns": True, "format_rows": True})
        for v in sheet.validations:
            rule: dict[str, object] = {"validate": v.kind, "source": "=" + v.formula1}
            if v.kind == "date":
                rule = {
                    "validate": "date",
                    "criteria": v.operator,
                    "minimum": datetime(1899, 12, 30) + timedelta(days=int(v.formula1)),
                    "maximum": datetime(1899, 12, 30) + timedelta(days=int(v.formula2 or 0)),
                }
            rule |= {"input_title": v.prompt_title, "input_message": v.prompt}
            rule |= {"error_title": v.error_title, "error_message": v.error}
            ws.data_validation(v.cells, rule)
    workbook.close()
    return out.getvalue()


def xlsx_row(books: Sequence[xlsx.Workbook], what: str) -> Row:
    hand = cpu(lambda: [xlsx.workbook_bytes(b) for b in books])
    library = cpu(lambda: [xlsxwriter_bytes(b) for b in books])
    return Row("XLSX", what, len(books), hand, "xlsxwriter", library)


# --- ICS -----------------------------------------------------------------------------------


def icalendar_event(data: ics.EventData, stamp: datetime, revision: Revision) -> bytes:
    import icalendar

    event = icalendar.Event()
    event.add("summary", data.summary)
    event.add("dtstart", data.start)
    event.add("dtend", data.start + timedelta(days=1))
    event.add("dtstamp", stamp)
    event.add("uid", data.uid)
    event.add("sequence", revision.sequence)
    event.add("categories", list(data.categories))
    event.add("description", data.description)
    event.add("last-modified", revision.last_modified)
    event.add("status", "CANCELLED" if data.cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    if data.url:
        event.add("url", data.url)
    if data.series:
        series = data.series
        rule = {"freq": "monthly", "until": series.start.replace(month=12, day=31)}
        event.add("rrule", rule | {"byday": list(ics._RRULE_WEEKDAYS), "bysetpos": series.setpos})
        if extra := sorted(set(series.dates) - set(series.rrule_dates)):
            event.add("rdate", extra)
        if wrong := sorted(set(series.rrule_dates) - set(series.dates)):
            event.add("exdate", wrong)
    for days, description in data.alarms:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", description)
        alarm.add("trigger", timedelta(days=-days))
        event.add_component(alarm)
    return event.to_ical()


def icalendar_feed(spec: ics.FeedSpec, events: Iterable[bytes], refresh: timedelta) -> bytes:
    """The calendar's own properties through icalendar, the events (serialised once each, as
    the product does) put in before its end."""
    import icalendar

    calendar = icalendar.Calendar()
    about = f"Milstolpar i årshjulet för {spec.about}."
    for name, value in (
        ("version", "2.0"),
        ("prodid", ics.PRODID),
        ("calscale", "GREGORIAN"),
        ("method", "PUBLISH"),
        ("description", about),
        ("x-wr-caldesc", about),
        ("name", spec.title),
        ("x-wr-calname", spec.title),
        ("refresh-interval", refresh),
        ("x-published-ttl", refresh),
        ("uid", spec.name),
        ("x-wr-timezone", "Europe/Stockholm"),
    ):
        calendar.add(name, value)
    head = calendar.to_ical().removesuffix(b"END:VCALENDAR\r\n")
    return head + b"".join(events) + b"END:VCALENDAR\r\n"


def hand_feed(spec: ics.FeedSpec, events: Iterable[bytes], refresh: timedelta) -> bytes:
    """As :func:`arshjul.ics.render_feed`."""
    about = text(f"Milstolpar i årshjulet för {spec.about}.")
    properties = [
        line("VERSION", "2.0"),
        line("PRODID", text(ics.PRODID)),
        line("CALSCALE", "GREGORIAN"),
        line("METHOD", "PUBLISH"),
        line("DESCRIPTION", about),
        line("X-WR-CALDESC", about),
        line("NAME", text(spec.title)),
        line("X-WR-CALNAME", text(spec.title)),
        line("REFRESH-INTERVAL", duration(refresh), ";VALUE=DURATION"),
        line("X-PUBLISHED-TTL", duration(refresh)),
        line("UID", text(spec.name)),
        line("X-WR-TIMEZONE", text("Europe/Stockholm")),
    ]
    return component("VCALENDAR", properties, CALENDAR_ORDER, events)


def ics_row(config: Any, tree: OrgTree, years: Sequence[int], now: datetime) -> Row:
    """Every feed of ``years``: each distinct event written once, each feed from its events
    (as :func:`arshjul.ics.build_feeds`, without the database's revision log)."""
    status = StatusBook({}, now.date())
    entries = [e for year in years for e in ics.wheel_entries(config.wheel, year)]
    specs = ics.feed_specs(config, tree)
    data: dict[str, ics.EventData] = {}
    members = []
    for spec in specs:
        uids = []
        for entry in entries:
            if spec.include(entry.first):
                uid = ics.event_uid(entry.first, spec.scope)
                if uid not in data:
                    data[uid] = ics.event_data(entry, spec.scope, config, status)
                uids.append(uid)
        members.append(uids)
    stamp = now.astimezone(UTC)
    revision = Revision(1, stamp)
    refresh = timedelta(hours=config.settings.calendar.refresh_hours)

    def write(
        event: Callable[[ics.EventData], bytes],
        feed: Callable[[ics.FeedSpec, Iterable[bytes], timedelta], bytes],
    ) -> None:
        written = {uid: event(d) for uid, d in data.items()}
        for spec, uids in zip(specs, members, strict=True):
            feed(spec, [written[u] for u in uids], refresh)

    def by_hand(d: ics.EventData) -> bytes:
        return ics._stamped(ics.vevent(d), stamp, revision)

    hand = cpu(lambda: write(by_hand, hand_feed))
    library = cpu(lambda: write(lambda d: icalendar_event(d, stamp, revision), icalendar_feed))
    what = f"every feed ({len(specs):,} feeds, {len(data):,} distinct events)"
    return Row("ICS", what, len(specs), hand, "icalendar", library)


# --- all -----------------------------------------------------------------------------------


def measure(database_url: str, out: Path, year: int, now: datetime) -> list[Row]:
    ws = open_workspace(database_url=database_url, out=out)
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
        plans = build_plans(conn, ws.config, tree, year)
    units = list(tree.walk(tree.root.id))
    period = Period.full_year(year)
    compilations = [
        p for u in units if (p := unit_dir(out, period, u) / "sammanstallning.html").is_file()
    ]
    interim = sorted(out.glob("*-T*/*/*/uppskjuten-vard.html")) + sorted(
        out.glob(f"{year}/*/*/uppskjuten-vard.html")
    )
    section_books = [
        tables.workbook(found, title=p.stem, created=now)
        for p in interim
        if (found := tables.read_tables(parse_html(p.read_text("utf-8"))))
    ]
    worksheets = [
        worksheet.build_workbook(u, plans[u.id], ws.config.codes, now)
        for u in units
        if u.id in plans
    ]
    return [
        docx_row(compilations, now),
        xlsx_row(section_books, "the interim sections' tables"),
        xlsx_row(worksheets, "every unit's action-plan worksheet"),
        ics_row(ws.config, tree, (year, year + 1), now),
    ]


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| format | written | items | hand-written, CPU s | library | library, CPU s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.format} | {r.what} | {r.items:,} | {r.hand_seconds:.2f} | {r.library} | "
        f"{r.library_seconds:.2f} | {r.ratio:.1f}× |"
        for r in rows
    ]
    return "\n".join(lines)


def make_run(scale: Scale, folder: Path, year: int, now: datetime) -> tuple[str, Path]:
    """The demo at ``scale`` through the pipeline (plain calls): its database and output."""

    data = folder / "data"
    write_demo(data, load_config(), today=now.date(), scale=scale)
    database = f"sqlite:///{folder / 'formats.sqlite'}"
    ws = open_workspace(database_url=database, out=folder / "out")
    plain.run(ws, data, year, now, plain.Steps())
    return database, folder / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("small", "large"), help="make a run at this scale")
    parser.add_argument("--database", help="a finished run's database URL")
    parser.add_argument("--out", type=Path, help="a finished run's output folder")
    parser.add_argument("--year", type=int, help="the run's year (default: the bench's)")
    parser.add_argument("--keep", type=Path, help="make the run in this folder and keep it")
    args = parser.parse_args()
    from bench.run import NOW, YEAR  # the benchmark's clock; bench.run imports this module

    if args.database and args.out:
        rows = measure(args.database, args.out, args.year or YEAR, NOW)
    elif args.scale:
        with tempfile.TemporaryDirectory(prefix="arshjul-formats-") as tmp:
            folder = args.keep or Path(tmp)
            database, out = make_run(args.scale, folder, YEAR, NOW)
            rows = measure(database, out, YEAR, NOW)
    else:
        parser.error("give --scale, or --database and --out of a finished run")
    print(table(rows))


if __name__ == "__main__":
    main()

"""HTML → DOCX: a rendered document as a Word file for editing, from the same HTML.

The HTML is our own semantic subset (h1–h3, p, b/strong/em/code, a, ul/ol/li, tables with
caption/thead/tbody/tfoot and ``class="n"`` numbers, ``div.key`` figures, a footer with the
provenance, inline SVG charts). Word's built-in styles come from python-docx's default template,
trimmed to the ones used and set to Swedish and A4 once per process: Heading 1–3, List Bullet,
List Number, Caption and the table style "Light List Accent 1" (header row, bold total row).
Each document's body is then written as WordprocessingML straight from the HTML and zipped
with fixed timestamps: the same HTML and the same provenance time give the same bytes.
python-docx's object model building the same document takes 59 times the CPU (bench/formats.py
at `large`: 184 s against 3.1 s for 1,629 compilation documents, and the cycle writes five
documents a unit). A chart becomes a picture (:mod:`arshjul.formats.picture`) whose description
is its title and figures, followed by a table of its data unless a table in its section holds
the figures already. A table is sized from its content and put on landscape pages when it is
too wide for portrait ones (:func:`_column_widths`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from arshjul.files import write_bytes_atomic
from arshjul.formats import picture
from arshjul.formats.tables import (
    Element,
    chart_data,
    chart_title,
    hidden,
    parse_number,
    text_of,
)
from arshjul.formats.zips import Deflated, deflate, stable_zip

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_PIC = "http://schemas.openxmlformats.org/drawingml/2006/picture"
_EMU_PER_PX = 9525  # at 96 dots per inch
_EMU_PER_TWIP = 635
_W = f"{{{W}}}"

TABLE_STYLE = "LightList-Accent1"
PROVENANCE_STYLE = "Ursprung"
LANGUAGE = "sv-SE"
#: A4 in twips, 2.5 cm margins
PAGE_W, PAGE_H, MARGIN = 11906, 16838, 1418
TEXT_WIDTH = PAGE_W - 2 * MARGIN
#: the text width of a landscape page, for tables too wide for a portrait one
WIDE_TEXT_WIDTH = PAGE_H - 2 * MARGIN
#: a character's width in a table cell and a cell's margins, in twips: 11 pt, generous
#: enough for the wider fonts that stand in for Calibri where it is missing (LibreOffice on
#: Linux: DejaVu Sans, ~0.64 em a digit), since a column too narrow breaks a word or a number
CHAR_W = 150
CELL_PADDING = 300

_USED_STYLES = (
    "Normal",
    "Heading1",
    "Heading2",
    "Heading3",
    "ListBullet",
    "ListBullet2",
    "ListBullet3",
    "ListNumber",
    "ListNumber2",
    "ListNumber3",
    "Caption",
    TABLE_STYLE,
)
_EXTRA_STYLES = f"""
<w:style xmlns:w="{W}" w:type="character" w:styleId="Hyperlink"><w:name w:val="Hyperlink"/>
<w:basedOn w:val="DefaultParagraphFont"/><w:uiPriority w:val="99"/><w:unhideWhenUsed/>
<w:rPr><w:color w:val="0563C1" w:themeColor="hyperlink"/><w:u w:val="single"/></w:rPr></w:style>
<w:style xmlns:w="{W}" w:type="paragraph" w:customStyle="1" w:styleId="{PROVENANCE_STYLE}">
<w:name w:val="Ursprung"/><w:basedOn w:val="Normal"/><w:qFormat/>
<w:pPr><w:spacing w:after="60"/></w:pPr><w:rPr><w:color w:val="555555"/><w:sz w:val="16"/>
<w:szCs w:val="16"/></w:rPr></w:style>"""

_STATIC_PARTS = {
    "word/styles.xml": "wordprocessingml.styles+xml",
    "word/settings.xml": "wordprocessingml.settings+xml",
    "word/webSettings.xml": "wordprocessingml.webSettings+xml",
    "word/fontTable.xml": "wordprocessingml.fontTable+xml",
    "word/theme/theme1.xml": "theme+xml",
    "word/numbering.xml": "wordprocessingml.numbering+xml",
}
_RELATION = {
    "word/styles.xml": "styles",
    "word/settings.xml": "settings",
    "word/webSettings.xml": "webSettings",
    "word/fontTable.xml": "fontTable",
    "word/theme/theme1.xml": "theme",
    "word/numbering.xml": "numbering",
}
_OFFICE = "application/vnd.openxmlformats-officedocument."
_PACKAGE = "application/vnd.openxmlformats-package."
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    f'<Default Extension="rels" ContentType="{_PACKAGE}relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="png" ContentType="image/png"/>'
    '<Override PartName="/word/document.xml" '
    f'ContentType="{_OFFICE}wordprocessingml.document.main+xml"/>'
    + "".join(
        f'<Override PartName="/{p}" ContentType="{_OFFICE}{t}"/>' for p, t in _STATIC_PARTS.items()
    )
    + f'<Override PartName="/docProps/core.xml" ContentType="{_PACKAGE}core-properties+xml"/>'
    f'<Override PartName="/docProps/app.xml" ContentType="{_OFFICE}extended-properties+xml"/>'
    "</Types>"
).encode()
_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="word/document.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
    'metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{R}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
).encode()
_APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    b"<Application>arshjul</Application></Properties>"
)


def _section(landscape: bool) -> str:
    """A section's page: A4 portrait, or landscape for wide tables."""
    size = (
        f'<w:pgSz w:w="{PAGE_H}" w:h="{PAGE_W}" w:orient="landscape"/>'
        if landscape
        else f'<w:pgSz w:w="{PAGE_W}" w:h="{PAGE_H}"/>'
    )
    return (
        f'<w:sectPr>{size}<w:pgMar w:top="{MARGIN}" w:right="{MARGIN}" w:bottom="{MARGIN}" '
        f'w:left="{MARGIN}" w:header="709" w:footer="709" w:gutter="0"/><w:cols w:space="708"/>'
        '<w:docGrid w:linePitch="360"/></w:sectPr>'
    )


#: a paragraph that ends a section: what came before it is on pages of that orientation
_SECTION_END = {wide: f"<w:p><w:pPr>{_section(wide)}</w:pPr></w:p>" for wide in (False, True)}


@dataclass(frozen=True)
class _Skeleton:
    #: the package's parts every document has as they are (content types, relationships,
    #: app properties), compressed once
    package: dict[str, Deflated]
    #: Word's parts (styles, numbering, theme, settings), compressed once
    parts: dict[str, Deflated]
    #: the document's relationships when it has no link (most documents)
    rels: Deflated
    #: the numbering part uncompressed: a document with ordered lists adds instances to it
    numbering: bytes
    #: list style id -> its abstract numbering, to restart an ordered list at 1
    abstract_num: dict[str, str]


def _set(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    """``parent``'s child ``w:tag`` (created when missing) with ``w:`` attributes set."""
    child = parent.find(_W + tag)
    if child is None:
        child = etree.SubElement(parent, _W + tag)
    for name, value in attrs.items():
        child.set(_W + name, value)
    return child


@lru_cache(maxsize=1)
def _skeleton() -> _Skeleton:
    """Word's styles, numbering, theme and settings from python-docx's default template, made
    Swedish, trimmed to the styles used (the full set is 350 kB to compress per document)."""
    import docx  # python-docx: imported once, on the first document

    document = docx.Document()
    styles = document.styles.element
    by_id = {s.get(_W + "styleId"): s for s in styles.iterfind(_W + "style")}
    keep = {s.get(_W + "styleId") for s in by_id.values() if s.get(_W + "default") == "1"}
    todo = list(_USED_STYLES)
    while todo:
        sid = todo.pop()
        if sid in keep or sid not in by_id:
            continue
        keep.add(sid)
        todo += [
            ref.get(_W + "val")
            for ref in by_id[sid]
            if ref.tag in (_W + "basedOn", _W + "link", _W + "next")
        ]
    for sid, style in by_id.items():
        if sid not in keep:
            styles.remove(style)
    latent = styles.find(_W + "latentStyles")
    if latent is not None:
        styles.remove(latent)
    for extra in etree.fromstring(f"<x>{_EXTRA_STYLES}</x>"):
        styles.append(extra)
    defaults = styles.find(f"{_W}docDefaults/{_W}rPrDefault/{_W}rPr")
    assert defaults is not None, "python-docx's template has default run properties"
    _set(defaults, "lang", val=LANGUAGE)

    settings = document.settings.element
    _set(settings, "themeFontLang", val=LANGUAGE)
    _set(settings, "decimalSymbol", val=",")
    _set(settings, "listSeparator", val=";")
    for preview in settings.iterfind(_W + "savePreviewPicture"):
        settings.remove(preview)  # no thumbnail: it would show the template, not the document

    parts = {
        str(p.partname).lstrip("/"): p.blob
        for p in document.part.package.iter_parts()
        if str(p.partname).lstrip("/") in _STATIC_PARTS
    }
    numbering = document.part.numbering_part.element
    abstract_of = {
        n.get(_W + "numId"): n.find(_W + "abstractNumId").get(_W + "val")
        for n in numbering.iterfind(_W + "num")
    }
    abstract_num = {}
    for sid in ("ListNumber", "ListNumber2", "ListNumber3"):
        num_id = by_id[sid].find(f"{_W}pPr/{_W}numPr/{_W}numId")
        assert num_id is not None, f"python-docx's {sid} style is numbered"
        abstract_num[sid] = abstract_of[num_id.get(_W + "val")]
    return _Skeleton(
        {
            "[Content_Types].xml": deflate(_CONTENT_TYPES),
            "_rels/.rels": deflate(_PACKAGE_RELS),
            "docProps/app.xml": deflate(_APP),
        },
        {name: deflate(data) for name, data in parts.items()},
        deflate(_document_rels({})),
        parts["word/numbering.xml"],
        abstract_num,
    )


def _document_rels(links: dict[str, str], pictures: int = 0) -> bytes:
    """The document's relationships: Word's parts, the links (href -> relationship id) and
    the pictures (``media/diagramN.png``, relationship ``rIdPN``)."""
    parts = [
        f'<Relationship Id="rId{i}" Type="{R}/{_RELATION[p]}" Target="{p.removeprefix("word/")}"/>'
        for i, p in enumerate(_STATIC_PARTS, start=1)
    ]
    hyperlinks = [
        f'<Relationship Id="{rid}" Type="{R}/hyperlink" Target={quoteattr(href)} '
        'TargetMode="External"/>'
        for href, rid in links.items()
    ]
    images = [
        f'<Relationship Id="rIdP{n}" Type="{R}/image" Target="media/diagram{n}.png"/>'
        for n in range(1, pictures + 1)
    ]
    rels = parts + hyperlinks + images
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships">' + "".join(rels) + "</Relationships>"
    ).encode()


BOLD, ITALIC, CODE = 1, 2, 4
_INLINE_FORMAT = {"b": BOLD, "strong": BOLD, "em": ITALIC, "i": ITALIC, "code": CODE}
_BLOCKS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "table", "div", "svg", "footer"}
_CONTAINERS = ("div", "section", "article", "main", "header", "aside", "body")
_SPACE = re.compile(r"[ \t\r\n\f]+")  # HTML's whitespace; a no-break space is no whitespace
_RIGHT = '<w:p><w:pPr><w:jc w:val="right"/></w:pPr>'  # a number's paragraph in a cell
_HEADING = '<w:p><w:pPr><w:pStyle w:val="Heading'
#: characters XML cannot hold: control characters (bar tab and line ends) as UTF-8 bytes, and
#: U+FFFE and U+FFFF, whose UTF-8 no other character's contains
_NOT_XML = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_NOT_CHARACTERS = ("\ufffe".encode(), "\uffff".encode())

#: a piece of a paragraph: text (``\n`` is a line break), format bits, link target
Segment = tuple[str, int, str | None]
#: a cell's alignment: text left, class ``n`` right, a number right and never broken
LEFT, RIGHT, NUMBER = 0, 1, 2
#: a table cell as read: its columns, its alignment, its characters of text and
#: of its longest word (for the column widths), its runs when they hold no link and else None
#: and the segments to make them of (a link's id is numbered in document order: a caption's
#: come first). A plain tuple: a large region's documents have millions of cells
_Cell = tuple[int, int, int, int, str | None, list[Segment] | None]


@dataclass
class _Body:
    """The document's body as WordprocessingML strings, with its links and numbered lists."""

    skeleton: _Skeleton
    xml: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # href -> relationship id
    pictures: list[bytes] = field(default_factory=list)  # the charts' PNGs, in order
    lists: list[tuple[int, str]] = field(default_factory=list)  # (numId, abstractNumId)
    after_table: bool = False
    #: the current section is landscape (a wide table's)
    landscape: bool = False

    def orient(self, landscape: bool) -> None:
        """Go on in a section of this orientation: the section so far ends here."""
        if landscape != self.landscape:
            xml = self.xml
            if xml:
                # a heading right before goes with what it heads, to the new section
                at = len(xml) - 1 if xml[-1].startswith(_HEADING) else len(xml)
                xml.insert(at, _SECTION_END[self.landscape])
                self.after_table = False
            self.landscape = landscape

    # --- blocks -------------------------------------------------------------------------

    def blocks(self, parent: Element, style: str = "Normal", depth: int = 0) -> None:
        for el in parent:
            if not isinstance(el.tag, str) or hidden(el):
                continue
            tag = el.tag
            if tag == "nav":  # links within the web page; Word navigates by the headings
                continue
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.paragraph(self.segments(el), f"Heading{min(int(tag[1]), 3)}")
            elif tag in ("ul", "ol"):
                self.items(el, depth + 1)
            elif tag == "table":
                self.table(el)
            elif tag == "svg":
                self.chart(el)
            elif tag == "footer":
                self.blocks(el, PROVENANCE_STYLE)
            elif tag == "div" and "key" in (el.get("class") or "").split():
                self.key_figures(el)
            elif tag in _CONTAINERS and any(c.tag in _BLOCKS for c in el):
                self.blocks(el, style, depth)
            elif segments := self.segments(el):
                self.paragraph(segments, style)

    def paragraph(
        self, segments: list[Segment], style: str, props: str = "", *, wide: bool = False
    ) -> None:
        self.orient(wide)
        pstyle = "" if style == "Normal" else f'<w:pStyle w:val="{style}"/>'
        ppr = f"<w:pPr>{pstyle}{props}</w:pPr>" if pstyle or props else ""
        self.xml.append(f"<w:p>{ppr}{self.runs(segments)}</w:p>")
        self.after_table = False

    def items(self, el: Element, depth: int) -> None:
        level = min(depth, 3)
        style = ("ListNumber" if el.tag == "ol" else "ListBullet") + (
            str(level) if level > 1 else ""
        )
        props = ""
        if el.tag == "ol":  # every ordered list starts at 1: a numbering instance of its own
            num_id = 100 + len(self.lists)
            self.lists.append((num_id, self.skeleton.abstract_num[style]))
            props = f'<w:numPr><w:ilvl w:val="0"/><w:numId w:val="{num_id}"/></w:numPr>'
        for li in el:
            if li.tag != "li" or hidden(li):
                continue
            self.paragraph(self.segments(li, skip=("ul", "ol")), style, props)
            for sub in li:
                if sub.tag in ("ul", "ol"):
                    self.items(sub, depth + 1)

    def key_figures(self, el: Element) -> None:
        """``<div><b>12</b>avvikelser</div>``: the figure is a block of its own by CSS; in
        Word it leads the line, in bold."""
        for item in el:
            figure = item.find("b")
            if figure is not None:
                figure.tail = " " + (figure.tail or "")
            self.paragraph(self.segments(item), "Normal")

    def chart(self, svg: Element) -> None:
        """The chart as a picture, with its title and figures as the picture's description;
        then its data as a table, unless a table of its section holds them already."""
        data, width, height = picture.png(svg)
        self.pictures.append(data)
        n = len(self.pictures)
        # CSS pixels at 96 dpi in EMU, shrunk to the text's width when wider
        cx = min(round(width * _EMU_PER_PX), TEXT_WIDTH * _EMU_PER_TWIP)
        cy = round(cx * height / width)
        about = " ".join(
            text_of(el) for el in (svg.find("title"), svg.find("desc")) if el is not None
        )
        self.orient(False)
        self.xml.append(
            f'<w:p><w:pPr><w:keepNext/></w:pPr><w:r><w:drawing><wp:inline distT="0" distB="0" '
            f'distL="0" distR="0"><wp:extent cx="{cx}" cy="{cy}"/><wp:docPr id="{n}" '
            f'name="Diagram {n}" descr={quoteattr(about)}/><wp:cNvGraphicFramePr>'
            f'<a:graphicFrameLocks xmlns:a="{_A}" noChangeAspect="1"/></wp:cNvGraphicFramePr>'
            f'<a:graphic xmlns:a="{_A}"><a:graphicData uri="{_PIC}"><pic:pic xmlns:pic="{_PIC}">'
            f'<pic:nvPicPr><pic:cNvPr id="{n}" name="diagram{n}.png"/><pic:cNvPicPr/>'
            f'</pic:nvPicPr><pic:blipFill><a:blip r:embed="rIdP{n}"/><a:stretch><a:fillRect/>'
            '</a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/>'
            f'<a:ext cx="{cx}" cy="{cy}"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/>'
            "</a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline>"
            "</w:drawing></w:r></w:p>"
        )
        self.after_table = False
        table = chart_data(svg)
        if table is not None:
            self.table(table)

    def table(self, el: Element) -> None:
        # rows by section (header, body, foot), each a list of its cells; a row straight under
        # <table> is the body's
        sections: dict[str, list[list[_Cell]]] = {"thead": [], "tbody": [], "tfoot": []}
        body = sections["tbody"]
        cell = self.cell
        for tr in el.iter("tr"):
            parent = tr.getparent()
            section = parent.tag if parent is not None else "tbody"
            rows_of = sections.get(section, body)
            if rows_of is body:
                section = "tbody"
            rows_of.append([cell(c, section) for c in tr if c.tag == "td" or c.tag == "th"])
        head, foot = sections["thead"], sections["tfoot"]
        rows = [(True, cells) for cells in head if cells]
        rows += [(False, cells) for cells in body if cells]
        rows += [(False, cells) for cells in foot if cells]
        if not rows:
            return  # Word cannot open a table without a cell
        columns = max(sum(c[0] for c in cells) for _, cells in rows)
        widths, wide = _column_widths(rows, columns)
        caption = el.find("caption")
        if caption is not None and not hidden(caption):
            self.paragraph(self.segments(caption), "Caption", "<w:keepNext/>", wide=wide)
        else:
            self.orient(wide)
            if self.after_table:  # two tables in a row would merge into one in Word
                self.paragraph([], "Normal", wide=wide)
        look = 0x0020 * bool(head) + 0x0040 * bool(foot) + 0x0400
        opening = [f'<w:tc><w:tcPr><w:tcW w:w="{w}" w:type="dxa"/></w:tcPr>' for w in widths]
        out = self.xml
        out.append(
            f'<w:tbl><w:tblPr><w:tblStyle w:val="{TABLE_STYLE}"/><w:tblW w:w="5000" w:type="pct"/>'
            f'<w:tblLook w:val="{look:04X}" w:firstRow="{int(bool(look & 0x20))}" '
            f'w:lastRow="{int(bool(look & 0x40))}" w:firstColumn="0" w:lastColumn="0" '
            'w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>'
            + "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
            + "</w:tblGrid>"
        )
        for header, cells in rows:
            out.append("<w:tr><w:trPr><w:tblHeader/></w:trPr>" if header else "<w:tr>")
            col = 0
            for span, align, _, _, xml, segments in cells:
                if span == 1 and col < columns:
                    start = opening[col]
                else:
                    span = min(span, columns - col)
                    if span < 1:
                        break
                    width = sum(widths[col : col + span])
                    start = (
                        f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>'
                        f'<w:gridSpan w:val="{span}"/></w:tcPr>'
                        if span > 1
                        else opening[col]
                    )
                runs = xml if xml is not None else self.runs(segments or [])
                if align == NUMBER:  # a number is never broken over two lines
                    start = start.replace("</w:tcPr>", "<w:noWrap/></w:tcPr>", 1)
                out.append(f"{start}{_RIGHT if align else '<w:p>'}{runs}</w:p></w:tc>")
                col += span
            if col < columns:  # a short row is filled up with empty cells
                out.extend(f"{opening[c]}<w:p/></w:tc>" for c in range(col, columns))
            out.append("</w:tr>")
        out.append("</w:tbl>")
        self.after_table = True

    def cell(self, el: Element, section: str) -> _Cell:
        colspan = el.get("colspan")
        span = int(colspan) if colspan and colspan.isdigit() and int(colspan) > 0 else 1
        classes = el.get("class")
        right = classes is not None and "n" in classes.split()
        number = right and section != "thead"  # a header breaks between its words
        # a row heading is bold; the header row is the table style's
        fmt = BOLD if section != "thead" and el.tag == "th" else 0
        if len(el) == 0:  # most cells: text only, one plain run made here
            text = el.text or ""
            if text.isalnum():  # a word or a count: nothing to collapse or escape
                n = len(text)
                align = NUMBER if number and text.isdecimal() else RIGHT * right
                return span, align, n, n, f"{_RUN_START[fmt]}{text}{_RUN_END}", None
            text = _SPACE.sub(" ", text).strip(" ")
            xml = f"{_RUN_START[fmt]}{_escape(text)}{_RUN_END}" if text else ""
            align = _align(text, right, number)
            return span, align, len(text), _longest_word(text, align), xml, None
        segments = self.segments(el, fmt=fmt)
        text = "".join(t for t, _, _ in segments)
        align = _align(text, right, number)
        return span, align, len(text), _longest_word(text, align), None, segments

    # --- inline -------------------------------------------------------------------------

    def segments(
        self, el: Element, skip: tuple[str, ...] = (), fmt: int = 0, href: str | None = None
    ) -> list[Segment]:
        """The element's text as segments, whitespace collapsed as a browser does."""
        if len(el) == 0:  # most table cells: text only
            text = _SPACE.sub(" ", el.text or "").strip(" ")
            return [(text, fmt, href)] if text else []
        out: list[Segment] = []
        self._collect(el, skip, fmt, href, out)
        # collapse spaces across elements, then trim the paragraph's ends
        cleaned: list[Segment] = []
        space_before = True
        for text, f, h in out:
            if text == "\n":
                cleaned.append((text, f, h))
                space_before = True
                continue
            if space_before:
                text = text.lstrip(" ")
            if text:
                cleaned.append((text, f, h))
                space_before = text.endswith(" ")
        while cleaned and cleaned[-1][0] != "\n" and cleaned[-1][0].endswith(" "):
            text, f, h = cleaned.pop()
            if text.rstrip(" "):
                cleaned.append((text.rstrip(" "), f, h))
                break
        return cleaned

    def _collect(
        self, el: Element, skip: tuple[str, ...], fmt: int, href: str | None, out: list[Segment]
    ) -> None:
        if el.text:
            out.append((_SPACE.sub(" ", el.text), fmt, href))
        for child in el:
            if isinstance(child.tag, str) and child.tag not in skip and not hidden(child):
                if child.tag == "br":
                    out.append(("\n", fmt, href))
                elif child.tag == "svg":
                    out.append((chart_title(child), fmt, href))
                else:
                    link = child.get("href") if child.tag == "a" else None
                    inner = fmt | _INLINE_FORMAT.get(child.tag, 0)
                    self._collect(child, skip, inner, link or href, out)
            if child.tail:
                out.append((_SPACE.sub(" ", child.tail), fmt, href))

    def runs(self, segments: list[Segment]) -> str:
        if len(segments) == 1 and segments[0][2] is None:  # most cells: one plain run
            return _run(segments[0][0], segments[0][1], link=False)
        parts: list[str] = []
        current: str | None = None
        for text, fmt, href in segments:
            if href != current:
                if current is not None:
                    parts.append("</w:hyperlink>")
                if href is not None:
                    rid = self.links.setdefault(href, f"rIdL{len(self.links) + 1}")
                    parts.append(f'<w:hyperlink r:id="{rid}">')
                current = href
            parts.append(_run(text, fmt, link=href is not None))
        if current is not None:
            parts.append("</w:hyperlink>")
        return "".join(parts)


def _align(text: str, right: bool, number: bool) -> int:
    """A cell of class ``n`` is right-aligned; a number in a body cell (``1 234``,
    ``12,5 %``) stays whole, other text (``<5``, ``0 (låg)``) breaks between words."""
    if not right:
        return LEFT
    return NUMBER if number and parse_number(text) is not None else RIGHT


def _longest_word(text: str, align: int) -> int:
    """Characters of what must stay on one line: a number whole (its spaces are no-break
    ones), else the longest word."""
    if align == NUMBER:
        return len(text)
    return max((len(word) for word in text.split()), default=0)


def _column_widths(rows: list[tuple[bool, list[_Cell]]], columns: int) -> tuple[list[int], bool]:
    """Twips per column, and whether the table needs a landscape page. Each column is at
    least as wide as its longest number or word (a header breaks between words, never inside
    one); what is left of the text width goes to the columns in proportion to their longest
    text (within bounds). Word refits the widths when the document is edited."""
    least = [3] * columns
    longest = [4] * columns
    for _, cells in rows:
        col = 0
        for span, _, length, word, _, _ in cells:
            if col >= columns:
                break
            if span == 1:
                least[col] = max(least[col], min(word, 30))
                longest[col] = max(longest[col], min(length, 40))
            col += span
    needed = [CHAR_W * n + CELL_PADDING for n in least]
    wide = sum(needed) > TEXT_WIDTH
    width = WIDE_TEXT_WIDTH if wide else TEXT_WIDTH
    spare = max(width - sum(needed), 0)
    extra = [max(n - m, 0) for n, m in zip(longest, least, strict=True)]
    total = sum(extra) or 1
    widths = [w + spare * e // total for w, e in zip(needed, extra, strict=True)]
    if not any(extra):
        widths = [w + spare // columns for w in widths]
    return widths, wide


def _run_properties(fmt: int, link: bool) -> str:
    props = (
        ('<w:rStyle w:val="Hyperlink"/>' if link else "")
        + ('<w:rFonts w:ascii="Consolas" w:hAnsi="Consolas"/>' if fmt & CODE else "")
        + ("<w:b/>" if fmt & BOLD else "")
        + ("<w:i/>" if fmt & ITALIC else "")
    )
    return f"<w:rPr>{props}</w:rPr>" if props else ""


#: a run's properties and its start up to its text, by format bits (``_LINK`` added for a
#: hyperlink's run): made once, a document has thousands of runs
_LINK = 8
_PROPERTIES = tuple(_run_properties(f & ~_LINK, bool(f & _LINK)) for f in range(2 * _LINK))
_RUN_START = tuple(f'<w:r>{props}<w:t xml:space="preserve">' for props in _PROPERTIES)
_RUN_END = "</w:t></w:r>"


def _escape(text: str) -> str:
    """XML's character data (as ``xml.sax.saxutils.escape``, without its function calls)."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _run(text: str, fmt: int, *, link: bool) -> str:
    key = fmt | _LINK if link else fmt
    if "\n" not in text:
        return f"{_RUN_START[key]}{_escape(text)}{_RUN_END}"
    body = "<w:br/>".join(
        f'<w:t xml:space="preserve">{_escape(line)}</w:t>' if line else ""
        for line in text.split("\n")
    )
    return f"<w:r>{_PROPERTIES[key]}{body}</w:r>"


def _xml_bytes(xml: str) -> bytes:
    """``xml`` in UTF-8 without the characters XML cannot hold (control characters in imported
    text are dropped). Done on the bytes: a regular expression over the text takes four times
    as long, and the document is the largest part."""
    data = xml.encode().translate(None, _NOT_XML)
    if b"\xef\xbf" in data:
        for bad in _NOT_CHARACTERS:
            data = data.replace(bad, b"")
    return data


def _core(title: str, description: str, created: datetime) -> bytes:
    stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>arshjul</dc:creator>"
        f"<dc:description>{escape(description)}</dc:description>"
        f"<dc:language>{LANGUAGE}</dc:language><cp:lastModifiedBy>arshjul</cp:lastModifiedBy>"
        "<cp:revision>1</cp:revision>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    ).encode()


def _provenance_text(footer: Element | None) -> str:
    """The footer's paragraphs on one line: the document's description in its properties."""
    if footer is None:
        return ""
    return " ".join(text_of(p) for p in footer.iter("p")) or text_of(footer)


def docx_bytes(root: Element, *, created: datetime) -> bytes:
    """The DOCX of a parsed HTML document. ``created`` (the provenance's time) is the
    document's creation and modification time and the zip entries' timestamp."""
    skeleton = _skeleton()
    body = _Body(skeleton)
    html_body = root.find("body")
    body.blocks(html_body if html_body is not None else root)
    document = _xml_bytes(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{W}" xmlns:r="{R}" xmlns:wp="{WP}"><w:body>'
        + "".join(body.xml)
        + _section(body.landscape)
        + "</w:body></w:document>"
    )
    parts: dict[str, bytes | Deflated] = dict(skeleton.parts)
    if body.lists:
        extra = "".join(
            f'<w:num w:numId="{n}"><w:abstractNumId w:val="{a}"/><w:lvlOverride w:ilvl="0">'
            '<w:startOverride w:val="1"/></w:lvlOverride></w:num>'
            for n, a in body.lists
        )
        parts["word/numbering.xml"] = skeleton.numbering.replace(
            b"</w:numbering>", extra.encode() + b"</w:numbering>"
        )
    head_title = root.find("head/title")
    footer = root.find(".//footer")
    package = skeleton.package
    return stable_zip(
        [
            ("[Content_Types].xml", package["[Content_Types].xml"]),
            ("_rels/.rels", package["_rels/.rels"]),
            (
                "docProps/core.xml",
                _core(
                    text_of(head_title) if head_title is not None else "",
                    _provenance_text(footer),
                    created,
                ),
            ),
            ("docProps/app.xml", package["docProps/app.xml"]),
            ("word/document.xml", document),
            (
                "word/_rels/document.xml.rels",
                _document_rels(body.links, len(body.pictures))
                if body.links or body.pictures
                else skeleton.rels,
            ),
            *parts.items(),
            *(
                (f"word/media/diagram{n}.png", data)
                for n, data in enumerate(body.pictures, start=1)
            ),
        ],
        created,
    )


def write_docx(path: Path, root: Element, *, created: datetime) -> Path:
    return write_bytes_atomic(path, docx_bytes(root, created=created))

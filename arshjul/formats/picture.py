"""A chart's SVG as a PNG picture, for the DOCX: Word and LibreOffice show a picture where our
inline SVG would be lost.

Only the SVG our templates draw is read (``macros.html.j2``: rect, line, polyline, circle and
text, with their presentation attributes; CSS classes and anything else are not drawn), and it
is drawn with Pillow at twice its size in Lato (the ``font-lato`` package): no system library
and no font to install. The same SVG gives the same bytes. The large region's documents hold
~15,000 charts, so the cost counts: a palette image (a chart has a few colours) at zlib level 1
is ~2.5 ms of CPU a chart in all, where an RGB one took ~16 ms to encode alone.
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib.resources import files

from PIL import Image, ImageDraw, ImageFont

from arshjul.formats.tables import Element

SCALE = 2
_ANCHOR = {"start": "ls", "middle": "ms", "end": "rs"}


@lru_cache(maxsize=16)
def _font(size: float, bold: bool) -> ImageFont.FreeTypeFont:
    name = "Lato-Bold.ttf" if bold else "Lato-Regular.ttf"
    with (files("font_lato") / "files" / name).open("rb") as font:
        return ImageFont.truetype(
            io.BytesIO(font.read()), round(size * SCALE), layout_engine=ImageFont.Layout.BASIC
        )


@lru_cache(maxsize=4096)
def _lettering(
    content: str, size: float, bold: bool, anchor: str
) -> tuple[Image.Image, tuple[int, int]]:
    """A text as a mask, and where its corner is from the text's anchor point. Kept: the
    same ticks, months and legends recur in every chart, and FreeType takes ~1 ms a text."""
    font = _font(size, bold)
    left, top, right, bottom = (round(v) for v in font.getbbox(content, anchor=anchor))
    mask = Image.new("1", (max(right - left, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(mask).text((-left, -top), content, fill=1, font=font, anchor=anchor)
    return mask, (left, top)


def _number(el: Element, name: str, default: float = 0.0) -> float:
    value = el.get(name)
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _paint(el: Element, name: str) -> str | None:
    value = el.get(name)
    return None if value in (None, "none", "transparent") else value


def _points(text: str) -> list[tuple[float, float]]:
    pairs = [p.split(",") for p in text.split()]
    return [(float(x) * SCALE, float(y) * SCALE) for x, y in pairs]


def _dashed(
    draw: ImageDraw.ImageDraw,
    points: list[tuple[float, float]],
    colour: str,
    width: int,
    dashes: list[float],
) -> None:
    """A line along ``points`` in dashes of ``dashes`` (on, off, … in pixels)."""
    pattern = [d * SCALE for d in dashes] or [1.0]
    index, left, on = 0, pattern[0], True
    for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
        length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
        done = 0.0
        while done < length:
            step = min(left, length - done)
            if on:
                a, b = done / length, (done + step) / length
                start = (x1 + (x2 - x1) * a, y1 + (y2 - y1) * a)
                end = (x1 + (x2 - x1) * b, y1 + (y2 - y1) * b)
                draw.line([start, end], fill=colour, width=width)
            done += step
            left -= step
            if left <= 0:
                index = (index + 1) % len(pattern)
                left, on = pattern[index], not on


def _stroke(draw: ImageDraw.ImageDraw, el: Element, points: list[tuple[float, float]]) -> None:
    colour = _paint(el, "stroke")
    if colour is None or len(points) < 2:
        return
    width = max(round(_number(el, "stroke-width", 1) * SCALE), 1)
    dashes = el.get("stroke-dasharray")
    if dashes:
        _dashed(draw, points, colour, width, [float(d) for d in dashes.replace(",", " ").split()])
    else:
        draw.line(points, fill=colour, width=width, joint="curve")


def png(svg: Element) -> tuple[bytes, float, float]:
    """The picture, and the SVG's width and height in CSS pixels."""
    width, height = _number(svg, "width", 600), _number(svg, "height", 200)
    image = Image.new("P", (round(width * SCALE), round(height * SCALE)), 0)
    image.putpalette((255, 255, 255))
    draw = ImageDraw.Draw(image)
    for el in svg.iter("rect", "line", "polyline", "circle", "text"):
        tag = el.tag
        if tag == "rect":
            x, y = _number(el, "x") * SCALE, _number(el, "y") * SCALE
            w, h = _number(el, "width") * SCALE, _number(el, "height") * SCALE
            fill = _paint(el, "fill")
            if fill is not None and w > 0 and h > 0:
                draw.rectangle([x, y, x + w, y + h], fill=fill, outline=_paint(el, "stroke"))
        elif tag == "line":
            ends = [
                (_number(el, "x1") * SCALE, _number(el, "y1") * SCALE),
                (_number(el, "x2") * SCALE, _number(el, "y2") * SCALE),
            ]
            _stroke(draw, el, ends)
        elif tag == "polyline":
            _stroke(draw, el, _points(el.get("points", "")))
        elif tag == "circle":
            cx, cy = _number(el, "cx") * SCALE, _number(el, "cy") * SCALE
            r = _number(el, "r") * SCALE
            draw.ellipse(
                [cx - r, cy - r, cx + r, cy + r],
                fill=_paint(el, "fill"),
                outline=_paint(el, "stroke"),
            )
        else:
            content = "".join(el.itertext()).strip()
            if not content:
                continue
            mask, (dx, dy) = _lettering(
                content,
                _number(el, "font-size", 11),
                el.get("font-weight") == "bold",
                _ANCHOR.get(el.get("text-anchor", "start"), "ls"),
            )
            at = (round(_number(el, "x") * SCALE + dx), round(_number(el, "y") * SCALE + dy))
            draw.bitmap(at, mask, fill=_paint(el, "fill") or "#333333")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False, compress_level=1)
    return out.getvalue(), width, height

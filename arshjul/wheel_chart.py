"""The årshjul drawn as a circle: twelve month sectors, a ring per level, a mark per deadline.

Geometry only, as in :mod:`arshjul.charts`: the template draws it as SVG. January begins at
the top and the year runs clockwise; a deadline's mark sits at its day's angle in its level's
ring, moved outwards or inwards when it would cover a mark close to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from arshjul.config import LEVEL_SV, LEVELS
from arshjul.milestone_status import PROGRESS_SV, Tally
from arshjul.workdays import Due

MONTHS_SV = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)
SIZE = 720  # room for the month names around the rim
CENTRE = SIZE / 2
HUB_RADIUS = 92  # the year in the middle
RIM_RADIUS = 276  # outer edge of the outermost ring
LABEL_RADIUS = 298  # month names
MARK_RADIUS = 7
#: marks closer than this (degrees) share a ring only in different lanes
_MIN_GAP_DEGREES = 4.5
_LANES = (0.0, -0.3, 0.3)  # offsets from a ring's middle, as a share of its width


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class MonthSector:
    name: str
    #: where the month's boundary line meets the hub and the rim
    start_inner: Point
    start_outer: Point
    label: Point


@dataclass(frozen=True)
class Ring:
    level: str
    label: str
    radius: float  # the middle of the ring
    width: float
    label_at: Point


@dataclass(frozen=True)
class Mark:
    at: Point
    #: done, overdue, upcoming or none: the CSS class and the legend's key
    progress: str
    title: str
    #: the milestone's number in the wheel's key, written in the mark
    number: int


@dataclass(frozen=True)
class KeyEntry:
    """A milestone named by its number on the wheel, with its dates per level."""

    number: int
    title: str
    dates: str


@dataclass(frozen=True)
class WheelChart:
    size: int
    centre: float
    hub_radius: float
    rim_radius: float
    year: int
    months: tuple[MonthSector, ...]
    rings: tuple[Ring, ...]
    marks: tuple[Mark, ...]
    #: the hand pointing at today, when today is in the year
    today: Point | None
    #: the milestones by number, in the order of their first date
    key: tuple[KeyEntry, ...]


def wheel_chart(year: int, dues: Sequence[tuple[Due, Tally | None]], today: date) -> WheelChart:
    """The wheel of ``year`` with each deadline's mark coloured by its ``Tally``."""
    key = _key(dues)
    numbers = {entry.title: entry.number for entry in key}
    levels = [level for level in LEVELS if any(d.deadline.level == level for d, _ in dues)]
    width = (RIM_RADIUS - HUB_RADIUS) / max(len(levels), 1)
    # the region outermost: its deadlines are the most and need the longest circle
    radii = {level: RIM_RADIUS - width * (i + 0.5) for i, level in enumerate(levels)}
    rings: list[Ring] = []
    marks: list[Mark] = []
    for level in levels:
        lanes: list[float] = [-math.inf] * len(_LANES)
        angles = []
        for due, tally in sorted((p for p in dues if p[0].deadline.level == level), key=_when):
            angle = _angle(due.date)
            lane = next((i for i, last in enumerate(lanes) if angle - last >= _MIN_GAP_DEGREES), 0)
            lanes[lane] = angle
            angles.append(angle)
            radius = radii[level] + _LANES[lane] * width
            marks.append(
                Mark(
                    _polar(angle, radius),
                    _progress(tally),
                    _mark_title(due, tally),
                    numbers[due.title],
                )
            )
        label_at = _polar(_middle_of_widest_gap(angles), radii[level])
        rings.append(Ring(level, LEVEL_SV[level], radii[level], width, label_at))
    months = tuple(
        MonthSector(
            name,
            _polar(_angle(date(year, m, 1), start=True), HUB_RADIUS),
            _polar(_angle(date(year, m, 1), start=True), RIM_RADIUS),
            _polar(_angle(date(year, m, 15)), LABEL_RADIUS),
        )
        for m, name in enumerate(MONTHS_SV, start=1)
    )
    hand = _polar(_angle(today), RIM_RADIUS) if today.year == year else None
    return WheelChart(
        SIZE, CENTRE, HUB_RADIUS, RIM_RADIUS, year, months, tuple(rings), tuple(marks), hand, key
    )


#: a level's dates listed one by one up to this many; more are said as a count and a span
_DATES_LISTED = 4


def _key(dues: Sequence[tuple[Due, Tally | None]]) -> tuple[KeyEntry, ...]:
    """Each milestone (by its title in the year) numbered in the order of its first date,
    with its dates by level, the earliest first: "enhet 20 januari; område 31 januari; region
    7 februari"."""
    by_title: dict[str, dict[str, list[date]]] = {}
    for due, _ in sorted(dues, key=_when):
        by_title.setdefault(due.title, {}).setdefault(due.deadline.level, []).append(due.date)
    entries = []
    for number, (title, levels) in enumerate(by_title.items(), start=1):
        parts = []
        for level, days in sorted(levels.items(), key=lambda item: item[1][0]):
            if len(days) > _DATES_LISTED:
                said = f"{len(days)} gånger, {_day(days[0])}–{_day(days[-1])}"
            else:
                said = ", ".join(_day(d) for d in days)
            parts.append(f"{LEVEL_SV[level]} {said}")
        entries.append(KeyEntry(number, title, "; ".join(parts)))
    return tuple(entries)


def _day(day: date) -> str:
    return f"{day.day} {MONTHS_SV[day.month - 1]}"


def _middle_of_widest_gap(angles: Sequence[float]) -> float:
    """Where a ring's name covers no mark: halfway through its longest stretch without any."""
    if not angles:
        return 180.0
    ordered = sorted(angles)
    gaps = [(b - a, a) for a, b in zip(ordered, [*ordered[1:], ordered[0] + 360], strict=True)]
    length, start = max(gaps)
    return (start + length / 2) % 360


def _when(pair: tuple[Due, Tally | None]) -> tuple[date, str]:
    return pair[0].date, pair[0].milestone.id


def _angle(day: date, *, start: bool = False) -> float:
    """Degrees clockwise from the top: the middle of ``day``, or its beginning."""
    days_in_year = (date(day.year, 12, 31) - date(day.year, 1, 1)).days + 1
    position = day.timetuple().tm_yday - (1.0 if start else 0.5)
    return 360.0 * position / days_in_year


def _polar(degrees: float, radius: float) -> Point:
    theta = math.radians(degrees)
    x, y = CENTRE + radius * math.sin(theta), CENTRE - radius * math.cos(theta)
    return Point(round(x, 1), round(y, 1))


def _progress(tally: Tally | None) -> str:
    return "none" if tally is None else str(tally.progress)


def _mark_title(due: Due, tally: Tally | None) -> str:
    level = LEVEL_SV[due.deadline.level]
    text = f"{due.date.isoformat()}: {due.title} ({level}, {due.deadline.owner_role})"
    if tally is None:
        return text
    why = f": {tally.reason}" if tally.reason else ""
    return f"{text} – {PROGRESS_SV[tally.progress]}, {tally.counted}{why}"

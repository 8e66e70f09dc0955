"""Turning one cell's text into a value, or a reason why it cannot be one.

Each converter raises ``ValueError`` with a reason a person can act on; the importer adds the
file, line, column and value.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

Converter = Callable[[str], Any]


def memoised(convert: Converter) -> Converter:
    """``convert`` with its answers remembered: exports repeat the same codes and dates
    hundreds of thousands of times. Refusals are not cached (each is reported anyway)."""
    cache: dict[str, Any] = {}

    def cached(value: str) -> Any:
        try:
            return cache[value]
        except KeyError:
            result = cache[value] = convert(value)
            return result

    return cached


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?")
TRUE = frozenset({"ja", "yes", "1", "x", "true", "sant"})
FALSE = frozenset({"nej", "no", "0", "", "false", "falskt"})
EARLIEST = date(1990, 1, 1)


def normalise(text: str) -> str:
    """Case-, accent-, space-, hyphen- and underscore-insensitive form for matching."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c not in " -_\u00a0")


def suggest(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x', 'y'?)`` or nothing."""
    close = difflib.get_close_matches(value, list(choices), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def text(max_length: int) -> Converter:
    def convert(value: str) -> str | None:
        value = value.strip()
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        return value or None

    return convert


def iso_date(today: date) -> Converter:
    @memoised
    def convert(value: str) -> date | None:
        value = value.strip()
        if not value:
            return None
        match = _DATE.fullmatch(value)
        if not match:
            raise ValueError("not a date as YYYY-MM-DD")
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise ValueError("no such date") from None
        if day < EARLIEST:
            raise ValueError(f"before {EARLIEST.isoformat()}: out of range")
        if day > today:
            raise ValueError(f"in the future (today is {today.isoformat()})")
        return day

    return convert


def month(today: date) -> Converter:
    """``YYYY-MM`` (or a full date) as the first day of that month."""
    as_date = iso_date(today)

    def convert(value: str) -> date | None:
        value = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}", value):
            value += "-01"
        day = as_date(value)
        return day.replace(day=1) if day else None

    return convert


@memoised
def boolean(value: str) -> bool:
    key = value.strip().casefold()
    if key in TRUE:
        return True
    if key in FALSE:
        return False
    raise ValueError("not a yes/no value (ja/nej, yes/no, 1/0, x or empty)")


def number(*, minimum: float = 0, integer: bool = False) -> Converter:
    def convert(value: str) -> float | int | None:
        cleaned = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if not cleaned:
            return None
        try:
            parsed = float(cleaned)
        except ValueError:
            raise ValueError("not a number") from None
        if parsed != parsed or parsed in (float("inf"), float("-inf")):
            raise ValueError("not a number")
        if parsed < minimum:
            raise ValueError(f"below {minimum:g}")
        if integer:
            if not parsed.is_integer():
                raise ValueError("not a whole number")
            return int(parsed)
        return parsed

    return convert


def choice(mapping: Mapping[str, Any], what: str) -> Converter:
    """One of ``mapping``'s keys, matched by :func:`normalise`; empty gives None."""
    lookup = {normalise(k): v for k, v in mapping.items()}
    shown = list(mapping)

    @memoised
    def convert(value: str) -> Any:
        if not value.strip():
            return None
        try:
            return lookup[normalise(value)]
        except KeyError:
            raise ValueError(f"not a known {what}{suggest(value.strip(), shown)}") from None

    return convert


def scale(labels: Mapping[int, str], what: str) -> Converter:
    """1..n, or the scale's label (``Måttlig`` for 2)."""
    mapping: dict[str, int] = {str(k): k for k in labels}
    mapping.update({v: k for k, v in labels.items()})
    return choice(mapping, f"{what} ({', '.join(f'{k} {v}' for k, v in labels.items())})")

"""Turning one cell's text into a value, or a reason why it cannot be one.

A parser gets the cell stripped and never empty (the importer handles empty cells and remembers
each distinct value's answer) and raises ``ValueError`` with a reason a person can act on; the
importer adds file, line, column and value.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from arshjul.importers import personnummer

Parser = Callable[[str], Any]

_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    # a time part is allowed and ignored (2025-03-01 14:30, 2025-03-01T14:30:00+01:00), but
    # it must be a time of day: hours 0-23 (24:00 ends a day), minutes and seconds 0-59,
    # an offset up to 14 hours
    r"(?:[ T](?:(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]+)?)?|24:00(?::00)?)"
    r"(?:Z|[+-](?:0[0-9]|1[0-4]):?[0-5][0-9])?)?"
)
_DATE_AND_SOMETHING = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:.,+Z-]*")
EARLIEST = date(1990, 1, 1)
TRUE = frozenset({"ja", "yes", "1", "x", "true", "sant"})
FALSE = frozenset({"nej", "no", "0", "false", "falskt"})
_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")
#: a whole number; ``12,0`` and ``12.0`` too (a number cell formatted with decimals)
_WHOLE = re.compile(r"\+?([0-9]+)(?:[.,]0+)?")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")
#: the largest count the database stores (a 32-bit integer column on PostgreSQL)
LARGEST_COUNT = 2**31 - 1
#: the largest amount taken: beyond it a number is a typing error (costs are in SEK)
LARGEST_AMOUNT = 1e15
#: an e-mail address; a phone number, Swedish (070-123 45 67, 08-123 456 78) or international
#: (+46 70 123 45 67, 0046 …): 7 to 13 digits, grouped by spaces, dashes, slashes, parentheses,
#: dots. Both are looked for in the text as :func:`personnummer.normalised` writes it
#: (``070–123``, ``anna＠example.se``, ``anna&#64;example.se`` are found too), an address with
#: its ``@`` and dots spaced or written out so that a harvester does not see them too
_EMAIL = re.compile(
    # the address's name starts a word (so each word is tried once, however long)
    r"(?<![^\s@<>()\[\]{},;:\"'])[^\s@<>()\[\]{},;:\"']+"
    # the @ spaced, or in brackets: (at), [at], {at}, (snabel-a); dots as (dot), [punkt]
    r"(?: ?@ ?| ?[(\[{] ?(?:at|@|snabel-a) ?[)\]}] ?)"
    r"(?:[^\s@<>()\[\]{},;:\"'.]+(?:\.| ?[(\[{] ?(?:dot|punkt|\.) ?[)\]}] ?| (?:dot|punkt) ))+"
    r"[^\W\d_]{2,}"
    # or as words: anna at example dot se, anna snabel-a example punkt se; the top-level
    # domain then one that is common, a whole word, so that a misspelt "att" before a file's
    # name (at rutin.pdf) or the word "punkt" in a sentence is no address
    r"|(?<![^\s@<>()\[\]{},;:\"'])[^\s@<>()\[\]{},;:\"']+ (?:at|snabel-a) "
    r"(?:[^\s@<>()\[\]{},;:\"'.]+(?:\.| ?[(\[{] ?(?:dot|punkt) ?[)\]}] ?| (?:dot|punkt) ))+"
    r"(?:[a-z]{2}|com|net|org|info|biz|edu|gov)(?!\w)",
    re.IGNORECASE,
)
_PHONE = re.compile(
    # not inside a date (2027-03-15-2027-04-01) nor a longer word or number; in the lines of
    # a cell too
    r"(?<![\w+])(?<![0-9][-./])(?:(?:\+|00)[1-9][0-9]?|0)[ \n()/.-]{0,3}[1-9]"
    r"(?:[ \n()/.-]{0,3}[0-9]){5,11}(?![0-9])"
)
#: at most this many distinct values per column get close matches suggested: a file written
#: against the wrong organisation must not spend minutes in difflib
SUGGESTIONS_PER_COLUMN = 25
#: where each kind of published text is published, and what to write instead
IN_THE_ACTION_PLAN = (
    "it is published in the action plan; write a role (Enhetschef) instead of a person's"
    " contact details"
)
IN_EVERY_DOCUMENT = (
    "a unit's name is published in every document and calendar of the unit; leave the"
    " contact details out of the organisation file"
)


def normalise(text: str) -> str:
    """Case-, accent-, space-, hyphen- and underscore-insensitive form for matching."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(
        c for c in decomposed if not unicodedata.combining(c) and not c.isspace() and c not in "-_"
    )


class Suggester:
    """`` (did you mean 'x' or 'y'?)`` for a value not among ``choices``.

    ``choices`` maps what is compared (case-folded) to what is shown, so a unit can be found
    by its id or its name and shown as ``'E1' (Enhet Ett)``.
    """

    def __init__(self, choices: Mapping[str, str]):
        self.choices = choices
        self.left = SUGGESTIONS_PER_COLUMN

    @classmethod
    def of_units(cls, names: Mapping[str, str | None]) -> Suggester:
        """Suggests unit ids (``names`` maps id -> name), found by id or by name."""
        choices = {name.casefold(): f"{uid!r} ({name})" for uid, name in names.items() if name}
        choices.update({uid.casefold(): repr(uid) for uid in names})
        return cls(choices)

    def __call__(self, value: str) -> str:
        if self.left <= 0:
            return ""
        self.left -= 1
        close = difflib.get_close_matches(value.casefold(), list(self.choices), n=3)
        shown = list(dict.fromkeys(self.choices[c] for c in close))
        return f" (did you mean {' or '.join(shown)}?)" if shown else ""


def text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        return value

    return parse


def published_text(max_length: int, published: str) -> Parser:
    """Text that is published as it is (an action's title in the action plan's HTML, DOCX
    and CSV, a unit's name everywhere): no e-mail address nor phone number; ``published``
    says where it is published and what to write instead. A personnummer is refused in every
    column already."""
    within = text(max_length)

    def parse(value: str) -> str:
        searched = personnummer.normalised(value)
        found = [what for what, pattern in _CONTACT_DETAILS if pattern.search(searched)]
        if found:
            raise ValueError(f"contains {' and '.join(found)}: {published}")
        return within(value)

    return parse


_CONTACT_DETAILS = (
    ("an e-mail address (e-postadress)", _EMAIL),
    ("a phone number (telefonnummer)", _PHONE),
)


def mask_contact_details(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers masked: only their first characters
    are shown, enough to find them in the file. Normalised (see
    :func:`personnummer.normalised`) if it has any, else as it is."""
    searched = personnummer.normalised(text)
    masked = _EMAIL.sub(lambda m: m.group()[0] + "***@***", searched)
    masked = _PHONE.sub(lambda m: m.group()[:3] + "***", masked)
    return text if masked == searched else masked


def iso_date(today: date, *, years_ahead: int = 0) -> Callable[[str], date]:
    """A date ``YYYY-MM-DD`` from 1990 up to ``today``; a time after it is ignored.

    With ``years_ahead``, a date up to the end of that many years after this one (a plan's
    due date): further ahead is a typing error in the year far more often than a plan.
    """
    latest = today if not years_ahead else date(today.year + years_ahead, 12, 31)
    too_late = (
        f"in the future (today is {today.isoformat()})"
        if not years_ahead
        else f"after {latest.isoformat()}: out of range, check the year"
    )

    def parse(value: str) -> date:
        match = _DATE.fullmatch(value)
        if not match:
            if _DATE_AND_SOMETHING.fullmatch(value):
                raise ValueError("no such time of day: a time after the date must be 00:00-23:59")
            raise ValueError("not a date as YYYY-MM-DD")
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise ValueError("no such date") from None
        if day < EARLIEST:
            raise ValueError(f"before {EARLIEST.isoformat()}: out of range, check the year")
        if day > latest:
            raise ValueError(too_late)
        return day

    return parse


def month(today: date) -> Parser:
    """A month ``YYYY-MM`` (or any date in it) from 1990 up to this month, as its first day."""
    any_day = iso_date(today)

    def parse(value: str) -> date:
        match = _MONTH.fullmatch(value)
        if not match:
            try:
                return any_day(value).replace(day=1)
            except ValueError as exc:
                if str(exc).startswith("not a date"):
                    raise ValueError("not a month as YYYY-MM") from None
                raise
        if not 1 <= int(match[2]) <= 12:
            raise ValueError("no such month")
        first = date(int(match[1]), int(match[2]), 1)
        if first < EARLIEST:
            raise ValueError(f"before {EARLIEST.isoformat()[:7]}: out of range, check the year")
        if first > today:
            raise ValueError(f"in the future (this month is {today.isoformat()[:7]})")
        return first

    return parse


def boolean(value: str) -> bool:
    """ja/nej, yes/no, 1/0 or x (an empty cell is nej, handled by the column's default)."""
    key = value.casefold()
    if key in TRUE:
        return True
    if key in FALSE:
        return False
    raise ValueError("not a yes/no value (ja/nej, yes/no, 1/0, x or empty)")


def number(value: str) -> float:
    """A decimal number with a decimal comma or point; spaces group thousands (1 234,5)."""
    compact = "".join(value.split())
    if not _NUMBER.fullmatch(compact):
        raise ValueError("not a number (like 12 or 12,5)")
    return float(compact.replace(",", "."))


def amount(value: str) -> float:
    """A :func:`number` that is not below zero (beds, costs, planned and actual volumes) nor
    above :data:`LARGEST_AMOUNT`."""
    parsed = number(value)
    if parsed < 0:
        raise ValueError("below zero: must be 0 or more")
    if parsed > LARGEST_AMOUNT:
        raise ValueError("too large: at most 1 000 000 000 000 000")
    return parsed


def count(value: str) -> int:
    """A whole number, 0 or more (patients, days); spaces group thousands (12 345)."""
    compact = "".join(value.split())
    whole = _WHOLE.fullmatch(compact)
    if whole:
        digits = whole[1].lstrip("0") or "0"
        if len(digits) > 10 or int(digits) > LARGEST_COUNT:  # int() of 10⁵ digits is slow
            raise ValueError(f"too large: at most {LARGEST_COUNT:,}".replace(",", " "))
        return int(digits)
    if not _NUMBER.fullmatch(compact):
        raise ValueError("not a whole number (like 0, 12 or 1 234)")
    if compact.startswith("-"):
        raise ValueError("below zero: must be 0 or more")
    raise ValueError("not a whole number")


def choice(mapping: Mapping[str, Any], what: str) -> Parser:
    """One of ``mapping``'s keys, matched by :func:`normalise`, as its value."""
    lookup = {normalise(k): v for k, v in mapping.items()}
    suggest = Suggester({k.casefold(): repr(k) for k in mapping})

    def parse(value: str) -> Any:
        try:
            return lookup[normalise(value)]
        except KeyError:
            raise ValueError(f"not a known {what}{suggest(value)}") from None

    return parse


def code(names: Iterable[str], what: str) -> Parser:
    """One of a code list, matched ignoring case, as the code list spells it."""
    return choice({n: n for n in names}, what)


def scale(labels: Mapping[int, str], what: str) -> Parser:
    """A step of a scale as its number or its label (``2`` or ``Måttlig``)."""
    mapping: dict[str, int] = {str(k): k for k in labels}
    mapping.update({label: k for k, label in labels.items()})
    steps = ", ".join(f"{k} {label}" for k, label in labels.items())
    return choice(mapping, f"{what} ({steps})")

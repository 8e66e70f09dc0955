"""Swedish personal identity numbers in input values: found, checked and masked.

A personnummer is ``YYMMDD-NNNC`` or ``YYYYMMDDNNNC`` (the separator is ``-`` or ``+``, a space,
or left out); a samordningsnummer is the same with 60 added to the day. ``C`` is a Luhn check
digit over the other nine digits of the ten-digit form. Only digit runs of exactly that shape,
with a real date and a valid check digit, count: ISO dates, HSA-ids (whose "month" is 20 or
more) and most case numbers are not mistaken for one. A 10-digit case number that happens to
have a date part and a valid check digit is: better to refuse a file than to store a person's
identity.

People and programs write the same number in many ways, so values are searched in a
normalised form (:func:`normalised`): Unicode NFKC (full-width digits become ``0``–``9``),
every dash ``-`` (en dash, minus sign, non-breaking hyphen, …), every space `` `` (no-break,
thin, …), invisible format characters (soft hyphen, zero-width space, byte-order mark) left
out. The separator before the last four digits may have spaces around it (``850317 - 2341``),
and the date may be written as a date (``1966-12-31-7740``).

The scan runs over the distinct values of a column joined into one string, so a column of
200,000 rows with a few thousand distinct values costs one regular-expression pass over those.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date

#: the date part (century optional, day up to 31 or 61–91; ``-`` between its parts or not),
#: the separator and four digits; the regular expression cannot cheaply check the character
#: before, so ``_is_personnummer`` does
_CANDIDATE = re.compile(
    r"((?:18|19|20)[0-9]{2}|[0-9]{2})(-?)(0[1-9]|1[0-2])\2"
    r"(0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
    r"( *[-+]? *)([0-9]{4})(?![0-9])"
)
#: what every personnummer has, in the normalised text: found at C speed by a regular
#: expression that starts with a digit class (``_suspects``), five times faster than
#: :data:`_CANDIDATE` can look; month and day narrowed enough that ids such as
#: ``AVV-2024-000001`` are not suspects
_SUSPECT = re.compile(r"[0-9]{2}-?[01][0-9]-?[0-36-9][0-9] *[-+]? *[0-9]{4}(?![0-9])")
#: every dash of Unicode (category Pd), the minus sign and the hyphen bullet
_DASHES = re.compile(
    "[\u058a\u05be\u1400\u1806\u2010-\u2015\u2043\u2212\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d"
    "\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead]"
)
#: every invisible format character of Unicode (category Cf)
_FORMAT = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
#: any whitespace but the plain space (Python's ``\s`` is Unicode's)
_SPACES = re.compile(r"[^\S ]")
#: a decimal digit other than 0–9 (Arabic-Indic, Devanagari, …): NFKC keeps them
_OTHER_DIGIT = re.compile(r"[^\D0-9]")
#: joins distinct values for one scan; the reader refuses files containing it
_SEPARATOR = "\0"


def normalised(text: str) -> str:
    """``text`` as it is searched: NFKC, every dash ``-``, every space `` ``, format characters
    left out, every decimal digit 0–9. ASCII text stays as it is (but for tabs and other
    control spaces), at the speed of one check."""
    if text.isascii():
        return _SPACES.sub(" ", text) if _SPACES.search(text) else text
    if not unicodedata.is_normalized("NFKC", text):  # Swedish text usually is: checked in C
        text = unicodedata.normalize("NFKC", text)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:  # beyond Latin-1: every kind of dash, invisible, digit
        text = _OTHER_DIGIT.sub(_ascii_digit, _DASHES.sub("-", _FORMAT.sub("", text)))
    else:  # Latin-1, as Swedish text is: its one invisible character, no other dash or digit
        text = text.replace("\u00ad", "")
    return _SPACES.sub(" ", text)


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch) * (2 - i % 2)  # weights 2, 1, 2, 1, … from the left
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _is_personnummer(match: re.Match[str]) -> bool:
    start = match.start()
    if start > 0 and match.string[start - 1] in "0123456789":
        return False  # part of a longer number
    year, _, month, day, _, serial = match.groups()
    # a ten-digit number does not say its century: 2000 + YY is leap exactly when 1900 + YY or
    # 2000 + YY could be, except 1900, which only matters for 29 February 1900
    full_year = int(year) if len(year) == 4 else 2000 + int(year)
    try:
        date(full_year, int(month), int(day) - 60 if int(day) > 60 else int(day))
    except ValueError:
        return False
    return _luhn_ok(year[-2:] + month + day + serial)


def _masked(match: re.Match[str]) -> str:
    year, dash, month, day, separator, _ = match.groups()
    return f"{year}{dash}{month}{dash}{day}{separator or '-'}****"


def _suspects(joined: str) -> list[int]:
    """The indexes of the values in ``joined`` (normalised) that may hold a personnummer."""
    suspects: list[int] = []
    index, counted = 0, 0  # the value at offset ``counted`` of ``joined`` is number ``index``
    for match in _SUSPECT.finditer(joined):
        index += joined.count(_SEPARATOR, counted, match.start())
        counted = match.start()
        if not suspects or suspects[-1] != index:
            suspects.append(index)
    return suspects


def find_in(values: Sequence[str]) -> dict[str, list[str]]:
    """The values that contain a personnummer or samordningsnummer -> the numbers, masked
    (as written, normalised)."""
    joined = _SEPARATOR.join(values)
    if joined.count(_SEPARATOR) == len(values) - 1:
        suspects: Iterable[int] = _suspects(normalised(joined))
    else:  # a value holds the separator itself (not one of an input file): each alone
        suspects = range(len(values))
    found: dict[str, list[str]] = {}
    for index in suspects:
        value = values[index]
        masked = [_masked(m) for m in _CANDIDATE.finditer(normalised(value)) if _is_personnummer(m)]
        if masked:
            found.setdefault(value, masked)
    return found


def mask(text: str) -> str:
    """``text`` with every personnummer and samordningsnummer in it masked; normalised (see
    :func:`normalised`) if it has one, else as it is."""
    plain = normalised(text)
    masked = _CANDIDATE.sub(lambda m: _masked(m) if _is_personnummer(m) else m.group(0), plain)
    return text if masked == plain else masked

"""Swedish personal identity numbers in input values: found, checked and masked.

A personnummer is ``YYMMDD-NNNC`` or ``YYYYMMDDNNNC`` (the separator is ``-`` or ``+``, a space,
or left out); a samordningsnummer is the same with 60 added to the day. ``C`` is a Luhn check
digit over the other nine digits of the ten-digit form. Only digit runs of exactly that shape,
with a real date and a valid check digit, count: ISO dates, HSA-ids (whose "month" is 20 or
more) and most case numbers are not mistaken for one. A 10-digit case number that happens to
have a date part and a valid check digit is: better to refuse a file than to store a person's
identity.

The scan runs over the distinct values of a column joined into one string, so a column of
200,000 rows with a few thousand distinct values costs one regular-expression pass over those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

#: the date part (century optional, day up to 31 or 61–91), separator and four digits; the
#: regular expression cannot cheaply check the character before, so ``_is_personnummer`` does
_CANDIDATE = re.compile(
    r"((?:18|19|20)[0-9]{2}|[0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
    r"([-+ ]?)([0-9]{4})(?![0-9])"
)
#: what every personnummer contains: see ``_suspects``
_SUSPECT = re.compile(r"[0-9]{6}[-+ ]?[0-9]{4}")
_DIGITS = frozenset("0123456789")
#: joins distinct values for one scan; the reader refuses files containing it
_SEPARATOR = "\0"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch) * (2 - i % 2)  # weights 2, 1, 2, 1, … from the left
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _is_personnummer(match: re.Match[str]) -> bool:
    start = match.start()
    if start > 0 and match.string[start - 1] in _DIGITS:
        return False  # part of a longer number
    year, month, day, _, serial = match.groups()
    # a ten-digit number does not say its century: 2000 + YY is leap exactly when 1900 + YY or
    # 2000 + YY could be, except 1900, which only matters for 29 February 1900
    full_year = int(year) if len(year) == 4 else 2000 + int(year)
    try:
        date(full_year, int(month), int(day) - 60 if int(day) > 60 else int(day))
    except ValueError:
        return False
    return _luhn_ok(year[-2:] + month + day + serial)


def _masked(match: re.Match[str]) -> str:
    year, month, day, separator, _ = match.groups()
    return f"{year}{month}{day}{separator or '-'}****"


def _suspects(joined: str) -> str:
    """The values of ``joined`` with ten digits in a row, or six and four apart by a
    separator: every value with a personnummer has, and a regular expression that starts with
    a digit class finds them five times faster than :data:`_CANDIDATE` can look."""
    suspects = []
    end = -1
    for match in _SUSPECT.finditer(joined):
        if match.start() < end:
            continue  # in the value taken last
        start = joined.rfind(_SEPARATOR, 0, match.start()) + 1
        end = joined.find(_SEPARATOR, match.end())
        end = len(joined) if end < 0 else end
        suspects.append(joined[start:end])
    return _SEPARATOR.join(suspects)


def find_in(values: Iterable[str]) -> dict[str, list[str]]:
    """The values that contain a personnummer or samordningsnummer -> the numbers, masked."""
    joined = _suspects(_SEPARATOR.join(values))
    found: dict[str, list[str]] = {}
    for match in _CANDIDATE.finditer(joined):
        if _is_personnummer(match):
            start = joined.rfind(_SEPARATOR, 0, match.start()) + 1
            end = joined.find(_SEPARATOR, match.end())
            value = joined[start : end if end >= 0 else len(joined)]
            found.setdefault(value, []).append(_masked(match))
    return found


def mask(text: str) -> str:
    """``text`` with every personnummer and samordningsnummer in it masked."""
    return _CANDIDATE.sub(lambda m: _masked(m) if _is_personnummer(m) else m.group(0), text)

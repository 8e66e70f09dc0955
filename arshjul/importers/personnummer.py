"""Swedish personal identity numbers in input values: found, checked and masked.

A personnummer is ``YYMMDD-NNNC`` or ``YYYYMMDDNNNC`` (the separator is ``-`` or ``+``, a space,
or left out); a samordningsnummer is the same with 60 added to the day. ``C`` is a Luhn check
digit over the other nine digits of the ten-digit form. Only digit runs of that shape, with a
real date and a valid check digit, count: ISO dates, HSA-ids (whose "month" is 20 or more),
phone numbers and most case numbers are not mistaken for one. A 10-digit case number that
happens to have a date part and a valid check digit is: better to refuse a file than to store a
person's identity.

People and programs write the same number in many ways, so values are searched in one
normalised form (:func:`normalised`): HTML character references, URL escapes and a workbook's
escapes decoded (``&#8211;``, ``&ndash;``, ``%2D``, ``_x2013_``), Unicode NFKC (full-width,
superscript, circled digits become ``0``–``9``), every other decimal digit (Arabic-Indic,
Devanagari, …) ``0``–``9``, every dash ``-`` (a run of them one), every space `` `` and every
line break ``\\n`` (a run of spaces and line breaks one, ``\\n`` if it holds a line break),
invisible characters left out (soft hyphen, zero-width space, byte-order mark, combining
marks and variation selectors, which a keycap ``4️⃣`` or an underlined ``4̲`` put between
digits). In that form the number's groups may be written together or apart
(``4711248809``, ``471124-8809``, ``4711 24 8809``, ``1966-12-31-7740``, ``19661231.7740``,
``471124 / 8809``, ``471124 -- 8809``): between the century, year, month, day and the last
four digits there may be up to three characters that are neither a letter, a digit, nor ``,``
or ``;`` (which separate numbers in a list). The last four digits are written together, and a
number must not be part of a longer one (a digit right before it or after it). Two dates of a
range (``2024-01-05–2024-02-04``) are not one: four digits followed by ``-MM-DD`` are a year.

A spreadsheet writes a number of ten or twelve digits with thousands separators
(``4 711 248 809``, ``4,711,248,809``, ``4.711.248.809``, ``4'711'248'809``, ``194 711 248 809``):
such a number is one too when its digits are grouped in threes from the right with one
separator throughout (a space of any kind, ``.``, ``,``, ``'`` or ``’``) and not part of a longer
grouped number. A line break is never a thousands separator: the normalised form keeps it apart
(``\\n``) from the spaces, so that digits in the lines of a cell are not read as one grouped
number (they may still be one by the rules above, where a line break is a gap like a space).

The scan runs over the distinct values of a column joined into one string, so a column of
200,000 rows with a few thousand distinct values costs one regular-expression pass over those.
"""

from __future__ import annotations

import html
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from functools import cache
from urllib.parse import unquote

#: what may stand between the groups of the number (see the module's description)
_GAP = r"[^0-9A-Za-z\0,;]{0,3}+"  # possessive: a gap is never a digit, so never given back
#: after the last four digits: neither a digit nor the month and day of a date whose year they
#: are (the second date of a range)
_END = rf"(?![0-9])(?!{_GAP}(?:0[1-9]|1[0-2]){_GAP}(?:0[1-9]|[12][0-9]|3[01])(?![0-9]))"
#: the century (optional), year, month, day (up to 31, or 61–91 for a samordningsnummer), the
#: separator and four digits; the regular expression cannot cheaply check the character
#: before, so ``_is_personnummer`` does
_CANDIDATE = re.compile(
    rf"(?:(18|19|20)({_GAP}))?([0-9]{{2}})({_GAP})(0[1-9]|1[0-2])"
    rf"({_GAP})(0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])({_GAP})([0-9]{{4}}){_END}"
)
#: a thousands separator as spreadsheet programs write one, in the normalised text (where the
#: no-break and narrow no-break spaces are spaces)
_THOUSANDS = " .,'\u2019"
#: digits as masked
_STARS = str.maketrans("0123456789", "*" * 10)
#: ten or twelve digits grouped in threes from the right with one separator throughout, not
#: after a digit nor before another group; the character before the first two (a longer
#: grouped number) ``_grouped`` checks
_GROUPED = re.compile(
    rf"(?<![0-9])([0-9]|[0-9]{{3}})([{_THOUSANDS}])([0-9]{{3}})\2([0-9]{{3}})\2([0-9]{{3}})"
    r"(?![0-9])(?!\2[0-9])"
)
#: what every personnummer has, in the normalised text: found at C speed by a regular
#: expression that starts with a digit class (``_suspects``), several times faster than
#: :data:`_CANDIDATE` and :data:`_GROUPED` can look; month and day narrowed enough that ids
#: such as ``AVV-2024-000001`` are not suspects. A grouped number (``YMM`` then ``DDN``, after
#: ``Y`` or ``CCY``) branches off after its first digit or its second, so that a digit costs
#: little more than before it was looked for (RELIABILITY.md: 0.13 -> 0.16 s on 8 MB of a
#: column's text; as three alternatives after the first digit 0.24 s, at the top 0.53 s)
_SUSPECT = re.compile(
    rf"[0-9](?:[0-9](?:{_GAP}[01][0-9]{_GAP}[0-36-9][0-9]{_GAP}[0-9]{{4}}(?![0-9])"
    rf"|[0-9]([{_THOUSANDS}])[0-9][01][0-9]\1[0-36-9][0-9]{{2}}\1[0-9]{{3}}(?![0-9]))"
    rf"|([{_THOUSANDS}])[0-9][01][0-9]\2[0-36-9][0-9]{{2}}\2[0-9]{{3}}(?![0-9]))"
)
#: joins distinct values for one scan; the reader refuses files containing it
_SEPARATOR = "\0"
#: what ends a line (as ``str.splitlines`` has it): normalised to ``\n``, never a space
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
#: any whitespace but the plain space and ``\n`` (Python's ``\s`` is Unicode's)
_SPACES = re.compile(r"[^\S \n]")
_OTHER_LINE_BREAKS = re.compile("[\r\v\f\x1c-\x1e\x85]")  # the Latin-1 ones; \n stays
_RUN_OF_SPACES = re.compile(" {2,}")
#: a line break and the spaces and line breaks around it, once runs of spaces are one space
_BREAK_AND_SPACES = re.compile(" ?\n[ \n]*")
#: a typewriter's dash ``--`` (or ``——``) is one dash: spaced, it must fit in a gap
_RUN_OF_DASHES = re.compile("-{2,}")
#: a character as a workbook's text escapes it (ECMA-376 22.9.2.19)
_WORKBOOK_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
#: a number in scientific notation, as programs write large numbers (``4.711248809E9``)
_MANY_DECIMALS = re.compile(r"[.,][0-9]{8,15}[eE]")
_SCIENTIFIC = re.compile(r"(?<![0-9A-Za-z.,])([0-9])[.,]([0-9]{1,15})[eE]\+?([0-9]{1,2})(?![0-9])")
#: characters that are dashes to a reader but not in Unicode's category Pd
_OTHER_DASHES = "\u02d7\u2043\u2212\u2796"
#: the planes that hold every character :func:`_translation` changes (the Basic and
#: Supplementary Multilingual Planes, and plane 14's tags and variation selectors); a test
#: checks the whole of Unicode
_PLANES = (range(0x20000), range(0xE0000, 0xE1000))


@cache
def _translation() -> tuple[re.Pattern[str], dict[str, str]]:
    """The characters beyond Latin-1 that are changed for the search, and what each becomes.
    Made from the Unicode database of this Python once, when first needed (about 30 ms)."""
    table: dict[str, str] = {}
    for plane in _PLANES:
        for code in plane:
            char = chr(code)
            category = unicodedata.category(char)
            if category in ("Cf", "Mn", "Me", "Mc"):  # invisible, or a mark on the one before
                table[char] = ""
            elif category == "Pd":
                table[char] = "-"
            elif category == "Nd" and code > 0x7F:
                table[char] = str(unicodedata.decimal(char))
            elif char.isspace() and char != " ":
                table[char] = "\n" if char in _LINE_BREAKS else " "
    table.update(dict.fromkeys(_OTHER_DASHES, "-"))
    for char in [c for c in table if ord(c) < 0x100]:  # Latin-1 is done apart, faster
        del table[char]
    return re.compile("[" + "".join(map(re.escape, sorted(table))) + "]"), table


def _decoded(text: str) -> str:
    """``text`` with HTML character references, URL escapes and a workbook's escapes
    (``_x2013_``) decoded, even when encoded twice (``&amp;#45;``)."""
    for _ in range(3):
        before = text
        if "&" in text:
            text = html.unescape(text)
        if "%" in text:
            text = unquote(text)
        if "_x" in text:
            text = _WORKBOOK_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        if text == before:
            break
    return text


def _whole_number(match: re.Match[str]) -> str:
    first, decimals, exponent = match.groups()
    if int(exponent) < len(decimals):
        return match.group()  # not a whole number: no personnummer
    return first + decimals + "0" * (int(exponent) - len(decimals))


def _spaced(text: str) -> str:
    """``text`` with every line break ``\\n``, every other whitespace a space, a run of them
    one (``\\n`` if it holds a line break), every run of dashes one dash, numbers in scientific
    notation written out."""
    if _SPACES.search(text):
        text = _SPACES.sub(" ", _OTHER_LINE_BREAKS.sub("\n", text))
    if "  " in text:
        text = _RUN_OF_SPACES.sub(" ", text)
    # three searches for a string: each several times faster than a regular expression's
    if " \n" in text or "\n " in text or "\n\n" in text:
        text = _BREAK_AND_SPACES.sub("\n", text)
    if "--" in text:
        text = _RUN_OF_DASHES.sub("-", text)
    if _MANY_DECIMALS.search(text):  # as rare as it is cheap to look for (C speed)
        text = _SCIENTIFIC.sub(_whole_number, text)
    return text


def normalised(text: str) -> str:
    """``text`` as it is searched (see the module's description). ASCII text without ``&``,
    ``%``, runs of spaces or dashes or scientific notation stays as it is, at the speed of a few
    checks."""
    text = _decoded(text)
    if text.isascii():
        return _spaced(text)
    if not unicodedata.is_normalized("NFKC", text):  # Swedish text usually is: checked in C
        text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u00ad", "")  # Latin-1's one invisible character
    if not text.isascii():
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:  # beyond Latin-1: every kind of dash, invisible, digit
            pattern, table = _translation()
            text = pattern.sub(lambda m: table[m.group()], text)
    return _spaced(text)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch) * (2 - i % 2)  # weights 2, 1, 2, 1, … from the left
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _is_valid(century: str, year: str, month: str, day: str, serial: str) -> bool:
    """A real date (of birth, or a samordningsnummer's day + 60) and a valid check digit."""
    # a ten-digit number does not say its century: 2000 + YY is leap exactly when 1900 + YY or
    # 2000 + YY could be, except 1900, which only matters for 29 February 1900
    full_year = int(century + year) if century else 2000 + int(year)
    try:
        date(full_year, int(month), int(day) - 60 if int(day) > 60 else int(day))
    except ValueError:
        return False
    return _luhn_ok(year + month + day + serial)


def _is_personnummer(match: re.Match[str]) -> bool:
    start = match.start()
    if start > 0 and match.string[start - 1] in "0123456789":
        return False  # part of a longer number
    century, _, year, _, month, _, day, _, serial = match.groups("")
    return _is_valid(century, year, month, day, serial)


def _masked(match: re.Match[str]) -> str:
    """The number with its last four digits masked, its separators as written (``-`` when it
    has none)."""
    *parts, separator, _ = match.groups("")
    return "".join(parts) + (separator or "-") + "****"


def _grouped(text: str) -> Iterator[tuple[int, int, str]]:
    """The personnummer written with thousands separators in ``text`` (normalised): where
    each starts and ends, and the number with its last four digits masked."""
    for match in _GROUPED.finditer(text):
        start, separator = match.start(), match.group(2)
        if start > 1 and text[start - 1] == separator and text[start - 2] in "0123456789":
            continue  # the end of a longer grouped number
        digits = match.group(1) + "".join(match.group(3, 4, 5))
        century = digits[:2] if len(digits) == 12 else ""
        if century not in ("", "18", "19", "20"):
            continue
        ten = digits[-10:]
        if _is_valid(century, ten[:2], ten[2:4], ten[4:6], ten[6:]):
            # the last four digits are the last five characters but the separator before
            # the last three
            shown = match.group()[:-5] + match.group()[-5:].translate(_STARS)
            yield start, match.end(), shown


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


def _written(text: str) -> Iterator[tuple[int, int, str]]:
    """The personnummer in ``text`` (normalised) written without thousands separators: where
    each starts and ends, and the number masked."""
    position = 0
    while match := _CANDIDATE.search(text, position):
        if _is_personnummer(match):
            yield match.start(), match.end(), _masked(match)
            position = match.end()
        else:  # the next try starts at the next character: a shorter gap, or a later number
            position = match.start() + 1


def _numbers(text: str) -> list[tuple[int, int, str]]:
    """The personnummer in ``text`` (normalised), in order and none overlapping the one
    before: where each starts and ends, and the number masked."""
    found: list[tuple[int, int, str]] = []
    for number in sorted([*_written(text), *_grouped(text)]):
        if not found or number[0] >= found[-1][1]:
            found.append(number)
    return found


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
        masked = [shown for _, _, shown in _numbers(normalised(value))]
        if masked:
            found.setdefault(value, masked)
    return found


def mask(text: str) -> str:
    """``text`` with every personnummer and samordningsnummer in it masked; normalised (see
    :func:`normalised`) if it has one, else as it is."""
    plain = normalised(text)
    parts: list[str] = []
    position = 0
    for start, end, shown in _numbers(plain):
        parts += [plain[position:start], shown]
        position = end
    return "".join(parts) + plain[position:] if parts else text


if sys.maxunicode != 0x10FFFF:  # pragma: no cover - every CPython since 3.3
    raise RuntimeError("a Python without the whole of Unicode")

"""A file's records after conversion: one list of values per column, and where each came from.

Column-wise rather than row-wise because that is what makes 200,000 rows cheap: a column's
distinct values are converted once and every check walks two or three lists, not dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from arshjul.config import Codes
from arshjul.errors import Problem
from arshjul.org import Unit


@dataclass(frozen=True)
class Context:
    """What parsers and checks need besides the file itself."""

    codes: Codes
    today: date
    #: the organisation as it is in the database before this file
    units: dict[str, Unit]
    #: the database, for checks against records stored before this file
    conn: Connection


@dataclass(frozen=True)
class Records:
    file: str
    #: the physical line of each record
    lines: Sequence[int]
    #: column name -> the header as written in the file, for the columns the file has
    headers: dict[str, str]
    #: column name -> one value per record (None where empty or refused)
    values: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(self.lines)

    def problem(self, index: int, column: str, value: str | None, reason: str) -> Problem:
        header = self.headers.get(column, column)
        return Problem(self.file, self.lines[index], header, value, reason)

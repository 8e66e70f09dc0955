"""Input files as the flows pass them on, and finding them in a data folder by kind."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_serializer

from arshjul.errors import UsageError
from arshjul.importers.personnummer import mask

SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")
#: a folder of the action-plan worksheets handed back for one data year's plan
_HANDED_BACK = re.compile(r"actions-(\d{4})")
#: a folder in it of the worksheets handed back on one day
_HANDED_BACK_ON = re.compile(r"\d{4}-\d{2}-\d{2}")
#: a worksheet handed back on a day is imported as of noon that day
HANDED_BACK_AT = time(12)


class LocalPath(BaseModel):
    """A path on this machine as a flow's parameter. Prefect keeps every flow run's parameters
    in its database as JSON: there a personnummer in a file's or folder's name is masked. The
    flow itself is given this object, path and all."""

    model_config = ConfigDict(frozen=True)

    path: Path

    @field_serializer("path", when_used="json")
    def _masked(self, path: Path) -> str:
        return mask(str(path))

    def __str__(self) -> str:
        """As messages show it."""
        return mask(str(self.path))


class InputFile(LocalPath):
    """A file to import as a ``kind`` of input (see SPEC §4); ``at``: when it was handed back,
    for a file whose folder is dated (:func:`handed_back`): imported as of then, so that its
    rows date the actions' status updates as they were given (the follow-ups are judged by
    them). None: imported as of the run."""

    kind: str
    at: datetime | None = None


def find_input_files(folder: Path, kinds: Sequence[str]) -> list[InputFile]:
    """Every file in ``folder`` whose name starts with a kind, in the order of ``kinds``
    (organisation first), then by name."""
    if not folder.is_dir():
        raise UsageError(f"{mask(str(folder))}: no such folder", "data")
    found: list[InputFile] = []
    for kind in kinds:
        matches = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in SUFFIXES and p.stem.lower().startswith(kind)
        )
        found.extend(InputFile(kind=kind, path=p) for p in matches)
    if not found:
        names = ", ".join(f"{k}.csv" for k in kinds)
        raise UsageError(
            f"{mask(str(folder))}: no input files (expected names like {names})", "data"
        )
    return found


def handed_back_folder(folder: Path, year: int) -> Path:
    """Where a data folder keeps the worksheets handed back for the plan of data year
    ``year``: ``actions-YEAR/``, one workbook per unit."""
    return folder / f"actions-{year}"


def handed_back(folder: Path, through: int) -> list[tuple[int, list[tuple[Path, date | None]]]]:
    """``(data year, worksheets)`` of each ``actions-YEAR/`` folder in ``folder`` for a year
    up to ``through``, oldest first: they answer that year's findings, so they are imported
    after its analysis (and before the next year's, which follows their actions up). The
    plan of ``through`` itself is handed back in the year after it, before the run: a run in
    December of the plans handed back in March has them.

    A worksheet is ``(path, day handed back)``: those in a subfolder named by a day
    (``actions-2024/2025-05-12/``: handed back then, at a follow-up or with the plan) in the
    order of the days, then those directly in the folder (day None: as of the import)."""
    found = []
    for sub in folder.iterdir() if folder.is_dir() else ():
        match = _HANDED_BACK.fullmatch(sub.name)
        if sub.is_dir() and match and int(match.group(1)) <= through:
            found.append((int(match.group(1)), _worksheets(sub)))
    return sorted(found)


def _worksheets(folder: Path) -> list[tuple[Path, date | None]]:
    days = sorted(d for d in folder.iterdir() if d.is_dir() and _HANDED_BACK_ON.fullmatch(d.name))
    dated = [(p, _day(d)) for d in days for p in _files(d)]
    return [*dated, *((p, None) for p in _files(folder))]


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def _day(folder: Path) -> date:
    try:
        return date.fromisoformat(folder.name)
    except ValueError:
        raise UsageError(f"{mask(str(folder))}: not a day (ÅÅÅÅ-MM-DD)", "data") from None

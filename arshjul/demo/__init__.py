"""A synthetic region's input files, as a Swedish region's systems would export them.

``write_demo`` writes ``organisation.csv``, ``deviations.csv`` and ``complaints.csv``:
semicolon-separated, UTF-8 with BOM (as Excel saves them), Swedish headers, ISO dates, ja/nej.
Three calendar years up to ``today``; the same seed and day give byte-identical files.
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from arshjul.config import LEVEL_SV, Config
from arshjul.demo.organisation import DemoUnit, Scale, build_organisation, silent_units
from arshjul.demo.records import (
    COMPLAINT_HEADER,
    DEVIATION_HEADER,
    Calendar,
    complaint_rows,
    deviation_rows,
    plan_units,
)

__all__ = ["DemoFiles", "build_organisation", "silent_units", "write_demo"]

ORGANISATION_HEADER = ("HSA-id", "Namn", "Nivå", "Överordnad")


@dataclass(frozen=True)
class DemoFiles:
    organisation: Path
    deviations: Path
    complaints: Path

    def by_kind(self) -> dict[str, Path]:
        """Import kind -> file, in the order they must be imported (organisation first)."""
        return {
            "organisation": self.organisation,
            "deviations": self.deviations,
            "complaints": self.complaints,
        }


def write_demo(
    out_dir: Path, config: Config, *, today: date, seed: int = 1, scale: Scale = "small"
) -> DemoFiles:
    """Write the demo region's files into ``out_dir`` (created if missing)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    organisation = build_organisation(config, scale)
    # one stream per purpose, so changing how one is drawn does not reshuffle the others
    plans = plan_units(_stream(seed, "units"), organisation, scale)
    calendar = Calendar(today)
    codes = config.codes
    return DemoFiles(
        organisation=_write_csv(
            out_dir / "organisation.csv", ORGANISATION_HEADER, _organisation_rows(organisation)
        ),
        deviations=_write_csv(
            out_dir / "deviations.csv",
            DEVIATION_HEADER,
            deviation_rows(_stream(seed, "deviations"), plans, calendar, codes),
        ),
        complaints=_write_csv(
            out_dir / "complaints.csv",
            COMPLAINT_HEADER,
            complaint_rows(_stream(seed, "complaints"), plans, calendar, codes),
        ),
    )


def _stream(seed: int, purpose: str) -> random.Random:
    # a str seed is hashed with SHA-512, independent of PYTHONHASHSEED
    return random.Random(f"arshjul demo {seed} {purpose}")


def _organisation_rows(organisation: list[DemoUnit]) -> Iterable[Sequence[str]]:
    return ((u.id, u.name, LEVEL_SV[u.level], u.parent_id or "") for u in organisation)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write atomically: readers see the old file or the whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # the BOM by hand: the utf-8-sig codec is pure Python and slow on many small writes
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write("\ufeff")
            writer = csv.writer(fh, delimiter=";")
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

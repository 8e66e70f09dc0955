"""A synthetic region's input files, as a Swedish region's systems would export them.

``write_demo`` writes ``organisation.csv``, ``deviations.csv``, ``complaints.csv``,
``waiting.csv``, ``production.csv``, ``capacity.csv`` and ``training.csv``: semicolon-separated,
UTF-8 with BOM (as Excel saves them), Swedish headers, ISO dates, ja/nej, decimal commas.
From 1 January three years back up to ``today`` (monthly files up to the last full month), so
the default data year has two years before it; the same seed and day give byte-identical files.
The features tests and documents can rely on whatever the seed are in :func:`plant`.

For the two years before the default data year it also writes the action-plan worksheets the
units handed back, with the plan and again at each follow-up,
``actions-YEAR/ÅÅÅÅ-MM-DD/handlingsplan-YEAR-<HSA-id>.xlsx`` by the day handed back
(:mod:`arshjul.demo.actions`): they answer the findings of those years' analyses, so they are
imported after each year is analysed, each as of its day.
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from arshjul.config import LEVEL_SV, Config
from arshjul.demo.actions import Returned, write_returned_worksheets
from arshjul.demo.operations import (
    CAPACITY_HEADER,
    PRODUCTION_HEADER,
    WAITING_HEADER,
    capacity_rows,
    plan_queues,
    production_rows,
    waiting_rows,
    ward_months,
)
from arshjul.demo.organisation import DemoUnit, Scale, build_organisation, silent_units
from arshjul.demo.records import (
    COMPLAINT_HEADER,
    DEVIATION_HEADER,
    Calendar,
    complaint_rows,
    deviation_rows,
    plan_units,
)
from arshjul.demo.services import Planted, plant
from arshjul.demo.training import TRAINING_HEADER, training_rows

__all__ = [
    "DemoFiles",
    "Planted",
    "Returned",
    "build_organisation",
    "plant",
    "silent_units",
    "write_demo",
]

ORGANISATION_HEADER = ("HSA-id", "Namn", "Nivå", "Överordnad")
#: the scales whose units hand worksheets back: the large region measures one year's cycle
#: (SPEC §7), where 3,000 earlier worksheets would only slow its demo and its run down
RETURNING_SCALES = frozenset({"small"})


@dataclass(frozen=True)
class DemoFiles:
    organisation: Path
    deviations: Path
    complaints: Path
    waiting: Path
    production: Path
    capacity: Path
    training: Path
    #: the worksheets handed back, oldest data year first
    returned: tuple[Returned, ...] = ()

    def by_kind(self) -> dict[str, Path]:
        """Import kind -> record file, in the order they must be imported (organisation
        first); the worksheets handed back come after their year's analysis (``returned``)."""
        return {
            "organisation": self.organisation,
            "deviations": self.deviations,
            "complaints": self.complaints,
            "waiting": self.waiting,
            "production": self.production,
            "capacity": self.capacity,
            "training": self.training,
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
    planted = plant(organisation, today)
    calendar = Calendar(today)
    codes = config.codes
    wards = ward_months(_stream(seed, "capacity"), organisation, planted, today)
    queues = plan_queues(_stream(seed, "queues"), organisation, planted, scale)
    files = DemoFiles(
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
        waiting=_write_csv(
            out_dir / "waiting.csv",
            WAITING_HEADER,
            waiting_rows(_stream(seed, "waiting"), queues, today),
        ),
        production=_write_csv(
            out_dir / "production.csv",
            PRODUCTION_HEADER,
            production_rows(_stream(seed, "production"), organisation, wards, planted, today),
        ),
        capacity=_write_csv(out_dir / "capacity.csv", CAPACITY_HEADER, capacity_rows(wards)),
        training=_write_csv(
            out_dir / "training.csv",
            TRAINING_HEADER,
            training_rows(_stream(seed, "training"), organisation, planted, today),
        ),
    )
    if scale not in RETURNING_SCALES:
        return files
    returned = write_returned_worksheets(
        out_dir,
        config,
        files.by_kind(),
        today,
        _stream(seed, "actions"),
        no_plan=planted.no_plan,
        days=_stream(seed, "handed back"),
        finished=_stream(seed, "finished"),
    )
    return replace(files, returned=tuple(returned))


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

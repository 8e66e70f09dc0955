"""Flow ``run``: data in, the cycle's steps, calendars out — what `arshjul run` starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from arshjul.clock import now as wall_clock
from arshjul.config import default_data_year, load_config
from arshjul.demo import write_demo
from arshjul.importers import KINDS, ImportResult
from arshjul.inputs import find_input_files
from flows.analyse import analyse_flow
from flows.calendars import publish_calendars
from flows.compile import compile_flow
from flows.importing import import_data


@dataclass(frozen=True)
class RunSummary:
    year: int
    data: Path
    imports: list[ImportResult]
    documents: list[Path]
    calendars: list[Path]


@task(cache_policy=NO_CACHE)
def generate_demo_data(data: Path, now: datetime, seed: int) -> Path:
    write_demo(data, load_config(), today=now.date(), seed=seed)
    return data


@flow(name="run")
def run_flow(
    year: int | None = None,
    data: Path | None = None,
    now: datetime | None = None,
    demo_seed: int = 1,
) -> RunSummary:
    """Import the files in ``data`` (the demo region when None), then run the cycle's steps
    for ``year`` and publish the calendars."""
    now = now or wall_clock()
    year = year or default_data_year(now.date())
    folder = data if data is not None else generate_demo_data(Path("var/demo"), now, demo_seed)
    imports = import_data(find_input_files(folder, KINDS), now=now)
    # the calendars are published once, after all steps, not after each
    documents = compile_flow(year=year, now=now, publish=False)
    documents += analyse_flow(year=year, now=now, publish=False)
    calendars = publish_calendars(now=now)
    return RunSummary(year, folder, imports, documents, calendars)

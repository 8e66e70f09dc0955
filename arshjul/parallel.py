"""Independent work per unit (rendering and writing its documents) spread over processes.

Writing a large region's documents is CPU work in Python: ~1,600 units × several documents,
each as HTML, DOCX, CSV and XLSX. One process uses one core; ``map_units`` forks worker
processes that inherit the job (the gathered figures, the loaded templates) from memory, so
nothing has to be pickled but each chunk's unit ids and results.

The workers only compute and write files: they never touch the database, Prefect or logging
handlers, which is what makes forking a process that has those (and their threads) safe.
``ARSHJUL_WORKERS`` sets the number of processes (default: the cores this process may use;
``1`` writes everything in this process).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from arshjul.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")

WORKERS_VARIABLE = "ARSHJUL_WORKERS"
#: fewer items than this are done in this process: forking would cost more than it saves
MIN_ITEMS = 16
#: chunks per worker: small enough to even out units of different sizes, large enough that
#: each chunk's round trip is negligible
CHUNKS_PER_WORKER = 8

#: the job of the map in progress, inherited by the forked workers
_job: Callable[[Any], Any] | None = None


def workers() -> int:
    """Processes to use: ``ARSHJUL_WORKERS``, else the cores available to this process."""
    value = os.environ.get(WORKERS_VARIABLE, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise UsageError(f"{WORKERS_VARIABLE}={value!r}: expected a whole number ≥ 1")
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_chunk(chunk: Sequence[Any]) -> list[Any]:
    assert _job is not None, "a worker runs only inside map_units"
    return [_job(item) for item in chunk]


def map_units(
    job: Callable[[T], R], items: Sequence[T], *, first: Callable[[T], bool] | None = None
) -> list[R]:
    """``[job(item) for item in items]``, in order, over :func:`workers` forked processes.

    ``job`` may be any callable (a closure over the gathered data is fine: it is inherited,
    not pickled); its results and exceptions are pickled back. An exception in a worker is
    raised here, after the chunks already started have finished. ``first``: the items that
    take much longer than the others (a unit with a PDF), each handed out alone before the
    rest, so that the workers do not wait at the end for one that drew them last."""
    global _job
    count = workers()
    if count == 1 or len(items) < MIN_ITEMS or _job is not None or not _can_fork():
        return [job(item) for item in items]
    chunks = plan([first is not None and first(item) for item in items], count)
    results: list[Any] = [None] * len(items)
    _job = job
    try:
        with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
            done = pool.map(_run_chunk, [[items[i] for i in chunk] for chunk in chunks])
            for chunk, chunk_results in zip(chunks, done, strict=True):
                for i, result in zip(chunk, chunk_results, strict=True):
                    results[i] = result
    finally:
        _job = None
    return results


def plan(first: Sequence[bool], count: int) -> list[list[int]]:
    """The chunks of item numbers handed out to ``count`` workers in turn: each item marked
    ``first`` alone, before the rest in chunks of about equal size."""
    heavy = [i for i, marked in enumerate(first) if marked]
    rest = [i for i, marked in enumerate(first) if not marked]
    size = max(1, -(-len(rest) // (count * CHUNKS_PER_WORKER)))
    return [[i] for i in heavy] + [rest[s : s + size] for s in range(0, len(rest), size)]


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()

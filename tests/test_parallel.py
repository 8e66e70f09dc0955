"""Spreading per-unit work over forked processes: same results, in order, errors surface."""

from __future__ import annotations

import os
import threading

import pytest

from arshjul import parallel
from arshjul.errors import InputError, Problem, UsageError


def test_results_come_back_in_order_from_other_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "2")
    # a lock cannot be pickled: the job reaches the workers by fork, not by pickling
    lock = threading.Lock()

    def job(n: int) -> tuple[int, int]:
        with lock:
            return n * n, os.getpid()

    results = parallel.map_units(job, list(range(100)))

    assert [square for square, _ in results] == [n * n for n in range(100)]
    assert os.getpid() not in {pid for _, pid in results}


def test_one_worker_or_few_items_stay_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "1")
    assert {pid for pid in parallel.map_units(lambda _: os.getpid(), list(range(50)))} == {
        os.getpid()
    }
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "2")
    few = list(range(parallel.MIN_ITEMS - 1))
    assert set(parallel.map_units(lambda _: os.getpid(), few)) == {os.getpid()}


def test_an_error_in_a_worker_is_raised_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "2")

    def job(n: int) -> int:
        if n == 37:
            raise InputError([Problem("x.csv", 3, "enhet", "E37", "no such unit")])
        return n

    with pytest.raises(InputError) as raised:
        parallel.map_units(job, list(range(64)))
    assert raised.value.problems[0].value == "E37"


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_worker_count_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, value)
    with pytest.raises(UsageError, match=parallel.WORKERS_VARIABLE):
        parallel.workers()


def test_the_items_asked_for_first_go_out_first_each_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # the units with a PDF took a second each, the others a few ms: drawn last in a chunk
    # with others, one kept a worker busy after the rest were done
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "2")
    heavy = {5, 40, 41}
    marked = [n in heavy for n in range(48)]
    chunks = parallel.plan(marked, 2)
    assert chunks[:3] == [[5], [40], [41]]
    assert sorted(i for chunk in chunks for i in chunk) == list(range(48))
    # the other 45 in 16 chunks (8 a worker) of 3, in their order
    assert chunks[3:] == [
        [n for n in range(48) if n not in heavy][k : k + 3] for k in range(0, 45, 3)
    ]

    results = parallel.map_units(
        lambda n: (n * n, os.getpid()), list(range(48)), first=heavy.__contains__
    )
    assert [square for square, _ in results] == [n * n for n in range(48)]
    assert os.getpid() not in {pid for _, pid in results}

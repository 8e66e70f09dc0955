"""Two runs of one step for one unit never interleave; different units run side by side."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, update

from arshjul.errors import ConflictError, StepBusy
from arshjul.locks import duration_sv, step_lock, this_process
from arshjul.models import OrgLevel, OrgUnit, StepLock
from tests.conftest import NOW

pytestmark = pytest.mark.both_databases


@pytest.fixture
def db(fresh_engine: Engine) -> Engine:
    with fresh_engine.begin() as conn:
        conn.execute(
            insert(OrgUnit),
            [
                {"id": u, "name": f"Enhet {u}", "level": OrgLevel.UNIT, "parent_id": None}
                for u in "ABC"
            ],
        )
    return fresh_engine


def lock(db: Engine, units: list[str], run: str, **kw):
    kw.setdefault("wait", timedelta(0))
    kw.setdefault("poll_seconds", 0.01)
    return step_lock(
        db, step="compile", period="2025", unit_ids=units, run_id=run, clock=lambda: NOW, **kw
    )


def held(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(StepLock)).scalar_one()


def test_a_second_run_for_the_same_unit_is_refused_naming_the_first(db, arshjul_log):
    with lock(db, ["A", "B"], "run-1"):
        assert held(db) == 2
        with pytest.raises(StepBusy) as refused:
            with lock(db, ["B"], "run-2"):
                pass
    assert held(db) == 0, "released when the block ends"
    # in Swedish for the coordinator: the flow run's state ...
    assert str(refused.value) == (
        "compile 2025 gjordes inte: en annan körning av samma steg (run-1, process"
        f" {this_process()}) gör det för Enhet B (B) sedan 2026-11-23 09:30, och den här körningen"
        " väntade 0 sekunder utan att den blev klar. Inget skrevs. Vänta tills den andra"
        " körningen är klar (sök på dess id i Prefect UI) och starta sedan den här igen."
    )
    # ... and its log
    assert arshjul_log.messages[-1] == (
        "compile 2025 avbryts: körning run-1 gör samma steg för B sedan 2026-11-23 09:30 och"
        " blev inte klar på 0 sekunder; starta igen när den är klar"
    )


@pytest.mark.parametrize(
    ("wait", "said"),
    [
        (timedelta(minutes=5), "5 minuter"),
        (timedelta(minutes=1), "1 minut"),
        (timedelta(seconds=90), "90 sekunder"),
        (timedelta(seconds=1), "1 sekund"),
        (timedelta(0), "0 sekunder"),
    ],
)
def test_a_wait_is_said_in_swedish_words(wait, said):
    assert duration_sv(wait) == said


def test_other_units_and_other_periods_run_side_by_side(db):
    with lock(db, ["A"], "run-1"), lock(db, ["B", "C"], "run-2"):
        with step_lock(
            db, step="compile", period="2024", unit_ids=["A"], run_id="r3", clock=lambda: NOW
        ):
            assert held(db) == 4


def test_the_lock_is_released_when_the_run_fails(db):
    with pytest.raises(RuntimeError), lock(db, ["A"], "run-1"):
        raise RuntimeError("the step failed")
    with lock(db, ["A"], "run-2"):
        pass


def test_a_waiting_run_starts_when_the_first_finishes(db, arshjul_log):
    order: list[str] = []
    first_holds = threading.Event()

    def first() -> None:
        with lock(db, ["A"], "run-1"):
            first_holds.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    first_holds.wait(5)
    with lock(db, ["A"], "run-2", wait=timedelta(seconds=10)):
        order.append("second started")
    thread.join()
    assert order == ["first done", "second started"]
    assert arshjul_log.messages == [
        "compile 2025 väntar: körning run-1 gör samma steg för A sedan 2026-11-23 09:30"
        " (högst 10 sekunder)",
        "compile 2025: låset är fritt, fortsätter",
    ]


def left_behind(db: Engine, holder: str, age: timedelta) -> None:
    """A lock as a run that crashed leaves it."""
    with db.begin() as conn:
        conn.execute(
            insert(StepLock).values(
                step="compile",
                period="2025",
                unit_id="A",
                run_id="crashed",
                holder=holder,
                acquired_at=NOW - age,
            )
        )


def test_a_lock_of_a_process_that_is_gone_is_taken_over_at_once(db):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free now (not reused within this test)
    left_behind(db, f"{socket.gethostname()}:{dead.pid}", timedelta(minutes=1))
    with lock(db, ["A"], "run-2"):
        assert held(db) == 1


def test_a_lock_of_a_living_process_or_another_host_waits(db):
    left_behind(db, f"{socket.gethostname()}:{os.getpid()}", timedelta(minutes=1))
    with pytest.raises(ConflictError), lock(db, ["A"], "run-2"):
        pass
    with db.begin() as conn:
        conn.execute(update(StepLock).values(holder="elsewhere.region.se:12345"))
    with pytest.raises(ConflictError), lock(db, ["A"], "run-2"):
        pass


def test_a_lock_left_on_another_host_is_taken_over_once_stale(db):
    left_behind(db, "elsewhere.region.se:12345", timedelta(hours=7))
    with lock(db, ["A"], "run-2"):
        assert held(db) == 1

"""One run of a step per unit and period at a time, across processes and machines.

The lock is a row per (step, period, unit) in the database every run shares, so it holds for a
coordinator's manual run on a laptop against the server's database as much as for two
scheduled runs. Runs for different units take different rows and run in parallel; the roll-up
documents they both rewrite are replaced whole (atomic writes), each from the database as it
is, so the last one written is complete and current.

A run that crashed (``kill -9``, a power cut) never releases its rows: a lock held by a
process of this host that no longer exists is taken over at once, and one older than
``stale_after`` (far longer than any run takes; for a holder on another machine) in any case.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, insert, select
from sqlalchemy.exc import IntegrityError

from arshjul.clock import local
from arshjul.errors import StepBusy
from arshjul.models import OrgUnit, StepLock
from arshjul.render import counted

#: a lock this old belongs to a run that died: the large region's whole cycle takes a minute
STALE_AFTER = timedelta(hours=6)

log = logging.getLogger("arshjul")


@dataclass(frozen=True)
class Holder:
    unit_id: str
    run_id: str
    holder: str
    acquired_at: datetime


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_gone(holder: str) -> bool:
    """Whether ``host:pid`` was a process of this host that has ended."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@contextmanager
def step_lock(
    engine: Engine,
    *,
    step: str,
    period: str,
    unit_ids: Sequence[str],
    run_id: str,
    clock: Callable[[], datetime],
    title: str | None = None,
    wait: timedelta = timedelta(minutes=5),
    poll_seconds: float = 1.0,
    stale_after: timedelta = STALE_AFTER,
) -> Iterator[None]:
    """Hold ``step`` for ``period`` and ``unit_ids`` while the block runs (see :func:`acquire`
    for waiting and refusing)."""
    acquire(
        engine,
        step=step,
        period=period,
        unit_ids=unit_ids,
        run_id=run_id,
        clock=clock,
        title=title,
        wait=wait,
        poll_seconds=poll_seconds,
        stale_after=stale_after,
    )
    try:
        yield
    finally:
        release(engine, step=step, period=period, run_id=run_id)


def acquire(
    engine: Engine,
    *,
    step: str,
    period: str,
    unit_ids: Sequence[str],
    run_id: str,
    clock: Callable[[], datetime],
    title: str | None = None,
    wait: timedelta = timedelta(minutes=5),
    poll_seconds: float = 1.0,
    stale_after: timedelta = STALE_AFTER,
) -> None:
    """Take ``step`` for ``period`` and ``unit_ids`` for ``run_id`` until :func:`release`. If
    another run holds any of them, wait up to ``wait`` for it, then refuse with a
    :class:`StepBusy` that says in Swedish which step (``title``, the step's document, e.g.
    Sammanställning), period and unit, which run holds it since when, and what to do (the
    coordinator reads it as the flow run's state). Waiting and refusing are logged in Swedish
    too (the flow run's log). Taking what ``run_id`` holds already (a retried attempt)
    succeeds."""
    deadline = time.monotonic() + wait.total_seconds()
    waiting = duration_sv(wait)
    waited = False
    while holders := _try_acquire(engine, step, period, unit_ids, run_id, clock(), stale_after):
        first, more = holders[0], len(holders) - 1
        since = f"{local(first.acquired_at):%Y-%m-%d %H:%M}"
        held = f"körning {first.run_id} gör samma steg för {first.unit_id}"
        held += f" och {counted(more, 'enhet', 'enheter')} till" if more else ""
        if time.monotonic() >= deadline:
            log.error(
                "%s %s avbryts: %s sedan %s och blev inte klar på %s; starta igen när den är"
                " klar",
                step, period, held, since, waiting,
            )  # fmt: skip
            raise StepBusy(_refusal(engine, title or step, period, first, more, since, waiting))
        if not waited:
            log.info("%s %s väntar: %s sedan %s (högst %s)", step, period, held, since, waiting)
            waited = True
        time.sleep(poll_seconds)
    if waited:
        log.info("%s %s: låset är fritt, fortsätter", step, period)


def duration_sv(wait: timedelta) -> str:
    """``5 minuter``, ``1 minut``, ``2 sekunder``: a wait as a Swedish text says it."""
    seconds = round(wait.total_seconds())
    if seconds >= 60 and seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} {'minut' if minutes == 1 else 'minuter'}"
    return f"{seconds} {'sekund' if seconds == 1 else 'sekunder'}"


def _refusal(
    engine: Engine, title: str, period: str, first: Holder, more: int, since: str, waiting: str
) -> str:
    """The refusal as a coordinator reads it: which step, period and unit (by name), who has
    it since when, that nothing was written, what to do."""
    with engine.connect() as conn:
        name = conn.execute(select(OrgUnit.name).where(OrgUnit.id == first.unit_id)).scalar()
    unit = f"{name} ({first.unit_id})" if name else first.unit_id
    others = f" och {more} {'enhet' if more == 1 else 'enheter'} till" if more else ""
    process = f", process {first.holder}" if first.holder else ""
    return (
        f"{title} {period} gjordes inte: en annan körning av samma steg ({first.run_id}"
        f"{process}) gör det för {unit}{others} sedan {since}, och den här körningen väntade"
        f" {waiting} utan att den blev klar. Inget skrevs. Vänta tills den andra körningen är"
        " klar (sök på dess id i Prefect UI) och starta sedan den här igen."
    )


def release(engine: Engine, *, step: str, period: str, run_id: str) -> None:
    """Give back what ``run_id`` holds of ``step`` for ``period``."""
    with engine.begin() as conn:
        release_in(conn, step=step, period=period, run_id=run_id)


def release_in(conn: Connection, *, step: str, period: str, run_id: str) -> None:
    """:func:`release` in the transaction of ``conn`` (with what the run records at its end)."""
    conn.execute(
        delete(StepLock).where(
            StepLock.step == step, StepLock.period == period, StepLock.run_id == run_id
        )
    )


def _try_acquire(
    engine: Engine,
    step: str,
    period: str,
    unit_ids: Sequence[str],
    run_id: str,
    now: datetime,
    stale_after: timedelta,
) -> list[Holder]:
    """Take every lock in one transaction, or none; returns who holds them when not."""
    same_step = and_(StepLock.step == step, StepLock.period == period)
    wanted = set(unit_ids)
    try:
        with engine.begin() as conn:
            conn.execute(
                delete(StepLock).where(same_step, StepLock.acquired_at < now - stale_after)
            )
            others = [
                Holder(*row)
                for row in conn.execute(
                    select(
                        StepLock.unit_id, StepLock.run_id, StepLock.holder, StepLock.acquired_at
                    ).where(same_step, StepLock.run_id != run_id)
                )
                if row.unit_id in wanted
            ]
            gone = {h.holder for h in others if is_gone(h.holder)}
            if gone:
                conn.execute(delete(StepLock).where(same_step, StepLock.holder.in_(gone)))
            held = [h for h in others if h.holder not in gone]
            if held:
                return sorted(held, key=lambda h: h.unit_id)
            mine = {
                unit_id
                for (unit_id,) in conn.execute(
                    select(StepLock.unit_id).where(same_step, StepLock.run_id == run_id)
                )
            }
            me = this_process()
            rows = [
                {
                    "step": step,
                    "period": period,
                    "unit_id": u,
                    "run_id": run_id,
                    "holder": me,
                    "acquired_at": now,
                }
                for u in unit_ids
                if u not in mine
            ]
            if rows:
                conn.execute(insert(StepLock), rows)
    except IntegrityError:
        # another run inserted between our look and our insert: look again
        return [Holder(unit_ids[0], "(another run)", "", now)]
    return []

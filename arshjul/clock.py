"""The one place arshjul reads the wall clock; everything else takes ``today``/``now``.

``ARSHJUL_NOW`` (an ISO date-time, e.g. ``2026-11-23T09:30``) fixes the clock, for tests and
for re-creating a run as of a given day.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

from arshjul.errors import UsageError

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def now() -> datetime:
    fixed = os.environ.get("ARSHJUL_NOW")
    if not fixed:
        return datetime.now(STOCKHOLM)
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        raise UsageError(f"ARSHJUL_NOW: {fixed!r} is not an ISO date-time") from None
    return moment.replace(tzinfo=STOCKHOLM) if moment.tzinfo is None else moment


def real_now() -> datetime:
    """The real time even when ``ARSHJUL_NOW`` fixes :func:`now`: only for comparing with
    times another system wrote (the Prefect server's run states), never for what a run or
    document is about."""
    return datetime.now(STOCKHOLM)


def today() -> date:
    return now().date()


def local(moment: datetime) -> datetime:
    """``moment`` in Stockholm time (for display)."""
    return moment.astimezone(STOCKHOLM)

"""Prefect settings arshjul needs before Prefect is imported, and small helpers for flows."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

LOGGING_YML = Path(__file__).with_name("logging.yml")

#: Prefect's defaults that make a person-facing run noisy or slow on a closed network
PREFECT_DEFAULTS = {
    # telemetry fails without internet and prints an ERROR
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_SETTINGS_PATH": str(LOGGING_YML),
    # the ephemeral server's first start migrates its database: 20 s is short on a busy
    # two-core machine, and a timeout there fails the whole run
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_LOGGING_LEVEL": "INFO",
}


def configure_environment() -> None:
    """Set arshjul's Prefect defaults; anything the operator set already wins."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


def server_log_handler() -> logging.Handler:
    """Where the Prefect server's logs go: ``ARSHJUL_PREFECT_SERVER_LOG`` or var/log/."""
    path = Path(os.environ.get("ARSHJUL_PREFECT_SERVER_LOG", "var/log/prefect-server.log"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.FileHandler(path, encoding="utf-8", delay=True)


def run_id() -> str:
    """The current Prefect flow run's id, or ``local`` outside a flow run."""
    from prefect.runtime import flow_run

    return str(flow_run.id or "local")


def resolve_now(now: datetime | None) -> datetime:
    from arshjul.clock import now as wall_clock

    return now or wall_clock()

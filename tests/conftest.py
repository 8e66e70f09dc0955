"""Shared fixtures: a real migrated database with a rolled-back transaction per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine

from arshjul.config import Config, load_config
from arshjul.db import make_engine, migrate

STOCKHOLM = ZoneInfo("Europe/Stockholm")
#: the one clock of the test suite
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=STOCKHOLM)
FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    # arshjul's Prefect settings (quiet, offline) before anything imports Prefect
    from flows.runtime import configure_environment

    os.environ.setdefault("DO_NOT_TRACK", "1")
    # as the CLI does: Prefect's console handler would otherwise hold on to a stream that
    # pytest's capture has closed by the time a later test logs through it
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    configure_environment()


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(None)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / "test.sqlite"
    eng = make_engine(f"sqlite:///{path}")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection whose work is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    log = tmp_path_factory.mktemp("prefect") / "server.log"
    os.environ["ARSHJUL_PREFECT_SERVER_LOG"] = str(log)
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder with its own database and output, the clock fixed at NOW."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'arshjul.sqlite'}")
    monkeypatch.setenv("ARSHJUL_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("ARSHJUL_NOW", NOW.isoformat())
    monkeypatch.delenv("ARSHJUL_CONFIG", raising=False)
    return tmp_path

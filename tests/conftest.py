"""Shared fixtures: a real migrated database with a rolled-back transaction per test.

The database is SQLite; tests marked ``both_databases`` (usually a module's ``pytestmark``) run
once on SQLite and once on PostgreSQL (tests/postgres.py): every such test that uses ``engine``,
``conn`` or ``fresh_engine`` is parametrised over ``backend``. Tests that use none of them, and
unmarked tests, run once, on SQLite.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine

from arshjul.config import Config, load_config
from arshjul.db import make_engine, migrate
from tests.postgres import PostgresServer, Unavailable

STOCKHOLM = ZoneInfo("Europe/Stockholm")
#: the one clock of the test suite
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=STOCKHOLM)
FIXTURES = Path(__file__).parent / "fixtures"
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    # arshjul's Prefect settings (quiet, offline) before anything imports Prefect
    from flows.runtime import configure_environment

    os.environ.setdefault("DO_NOT_TRACK", "1")
    # as the CLI does: Prefect's console handler would otherwise hold on to a stream that
    # pytest's capture has closed by the time a later test logs through it
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    configure_environment()
    config.addinivalue_line(
        "markers", "both_databases: run the test's database fixtures on SQLite and PostgreSQL"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_databases"
    ):
        # module scope: a module's tests run on SQLite, then on PostgreSQL, module by module
        metafunc.parametrize("backend", BACKENDS, indirect=True, scope="module")


@dataclass
class Databases:
    """The session's databases: one shared migrated database per backend, made when first
    asked for, and the PostgreSQL server, started when first needed."""

    folder: Path
    engines: dict[str, Engine] = field(default_factory=dict)
    server: PostgresServer | None = None
    #: why PostgreSQL could not be started, so later tests skip without trying again
    missing: str | None = None

    def postgres(self) -> PostgresServer:
        if self.missing is None and self.server is None:
            try:
                self.server = PostgresServer.start()
            except Unavailable as e:
                self.missing = str(e)
        if self.server is None:
            assert self.missing is not None
            if os.environ.get("CI") == "true":
                pytest.fail(self.missing)
            pytest.skip(self.missing)
        return self.server

    def new_engine(self, backend: str, folder: Path) -> Engine:
        """An engine on a new, migrated database of its own."""
        if backend == "postgresql":
            eng = make_engine(self.postgres().create_database().render_as_string(False))
        else:
            eng = make_engine(f"sqlite:///{folder / 'test.sqlite'}")
        migrate(eng)
        return eng

    def shared(self, backend: str) -> Engine:
        if backend not in self.engines:
            self.engines[backend] = self.new_engine(backend, self.folder)
        return self.engines[backend]

    def drop(self, eng: Engine) -> None:
        eng.dispose()
        if eng.dialect.name == "postgresql":
            assert self.server is not None
            self.server.drop_database(eng.url)

    def close(self) -> None:
        for eng in self.engines.values():
            self.drop(eng)
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.close()


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite``, or each of :data:`BACKENDS` in turn for tests marked ``both_databases``."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(None)


@pytest.fixture(scope="module")
def engine(databases: Databases, backend: str) -> Engine:
    """The session's migrated database of the backend (one per session, shared: tests use
    ``conn``, which rolls back). Module-scoped only so that ``backend`` can be per module."""
    return databases.shared(backend)


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection whose work is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


@pytest.fixture
def fresh_engine(databases: Databases, backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a migrated database of the test's own, for tests that commit (several
    connections, threads); dropped afterwards."""
    eng = databases.new_engine(backend, tmp_path)
    yield eng
    databases.drop(eng)


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    log = tmp_path_factory.mktemp("prefect") / "server.log"
    os.environ["ARSHJUL_PREFECT_SERVER_LOG"] = str(log)
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session", autouse=True)
def arshjul_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home of the session's own (:mod:`arshjul.home`): no test writes into the checkout's
    var/ or out/."""
    home = tmp_path_factory.mktemp("home")
    os.environ["ARSHJUL_HOME"] = str(home)
    return home


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder with its own database and output, the clock fixed at NOW."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARSHJUL_HOME", str(tmp_path))
    monkeypatch.setenv("ARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'arshjul.sqlite'}")
    monkeypatch.setenv("ARSHJUL_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("ARSHJUL_NOW", NOW.isoformat())
    monkeypatch.delenv("ARSHJUL_CONFIG", raising=False)
    return tmp_path


@pytest.fixture
def arshjul_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What the logger ``arshjul`` says at INFO and up during the test (listened to directly:
    the CLI, run earlier in the same process, makes it stop propagating)."""
    log = logging.getLogger("arshjul")
    propagate, log.propagate = log.propagate, False  # each line once, not again via the root
    log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="arshjul"):
            yield caplog
    finally:
        log.removeHandler(caplog.handler)
        log.propagate = propagate


class Blips:
    """arshjul's database unavailable for one moment, as when it restarts or a connection
    drops: :meth:`fail` a statement before it runs, or :meth:`lose_commit` (the commit goes
    through, its answer is lost: the caller cannot tell whether it did). Every flow task's
    retries come at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import importlib
        import pkgutil

        from prefect import Task
        from sqlalchemy import event
        from sqlalchemy.engine.default import DefaultDialect

        import flows

        #: the statements that failed, or whose commit's answer was lost
        self.blipped: list[str] = []
        self._fail: list[str] = []
        self._lose: list[str] = []
        for info in pkgutil.iter_modules(flows.__path__):
            for value in vars(importlib.import_module(f"flows.{info.name}")).values():
                if isinstance(value, Task):
                    monkeypatch.setattr(value, "retry_delay_seconds", [0.0])
        event.listen(Engine, "before_cursor_execute", self._execute)
        monkeypatch.setattr(DefaultDialect, "do_commit", self._commit(DefaultDialect.do_commit))
        self._stop = lambda: event.remove(Engine, "before_cursor_execute", self._execute)

    def fail(self, statement: str) -> None:
        """The next statement that starts with ``statement`` fails."""
        self._fail.append(statement)

    def lose_commit(self, statement: str) -> None:
        """The commit of the next transaction that runs a statement starting with
        ``statement`` goes through, then fails as if the connection dropped before the
        database answered."""
        self._lose.append(statement)

    @staticmethod
    def _error(sql: str) -> Exception:
        from sqlalchemy.exc import OperationalError

        return OperationalError(sql, None, Exception("server closed the connection unexpectedly"))

    def _execute(self, conn: Connection, cursor: Any, sql: str, *args: Any) -> None:
        failing = next((p for p in self._fail if sql.startswith(p)), None)
        if failing is not None:
            self._fail.remove(failing)
            self.blipped.append(sql)
            raise self._error(sql)
        losing = next((p for p in self._lose if sql.startswith(p)), None)
        if losing is not None:
            self._lose.remove(losing)
            conn.info["lose_commit"] = sql

    def _commit(self, commit: Callable[..., None]) -> Callable[..., None]:
        def commit_and_lose_the_answer(dialect: Any, dbapi_connection: Any) -> None:
            commit(dialect, dbapi_connection)
            lost = dbapi_connection.info.pop("lose_commit", None)
            if lost is not None:
                self.blipped.append(lost)
                raise self._error(lost)

        return commit_and_lose_the_answer


@pytest.fixture
def blips(monkeypatch: pytest.MonkeyPatch) -> Iterator[Blips]:
    found = Blips(monkeypatch)
    yield found
    found._stop()

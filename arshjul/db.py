"""Engine, sessions and migrations."""

from __future__ import annotations

import os
from typing import Any

from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from alembic import command
from arshjul import home
from arshjul.errors import UsageError
from arshjul.resources import bundled


def database_url(url: str | None = None) -> str:
    """``url``, or ``ARSHJUL_DATABASE_URL``, or ``var/arshjul.sqlite`` in arshjul's home
    (:mod:`arshjul.home`), never under the current folder."""
    chosen = url or os.environ.get("ARSHJUL_DATABASE_URL")
    if chosen:
        return chosen
    default = home.var("arshjul.sqlite")
    default.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{default}"


def shown_url(engine: Engine) -> str:
    """The engine's URL as messages show it: the password masked."""
    return engine.url.render_as_string(hide_password=True)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # let SQLAlchemy, not pysqlite, decide where transactions begin, so SAVEPOINTs work
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the feed server read while a run writes; busy_timeout makes writers wait
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str | None = None) -> Engine:
    chosen = database_url(url)
    try:
        parsed = make_url(chosen)
    except ArgumentError:
        raise UsageError(f"ARSHJUL_DATABASE_URL: {chosen!r} is not a database URL") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # a statement's parameters are data (ids, names): never in an error's message or a log
    engine = create_engine(parsed, future=True, hide_parameters=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(bundled("alembic")))
    # the ini parser interpolates %: escape the URL's percent-encoding (passwords, socket paths)
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def is_migrated(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")

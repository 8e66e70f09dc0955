"""Where a run works: configuration, database and output folder, from options or environment."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from arshjul import home
from arshjul.config import Config, load_config
from arshjul.db import is_migrated, make_engine, migrate, shown_url

log = logging.getLogger("arshjul")


@dataclass(frozen=True)
class Workspace:
    config: Config
    engine: Engine
    out: Path


def out_dir(out: str | os.PathLike[str] | None = None) -> Path:
    """``out``, or ``ARSHJUL_OUT``, or ``out/`` in arshjul's home (:mod:`arshjul.home`)."""
    chosen = out or os.environ.get("ARSHJUL_OUT")
    return Path(chosen) if chosen else home.default_out()


def open_workspace(
    *,
    database_url: str | None = None,
    config_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
) -> Workspace:
    """Parse the configuration, connect and migrate the database; fails early on bad config."""
    config = load_config(config_dir)
    engine = make_engine(database_url)
    new = not is_migrated(engine)
    migrate(engine)
    if new:  # say which: a default database is easily not the one a person meant
        log.info("a new database: %s", shown_url(engine))
    return Workspace(config=config, engine=engine, out=out_dir(out))

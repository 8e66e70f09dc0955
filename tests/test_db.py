"""The schema: migrations match the models, and values round-trip as the code expects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

from arshjul.db import database_url, make_engine, migrate
from arshjul.errors import UsageError
from arshjul.models import Base, ImportBatch
from tests.conftest import NOW

pytestmark = pytest.mark.both_databases


def test_migrations_give_exactly_the_models_schema(engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_migrating_twice_is_harmless(engine):
    migrate(engine)


def test_imported_rows_lose_their_foreign_keys_and_get_them_back_on_downgrade(fresh_engine):
    from sqlalchemy import inspect

    from alembic import command
    from arshjul.db import alembic_config

    def references(table: str) -> list[str]:
        return sorted(fk["referred_table"] for fk in inspect(fresh_engine).get_foreign_keys(table))

    assert references("deviation") == references("action") == []
    assert references("finding") == ["org_unit"]  # tables not filled by imports keep theirs
    config = alembic_config(fresh_engine)
    with fresh_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    assert references("deviation") == references("waiting") == ["import_batch", "org_unit"]
    migrate(fresh_engine)
    assert references("deviation") == []


def test_datetimes_come_back_timezone_aware(conn):
    conn.execute(
        insert(ImportBatch).values(
            kind="x", file_name="f", sha256="0" * 64, rows=0, inserted=0, updated=0, imported_at=NOW
        )
    )
    stored = conn.execute(select(ImportBatch.imported_at)).scalar_one()
    assert stored == NOW and stored.tzinfo is not None
    assert stored == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


def test_naive_datetimes_are_refused(conn):
    with pytest.raises(Exception, match="naive datetime"):
        conn.execute(
            insert(ImportBatch).values(
                kind="x",
                file_name="f",
                sha256="1" * 64,
                rows=0,
                inserted=0,
                updated=0,
                imported_at=datetime(2026, 1, 1),
            )
        )


def test_database_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARSHJUL_DATABASE_URL", "postgresql://u@localhost/arshjul")
    assert database_url() == "postgresql://u@localhost/arshjul"
    assert make_engine().url.drivername == "postgresql+psycopg"


def test_a_malformed_database_url_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("ARSHJUL_DATABASE_URL", "not a url")
    with pytest.raises(UsageError, match="ARSHJUL_DATABASE_URL"):
        make_engine()

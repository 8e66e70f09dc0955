"""The schema: migrations match the models, and values round-trip as the code expects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

from alembic import command
from arshjul.db import alembic_config, database_url, make_engine, migrate
from arshjul.errors import UsageError
from arshjul.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Base,
    ImportBatch,
    OrgLevel,
    OrgUnit,
    Training,
    TrainingImport,
)
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


def test_migration_0006_dates_the_stored_actions_and_rosters_by_their_batches(fresh_engine):
    """A database of 0005 with an action and a roster: the action gets one status update and
    the unit one roster import, from the batch that last changed them."""
    cfg = alembic_config(fresh_engine)
    with fresh_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        for i, kind in enumerate(("organisation", "actions", "training"), start=1):
            conn.execute(
                insert(ImportBatch).values(
                    id=i,
                    kind=kind,
                    file_name=f"{kind}.csv",
                    sha256=str(i) * 64,
                    rows=1,
                    inserted=1,
                    updated=0,
                    imported_at=NOW,
                )
            )
        conn.execute(insert(OrgUnit).values(id="E1", name="E", level=OrgLevel.UNIT, batch_id=1))
        conn.execute(
            insert(Action).values(
                action_id="E1-2025-001",
                unit_id="E1",
                title="Rond",
                owner_role="Enhetschef",
                status=ActionStatus.IN_PROGRESS,
                batch_id=2,
            )
        )
        for person in ("P1", "P2"):
            conn.execute(
                insert(Training).values(
                    person_key=person,
                    unit_id="E1",
                    role="chef",
                    course="patientsäkerhet",
                    batch_id=3,
                )
            )
        command.upgrade(cfg, "head")
        updates = select(ActionUpdate.action_id, ActionUpdate.status, ActionUpdate.batch_id)
        assert conn.execute(updates).all() == [("E1-2025-001", ActionStatus.IN_PROGRESS, 2)]
        rosters = select(TrainingImport.batch_id, TrainingImport.unit_id, TrainingImport.rows)
        assert conn.execute(rosters).all() == [(3, "E1", 2)]
        assert conn.execute(select(Action.reason)).scalar_one() is None

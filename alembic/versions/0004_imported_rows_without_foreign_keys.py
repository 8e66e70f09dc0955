"""imported rows without foreign keys: the importer checks their units once per file

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

The unit_id and batch_id of the seven tables filled in bulk by imports lose their foreign
keys: on PostgreSQL the two checks per row were half of the upsert (see models.py for what
keeps integrity).
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('action', 'capacity', 'complaint', 'deviation', 'production', 'training', 'waiting')
REFERENCES = (('unit_id', 'org_unit'), ('batch_id', 'import_batch'))


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column, target in REFERENCES:
                batch.drop_constraint(f'fk_{table}_{column}_{target}', type_='foreignkey')


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column, target in REFERENCES:
                batch.create_foreign_key(
                    f'fk_{table}_{column}_{target}', target, [column], ['id']
                )

"""unit_figures: each unit's own counts of a year, kept for the version of its records; which
run's documents a step run found unchanged; each unit's import batches by index

A rerun counts only the units whose records changed since their counts were stored, and
writes only the documents whose content changed (issue 18.3). Nothing to fill in: the first
run after the upgrade counts every unit and stores its counts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('unit_figures',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('year', 'unit_id', name=op.f('pk_unit_figures'))
    )
    with op.batch_alter_table('step_run') as batch:
        batch.add_column(sa.Column('unchanged_since', sa.String(length=64), nullable=True))
    # each unit's batches of the large tables, read from the index alone (arshjul.unit_data)
    op.create_index('ix_deviation_unit_id_batch_id', 'deviation', ['unit_id', 'batch_id'], unique=False)
    op.create_index('ix_complaint_unit_id_batch_id', 'complaint', ['unit_id', 'batch_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_complaint_unit_id_batch_id', table_name='complaint')
    op.drop_index('ix_deviation_unit_id_batch_id', table_name='deviation')
    with op.batch_alter_table('step_run') as batch:
        batch.drop_column('unchanged_since')
    op.drop_table('unit_figures')

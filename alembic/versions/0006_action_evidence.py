"""action evidence: the reason of a decision "Ingen åtgärd", action status updates, training imports

The status counts an action plan done when every finding is answered, a follow-up when every
open action has a status update in its window, and the training follow-up when the unit's
roster was imported in the year. Like the records imports write in bulk, the tables have no
foreign keys (models.IMPORTED_BATCH_ID). They are filled from what is already stored: one
update per action, dated by the import that last changed it, and the units of the training
rows each import last changed (earlier unchanged imports left no trace to recover).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('action') as batch:
        batch.add_column(sa.Column('reason', sa.String(length=500), nullable=True))
    op.create_table('action_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('planned', 'in_progress', 'done', 'dropped', 'no_action', name='actionstatus', native_enum=False, length=20), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_update'))
    )
    op.create_index('ix_action_update_action_id', 'action_update', ['action_id'], unique=False)
    op.create_table('training_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_import'))
    )
    op.create_index('ix_training_import_batch_id', 'training_import', ['batch_id'], unique=False)
    op.execute(
        'INSERT INTO action_update (action_id, status, batch_id)'
        ' SELECT action_id, status, batch_id FROM action ORDER BY id'
    )
    op.execute(
        'INSERT INTO training_import (batch_id, unit_id, "rows")'
        ' SELECT batch_id, unit_id, COUNT(*) FROM training'
        ' GROUP BY batch_id, unit_id ORDER BY batch_id, unit_id'
    )


def downgrade() -> None:
    op.drop_index('ix_training_import_batch_id', table_name='training_import')
    op.drop_table('training_import')
    op.drop_index('ix_action_update_action_id', table_name='action_update')
    op.drop_table('action_update')
    with op.batch_alter_table('action') as batch:
        batch.drop_column('reason')

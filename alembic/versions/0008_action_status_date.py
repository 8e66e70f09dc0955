"""action status date: the day a unit wrote an action's status in its worksheet (Statusdatum)

The follow-ups (May, September, December) are judged by the day the enhetschef wrote, not by
the day the worksheet was imported. Rows imported before this revision gave no such day: they
keep none (NULL), so they count for no follow-up window; they still tell an action's status.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('action', 'action_update'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('status_date', sa.Date(), nullable=True))


def downgrade() -> None:
    for table in ('action_update', 'action'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('status_date')

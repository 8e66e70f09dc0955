"""date indexes: the year's deviations and complaints without scanning every year

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_deviation_reported_date', 'deviation', ['reported_date'], unique=False)
    op.create_index('ix_complaint_received_date', 'complaint', ['received_date'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_complaint_received_date', table_name='complaint')
    op.drop_index('ix_deviation_reported_date', table_name='deviation')

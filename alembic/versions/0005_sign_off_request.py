"""sign_off_request: versions waiting for a decision, and the flow run that asks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_off_request',
    sa.Column('document', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('latest', sa.String(length=1000), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=60), nullable=False),
    sa.Column('asked_by_run', sa.String(length=64), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['org_unit.id'], name=op.f('fk_sign_off_request_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('document', 'period', 'unit_id', name=op.f('pk_sign_off_request'))
    )


def downgrade() -> None:
    op.drop_table('sign_off_request')

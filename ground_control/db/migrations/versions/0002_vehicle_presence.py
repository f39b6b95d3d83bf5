"""Vehicle presence: last status per vehicle id, also for vehicles not registered yet.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:25:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'vehicle_presence',
        sa.Column('vehicle_id', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('vehicle_id', name=op.f('pk_vehicle_presence')),
    )


def downgrade() -> None:
    op.drop_table('vehicle_presence')

"""vehicle_type_costs: per vehicle kind, the prices the planner's time objective uses.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:05:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'vehicle_type_costs',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('cost_per_km', sa.Float(), nullable=False),
        sa.Column('cost_per_hour', sa.Float(), nullable=False),
        sa.Column('fixed_cost_per_trip', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('kind'),
    )


def downgrade() -> None:
    op.drop_table('vehicle_type_costs')

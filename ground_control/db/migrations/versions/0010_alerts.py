"""alerts: what the operator console shows until someone acknowledges it (who, when).

Revision ID: 0010_alerts
Revises: 0007
Create Date: 2026-12-04 19:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0010_alerts'
down_revision = '0009_signing'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('vehicle_id', sa.String(length=64), nullable=True),
        sa.Column('mission_id', sa.String(length=64), nullable=True),
        sa.Column('parcel_id', sa.String(length=64), nullable=True),
        sa.Column('message', sa.String(length=2000), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
        sa.UniqueConstraint('key', name=op.f('uq_alerts_key')),
    )
    op.create_index(op.f('ix_alerts_kind'), 'alerts', ['kind'])
    op.create_index(op.f('ix_alerts_vehicle_id'), 'alerts', ['vehicle_id'])
    op.create_index(op.f('ix_alerts_acknowledged_at'), 'alerts', ['acknowledged_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_alerts_acknowledged_at'), table_name='alerts')
    op.drop_index(op.f('ix_alerts_vehicle_id'), table_name='alerts')
    op.drop_index(op.f('ix_alerts_kind'), table_name='alerts')
    op.drop_table('alerts')

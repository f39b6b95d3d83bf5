"""Recipient tracking: per parcel the tracking token's nonce and lookup hash (never the token)
and the drop spot a recipient confirmed; a table of server secrets generated on first use (the
handover/tracking secret when FLEET_HANDOVER_SECRET is unset), shared by every replica and kept
across restarts.

Revision ID: 0011_tracking
Revises: 0007
Create Date: 2026-12-04 19:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0011_tracking'
down_revision = '0014b_telemetry_history'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('parcels') as batch:
        batch.add_column(sa.Column('tracking_nonce', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('tracking_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('drop_lat', sa.Float(), nullable=True))
        batch.add_column(sa.Column('drop_lon', sa.Float(), nullable=True))
        batch.add_column(sa.Column('drop_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_parcels_tracking_hash', ['tracking_hash'], unique=True)
    op.create_table(
        'server_secrets',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_server_secrets')),
    )


def downgrade() -> None:
    op.drop_table('server_secrets')
    with op.batch_alter_table('parcels') as batch:
        batch.drop_index('ix_parcels_tracking_hash')
        batch.drop_column('drop_confirmed_at')
        batch.drop_column('drop_lon')
        batch.drop_column('drop_lat')
        batch.drop_column('tracking_hash')
        batch.drop_column('tracking_nonce')

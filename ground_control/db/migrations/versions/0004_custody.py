"""Custody: unreachable missions, vehicles declared lost, parcel exclusions with reason and
expiry, and why a parcel waits. Columns only (no data rewrites).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:50:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vehicles') as b:
        b.add_column(sa.Column('lost_at', sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column('lost_reason', sa.String(length=2000), nullable=True))
    with op.batch_alter_table('missions') as b:
        b.add_column(sa.Column('unreachable_since', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('parcels') as b:
        b.add_column(sa.Column('exclusions', sa.JSON(), nullable=True))
        b.add_column(sa.Column('waiting_reason', sa.String(length=2000), nullable=True))
        b.add_column(sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('parcels') as b:
        b.drop_column('waiting_since')
        b.drop_column('waiting_reason')
        b.drop_column('exclusions')
    with op.batch_alter_table('missions') as b:
        b.drop_column('unreachable_since')
    with op.batch_alter_table('vehicles') as b:
        b.drop_column('lost_at')
        b.drop_column('lost_reason')

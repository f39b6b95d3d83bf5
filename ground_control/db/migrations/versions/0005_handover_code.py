"""Robot handover codes: per parcel the code's salt and scrypt hash (never the code) and the
count of wrong attempts (domain.handover_code). Additive: parcels created before have none and
are handed over as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('parcels') as batch:
        batch.add_column(sa.Column('handover_salt', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('handover_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('handover_attempts', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('parcels') as batch:
        batch.drop_column('handover_attempts')
        batch.drop_column('handover_hash')
        batch.drop_column('handover_salt')

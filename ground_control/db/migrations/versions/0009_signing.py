"""Signed messages: a vehicle's registered public key, and a proof of delivery's signature.

The proof keeps the exact bytes the vehicle signed, the signature, the key id and the public key
it verified with, so a delivery can be checked later with public data only, even after the
vehicle's key was rotated. (The agent's replay state lives on the vehicle, not here.)

Revision ID: 0009_signing
Revises: 0007
Create Date: 2026-12-04 19:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0009_signing'
down_revision = '0008_auth'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vehicles') as batch:
        batch.add_column(sa.Column('public_key', sa.Text(), nullable=True))
        batch.add_column(sa.Column('public_key_id', sa.String(length=16), nullable=True))
    with op.batch_alter_table('parcels') as batch:
        batch.add_column(sa.Column('proof_signed', sa.Text(), nullable=True))
        batch.add_column(sa.Column('proof_signature', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('proof_key_id', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('proof_public_key', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('parcels') as batch:
        for name in ('proof_public_key', 'proof_key_id', 'proof_signature', 'proof_signed'):
            batch.drop_column(name)
    with op.batch_alter_table('vehicles') as batch:
        batch.drop_column('public_key_id')
        batch.drop_column('public_key')

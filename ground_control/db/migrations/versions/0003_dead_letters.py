"""Dead letters (messages ingest set aside with their reason) and a 64-bit ``events.seq``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dead_letters',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('fingerprint', sa.String(length=128), nullable=False),
        sa.Column('topic', sa.String(length=512), nullable=False),
        sa.Column('vehicle_id', sa.String(length=64), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=True),
        sa.Column('payload', sa.LargeBinary(), nullable=False),
        sa.Column('payload_size', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=2000), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
        sa.UniqueConstraint('fingerprint', name=op.f('uq_dead_letters_fingerprint')),
    )
    op.create_index(op.f('ix_dead_letters_vehicle_id'), 'dead_letters', ['vehicle_id'], unique=False)
    op.create_index(op.f('ix_dead_letters_channel'), 'dead_letters', ['channel'], unique=False)
    # SQLite's INTEGER already holds 64 bits; PostgreSQL's was int4 (an event with seq 2**31 failed)
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('events', 'seq', type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('events', 'seq', type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
    op.drop_index(op.f('ix_dead_letters_channel'), table_name='dead_letters')
    op.drop_index(op.f('ix_dead_letters_vehicle_id'), table_name='dead_letters')
    op.drop_table('dead_letters')

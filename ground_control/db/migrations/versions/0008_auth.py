"""users, api_keys, auth_secrets, audit_log: authenticated API with roles and an audit trail.

Revision ID: 0008_auth
Revises: 0007
Create Date: 2026-12-04 19:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0008_auth'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('hubs', sa.JSON(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_users')),
    )
    op.create_table(
        'api_keys',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('hubs', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
        sa.UniqueConstraint('name', name=op.f('uq_api_keys_name')),
        sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    )
    op.create_table(
        'auth_secrets',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_auth_secrets')),
    )
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('actor_kind', sa.String(length=16), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('path', sa.String(length=512), nullable=False),
        sa.Column('operation', sa.String(length=256), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=True),
        sa.Column('request', sa.JSON(), nullable=True),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'])
    op.create_index(op.f('ix_audit_log_actor'), 'audit_log', ['actor'])
    op.create_index(op.f('ix_audit_log_path'), 'audit_log', ['path'])


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_log_path'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_actor'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('auth_secrets')
    op.drop_table('api_keys')
    op.drop_table('users')

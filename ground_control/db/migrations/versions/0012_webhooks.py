"""Webhooks (subscriptions, outbox events, deliveries, attempt log, ETA marks), per-mission
battery readings and the parcel's ``footprint``.

Revision ID: 0012_webhooks
Revises: 0007
Create Date: 2026-12-04 19:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0012_webhooks'
down_revision = '0010_alerts'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('parcels') as batch:
        batch.add_column(sa.Column('footprint', sa.JSON(), nullable=True))
    op.create_table(
        'webhook_subscriptions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('event_types', sa.JSON(), nullable=False),
        sa.Column('hub_id', sa.String(length=64), nullable=True),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=128), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', sa.String(length=2000), nullable=True),
        sa.Column('consecutive_failures', sa.Integer(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions')),
    )
    op.create_table(
        'webhook_events',
        sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('parcel_id', sa.String(length=64), nullable=False),
        sa.Column('hub_id', sa.String(length=64), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('fanned_out', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_webhook_events')),
        sa.UniqueConstraint('id', name=op.f('uq_webhook_events_id')),
    )
    op.create_index(op.f('ix_webhook_events_parcel_id'), 'webhook_events', ['parcel_id'])
    op.create_index(op.f('ix_webhook_events_created_at'), 'webhook_events', ['created_at'])
    op.create_index(op.f('ix_webhook_events_fanned_out'), 'webhook_events', ['fanned_out'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('subscription_id', sa.String(length=64), nullable=False),
        sa.Column('event_seq', sa.Integer(), nullable=False),
        sa.Column('parcel_id', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', TS, nullable=False),
        sa.Column('lease_until', TS, nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=2000), nullable=True),
        sa.Column('delivered_at', TS, nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], ondelete='CASCADE',
                                name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions')),
        sa.ForeignKeyConstraint(['event_seq'], ['webhook_events.seq'], ondelete='CASCADE',
                                name=op.f('fk_webhook_deliveries_event_seq_webhook_events')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint('event_seq', 'subscription_id', name=op.f('uq_webhook_deliveries_event_seq')),
    )
    op.create_index(op.f('ix_webhook_deliveries_event_seq'), 'webhook_deliveries', ['event_seq'])
    op.create_index('ix_webhook_deliveries_queue', 'webhook_deliveries',
                    ['subscription_id', 'parcel_id', 'state', 'event_seq'])
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['state', 'next_attempt_at'])
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('at', TS, nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=2000), nullable=True),
        sa.Column('latency_ms', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE',
                                name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
    )
    op.create_index(op.f('ix_webhook_attempts_delivery_id'), 'webhook_attempts', ['delivery_id'])
    op.create_table(
        'webhook_eta_marks',
        sa.Column('parcel_id', sa.String(length=64), nullable=False),
        sa.Column('mission_id', sa.String(length=64), nullable=False),
        sa.Column('notified_eta', TS, nullable=False),
        sa.Column('notified_at', TS, nullable=False),
        sa.Column('arriving_sent', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('parcel_id', name=op.f('pk_webhook_eta_marks')),
    )
    op.create_table(
        'mission_energy',
        sa.Column('mission_id', sa.String(length=64), nullable=False),
        sa.Column('vehicle_id', sa.String(length=64), nullable=False),
        sa.Column('start_pct', sa.Float(), nullable=False),
        sa.Column('start_at', TS, nullable=False),
        sa.Column('last_pct', sa.Float(), nullable=False),
        sa.Column('last_at', TS, nullable=False),
        sa.PrimaryKeyConstraint('mission_id', name=op.f('pk_mission_energy')),
    )


def downgrade() -> None:
    op.drop_table('mission_energy')
    op.drop_table('webhook_eta_marks')
    op.drop_index(op.f('ix_webhook_attempts_delivery_id'), table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_queue', table_name='webhook_deliveries')
    op.drop_index(op.f('ix_webhook_deliveries_event_seq'), table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index(op.f('ix_webhook_events_fanned_out'), table_name='webhook_events')
    op.drop_index(op.f('ix_webhook_events_created_at'), table_name='webhook_events')
    op.drop_index(op.f('ix_webhook_events_parcel_id'), table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_table('webhook_subscriptions')
    with op.batch_alter_table('parcels') as batch:
        batch.drop_column('footprint')


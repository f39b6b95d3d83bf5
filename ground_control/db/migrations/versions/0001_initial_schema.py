"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 22:51:34.418392
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa



revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('vehicle_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('mission_id', sa.String(length=64), nullable=True),
    sa.Column('parcel_id', sa.String(length=64), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_mission_id'), ['mission_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_vehicle_id'), ['vehicle_id'], unique=False)
        batch_op.create_index('ix_events_vehicle_ts', ['vehicle_id', 'ts'], unique=False)

    op.create_table('hubs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hubs'))
    )
    op.create_table('telemetry_latest',
    sa.Column('vehicle_id', sa.String(length=64), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('alt_m', sa.Float(), nullable=True),
    sa.Column('heading_deg', sa.Float(), nullable=False),
    sa.Column('ground_speed_mps', sa.Float(), nullable=False),
    sa.Column('battery_pct', sa.Float(), nullable=False),
    sa.Column('mode', sa.String(length=32), nullable=False),
    sa.Column('armed', sa.Boolean(), nullable=False),
    sa.Column('gps_fix', sa.Integer(), nullable=False),
    sa.Column('agent_state', sa.String(length=32), nullable=False),
    sa.Column('mission_id', sa.String(length=64), nullable=True),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('vehicle_id', name=op.f('pk_telemetry_latest'))
    )
    op.create_table('geofences',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('hub_id', sa.String(length=64), nullable=True),
    sa.Column('geojson', sa.JSON(), nullable=False),
    sa.Column('ceiling_m', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hub_id'], ['hubs.id'], name=op.f('fk_geofences_hub_id_hubs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_geofences'))
    )
    with op.batch_alter_table('geofences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_geofences_hub_id'), ['hub_id'], unique=False)

    op.create_table('vehicles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('hub_id', sa.String(length=64), nullable=False),
    sa.Column('payload_kg', sa.Float(), nullable=False),
    sa.Column('battery_wh', sa.Float(), nullable=False),
    sa.Column('wh_per_km', sa.Float(), nullable=False),
    sa.Column('cruise_speed_mps', sa.Float(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('status_state', sa.String(length=16), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('online_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hub_id'], ['hubs.id'], name=op.f('fk_vehicles_hub_id_hubs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vehicles'))
    )
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicles_hub_id'), ['hub_id'], unique=False)

    op.create_table('commands',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('vehicle_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('mission_id', sa.String(length=64), nullable=True),
    sa.Column('parcel_id', sa.String(length=64), nullable=True),
    sa.Column('handover_code', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acked', sa.Boolean(), nullable=True),
    sa.Column('ack_detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_commands_vehicle_id_vehicles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commands'))
    )
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commands_vehicle_id'), ['vehicle_id'], unique=False)

    op.create_table('missions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('vehicle_id', sa.String(length=64), nullable=False),
    sa.Column('hub_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('parcel_ids', sa.JSON(), nullable=False),
    sa.Column('send_count', sa.Integer(), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fail_reason', sa.String(length=2000), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hub_id'], ['hubs.id'], name=op.f('fk_missions_hub_id_hubs')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_missions_vehicle_id_vehicles')),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_missions'))
    )
    with op.batch_alter_table('missions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_missions_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_missions_vehicle_id'), ['vehicle_id'], unique=False)

    op.create_table('parcels',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('weight_kg', sa.Float(), nullable=False),
    sa.Column('size', sa.String(length=16), nullable=False),
    sa.Column('dims_cm', sa.JSON(), nullable=True),
    sa.Column('hub_id', sa.String(length=64), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('recipient_phone', sa.String(length=32), nullable=True),
    sa.Column('recipient_email', sa.String(length=254), nullable=True),
    sa.Column('earliest', sa.DateTime(timezone=True), nullable=True),
    sa.Column('latest', sa.DateTime(timezone=True), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('vehicle_id', sa.String(length=64), nullable=True),
    sa.Column('mission_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('excluded_vehicles', sa.JSON(), nullable=False),
    sa.Column('proof', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hub_id'], ['hubs.id'], name=op.f('fk_parcels_hub_id_hubs')),
    sa.ForeignKeyConstraint(['mission_id'], ['missions.id'], name=op.f('fk_parcels_mission_id_missions')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_parcels_vehicle_id_vehicles')),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcels'))
    )
    with op.batch_alter_table('parcels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parcels_hub_id'), ['hub_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcels_mission_id'), ['mission_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcels_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcels_vehicle_id'), ['vehicle_id'], unique=False)

    op.create_table('parcel_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('parcel_id', sa.String(length=64), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=True),
    sa.Column('mission_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_parcel_history_parcel_id_parcels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcel_history'))
    )
    with op.batch_alter_table('parcel_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parcel_history_parcel_id'), ['parcel_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('parcel_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parcel_history_parcel_id'))

    op.drop_table('parcel_history')
    with op.batch_alter_table('parcels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parcels_vehicle_id'))
        batch_op.drop_index(batch_op.f('ix_parcels_state'))
        batch_op.drop_index(batch_op.f('ix_parcels_mission_id'))
        batch_op.drop_index(batch_op.f('ix_parcels_hub_id'))

    op.drop_table('parcels')
    with op.batch_alter_table('missions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_missions_vehicle_id'))
        batch_op.drop_index(batch_op.f('ix_missions_state'))

    op.drop_table('missions')
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commands_vehicle_id'))

    op.drop_table('commands')
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicles_hub_id'))

    op.drop_table('vehicles')
    with op.batch_alter_table('geofences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_geofences_hub_id'))

    op.drop_table('geofences')
    op.drop_table('telemetry_latest')
    op.drop_table('hubs')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_vehicle_ts')
        batch_op.drop_index(batch_op.f('ix_events_vehicle_id'))
        batch_op.drop_index(batch_op.f('ix_events_mission_id'))
        batch_op.drop_index(batch_op.f('ix_events_kind'))

    op.drop_table('events')
    

"""telemetry_history: every flushed sample, partitioned by day on PostgreSQL (declarative range
partitioning on received_at, a default partition for anything outside the prepared days; the
daily partitions are created and dropped at run time by ground_control.history), one table on
SQLite.

Revision ID: 0014b_telemetry_history
Revises: 0014_leases
Create Date: 2026-12-04 19:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0014b_telemetry_history'
down_revision = '0014_leases'
branch_labels = None
depends_on = None

COLUMNS = """
    vehicle_id VARCHAR(64) NOT NULL,
    received_at TIMESTAMP WITH TIME ZONE NOT NULL,
    ts TIMESTAMP WITH TIME ZONE NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    alt_m DOUBLE PRECISION,
    heading_deg DOUBLE PRECISION NOT NULL,
    ground_speed_mps DOUBLE PRECISION NOT NULL,
    battery_pct DOUBLE PRECISION NOT NULL,
    mode VARCHAR(32) NOT NULL,
    agent_state VARCHAR(32) NOT NULL,
    mission_id VARCHAR(64)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TABLE telemetry_history ({COLUMNS}) PARTITION BY RANGE (received_at)")
        op.execute("CREATE TABLE telemetry_history_default PARTITION OF telemetry_history DEFAULT")
        op.execute("CREATE INDEX ix_telemetry_history_vehicle_received ON telemetry_history (vehicle_id, received_at)")
        return
    op.create_table(
        'telemetry_history',
        sa.Column('vehicle_id', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
        sa.Column('lat', sa.Float(), nullable=False),
        sa.Column('lon', sa.Float(), nullable=False),
        sa.Column('alt_m', sa.Float(), nullable=True),
        sa.Column('heading_deg', sa.Float(), nullable=False),
        sa.Column('ground_speed_mps', sa.Float(), nullable=False),
        sa.Column('battery_pct', sa.Float(), nullable=False),
        sa.Column('mode', sa.String(length=32), nullable=False),
        sa.Column('agent_state', sa.String(length=32), nullable=False),
        sa.Column('mission_id', sa.String(length=64), nullable=True),
    )
    op.create_index('ix_telemetry_history_vehicle_received', 'telemetry_history', ['vehicle_id', 'received_at'])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE telemetry_history CASCADE")
        return
    op.drop_index('ix_telemetry_history_vehicle_received', table_name='telemetry_history')
    op.drop_table('telemetry_history')

"""Vehicles: release_bays, the parcels a drone can release separately in one trip.

A servo gripper that has opened once cannot release a second parcel, so a one-gripper drone
carries one parcel per trip; drones with several release channels declare how many.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vehicles') as batch:
        batch.add_column(sa.Column('release_bays', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('vehicles') as batch:
        batch.drop_column('release_bays')

"""Webhook subscriptions have an owner: an integrator manages only its own.

Revision ID: 0015_webhook_owner
Revises: 0011_tracking
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_webhook_owner"
down_revision = "0011_tracking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch.create_index("ix_webhook_subscriptions_owner", ["owner"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_index("ix_webhook_subscriptions_owner")
        batch.drop_column("owner")

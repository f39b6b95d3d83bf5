"""Failed logins in the database (``login_failures``), so the token endpoint's brute-force brake
holds across replicas: behind a load balancer, N replicas with in-memory counters allowed N times
the failures.

Revision ID: 0017_login_failures
Revises: 0016_one_secret_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0017_login_failures"
down_revision = "0016_one_secret_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_at", table_name="login_failures")
    op.drop_index("ix_login_failures_key_at", table_name="login_failures")
    op.drop_table("login_failures")

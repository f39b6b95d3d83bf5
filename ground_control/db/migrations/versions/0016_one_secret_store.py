"""One store for generated server secrets: the JWT signing secret moves from ``auth_secrets``
into ``server_secrets`` (name ``jwt``) and ``auth_secrets`` is dropped.

The stored key is kept, so access tokens issued before the upgrade stay valid: the old value
was a string PyJWT used as its UTF-8 bytes, and ``server_secrets`` keeps bytes as hex, so the
new row holds the hex of those same bytes. Downgrade copies it back when it is such a string
(anything generated after the upgrade is random bytes: no row, the old code makes a new one and
users log in again).

Revision ID: 0016_one_secret_store
Revises: 0015_webhook_owner
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0016_one_secret_store"
down_revision = "0015_webhook_owner"
branch_labels = None
depends_on = None

JWT = "jwt"
server_secrets = sa.table("server_secrets", sa.column("name", sa.String), sa.column("value", sa.String),
                          sa.column("created_at", sa.DateTime(timezone=True)))
auth_secrets = sa.table("auth_secrets", sa.column("name", sa.String), sa.column("value", sa.String),
                        sa.column("created_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    bind = op.get_bind()
    old = bind.execute(sa.select(auth_secrets).where(auth_secrets.c.name == JWT)).first()
    if old is not None:
        bind.execute(sa.delete(server_secrets).where(server_secrets.c.name == JWT))
        bind.execute(sa.insert(server_secrets).values(name=JWT, value=old.value.encode().hex(),
                                                      created_at=old.created_at))
    op.drop_table("auth_secrets")


def downgrade() -> None:
    op.create_table(
        "auth_secrets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_auth_secrets")),
    )
    bind = op.get_bind()
    row = bind.execute(sa.select(server_secrets).where(server_secrets.c.name == JWT)).first()
    if row is None:
        return
    try:
        value = bytes.fromhex(row.value).decode("utf-8")
    except ValueError:     # random bytes, not a string the old code can use as its key
        value = None
    if value is not None and len(value) <= 255:
        bind.execute(sa.insert(auth_secrets).values(name=JWT, value=value,
                                                    created_at=row.created_at or datetime.now(timezone.utc)))
    bind.execute(sa.delete(server_secrets).where(server_secrets.c.name == JWT))

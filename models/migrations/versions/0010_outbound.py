"""each webhook subscriber gets their own signing secret (issue 10, outbound calls and secrets)

Webhooks saved without a secret were signed with the server's token signing key; from now on every webhook is
signed with its subscriber's own key (user_channels.secret). This gives each such row a fresh random secret;
rows that already have one keep it. No schema change; no data is removed. The subscriber reads the new secret
by rotating it (POST /api/v1/me/channels/webhook/secret), since it was never shown to them.

Downgrade keeps the secrets (the older code signs with a row's secret when it has one, so nothing breaks).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

channels = sa.table("user_channels", sa.column("id", sa.Integer), sa.column("channel", sa.String),
                    sa.column("secret", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    ids = [i for (i,) in bind.execute(sa.select(channels.c.id).where(channels.c.channel == "webhook",
                                                                     channels.c.secret.is_(None)))]
    for i in ids:
        bind.execute(sa.update(channels).where(channels.c.id == i).values(secret=secrets.token_urlsafe(32)))


def downgrade() -> None:
    pass

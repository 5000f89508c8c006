"""the reporter's idempotency key on cases

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

A grid worker's phone keeps a report made offline and sends it when the network returns; if the first
attempt did reach the server, the resend carries the same key and gets the same case back.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("client_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_index("ux_cases_reporter_client_key", "cases", ["reporter_id", "client_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_cases_reporter_client_key", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("client_key")

"""honest operations (issue 10): a checkpoint or bulletin generated before its period ended is a preview

`checkpoints.preview` and `bulletins.preview` (boolean, NOT NULL, default false): every stored record so far
stays what it was shown as (published); a preview is not announced and the run after the period replaces it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("checkpoints", "bulletins")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("preview", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("preview")

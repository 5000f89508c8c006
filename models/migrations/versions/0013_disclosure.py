"""行政执法公示 (issue 15): `catalog_items.disclose` (boolean, NOT NULL, default false): closed cases of the item are
published (masked) on the public page; `disclosure_decisions`: the township's withhold / release decisions, one
append-only row each (who, unit, role, when, why)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disclose", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "disclosure_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("withheld", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_disclosure_decisions_case_at", "disclosure_decisions", ["case_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_disclosure_decisions_case_at", table_name="disclosure_decisions")
    op.drop_table("disclosure_decisions")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_column("disclose")

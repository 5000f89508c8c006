"""重大执法决定法制审核 (issue 15): `catalog_items.major` (重大执法决定: feedback goes to legal review); on cases
`major` (the decision was sent to legal review: the legal reviewers' scope) and `legal_return_count` (法制审核退回,
not verification reworks); `feedbacks.major` (this feedback went to legal review); the `legal_reviews` table
(each reviewer's decision: approved, or returned with a reason; `round` 1 for the case's first review)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("major", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("major", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("legal_return_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("feedbacks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("major", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "legal_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_unit_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["reviewer_unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("legal_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_reviews_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_legal_reviews_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_legal_reviews_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("legal_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_reviews_unit_id"))
        batch_op.drop_index(batch_op.f("ix_legal_reviews_case_id"))
        batch_op.drop_index(batch_op.f("ix_legal_reviews_at"))
    op.drop_table("legal_reviews")
    with op.batch_alter_table("feedbacks", schema=None) as batch_op:
        batch_op.drop_column("major")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("legal_return_count")
        batch_op.drop_column("major")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_column("major")

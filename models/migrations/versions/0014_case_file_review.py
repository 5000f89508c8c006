"""案卷评查 (issue 15): review_draws (seeded samples of closed cases), review_cases (a sampled case, its reviewer and
finalisation), review_scores (pass/fail and a note on each of the six points)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("share", sa.Integer(), nullable=True),
        sa.Column("units", sa.JSON(), nullable=True),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("drawn_by_id", sa.Integer(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["drawn_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "review_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("finalised_by_id", sa.Integer(), nullable=True),
        sa.Column("finalised_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["draw_id"], ["review_draws.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["assigned_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["finalised_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("draw_id", "case_id"),
    )
    op.create_index("ix_review_cases_draw_id", "review_cases", ["draw_id"])
    op.create_index("ix_review_cases_case_id", "review_cases", ["case_id"])
    op.create_index("ix_review_cases_reviewer_id", "review_cases", ["reviewer_id"])
    op.create_index("ix_review_cases_finalised_at", "review_cases", ["finalised_at"])
    op.create_table(
        "review_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_case_id", sa.Integer(), nullable=False),
        sa.Column("point", sa.String(length=16), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("scored_by_id", sa.Integer(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["review_case_id"], ["review_cases.id"]),
        sa.ForeignKeyConstraint(["scored_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_case_id", "point"),
    )
    op.create_index("ix_review_scores_review_case_id", "review_scores", ["review_case_id"])


def downgrade() -> None:
    op.drop_index("ix_review_scores_review_case_id", table_name="review_scores")
    op.drop_table("review_scores")
    for name in ("finalised_at", "reviewer_id", "case_id", "draw_id"):
        op.drop_index(f"ix_review_cases_{name}", table_name="review_cases")
    op.drop_table("review_cases")
    op.drop_table("review_draws")

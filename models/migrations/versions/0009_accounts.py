"""sessions, login throttle counters, case-insensitively unique usernames (issue 10, accounts)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

- `sessions`: one row per issued token (its `jti`), so logout and account changes can end it at once.
  Tokens issued before this revision carry no `jti` and are refused (the user signs in again).
- `throttle_counters`: the login throttle's fixed-window counters, shared by every API process.
- `ux_users_username_lower`: `Admin` and `admin` can no longer both exist. If the database already holds
  usernames that differ only by letter case, the upgrade stops before changing anything and names them:
  which account keeps the name is the operator's decision (the timeline records actors by username), so
  nothing is renamed behind anyone's back. Rename one of each pair (UPDATE users SET username = '…' WHERE
  id = …) and run the upgrade again.
"""

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


class CaseDuplicateUsernames(RuntimeError):
    pass


def _refuse_case_duplicates() -> None:
    rows = op.get_bind().execute(sa.text(
        "SELECT id, username FROM users WHERE lower(username) IN "
        "(SELECT lower(username) FROM users GROUP BY lower(username) HAVING count(*) > 1) "
        "ORDER BY lower(username), id")).all()
    if rows:
        names = ", ".join(f"{name} (id {uid})" for uid, name in rows)
        raise CaseDuplicateUsernames(
            f"升级已停止，未做任何修改：以下用户名仅大小写不同：{names}。请先为其中一个改名"
            f"（UPDATE users SET username = '新名' WHERE id = …），再重新升级。 / "
            f"upgrade stopped, nothing changed: these usernames differ only by letter case: {names}. "
            f"Rename one of each (UPDATE users SET username = 'new' WHERE id = …) and upgrade again.")


def upgrade() -> None:
    _refuse_case_duplicates()
    op.create_index("ux_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_throttle_counters_expires_at", "throttle_counters", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_throttle_counters_expires_at", table_name="throttle_counters")
    op.drop_table("throttle_counters")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ux_users_username_lower", table_name="users")

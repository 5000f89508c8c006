"""performance (issue 13): the sweep's due index holds only the clocks that have a level still to fire

`ix_clocks_due` becomes partial (`WHERE next_alert_at IS NOT NULL`). A clock that stops, pauses or has fired its
last level sets `next_alert_at` to NULL, and stopped clocks accumulate (every step of every case leaves one), so
the full index grew with history while the sweep only ever reads `next_alert_at <= now`, which the planner of
either database proves implies the predicate. Both PostgreSQL and SQLite build partial indexes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_RUNNING = sa.text("next_alert_at IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_clocks_due", table_name="clocks")
    op.create_index("ix_clocks_due", "clocks", ["next_alert_at"], postgresql_where=_RUNNING, sqlite_where=_RUNNING)


def downgrade() -> None:
    op.drop_index("ix_clocks_due", table_name="clocks")
    op.create_index("ix_clocks_due", "clocks", ["next_alert_at"])

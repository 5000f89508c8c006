"""performance (issue 13): the sweep's due index is in the claim's order, (next_alert_at, id)

The sweep claims `ORDER BY next_alert_at, id LIMIT batch`. On `(next_alert_at)` alone the planner had to read every
due clock sharing the batch's last `next_alert_at`, join each to its case and sort them before it could stop: at
17:31 every normal clock's deadline and escalation share 17:30, so each batch of 2,000 read up to 8,000 clocks and
cases (bench/RESULTS.md#sweep). With `id` in the index the scan comes out in the claim's order and stops at the
batch. Still partial (0016). A plain index rebuild: no data changes, and the downgrade restores 0016's index.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_RUNNING = sa.text("next_alert_at IS NOT NULL")


def _due_index(*columns: str) -> None:
    op.drop_index("ix_clocks_due", table_name="clocks")
    op.create_index("ix_clocks_due", "clocks", list(columns), postgresql_where=_RUNNING, sqlite_where=_RUNNING)


def upgrade() -> None:
    _due_index("next_alert_at", "id")


def downgrade() -> None:
    _due_index("next_alert_at")

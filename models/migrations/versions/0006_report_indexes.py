"""indexes for the bulletin's date ranges

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

The bulletin filters every table by a month; without these it reads each table whole, and its time
grows with the years of history (bench/RESULTS.md, ## bulletin).
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_cases_closed_at", "cases", ["closed_at"]),
    ("ix_whistles_dispatched_at", "whistles", ["dispatched_at"]),
    ("ix_whistles_returned_at", "whistles", ["returned_at"]),
    ("ix_alerts_fired_at", "alerts", ["fired_at"]),
    ("ix_remarks_kind_at", "remarks", ["kind", "at"]),
    ("ix_clocks_kind_stopped", "clocks", ["kind", "stopped_at"]),
    ("ix_clocks_kind_deadline", "clocks", ["kind", "deadline"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)

"""indexes for the web pages' lists and dashboard

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

Measured with 1,000,000 cases (bench/ui.py, bench/RESULTS.md ## ui):
- a department's scope (`EXISTS (SELECT 1 FROM whistles WHERE case_id = cases.id AND unit_id = :unit)`, and its
  count from the whistles alone) read every whistle the unit ever received from the heap; (unit_id, case_id)
  answers both from the index. It replaces the single-column index on unit_id, which it covers.
- "a whistle of my unit not yet checked in" (the department inbox) filtered all of a unit's whistles for the few
  still `sent`; (unit_id, state, active, case_id) finds just those, from the index alone.
- the open-case queries (inboxes, the dashboard's figures grouped by township, lead unit, status and alert) read
  each open case's row for its alert and unit; (status, alert, township_id, lead_unit_id, suspended_from)
  answers them from the index and replaces the index on status alone, which it covers. Closed cases repeat the
  same few key values, so B-tree deduplication keeps it about the size of the old one.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NEW = [
    ("ix_whistles_unit_case", "whistles", ["unit_id", "case_id"]),
    ("ix_whistles_unit_state", "whistles", ["unit_id", "state", "active", "case_id"]),
    ("ix_cases_status_scope", "cases", ["status", "alert", "township_id", "lead_unit_id", "suspended_from"]),
]
REPLACED = [  # covered by the new ones (their leading columns)
    ("ix_whistles_unit_id", "whistles", ["unit_id"]),
    ("ix_cases_status", "cases", ["status"]),
]


def upgrade() -> None:
    for name, table, columns in NEW:
        op.create_index(name, table, columns)
    for name, table, _ in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    for name, table, _ in reversed(NEW):
        op.drop_index(name, table_name=table)

"""predicted closure and possible duplicates (issue 15): no schema change

Neither needs a table or an index of its own. The prediction reads the cases closed in the last 90 days of the
items and townships on a page through `ix_cases_closed_at` (a range of three months); the duplicate search reads
open cases through `ix_cases_status_scope` (status first) and `ix_cases_township_status`, bounded (a bounding box
on the point, and the newest 300 for titles). The radius and threshold live in the `settings` table
(`possible_duplicates`). The revision stays so that the chain 0014 → 0015 → 0016 holds.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

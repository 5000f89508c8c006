"""performance (issue 13): drop five indexes that another index of the same table already leads with

Each of these single-column indexes is the first column of a unique index on the same table, which answers the
same lookups (equality on that column, the foreign key's checks on delete). `cases.reporter_id` is the one that
costs: no update of a case is HOT (its status and alert colour are indexed), so every action and every sweep
batch wrote an entry into `ix_cases_reporter_id` for each case row it touched, as into every other index of
`cases`. Found with a catalogue query: the non-unique, non-partial indexes of `pg_index` whose `indkey` is a
prefix of another index's on the same table. Dropping an index changes no data; the downgrade builds them again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# (index, table, column): each column leads the table's unique index named beside it
_REDUNDANT = (
    ("ix_cases_reporter_id", "cases", "reporter_id"),  # ux_cases_reporter_client_key (reporter_id, client_key)
    ("ix_catalog_overrides_item_id", "catalog_overrides", "item_id"),  # unique (item_id, township_id)
    ("ix_user_channels_user_id", "user_channels", "user_id"),  # unique (user_id, channel)
    ("ix_review_cases_draw_id", "review_cases", "draw_id"),  # unique (draw_id, case_id)
    ("ix_review_scores_review_case_id", "review_scores", "review_case_id"),  # unique (review_case_id, point)
)


def upgrade() -> None:
    for name, table, _ in _REDUNDANT:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, column in _REDUNDANT:
        op.create_index(name, table, [column])

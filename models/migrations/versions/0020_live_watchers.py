"""the events trigger sends its NOTIFY only while an API process has live sockets open (issue 13)

A NOTIFY is not free: PostgreSQL serializes the commits of the transactions that send one (a database-wide lock
held from queueing the notification to the end of the commit), signals every listening backend, and every API
process decodes every event. With no socket open in any process none of that reaches anyone. `live_watchers`
holds one row per API process whose sockets need every event (its LISTEN connection's backend pid,
notifications/listener.py); the trigger checks for a row first. bench/loop.py on PostgreSQL, alternated with and
without the NOTIFY: 1.87-1.89 ms of server and PostgreSQL CPU per action against 2.08 (bench/RESULTS.md#loop).
Creates an empty table: nothing to migrate; the downgrade drops it and puts the trigger of 0017 back.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_BODY = """json_build_object('id', NEW.id, 'kind', NEW.kind, 'action', NEW.action, 'case_id', NEW.case_id,
                                   'township_id', NEW.township_id, 'unit_ids', NEW.unit_ids,
                                   'reporter_id', NEW.reporter_id, 'payload', NEW.payload, 'at', NEW.at)::text"""


def _function(when: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION chuishao_notify_event() RETURNS trigger AS $$
DECLARE
    body text;
BEGIN
    {when}
    body := {_BODY};
    IF octet_length(body) < 7900 THEN
        PERFORM pg_notify('chuishao_events', body);
    ELSE
        PERFORM pg_notify('chuishao_events', NEW.id::text);
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql"""


# no API process has a socket open: no one to tell (a VOLATILE function's query sees rows committed meanwhile)
_WHEN_WATCHED = "IF NOT EXISTS (SELECT 1 FROM live_watchers) THEN RETURN NEW; END IF;"


def upgrade() -> None:
    op.create_table(
        "live_watchers",
        sa.Column("pid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pid"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function(_WHEN_WATCHED))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function(""))
    op.drop_table("live_watchers")

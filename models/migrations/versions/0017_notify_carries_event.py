"""the events trigger's NOTIFY carries the event itself, so listeners need not read it back (issue 13)

Every API process LISTENs for committed events (notifications/listener.py). The trigger used to send the new
row's id, and each process then read the row back: one query per wake-up in every process for every event of
every other process. The notification now carries the event's fields as JSON (the same fields as
`notifications.events.event_dict`; `at` as the stored naive UTC value); an event whose JSON would not fit a
NOTIFY payload (PostgreSQL's limit is 8000 bytes) still sends its id alone, and the listener reads that one back.
PostgreSQL only; SQLite has no trigger (its API process polls).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_WITH_EVENT = """
CREATE OR REPLACE FUNCTION chuishao_notify_event() RETURNS trigger AS $$
DECLARE
    body text := json_build_object('id', NEW.id, 'kind', NEW.kind, 'action', NEW.action, 'case_id', NEW.case_id,
                                   'township_id', NEW.township_id, 'unit_ids', NEW.unit_ids,
                                   'reporter_id', NEW.reporter_id, 'payload', NEW.payload, 'at', NEW.at)::text;
BEGIN
    IF octet_length(body) < 7900 THEN
        PERFORM pg_notify('chuishao_events', body);
    ELSE
        PERFORM pg_notify('chuishao_events', NEW.id::text);
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql"""

_ID_ONLY = """
CREATE OR REPLACE FUNCTION chuishao_notify_event() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('chuishao_events', NEW.id::text);
    RETURN NEW;
END $$ LANGUAGE plpgsql"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_WITH_EVENT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_ID_ONLY)

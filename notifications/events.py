"""Reading committed events: one by id (after a NOTIFY), or those after an id within a scope (replay)."""

from sqlalchemy import func, select

from chuishao.models.db import Database
from chuishao.models.notifications import Event

# what a published event holds (`at` as ISO 8601 text); read as Core rows, so that a poll after every commit
# (SQLite) builds no ORM objects
_FIELDS = ("id", "kind", "action", "case_id", "township_id", "unit_ids", "reporter_id", "payload", "at")
_COLUMNS = tuple(getattr(Event, f) for f in _FIELDS)


def _dict(values) -> dict:
    out = dict(zip(_FIELDS, values, strict=True))
    out["at"] = out["at"].isoformat()
    return out


def event_dict(e: Event) -> dict:
    return _dict([getattr(e, f) for f in _FIELDS])


def public(event: dict) -> dict:
    """What a client receives: no scope internals."""
    return {k: event[k] for k in ("id", "kind", "action", "case_id", "payload", "at")}


async def events_after(db: Database, after_id: int, limit: int = 1000) -> list[dict]:
    """The events committed with an id above `after_id`, oldest first, at most `limit` (as `event_dict`)."""
    async with db.read() as s:
        conn = await s.connection()
        rows = await conn.execute(select(*_COLUMNS).where(Event.id > after_id).order_by(Event.id).limit(limit))
        return [_dict(r) for r in rows]


async def events_by_id(db: Database, ids: list[int]) -> list[dict]:
    """The events with these ids, oldest first (as `event_dict`)."""
    if not ids:
        return []
    async with db.read() as s:
        conn = await s.connection()
        rows = await conn.execute(select(*_COLUMNS).where(Event.id.in_(ids)).order_by(Event.id))
        return [_dict(r) for r in rows]


async def last_event_id(db: Database) -> int:
    async with db.read() as s:
        return (await s.execute(select(func.coalesce(func.max(Event.id), 0)))).scalar_one()

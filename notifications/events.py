"""Reading committed events: one by id (after a NOTIFY), or those after an id within a scope (replay)."""

from sqlalchemy import func, select

from chuishao.models.db import Database
from chuishao.models.notifications import Event


def event_dict(e: Event) -> dict:
    return {"id": e.id, "kind": e.kind, "action": e.action, "case_id": e.case_id, "township_id": e.township_id,
            "unit_ids": e.unit_ids, "reporter_id": e.reporter_id, "payload": e.payload,
            "at": e.at.isoformat()}


def public(event: dict) -> dict:
    """What a client receives: no scope internals."""
    return {k: event[k] for k in ("id", "kind", "action", "case_id", "payload", "at")}


async def events_after(db: Database, after_id: int, limit: int = 1000) -> list[dict]:
    async with db.read() as s:
        rows = (await s.execute(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit))).scalars()
        return [event_dict(e) for e in rows]


async def events_by_id(db: Database, ids: list[int]) -> list[dict]:
    if not ids:
        return []
    async with db.read() as s:
        rows = (await s.execute(select(Event).where(Event.id.in_(ids)).order_by(Event.id))).scalars()
        return [event_dict(e) for e in rows]


async def last_event_id(db: Database) -> int:
    async with db.read() as s:
        return (await s.execute(select(func.coalesce(func.max(Event.id), 0)))).scalar_one()

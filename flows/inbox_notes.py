"""The signed-in user's notification inbox (docs/architecture.md#notifications): list, unread count, mark as read.

One place for these queries, used by the REST routes (`/api/v1/notifications…`) and the web pages
(`/notifications`), so both always agree on what "unread" means.
"""

from datetime import datetime

from sqlalchemy import func, select, update

from chuishao.flows.access import Actor
from chuishao.flows.clock import local
from chuishao.models.db import Database
from chuishao.models.notifications import Event, Notification


def _item(n: Notification, e: Event) -> dict:
    return {"id": n.id, "event_id": e.id, "title": n.title, "kind": e.kind, "action": e.action,
            "case_id": e.case_id, "at": local(n.at), "read": n.read_at is not None}


async def list_notes(db: Database, actor: Actor, *, unread: bool = False, page: int = 1,
                     page_size: int = 20) -> dict:
    """The actor's notifications, newest first, one page.

    Returns `{"items": [{id, event_id, title, kind, action, case_id, at (ISO, Asia/Shanghai), read}],
    "page", "page_size"}`; `unread=True` keeps only the unread ones. `page` counts from 1."""
    async with db.read() as s:
        q = (select(Notification, Event).join(Event, Event.id == Notification.event_id)
             .where(Notification.user_id == actor.id))
        if unread:
            q = q.where(Notification.read_at.is_(None))
        rows = (await s.execute(q.order_by(Notification.id.desc()).offset((page - 1) * page_size)
                                .limit(page_size))).all()
    return {"items": [_item(n, e) for n, e in rows], "page": page, "page_size": page_size}


async def count_notes(db: Database, actor: Actor, *, unread: bool = False) -> int:
    """How many notifications the actor has (all, or only the unread ones)."""
    async with db.read() as s:
        q = select(func.count()).select_from(Notification).where(Notification.user_id == actor.id)
        if unread:
            q = q.where(Notification.read_at.is_(None))
        return (await s.execute(q)).scalar_one()


async def unread_count(db: Database, actor: Actor) -> int:
    """The number on the bell: the actor's unread notifications."""
    return await count_notes(db, actor, unread=True)


async def mark_read(db: Database, actor: Actor, at: datetime, *, ids: list[int] | None = None,
                    everything: bool = False) -> int:
    """Mark the actor's unread notifications read at `at` (UTC): those in `ids`, or all of them when
    `everything`. Other users' notifications are never touched. Returns how many were marked."""
    async with db.transaction() as s:
        q = update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        if not everything:
            q = q.where(Notification.id.in_(ids or []))
        result = await s.execute(q.values(read_at=at).execution_options(synchronize_session=False))
    return result.rowcount


async def get_note(db: Database, actor: Actor, note_id: int) -> dict | None:
    """One of the actor's notifications, in the shape of `list_notes`' items; None when it is not theirs."""
    async with db.read() as s:
        row = (await s.execute(select(Notification, Event).join(Event, Event.id == Notification.event_id)
                               .where(Notification.id == note_id, Notification.user_id == actor.id))).first()
    if row is None:
        return None
    return _item(*row)

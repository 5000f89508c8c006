"""Turn committed events into per-user notifications and external deliveries. Runs after the commit
(in the API process right away, and in the scheduled redelivery sweep), so the action's own
transaction writes only the event. Idempotent: each event is claimed, fanned out and marked once."""

from datetime import datetime

from sqlalchemy import and_, or_, select, update

from models.db import Database
from models.notifications import Delivery, Event, Notification, UserChannel
from models.org import User

ALERT_LABELS = {"warning": "黄灯预警", "overdue": "红灯超时", "escalated": "升级督办"}


def title_of(event: Event) -> str:
    p = event.payload or {}
    if event.kind == "alert":
        return f"{p.get('code', '')} {p.get('title', '')}：{ALERT_LABELS.get(event.action, event.action)}"[:300]
    if p.get("headline"):
        return str(p["headline"])[:300]
    label, status = p.get("label", event.action), p.get("status_label", "")
    return f"{p.get('code', '')} {p.get('title', '')}：{label}（{status}）"[:300]


def _recipients_query(audience: dict):
    conds = []
    for role, unit_id in audience.get("roles", []):
        conds.append(and_(User.role == role, User.unit_id == unit_id) if unit_id is not None else User.role == role)
    if audience.get("users"):
        conds.append(User.id.in_(audience["users"]))
    if not conds:
        return None
    q = select(User.id).where(User.active, or_(*conds))
    if audience.get("exclude") is not None:
        q = q.where(User.id != audience["exclude"])
    return q


async def fan_out(db: Database, now: datetime, limit: int = 500) -> int:
    """Materialise notifications (and pending deliveries) for events not yet fanned out. Returns how many."""
    done = 0
    while True:
        async with db.transaction() as s:
            await db.lock_for_claim(s)
            q = select(Event).where(Event.fanned_out_at.is_(None)).order_by(Event.id).limit(limit)
            if db.is_postgres:
                q = q.with_for_update(skip_locked=True)
            events = list((await s.execute(q)).scalars())
            if not events:
                return done
            for e in events:
                rq = _recipients_query(e.audience or {})
                users = [uid for (uid,) in (await s.execute(rq)).all()] if rq is not None else []
                if users:
                    title = title_of(e)
                    rows = [Notification(event_id=e.id, user_id=u, title=title, at=e.at) for u in users]
                    s.add_all(rows)
                    await s.flush()
                    channels = (await s.execute(select(UserChannel).where(
                        UserChannel.user_id.in_(users), UserChannel.enabled))).scalars().all()
                    by_user = {n.user_id: n.id for n in rows}
                    s.add_all(Delivery(notification_id=by_user[c.user_id], channel=c.channel, address=c.address,
                                       state="pending", next_at=now) for c in channels)
                await s.execute(update(Event).where(Event.id == e.id).values(fanned_out_at=now)
                                .execution_options(synchronize_session=False))
            done += len(events)
        if len(events) < limit:
            return done

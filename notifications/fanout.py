"""Turn committed events into per-user notifications and external deliveries. Runs after the commit
(in the API process right away, and in the scheduled redelivery sweep), so the action's own
transaction writes only the event. Idempotent: each event is claimed, fanned out and marked once."""

from datetime import UTC, datetime

from sqlalchemy import and_, or_, select

from chuishao.models.db import Database
from chuishao.models.notifications import Delivery, Event, Notification, UserChannel
from chuishao.models.org import User
from chuishao.models.vocabulary import ALERT_LABELS, DELIVERY_PENDING

_EVENT_COLUMNS = (Event.id, Event.kind, Event.action, Event.payload, Event.audience, Event.at)
_NOTIFICATIONS = Notification.__table__


def title_of(event) -> str:
    """The notification's title for an event (an `Event`, or a row with its kind, action and payload)."""
    p = event.payload or {}
    if event.kind == "alert":
        return f"{p.get('code', '')} {p.get('title', '')}：{ALERT_LABELS.get(event.action, event.action)}"[:300]
    if p.get("headline"):
        return str(p["headline"])[:300]
    label, status = p.get("label", event.action), p.get("status_label", "")
    return f"{p.get('code', '')} {p.get('title', '')}：{label}（{status}）"[:300]


def _named(audiences: list[dict]) -> tuple[set[tuple[str, int | None]], set[int]]:
    """The (role, unit id or None for anywhere) pairs and the user ids any of these audiences names."""
    return ({(role, unit_id) for a in audiences for role, unit_id in a.get("roles", [])},
            {u for a in audiences for u in a.get("users") or []})


def _wanted(audiences: list[dict]):
    """One query for the users any of these audiences names: active, and of a (role, unit) pair, a role
    anywhere, or named by id. None when no audience names anyone."""
    pairs, ids = _named(audiences)
    conds = [and_(User.role == role, User.unit_id == unit_id) if unit_id is not None else User.role == role
             for role, unit_id in sorted(pairs, key=lambda p: (p[0], p[1] is None, p[1] or 0))]
    if ids:
        conds.append(User.id.in_(sorted(ids)))
    if not conds:
        return None
    return select(User.id, User.role, User.unit_id).where(User.active, or_(*conds)).order_by(User.id)


class Recipients:
    """Who of `users` ((id, role, unit_id), active ones, as one batch's query found them) each event's audience
    names, looked up by (role, unit) instead of a pass over every user per event."""

    def __init__(self, users: list[tuple[int, str, int | None]]):
        self.by_pair: dict[tuple[str, int | None], list[int]] = {}
        self.by_role: dict[str, list[int]] = {}
        for uid, role, unit_id in users:
            self.by_pair.setdefault((role, unit_id), []).append(uid)
            self.by_role.setdefault(role, []).append(uid)
        self.known = {uid: uid for uid, _, _ in users}  # the id as the database has it, however the audience wrote it

    def __call__(self, audience: dict) -> list[int]:
        """The user ids, ascending, that `audience` names: {"roles": [[role, unit_id or None], ...],
        "users": [id, ...], "exclude": id or None}; a role with None is that role anywhere."""
        ids: set[int] = set()
        for role, unit_id in audience.get("roles", []):
            ids.update(self.by_role.get(role, ()) if unit_id is None else self.by_pair.get((role, unit_id), ()))
        ids.update(self.known[u] for u in audience.get("users") or () if u in self.known)
        ids.discard(audience.get("exclude"))
        return sorted(ids)


def _addressed(events, users: list[tuple[int, str, int | None]]):
    """(event, its recipients' ids, its notification title) for each of `events` that names anyone."""
    recipients = Recipients(users)
    for e in events:
        who = recipients(e.audience or {})
        if who:
            yield e, who, title_of(e)


# ---- PostgreSQL: three statements per batch, sent as they stand (no SQL compiled per batch; times as stored, naive
# UTC): the claim, the users the batch's audiences name (the pairs as arrays), and one write — the notifications,
# their deliveries on each enabled channel of their user, and the events marked.
_PG_CLAIM = """
SELECT id, kind, action, payload, audience, at FROM events
 WHERE fanned_out_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"""
_PG_USERS = """
SELECT u.id, u.role, u.unit_id FROM users u
 WHERE u.active AND (u.id = ANY($3::INTEGER[]) OR EXISTS (
       SELECT 1 FROM unnest($1::VARCHAR[], $2::INTEGER[]) AS p(role, unit_id)
        WHERE p.role = u.role AND (p.unit_id IS NULL OR p.unit_id = u.unit_id)))
 ORDER BY u.id"""
_PG_WRITE = """
WITH n AS (
    INSERT INTO notifications (event_id, user_id, title, at)
    SELECT * FROM unnest($1::INTEGER[], $2::INTEGER[], $3::VARCHAR[], $4::TIMESTAMP[])
    RETURNING id, user_id),
d AS (
    INSERT INTO deliveries (notification_id, channel, address, state, next_at, attempts)
    SELECT n.id, c.channel, c.address, $5, $6::TIMESTAMP, 0
      FROM n JOIN user_channels c ON c.user_id = n.user_id AND c.enabled
     ORDER BY n.id, c.id
    RETURNING 1)
UPDATE events SET fanned_out_at = $6::TIMESTAMP WHERE id = ANY($7::INTEGER[])"""


async def _batch_pg(db: Database, now: datetime, limit: int) -> int:
    """One batch on PostgreSQL (see `fan_out`): how many events it fanned out."""
    async with db.transaction() as s:
        conn = await s.connection()
        events = (await conn.exec_driver_sql(_PG_CLAIM, (limit,))).all()
        if not events:
            return 0
        pairs, ids = _named([e.audience or {} for e in events])
        users = []
        if pairs or ids:
            pairs = sorted(pairs, key=lambda p: (p[0], p[1] is None, p[1] or 0))
            users = [tuple(r) for r in await conn.exec_driver_sql(
                _PG_USERS, ([r for r, _ in pairs], [u for _, u in pairs], sorted(ids)))]
        rows = [(e.id, u, title, e.at) for e, who, title in _addressed(events, users) for u in who]
        at = now.astimezone(UTC).replace(tzinfo=None)
        await conn.exec_driver_sql(_PG_WRITE, (
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
            DELIVERY_PENDING, at, [e.id for e in events]))
    return len(events)


async def _batch_sqlite(db: Database, now: datetime, limit: int) -> int:
    """One batch on SQLite (see `fan_out`), Core statements under the database's write lock."""
    async with db.transaction() as s:
        await db.lock_for_claim(s)
        conn = await s.connection()  # Core rows and Core inserts: no ORM objects for what is only copied
        events = (await conn.execute(select(*_EVENT_COLUMNS).where(Event.fanned_out_at.is_(None))
                                     .order_by(Event.id).limit(limit))).all()
        if not events:
            return 0
        wanted = _wanted([e.audience or {} for e in events])
        users = [tuple(r) for r in (await conn.execute(wanted)).all()] if wanted is not None else []
        rows = [{"event_id": e.id, "user_id": u, "title": title, "at": e.at}
                for e, who, title in _addressed(events, users) for u in who]
        if rows:
            made = (await conn.execute(_NOTIFICATIONS.insert().returning(_NOTIFICATIONS.c.id,
                                                                         _NOTIFICATIONS.c.user_id),
                                       rows)).all()
            channels = (await conn.execute(select(UserChannel.user_id, UserChannel.channel, UserChannel.address)
                                           .where(UserChannel.user_id.in_({r["user_id"] for r in rows}),
                                                  UserChannel.enabled))).all()
            by_user: dict[int, list] = {}
            for user_id, channel, address in channels:
                by_user.setdefault(user_id, []).append((channel, address))
            deliveries = [{"notification_id": nid, "channel": channel, "address": address,
                           "state": DELIVERY_PENDING, "next_at": now, "attempts": 0}
                          for nid, uid in made for channel, address in by_user.get(uid, [])]
            if deliveries:
                await conn.execute(Delivery.__table__.insert(), deliveries)
        await conn.execute(Event.__table__.update().where(Event.__table__.c.id.in_([e.id for e in events]))
                           .values(fanned_out_at=now))
    return len(events)


async def fan_out(db: Database, now: datetime, limit: int = 500) -> int:
    """Materialise notifications (and pending deliveries) for events not yet fanned out, a batch of up to
    `limit` events per transaction (claimed with SKIP LOCKED on PostgreSQL, under the write lock on SQLite) with
    a fixed number of statements: on PostgreSQL three (the claim, the users any of them names, one write of the
    notifications, their deliveries and the events' mark), on SQLite up to six (the same, the channels read and
    each write apart). Returns how many events."""
    one = _batch_pg if db.is_postgres else _batch_sqlite
    done = 0
    while True:
        n = await one(db, now, limit)
        done += n
        if n < limit:
            return done

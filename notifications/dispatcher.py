"""Deliver pending deliveries at least once, with retries and exponential backoff, recording every
attempt; give up after a bound and mark the delivery failed for the admin to see. A delivery the destination policy
refuses (notifications/egress.py, re-read each round) fails at once with the reason: retrying cannot help.

A delivery is leased before it is sent (its next attempt time pushed past the send), and the send
happens outside any transaction, so a slow webhook never holds a database lock. A dispatcher that
dies mid-send leaves the lease to expire, and the next run sends again: at least once."""

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update

from chuishao.models.db import Database
from chuishao.models.notifications import Delivery, DeliveryAttempt, Event, Notification, UserChannel
from chuishao.models.vocabulary import DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SENT
from chuishao.notifications.channels import Channel, DeliveryFailed, DeliveryRefused, Message
from chuishao.notifications.egress import Egress

MAX_ATTEMPTS = 6
LEASE = timedelta(seconds=60)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 * 2 ** (attempts - 1), 600))  # 2 s, 4 s, 8 s, … capped at 10 min


def message_body(title: str, kind: str, payload: dict | None) -> str:
    """The text a person receives (e-mail body, webhook `body`): the title, and for an alert when its level fell
    due and when it was raised (Asia/Shanghai), which differ after an outage."""
    p = payload or {}
    if kind != "alert" or not (p.get("due_at") and p.get("fired_at")):
        return title
    due, fired = (datetime.fromisoformat(p[k]).strftime("%Y-%m-%d %H:%M") for k in ("due_at", "fired_at"))
    return f"{title}\n到期 due: {due}\n发出 raised: {fired}"


async def deliver_due(db: Database, channels: dict[str, Channel], now: datetime | Callable[[], datetime],
                      limit: int = 200, egress: Egress | None = None) -> dict:
    """Send up to `limit` due deliveries; answers {"sent", "retrying", "failed"} counts. `now`: a clock (read
    again after each send, so an attempt is recorded when it ended, however long the ones before it took) or a
    fixed aware UTC time. `egress`: the destination policy (default: loaded from the admin's setting now)."""
    read = now if callable(now) else (lambda: now)
    now = read()
    async with db.transaction() as s:
        await db.lock_for_claim(s)
        q = (select(Delivery).where(Delivery.state == DELIVERY_PENDING, Delivery.next_at <= now)
             .order_by(Delivery.next_at).limit(limit))
        if db.is_postgres:
            q = q.with_for_update(skip_locked=True)
        due = list((await s.execute(q)).scalars())
        if not due:
            return {"sent": 0, "retrying": 0, "failed": 0}
        await s.execute(update(Delivery).where(Delivery.id.in_([d.id for d in due])).values(next_at=now + LEASE)
                        .execution_options(synchronize_session=False))
        details = (await s.execute(
            select(Notification.id, Notification.title, Event.payload, Event.kind, Event.action, Event.case_id,
                   UserChannel.secret, Notification.user_id, UserChannel.channel)
            .join(Event, Event.id == Notification.event_id)
            .outerjoin(UserChannel, UserChannel.user_id == Notification.user_id)
            .where(Notification.id.in_([d.notification_id for d in due])))).all()
    egress = egress or await Egress.load(db)
    info = {}
    for nid, title, payload, kind, action, case_id, secret, _uid, channel in details:
        info.setdefault(nid, {"title": title, "event": {"kind": kind, "action": action, "case_id": case_id,
                                                        "payload": payload}, "secrets": {}})
        if channel:
            info[nid]["secrets"][channel] = secret

    counts = {"sent": 0, "retrying": 0, "failed": 0}
    for d in due:
        n = info[d.notification_id]
        event = n["event"]
        message = Message(d.id, n["title"], message_body(n["title"], event["kind"], event["payload"]), event)
        channel = channels.get(d.channel)
        error, final = None, False
        try:
            if channel is None:
                raise DeliveryFailed(f"channel '{d.channel}' is not configured")
            await channel.send(d.address, n["secrets"].get(d.channel), message, egress)
        except DeliveryFailed as err:
            error, final = str(err)[:2000], isinstance(err, DeliveryRefused)
        now = read()
        async with db.transaction() as s:
            s.add(DeliveryAttempt(delivery_id=d.id, at=now, ok=error is None, error=error))
            attempts = d.attempts + 1
            if error is None:
                values, key = {"state": DELIVERY_SENT, "sent_at": now, "last_error": None}, "sent"
            elif final or attempts >= MAX_ATTEMPTS:
                values, key = {"state": DELIVERY_FAILED, "last_error": error}, "failed"
            else:
                values, key = {"next_at": now + backoff(attempts), "last_error": error}, "retrying"
            await s.execute(update(Delivery).where(Delivery.id == d.id).values(attempts=attempts, **values)
                            .execution_options(synchronize_session=False))
        counts[key] += 1
    return counts

"""External channels: each user's own addresses (webhook, e-mail, SMS) with the webhook's signing secret, the
admin's outbound address policy, and the log of what was delivered to those addresses.

The REST routes (`/api/v1/me/channels…`, `/settings/egress`, `/deliveries`) call these; the sending itself is
notifications/ (fan-out, dispatcher, channels). Times in answers are ISO strings in Asia/Shanghai.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chuishao.flows.clock import local
from chuishao.flows.errors import Invalid, NotFound
from chuishao.models.db import Database
from chuishao.models.notifications import Delivery, DeliveryAttempt, UserChannel
from chuishao.notifications.channels import new_secret
from chuishao.notifications.egress import Egress, EgressError, allowed_ranges, set_allowed_ranges


async def check_address(db: Database, channel: str, address: str) -> None:
    """Whether `address` can take `channel`'s messages. A webhook must pass the destination policy now (it is
    checked again at each delivery, notifications/egress.py); an e-mail address needs an @ and no space; an SMS
    number is 5–20 digits after an optional +. Raises Invalid (422) saying why not."""
    if channel == "webhook":
        try:
            await (await Egress.load(db)).check(address)
        except EgressError as err:
            raise Invalid(f"webhook 地址不可用：{err.zh}", f"webhook address refused: {err.en}") from None
        return
    ok = {"email": "@" in address and " " not in address,
          "sms": address.lstrip("+").isdigit() and 5 <= len(address) <= 20}[channel]
    if not ok:
        raise Invalid(f"{channel} 地址格式不正确", f"not a valid {channel} address")


async def _mine(s: AsyncSession, user_id: int, channel: str) -> UserChannel | None:
    return (await s.execute(select(UserChannel).where(UserChannel.user_id == user_id,
                                                      UserChannel.channel == channel))).scalar_one_or_none()


async def list_channels(db: Database, user_id: int) -> list[dict]:
    """The user's channels: [{"channel", "address", "enabled"}], a webhook's also with "secret_set" (bool;
    the secret itself is never shown again)."""
    async with db.read() as s:
        rows = (await s.execute(select(UserChannel).where(UserChannel.user_id == user_id))).scalars().all()
    return [{"channel": c.channel, "address": c.address, "enabled": c.enabled}
            | ({"secret_set": c.secret is not None} if c.channel == "webhook" else {}) for c in rows]


async def save_channel(db: Database, user_id: int, channel: str, address: str, enabled: bool) -> dict:
    """Set (or create) the user's `channel` address after `check_address`. The first save of a webhook makes
    its signing secret and answers it this once: {"channel", "address", "enabled"[, "secret"]}; later saves
    keep the secret. Raises Invalid for an address the channel cannot take."""
    await check_address(db, channel, address)
    shown = None
    async with db.transaction() as s:
        row = await _mine(s, user_id, channel)
        if row is None:
            row = UserChannel(user_id=user_id, channel=channel, address=address)
            s.add(row)
        row.address, row.enabled = address, enabled
        if channel == "webhook" and row.secret is None:
            row.secret = shown = new_secret()
    return {"channel": channel, "address": address, "enabled": enabled} | ({"secret": shown} if shown else {})


async def rotate_webhook_secret(db: Database, user_id: int) -> dict:
    """A new signing secret for the user's webhook, answered once ({"channel": "webhook", "secret"}); deliveries
    from now on are signed with it. Raises NotFound (404) when the user has no webhook."""
    async with db.transaction() as s:
        row = await _mine(s, user_id, "webhook")
        if row is None:
            raise NotFound("还没有设置 webhook", "no webhook has been set")
        row.secret = secret = new_secret()
    return {"channel": "webhook", "secret": secret}


async def egress_ranges(db: Database) -> list[str]:
    """The ranges (CIDR) outbound calls may reach although they are not public; [] when never set."""
    return await allowed_ranges(db)


async def set_egress_ranges(db: Database, values: list[str]) -> list[str]:
    """Replace the allowed ranges; answers them normalised. Raises Invalid (422) for a range that is not one."""
    try:
        return await set_allowed_ranges(db, values)
    except EgressError as err:
        raise Invalid(err.zh, err.en) from None


async def deliveries(db: Database, *, state: str | None = None, limit: int = 50) -> list[dict]:
    """The latest `limit` deliveries (newest first), of one `state` (pending, sent, failed) or all, each with
    its attempts: [{"id", "channel", "address", "state", "attempts", "last_error", "sent_at",
    "history": [{"at", "ok", "error"}]}] (times ISO, Asia/Shanghai; `sent_at` None until sent)."""
    async with db.read() as s:
        q = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
        if state:
            q = q.where(Delivery.state == state)
        rows = (await s.execute(q)).scalars().all()
        ids = [d.id for d in rows]
        attempts = (await s.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids))
                                    .order_by(DeliveryAttempt.id))).scalars().all() if ids else []
    return [{"id": d.id, "channel": d.channel, "address": d.address, "state": d.state, "attempts": d.attempts,
             "last_error": d.last_error, "sent_at": local(d.sent_at),
             "history": [{"at": local(a.at), "ok": a.ok, "error": a.error} for a in attempts if a.delivery_id == d.id]}
            for d in rows]

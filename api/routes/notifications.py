"""My notifications (unread counts, mark as read), my external channels (a webhook's signing secret is made
by the server, shown once, rotated on request), failed deliveries and the outbound address policy (admin)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from api.deps import ActorDep, NowDep, Services, ServicesDep, admin
from api.limits import GuardedRoute
from api.schemas import (
    Channel,
    ChannelSaved,
    ChannelView,
    DeliveryView,
    EgressRanges,
    Marked,
    NotificationPage,
    UnreadCount,
    WebhookSecret,
)
from flows import inbox_notes
from flows.clock import local
from flows.errors import Invalid, NotFound
from models.notifications import Delivery, DeliveryAttempt, UserChannel
from notifications.channels import new_secret
from notifications.egress import Egress, EgressError, allowed_ranges, set_allowed_ranges

router = APIRouter(tags=["notifications"], route_class=GuardedRoute)


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(default=None, max_length=1000)
    all: bool = False


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    address: Annotated[str, StringConstraints(min_length=3, max_length=500)]
    enabled: bool = True


class EgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    allowed_ranges: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(max_length=100)


async def _check_address(svc: Services, channel: str, address: str) -> None:
    """A webhook must pass the destination policy now (it is checked again at each delivery)."""
    if channel == "webhook":
        try:
            await (await Egress.load(svc.db)).check(address)
        except EgressError as err:
            raise Invalid(f"webhook 地址不可用：{err.zh}", f"webhook address refused: {err.en}") from None
        return
    ok = {"email": "@" in address and " " not in address,
          "sms": address.lstrip("+").isdigit() and 5 <= len(address) <= 20}[channel]
    if not ok:
        raise Invalid(f"{channel} 地址格式不正确", f"not a valid {channel} address")


@router.get("/notifications", summary="我的通知", response_model=NotificationPage)
async def my_notifications(who: ActorDep, svc: ServicesDep, unread: bool = False,
                           page: int = Query(1, ge=1, le=100000), page_size: int = Query(20, ge=1, le=100)):
    return await inbox_notes.list_notes(svc.db, who, unread=unread, page=page, page_size=page_size)


@router.get("/notifications/unread_count", summary="未读数", response_model=UnreadCount)
async def unread_count(who: ActorDep, svc: ServicesDep):
    return {"unread": await inbox_notes.unread_count(svc.db, who)}


@router.post("/notifications/read", summary="标记已读", response_model=Marked)
async def mark_read(body: ReadIn, who: ActorDep, svc: ServicesDep, at: NowDep):
    if not body.all and not body.ids:
        raise Invalid("请指定要标记的通知", "give ids, or all: true")
    return {"marked": await inbox_notes.mark_read(svc.db, who, at, ids=body.ids, everything=body.all)}


@router.get("/me/channels", summary="我的外部通知渠道", response_model=list[ChannelView],
            response_model_exclude_unset=True)
async def my_channels(who: ActorDep, svc: ServicesDep):
    async with svc.db.read() as s:
        rows = (await s.execute(select(UserChannel).where(UserChannel.user_id == who.id))).scalars().all()
    return [{"channel": c.channel, "address": c.address, "enabled": c.enabled}
            | ({"secret_set": c.secret is not None} if c.channel == "webhook" else {}) for c in rows]


@router.put("/me/channels/{channel}", summary="设置外部通知渠道（webhook / email / sms）",
            description="A webhook address must resolve to a public address, or to a range the admin allows. "
                        "The first save of a webhook answers its signing `secret` once: each delivery carries "
                        "`X-Chuishao-Signature: sha256=<hex HMAC-SHA256 of the body with that secret>`. Later "
                        "saves keep the secret; POST /me/channels/webhook/secret makes a new one.",
            response_model=ChannelSaved, response_model_exclude_unset=True)
async def set_channel(body: ChannelIn, channel: Annotated[Channel, Path()], who: ActorDep, svc: ServicesDep):
    await _check_address(svc, channel, body.address)
    shown = None
    async with svc.db.transaction() as s:
        row = (await s.execute(select(UserChannel).where(UserChannel.user_id == who.id,
                                                         UserChannel.channel == channel))).scalar_one_or_none()
        if row is None:
            row = UserChannel(user_id=who.id, channel=channel, address=body.address)
            s.add(row)
        row.address, row.enabled = body.address, body.enabled
        if channel == "webhook" and row.secret is None:
            row.secret = shown = new_secret()
    return {"channel": channel, "address": body.address, "enabled": body.enabled} | (
        {"secret": shown} if shown else {})


@router.post("/me/channels/webhook/secret", summary="更换 webhook 签名密钥（新密钥只显示这一次）",
             response_model=WebhookSecret)
async def rotate_webhook_secret(who: ActorDep, svc: ServicesDep):
    """A new signing secret for my webhook, answered once; deliveries from now on are signed with it."""
    async with svc.db.transaction() as s:
        row = (await s.execute(select(UserChannel).where(UserChannel.user_id == who.id,
                                                         UserChannel.channel == "webhook"))).scalar_one_or_none()
        if row is None:
            raise NotFound("还没有设置 webhook", "no webhook has been set")
        row.secret = secret = new_secret()
    return {"channel": "webhook", "secret": secret}


@router.get("/settings/egress", summary="出站地址放行网段（管理员）", dependencies=[Depends(admin)],
            response_model=EgressRanges)
async def get_egress(svc: ServicesDep):
    return {"allowed_ranges": await allowed_ranges(svc.db)}


@router.put("/settings/egress", summary="设置出站地址放行网段（管理员）", dependencies=[Depends(admin)],
            description="CIDR ranges that webhooks and the SMS gateway may reach although they are loopback, "
                        "link-local or private (e.g. a county intranet receiver on 10.20.0.0/16). Replaces "
                        "the list; [] allows public addresses only.", response_model=EgressRanges)
async def set_egress(body: EgressIn, svc: ServicesDep):
    try:
        return {"allowed_ranges": await set_allowed_ranges(svc.db, body.allowed_ranges)}
    except EgressError as err:
        raise Invalid(err.zh, err.en) from None


@router.get("/deliveries", summary="外部投递记录（管理员）", dependencies=[Depends(admin)],
            response_model=list[DeliveryView])
async def deliveries(svc: ServicesDep, state: Literal["pending", "sent", "failed"] | None = None,
                     page_size: int = Query(50, ge=1, le=500)):
    async with svc.db.read() as s:
        q = select(Delivery).order_by(Delivery.id.desc()).limit(page_size)
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

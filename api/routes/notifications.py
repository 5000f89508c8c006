"""My notifications (unread counts, mark as read), my external channels (a webhook's signing secret is made
by the server, shown once, rotated on request), failed deliveries and the outbound address policy (admin)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chuishao.api.deps import ActorDep, NowDep, ServicesDep, admin
from chuishao.api.limits import GuardedRoute
from chuishao.api.schemas import (
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
from chuishao.flows import channels, inbox_notes
from chuishao.flows.errors import Invalid

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
    return await channels.list_channels(svc.db, who.id)


@router.put("/me/channels/{channel}", summary="设置外部通知渠道（webhook / email / sms）",
            description="A webhook address must resolve to a public address, or to a range the admin allows. "
                        "The first save of a webhook answers its signing `secret` once: each delivery carries "
                        "`X-Chuishao-Signature: sha256=<hex HMAC-SHA256 of the body with that secret>`. Later "
                        "saves keep the secret; POST /me/channels/webhook/secret makes a new one.",
            response_model=ChannelSaved, response_model_exclude_unset=True)
async def set_channel(body: ChannelIn, channel: Annotated[Channel, Path()], who: ActorDep, svc: ServicesDep):
    return await channels.save_channel(svc.db, who.id, channel, body.address, body.enabled)


@router.post("/me/channels/webhook/secret", summary="更换 webhook 签名密钥（新密钥只显示这一次）",
             response_model=WebhookSecret)
async def rotate_webhook_secret(who: ActorDep, svc: ServicesDep):
    """A new signing secret for my webhook, answered once; deliveries from now on are signed with it."""
    return await channels.rotate_webhook_secret(svc.db, who.id)


@router.get("/settings/egress", summary="出站地址放行网段（管理员）", dependencies=[Depends(admin)],
            response_model=EgressRanges)
async def get_egress(svc: ServicesDep):
    return {"allowed_ranges": await channels.egress_ranges(svc.db)}


@router.put("/settings/egress", summary="设置出站地址放行网段（管理员）", dependencies=[Depends(admin)],
            description="CIDR ranges that webhooks and the SMS gateway may reach although they are loopback, "
                        "link-local or private (e.g. a county intranet receiver on 10.20.0.0/16). Replaces "
                        "the list; [] allows public addresses only.", response_model=EgressRanges)
async def set_egress(body: EgressIn, svc: ServicesDep):
    return {"allowed_ranges": await channels.set_egress_ranges(svc.db, body.allowed_ranges)}


@router.get("/deliveries", summary="外部投递记录（管理员）", dependencies=[Depends(admin)],
            response_model=list[DeliveryView])
async def deliveries(svc: ServicesDep, state: Literal["pending", "sent", "failed"] | None = None,
                     page_size: int = Query(50, ge=1, le=500)):
    return await channels.deliveries(svc.db, state=state, limit=page_size)

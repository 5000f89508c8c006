"""External channels behind one interface: webhook (HMAC-signed POST), e-mail (SMTP), SMS (an adapter
shape, with one concrete adapter for an HTTP SMS gateway). HTTP calls go through the destination policy
(notifications/egress.py): a refused destination is a permanent failure, not retried."""

import asyncio
import hashlib
import hmac
import json
import secrets
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from chuishao.models.config import Settings
from chuishao.notifications.egress import Egress, Refused, Unresolved


class DeliveryFailed(Exception):
    """This attempt failed; the dispatcher tries again later, up to its bound."""


class DeliveryRefused(DeliveryFailed):
    """The delivery can never succeed as addressed (destination refused by the policy, no signing secret):
    recorded as failed at once, not retried."""


@dataclass
class Message:
    delivery_id: int
    title: str
    body: str
    event: dict


class Channel(Protocol):
    name: str

    async def send(self, address: str, secret: str | None, message: Message, egress: Egress) -> None:
        """Deliver or raise DeliveryFailed (DeliveryRefused when retrying cannot help). `secret` is the
        subscriber's own signing key for this channel, if it has one."""


def new_secret() -> str:
    """A subscriber's webhook signing key: 256 random bits, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


def signature(secret: str, body: bytes) -> str:
    """The X-Chuishao-Signature header: "sha256=" + hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_through(egress: Egress, what: str, url: str, timeout: float, **request) -> None:
    """POST through the destination policy; anything but a 2xx answer raises DeliveryFailed (a redirect
    included: it is not followed), a refused destination DeliveryRefused."""
    try:
        status = await egress.post(url, timeout=timeout, **request)
    except Refused as err:
        raise DeliveryRefused(f"{what}: 目的地址被拒绝 refused: {err}") from None
    except Unresolved as err:
        raise DeliveryFailed(f"{what}: {err}") from None
    except httpx.HTTPError as err:
        raise DeliveryFailed(f"{what}: {type(err).__name__}: {err}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"{what} answered {status}")


class WebhookChannel:
    """POST the event as JSON, signed with the subscriber's own secret (never the server's token key)."""

    name = "webhook"

    def __init__(self, timeout: float = 5.0):
        self.timeout = timeout

    async def send(self, address: str, secret: str | None, message: Message, egress: Egress) -> None:
        if not secret:
            raise DeliveryRefused("webhook: 没有签名密钥，请重新保存 webhook / "
                                  "no signing secret: save the webhook again")
        body = json.dumps({"delivery_id": message.delivery_id, "title": message.title, "body": message.body,
                           "event": message.event}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Chuishao-Delivery": str(message.delivery_id),  # receivers dedupe retries by this
                   "X-Chuishao-Signature": signature(secret, body)}
        await post_through(egress, "webhook", address, self.timeout, content=body, headers=headers)


class EmailChannel:
    name = "email"

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def _send(self, address: str, message: Message) -> None:
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.sender
        mail["To"] = address
        mail["Message-ID"] = f"<delivery-{message.delivery_id}@chuishao>"
        mail.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(mail)

    async def send(self, address: str, secret: str | None, message: Message, egress: Egress) -> None:
        # the SMTP host is the operator's own configuration (often a local relay), not a user's address
        try:
            await asyncio.to_thread(self._send, address, message)
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryFailed(f"smtp: {type(err).__name__}: {err}") from None


class SmsGateway(Protocol):
    async def send_sms(self, phone: str, text: str, egress: Egress) -> None:
        """Send one text message or raise DeliveryFailed."""


class HttpSmsGateway:
    """A generic HTTP SMS gateway: POST {"phone", "text"} with a bearer key. Its URL comes from the operator's
    configuration only (CHUISHAO_SMS_GATEWAY_URL), and passes the destination policy like any other call."""

    def __init__(self, url: str, key: str | None = None, timeout: float = 5.0):
        self.url, self.key, self.timeout = url, key, timeout

    async def send_sms(self, phone: str, text: str, egress: Egress) -> None:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        await post_through(egress, "sms gateway", self.url, self.timeout, json={"phone": phone, "text": text},
                           headers=headers)


class SmsChannel:
    name = "sms"

    def __init__(self, gateway: SmsGateway):
        self.gateway = gateway

    async def send(self, address: str, secret: str | None, message: Message, egress: Egress) -> None:
        await self.gateway.send_sms(address, f"【吹哨】{message.title}"[:300], egress)


def channels_from(settings: Settings) -> dict:
    channels = {"webhook": WebhookChannel()}
    if settings.smtp_host:
        channels["email"] = EmailChannel(settings.smtp_host, settings.smtp_port, settings.smtp_from)
    if settings.sms_gateway_url:
        channels["sms"] = SmsChannel(HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_key))
    return channels

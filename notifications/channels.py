"""External channels behind one interface: webhook (HMAC-signed POST), e-mail (SMTP), SMS (an adapter
shape, with one concrete adapter for an HTTP SMS gateway)."""

import asyncio
import hashlib
import hmac
import json
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from models.config import Settings


class DeliveryFailed(Exception):
    pass


@dataclass
class Message:
    delivery_id: int
    title: str
    body: str
    event: dict


class Channel(Protocol):
    name: str

    async def send(self, address: str, secret: str | None, message: Message) -> None:
        """Deliver or raise DeliveryFailed."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    name = "webhook"

    def __init__(self, default_secret: str, timeout: float = 5.0):
        self.default_secret, self.timeout = default_secret, timeout

    async def send(self, address: str, secret: str | None, message: Message) -> None:
        body = json.dumps({"delivery_id": message.delivery_id, "title": message.title, "body": message.body,
                           "event": message.event}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Chuishao-Delivery": str(message.delivery_id),  # receivers dedupe retries by this
                   "X-Chuishao-Signature": signature(secret or self.default_secret, body)}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.post(address, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise DeliveryFailed(f"webhook: {type(err).__name__}: {err}") from None
        if not 200 <= r.status_code < 300:
            raise DeliveryFailed(f"webhook answered {r.status_code}")


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

    async def send(self, address: str, secret: str | None, message: Message) -> None:
        try:
            await asyncio.to_thread(self._send, address, message)
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryFailed(f"smtp: {type(err).__name__}: {err}") from None


class SmsGateway(Protocol):
    async def send_sms(self, phone: str, text: str) -> None:
        """Send one text message or raise DeliveryFailed."""


class HttpSmsGateway:
    """A generic HTTP SMS gateway: POST {"phone", "text"} with a bearer key."""

    def __init__(self, url: str, key: str | None = None, timeout: float = 5.0):
        self.url, self.key, self.timeout = url, key, timeout

    async def send_sms(self, phone: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.post(self.url, json={"phone": phone, "text": text}, headers=headers)
        except httpx.HTTPError as err:
            raise DeliveryFailed(f"sms gateway: {type(err).__name__}: {err}") from None
        if not 200 <= r.status_code < 300:
            raise DeliveryFailed(f"sms gateway answered {r.status_code}")


class SmsChannel:
    name = "sms"

    def __init__(self, gateway: SmsGateway):
        self.gateway = gateway

    async def send(self, address: str, secret: str | None, message: Message) -> None:
        await self.gateway.send_sms(address, f"【吹哨】{message.title}"[:300])


def channels_from(settings: Settings) -> dict:
    channels = {"webhook": WebhookChannel(settings.secret())}
    if settings.smtp_host:
        channels["email"] = EmailChannel(settings.smtp_host, settings.smtp_port, settings.smtp_from)
    if settings.sms_gateway_url:
        channels["sms"] = SmsChannel(HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_key))
    return channels

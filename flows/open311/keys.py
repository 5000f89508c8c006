"""Who may call our Open311 service: the API keys the admin issues (each bound to an intake unit and the townships
it may report in), and, when the admin allows it, the public for reads (docs/access.md#integrator-keys)."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chuishao.flows.access import INTEGRATOR, Actor
from chuishao.flows.commands import Body, Code, parse_body
from chuishao.flows.errors import Conflict, Forbidden, Invalid, NotFound
from chuishao.flows.open311.standard import w3
from chuishao.flows.settings import read_setting, write_setting
from chuishao.flows.units import UnitDirectory
from chuishao.models.db import Database
from chuishao.models.open311 import ApiKey

KeyName = Annotated[str, StringConstraints(min_length=1, max_length=48, pattern=r"^[\w.\-]+$")]


class ApiKeyIn(Body):
    """`POST /api/v1/api-keys` (docs/access.md#integrator-keys): `{name, unit, townships}`, and the cases' source."""

    name: KeyName
    unit: Code
    townships: list[Code] = Field(min_length=1, max_length=100)
    source: Literal["hotline", "open311", "public", "township", "county", "inspection"] = "open311"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Integrator:
    """An active key, as the requests it authorises act."""

    id: int
    name: str
    unit_id: int
    unit_code: str
    townships: tuple[str, ...]
    township_ids: frozenset[int]
    source: str

    def actor(self) -> Actor:
        return Actor(id=None, username=f"open311:{self.name}", role=INTEGRATOR, unit_id=self.unit_id,
                     unit_code=self.unit_code, township_id=None)


SETTING = "open311"  # settings row: {"public_reads": bool}; absent means keys are needed for every read


class Open311SettingsIn(Body):
    """`PUT /api/v1/settings/open311`: whether the standard's reads (GET requests, request, tokens) need no key."""

    public_reads: bool


@dataclass(frozen=True)
class PublicReader:
    """Someone reading without a key while the admin allows public reads: they see the requests that came in
    through Open311 (any key; not the township's own or the grid workers' reports), and only their public
    fields (flows/open311/privacy.public_view)."""


PUBLIC = PublicReader()
Reader = Integrator | PublicReader


def _name_taken(name: str) -> Conflict:
    return Conflict(f"接入密钥 {name} 已存在", f"api key '{name}' already exists", code="exists")


class Open311Keys:
    """The admin's keys and the public-reads setting; who a request's `api_key` (or its absence) stands for."""

    def __init__(self, db: Database, units: UnitDirectory):
        self.db = db
        self.units = units

    def _key_dict(self, k: ApiKey) -> dict:
        return {"id": k.id, "name": k.name, "unit": self.units.code(k.unit_id), "townships": k.townships,
                "source": k.source, "active": k.active, "created_at": w3(k.created_at)}

    async def create_key(self, raw, now: datetime) -> dict:
        """Issue a key from `ApiKeyIn` (a model or its dict): the key's record (`_key_dict`: id, name, unit,
        townships, source, active, created_at as W3C) with the secret `key` itself, shown this once (only its
        SHA-256 is kept). Raises Invalid (422) for an unknown unit or township, Conflict (409) for a name in use."""
        body = parse_body(ApiKeyIn, raw)
        async with self.db.transaction() as s:
            unit = await self.units.by_code(s, body.unit)
            if unit is None:
                raise Invalid(f"单位 {body.unit} 不存在", f"unknown unit '{body.unit}'", code="unknown_unit")
            townships = list(dict.fromkeys(body.townships))
            for code in townships:
                t = await self.units.by_code(s, code)
                if t is None or t.kind != "township":
                    raise Invalid(f"乡镇 {code} 不存在", f"unknown township '{code}'", code="unknown_unit")
            if (await s.execute(select(ApiKey.id).where(ApiKey.name == body.name))).first():
                raise _name_taken(body.name)
            secret = "o311_" + secrets.token_urlsafe(32)
            key = ApiKey(name=body.name, key_hash=hash_key(secret), unit_id=unit.id, townships=townships,
                         source=body.source, active=True, created_at=now)
            s.add(key)
            try:
                await s.flush()
            except IntegrityError:  # issued meanwhile by another request
                raise _name_taken(body.name) from None
        return {**self._key_dict(key), "key": secret}

    async def list_keys(self) -> list[dict]:
        """Every key, revoked ones too, in the order issued (without secrets)."""
        async with self.db.read() as s:
            await self.units.reload(s)
            rows = (await s.execute(select(ApiKey).order_by(ApiKey.id))).scalars().all()
        return [self._key_dict(k) for k in rows]

    async def revoke_key(self, name: str) -> dict:
        """Stop the key `name` at once; answers its record. Raises NotFound (404) for no such key."""
        async with self.db.transaction() as s:
            key = (await s.execute(select(ApiKey).where(ApiKey.name == name))).scalar_one_or_none()
            if key is None:
                raise NotFound(f"接入密钥 {name} 不存在", f"api key '{name}' not found")
            key.active = False
            await self.units.get(s, key.unit_id)
        return self._key_dict(key)

    async def integrator(self, secret: str | None) -> Integrator:
        """The active key behind `secret`; 403 otherwise ("403 - Missing or Invalid API Key")."""
        if not secret:
            raise Forbidden("缺少 api_key", "api_key was not provided")
        if len(secret) > 200:
            raise Forbidden("api_key 无效", "invalid api_key")
        async with self.db.read() as s:
            key = (await s.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))).scalar_one_or_none()
            if key is None or not key.active:
                raise Forbidden("api_key 无效或已停用", "invalid or revoked api_key")
            unit = await self.units.get(s, key.unit_id)
            ids = []
            for code in key.townships:
                t = await self.units.by_code(s, code)
                if t is not None:
                    ids.append(t.id)
        return Integrator(key.id, key.name, key.unit_id, unit.code, tuple(key.townships), frozenset(ids), key.source)

    async def settings(self) -> dict:
        """The admin's Open311 settings: {"public_reads": bool} (False until the admin turns it on)."""
        kept = await read_setting(self.db, SETTING) or {}
        return {"public_reads": kept.get("public_reads") is True}

    async def set_settings(self, raw) -> dict:
        """`PUT /api/v1/settings/open311` (admin): {"public_reads": bool}. Raises Invalid (422) for another body."""
        body = parse_body(Open311SettingsIn, raw)
        return await write_setting(self.db, SETTING, {"public_reads": body.public_reads})

    async def reader(self, secret: str | None) -> Reader:
        """Who is reading: the key's integrator when an api_key is given (a wrong one is refused even when
        reads are public), else the public when the admin allows public reads; 403 otherwise."""
        if secret or not (await self.settings())["public_reads"]:
            return await self.integrator(secret)
        return PUBLIC

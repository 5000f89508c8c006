"""What the admin keeps: units, users, the catalog and township overrides."""

from datetime import date, datetime
from typing import Annotated, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flows.commands import Body, Code, parse_body
from flows.errors import Conflict, Invalid, NotFound
from flows.geo import valid_polygon
from flows.units import UnitDirectory
from flows.uow import unit_of_work
from models.catalog import CatalogItem, CatalogOverride
from models.db import Database
from models.org import UNIT_KINDS, Unit, User

CLOCKS = ("accept", "dispatch", "check_in", "handle", "verify", "arbitrate")
DURATION = r"^[1-9]\d{0,3}(m|h|d)$"  # normal: working minutes/hours/days; urgent: wall clock

# which parent kind each unit kind hangs under, and which unit kinds each role may belong to
PARENT_KIND = {"township": "county", "grid": "township", "department": "county", "team": "township"}
ROLE_UNIT_KINDS = {
    "grid_worker": {"grid"},
    "township_dispatcher": {"township"},
    "township_liaison": {"township"},
    "department_liaison": {"department", "team"},
    "department_officer": {"department", "team"},
    "county_supervisor": {"county", "department"},
    "admin": set(UNIT_KINDS),
}

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UnitIn(Body):
    code: Code
    name: Name
    kind: Literal["county", "township", "grid", "department", "team"]
    parent: Code | None = None
    polygon: dict | None = None


class UserIn(Body):
    model_config = ConfigDict(extra="forbid", strict=False)  # dates arrive as ISO strings

    username: Code
    password: Annotated[str, StringConstraints(min_length=8, max_length=128)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    role: Literal["grid_worker", "township_dispatcher", "township_liaison", "department_liaison",
                  "department_officer", "county_supervisor", "admin"]
    unit: Code
    certificate_no: Annotated[str, StringConstraints(max_length=64)] | None = None
    certificate_expires: date | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    email: Annotated[str, StringConstraints(max_length=200)] | None = None

    @field_validator("username", "unit", "role", "name", "password", mode="before")
    @classmethod
    def _strings_only(cls, v):
        if not isinstance(v, str):
            raise ValueError("must be a string")
        return v


Limits = dict[Literal["accept", "dispatch", "check_in", "handle", "verify", "arbitrate"],
              dict[Literal["normal", "urgent"], Annotated[str, StringConstraints(pattern=DURATION)]]]


class CatalogIn(Body):
    code: Code
    name: Name
    category: Name
    lead_unit: Code | None = None
    assist_units: list[Code] = Field(default_factory=list, max_length=20)
    devolved: bool = False
    enforcement: bool = False
    limits: Limits = Field(default_factory=dict)


class OverrideIn(Body):
    lead_unit: Code | None = None
    assist_units: list[Code] | None = Field(default=None, max_length=20)
    limits: Limits | None = None


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536):
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False


def unit_dict(u: Unit, parent_code: str | None) -> dict:
    return {"id": u.id, "code": u.code, "name": u.name, "kind": u.kind, "parent": parent_code,
            "polygon": u.polygon}


def user_dict(u: User, unit_code: str | None) -> dict:
    return {"id": u.id, "username": u.username, "name": u.name, "role": u.role, "unit": unit_code,
            "certificate_no": u.certificate_no,
            "certificate_expires": u.certificate_expires.isoformat() if u.certificate_expires else None,
            "phone": u.phone, "email": u.email, "active": u.active}


class AdminService:
    def __init__(self, db: Database, units: UnitDirectory, passwords: Passwords):
        self.db, self.units, self.passwords = db, units, passwords

    async def _unit(self, s, code: str, what: str = "单位"):
        u = await self.units.by_code(s, code)
        if u is None:
            raise Invalid(f"{what} {code} 不存在", f"unknown unit '{code}'", code="unknown_unit")
        return u

    async def create_unit(self, raw: dict, now: datetime) -> dict:
        body = parse_body(UnitIn, raw)
        async with unit_of_work(self.db) as s:
            parent = None
            if body.kind == "county":
                if body.parent:
                    raise Invalid("县级单位没有上级", "a county has no parent")
                if (await s.execute(select(Unit.id).where(Unit.kind == "county"))).first():
                    raise Conflict("已存在县级单位", "there is already a county", code="exists")
            else:
                if not body.parent:
                    raise Invalid("请指定上级单位", f"a {body.kind} needs a parent")
                parent = await self._unit(s, body.parent, "上级单位")
                if parent.kind != PARENT_KIND[body.kind]:
                    raise Invalid(f"{body.kind} 的上级必须是 {PARENT_KIND[body.kind]}",
                                  f"a {body.kind} must sit under a {PARENT_KIND[body.kind]}")
            if body.polygon is not None and (body.kind != "grid" or not valid_polygon(body.polygon)):
                raise Invalid("网格范围须为 GeoJSON 多边形（仅网格）",
                              "polygon must be a GeoJSON Polygon or MultiPolygon, on grids only")
            if await self.units.by_code(s, body.code):
                raise Conflict(f"单位 {body.code} 已存在", f"unit '{body.code}' already exists", code="exists")
            unit = Unit(code=body.code, name=body.name, kind=body.kind, parent_id=parent.id if parent else None,
                        polygon=body.polygon, created_at=now)
            s.add(unit)
            try:
                await s.flush()
            except IntegrityError:
                raise Conflict(f"单位 {body.code} 已存在", f"unit '{body.code}' already exists",
                               code="exists") from None
            await self.units.reload(s)
        return unit_dict(unit, parent.code if parent else None)

    async def list_units(self) -> list[dict]:
        async with self.db.read() as s:
            await self.units.reload(s)
            rows = (await s.execute(select(Unit).order_by(Unit.id))).scalars().all()
        return [unit_dict(u, self.units.code(u.parent_id)) for u in rows]

    async def create_user(self, raw: dict, now: datetime) -> dict:
        body = parse_body(UserIn, raw)
        async with unit_of_work(self.db) as s:
            unit = await self._unit(s, body.unit)
            if unit.kind not in ROLE_UNIT_KINDS[body.role]:
                raise Invalid(f"角色 {body.role} 不能属于 {unit.kind} 类单位",
                              f"role '{body.role}' cannot belong to a {unit.kind} unit")
            if (await s.execute(select(User.id).where(User.username == body.username))).first():
                raise Conflict(f"用户 {body.username} 已存在", f"user '{body.username}' already exists",
                               code="exists")
            user = User(username=body.username, password_hash=self.passwords.hash(body.password), name=body.name,
                        role=body.role, unit_id=unit.id, certificate_no=body.certificate_no,
                        certificate_expires=body.certificate_expires, phone=body.phone, email=body.email,
                        created_at=now)
            s.add(user)
            try:
                await s.flush()
            except IntegrityError:
                raise Conflict(f"用户 {body.username} 已存在", f"user '{body.username}' already exists",
                               code="exists") from None
        return user_dict(user, unit.code)

    async def list_users(self, unit: str | None = None) -> list[dict]:
        async with self.db.read() as s:
            stmt = select(User).order_by(User.id)
            if unit:
                u = await self._unit(s, unit)
                stmt = stmt.where(User.unit_id == u.id)
            rows = (await s.execute(stmt)).scalars().all()
            await self.units.reload(s)
        return [user_dict(u, self.units.code(u.unit_id)) for u in rows]

    async def _receivers(self, s, codes: list[str]) -> list[int]:
        ids = []
        for code in codes:
            u = await self._unit(s, code)
            if u.kind not in ("department", "team"):
                raise Invalid(f"{code} 不能作为主办/协办单位", f"'{code}' is not a department or team")
            ids.append(u.id)
        return list(dict.fromkeys(ids))

    def _item_dict(self, item: CatalogItem) -> dict:
        return {"code": item.code, "name": item.name, "category": item.category,
                "lead_unit": self.units.code(item.lead_unit_id),
                "assist_units": [self.units.code(u) for u in item.assist_unit_ids],
                "devolved": item.devolved, "enforcement": item.enforcement, "limits": item.limits}

    async def create_item(self, raw: dict) -> dict:
        body = parse_body(CatalogIn, raw)
        async with unit_of_work(self.db) as s:
            lead = (await self._receivers(s, [body.lead_unit]))[0] if body.lead_unit else None
            if lead is None and not body.devolved:
                raise Invalid("非赋权事项须指定主办单位", "an item that is not devolved needs a lead unit")
            if (await s.execute(select(CatalogItem.id).where(CatalogItem.code == body.code))).first():
                raise Conflict(f"事项 {body.code} 已存在", f"catalog item '{body.code}' already exists",
                               code="exists")
            item = CatalogItem(code=body.code, name=body.name, category=body.category, lead_unit_id=lead,
                               assist_unit_ids=await self._receivers(s, body.assist_units), devolved=body.devolved,
                               enforcement=body.enforcement, limits=body.limits)
            s.add(item)
        return self._item_dict(item)

    async def list_items(self) -> list[dict]:
        async with self.db.read() as s:
            rows = (await s.execute(select(CatalogItem).order_by(CatalogItem.code))).scalars().all()
            await self.units.reload(s)
        return [self._item_dict(i) for i in rows]

    async def set_override(self, code: str, township_code: str, raw: dict) -> dict:
        body = parse_body(OverrideIn, raw)
        async with unit_of_work(self.db) as s:
            item = (await s.execute(select(CatalogItem).where(CatalogItem.code == code))).scalar_one_or_none()
            if item is None:
                raise NotFound(f"事项 {code} 不存在", f"catalog item '{code}' not found")
            township = await self.units.by_code(s, township_code)
            if township is None or township.kind != "township":
                raise NotFound(f"乡镇 {township_code} 不存在", f"township '{township_code}' not found")
            lead = (await self._receivers(s, [body.lead_unit]))[0] if body.lead_unit else None
            assists = await self._receivers(s, body.assist_units) if body.assist_units is not None else None
            for unit_id in [lead, *(assists or [])]:
                u = await self.units.get(s, unit_id)
                if u and u.kind == "team" and u.parent_id != township.id:
                    raise Invalid(f"{u.code} 是其他乡镇的执法队", f"team '{u.code}' belongs to another township")
            row = (await s.execute(select(CatalogOverride).where(
                CatalogOverride.item_id == item.id, CatalogOverride.township_id == township.id))).scalar_one_or_none()
            if row is None:
                row = CatalogOverride(item_id=item.id, township_id=township.id)
                s.add(row)
            row.lead_unit_id, row.assist_unit_ids, row.limits = lead, assists, body.limits
        return {"item": code, "township": township_code, "lead_unit": self.units.code(lead),
                "assist_units": None if assists is None else [self.units.code(a) for a in assists],
                "limits": body.limits}

    async def authenticate(self, username: str, password: str) -> User | None:
        async with self.db.read() as s:
            user = (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
        if user is None or not user.active or not self.passwords.verify(user.password_hash, password):
            return None
        return user


async def bootstrap(svc: AdminService, *, county_code: str, county_name: str, admin_password: str,
                    now: datetime) -> bool:
    """`chuishao init`: the county unit and the `admin` user, if they do not exist yet. True if created."""
    async with svc.db.read() as s:
        has_admin = (await s.execute(select(User.id).where(User.username == "admin"))).first()
        county = (await s.execute(select(Unit).where(Unit.kind == "county"))).scalar_one_or_none()
    if county is None:
        county_code = (await svc.create_unit({"code": county_code, "name": county_name, "kind": "county"},
                                             now))["code"]
    else:
        county_code = county.code
    if has_admin:
        return False
    await svc.create_user({"username": "admin", "password": admin_password, "name": "系统管理员", "role": "admin",
                           "unit": county_code}, now)
    return True

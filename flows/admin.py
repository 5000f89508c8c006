"""What the admin keeps: units, users, the catalog and township overrides."""

import secrets
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from zxcvbn import zxcvbn

from chuishao.flows.commands import Body, Code, parse_body
from chuishao.flows.demo.county import DEMO_PASSWORD
from chuishao.flows.errors import Conflict, Invalid, NotFound
from chuishao.flows.geo import valid_polygon
from chuishao.flows.password_words import common_words, name_words
from chuishao.flows.sessions import revoke_user_sessions
from chuishao.flows.units import UnitDirectory
from chuishao.models.catalog import CatalogItem, CatalogOverride
from chuishao.models.db import Database
from chuishao.models.notifications import Delivery
from chuishao.models.open311 import ApiKey
from chuishao.models.org import UNIT_KINDS, Unit, User
from chuishao.models.vocabulary import DELIVERY_FAILED

CLOCKS = ("accept", "dispatch", "check_in", "handle", "verify", "arbitrate", "legal_review")
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
    "legal_reviewer": {"county", "department", "township"},  # 司法局 or a township's 司法所
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
    password: Annotated[str, StringConstraints(max_length=128)]  # the policy says why a short one is refused
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    role: Literal["grid_worker", "township_dispatcher", "township_liaison", "department_liaison",
                  "department_officer", "county_supervisor", "legal_reviewer", "admin"]
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


Limits = dict[Literal["accept", "dispatch", "check_in", "handle", "verify", "arbitrate", "legal_review"],
              dict[Literal["normal", "urgent"], Annotated[str, StringConstraints(pattern=DURATION)]]]


class CatalogIn(Body):
    code: Code
    name: Name
    category: Name
    lead_unit: Code | None = None
    assist_units: list[Code] = Field(default_factory=list, max_length=20)
    devolved: bool = False
    enforcement: bool = False
    major: bool = False  # 重大执法决定: feedback goes to legal review (法制审核) first
    disclose: bool = False  # 行政执法公示: closed cases are published, masked (flows/disclosure.py)
    limits: Limits = Field(default_factory=dict)


class OverrideIn(Body):
    lead_unit: Code | None = None
    assist_units: list[Code] | None = Field(default=None, max_length=20)
    limits: Limits | None = None


class PasswordIn(Body):
    password: Annotated[str, StringConstraints(max_length=128)]


class UserUpdate(Body):
    """What the admin may change on an existing user (the password and username stay as they are)."""

    model_config = ConfigDict(extra="forbid", strict=False)  # dates arrive as ISO strings

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    role: Literal["grid_worker", "township_dispatcher", "township_liaison", "department_liaison",
                  "department_officer", "county_supervisor", "legal_reviewer", "admin"] | None = None
    unit: Code | None = None
    certificate_no: Annotated[str, StringConstraints(max_length=64)] | None = None
    certificate_expires: date | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    email: Annotated[str, StringConstraints(max_length=200)] | None = None


# (Chinese, English) for each reason a password is refused; the Chinese one is shown beside the form field
PASSWORD_REASONS = {
    "short": ("密码至少 8 位", "a password needs at least 8 characters"),
    "long": ("密码最多 128 位", "a password may have at most 128 characters"),
    "public": ("这是公开的演示密码，不能用于正式账号", "this is the public demo password"),
    "username": ("密码以用户名为主，容易被猜中，请换一个", "a password built on the username is easy to guess"),
    "repeats": ("密码不能由同一两个字符重复组成", "a password cannot be one or two characters repeated"),
    "run": ("密码不能是连续的数字或字母", "a password cannot be a run of consecutive digits or letters"),
    "digits": ("密码不能全是数字，请加入字母", "a password cannot be digits only; add letters"),
    "common": ("密码过于常见，容易被猜中，请换一个", "this password is too common and easy to guess"),
    "word": ("密码只是一个常见单词或姓名，容易被猜中，请再加一两个不相关的词、数字或符号",
             "a common word or name by itself is easy to guess; add another word, digits or symbols"),
    "product": ("密码不能以系统名称为主", "a password cannot be mostly the system's name"),
    "pinyin": ("密码含有拼音姓名、地名或常用语（如 zhangwei、wenshui、woaini），容易被猜中，请换一个",
               "a password built on a name, a place or a common phrase in pinyin (zhangwei, wenshui, woaini) "
               "is easy to guess"),
    "keyboard": ("密码是键盘上相邻的按键（如 qwerty、1qaz2wsx），容易被猜中",
                 "keyboard patterns such as qwerty are easy to guess"),
    "repeat": ("密码不能是重复的字符或片段（如 aaa、abcabc）", "repeated characters or fragments are easy to guess"),
    "sequence": ("密码不能以连续的字母或数字为主（如 abcd、1234）", "sequences such as abcd or 1234 are easy to guess"),
    "date": ("密码不能以日期或年份为主", "dates and years are easy to guess"),
    "guessable": ("密码太简单，容易被猜中：请加长，或混用字母、数字和符号",
                  "this password is easy to guess: make it longer or mix letters, digits and symbols"),
}
# passwords published with the product: the demo's (shown on every demo's login page)
PUBLIC_PASSWORDS = frozenset({DEMO_PASSWORD})
ADMIN_NAME = "系统管理员"  # the name `chuishao init` gives the first admin
PRODUCT_WORDS = ["chuishao", "xiangzhen", "baodao"]  # what a guesser tries first against this system
MIN_STRENGTH = 3  # zxcvbn score 0-4; 3: "safely unguessable", no common password, word, name or pattern alone
ZXCVBN_MAX = 72  # zxcvbn refuses longer input; anything beyond is length the checker need not see


def _zxcvbn_reason(password: str, username: str, names: Iterable[str]) -> str | None:
    """Ask zxcvbn (Dropbox's estimator: common passwords, words, names, keyboard patterns, repeats,
    sequences, dates) and name what makes the password guessable, from its longest weak part. Its
    dictionaries are English, so the pinyin of `names` and common Chinese names and phrases
    (flows/password_words.py) go in as known words too."""
    user_inputs = [*([username] if username else []), *PRODUCT_WORDS, *name_words(*names), *common_words()]
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=user_inputs)
    if result["score"] >= MIN_STRENGTH:
        return None
    weak = [m for m in result["sequence"] if m["pattern"] != "bruteforce"]
    if not weak:
        return "guessable"
    m = max(weak, key=lambda m: len(m["token"]))
    if m["pattern"] == "dictionary":
        source = m.get("dictionary_name")
        if source == "user_inputs":
            if username and m["matched_word"] == username.lower():
                return "username"
            return "product" if m["matched_word"] in PRODUCT_WORDS else "pinyin"
        return "common" if source == "passwords" else "word"
    return {"spatial": "keyboard", "repeat": "repeat", "sequence": "sequence", "regex": "date",
            "date": "date"}.get(m["pattern"], "guessable")


def named(username: str):
    """Where the user is `username` whatever its letter case: usernames are unique case-insensitively (the
    lower(username) unique index), so `FC_G2` and `fc_g2` are one account everywhere (sign-in, the admin's
    user pages, officers named on feedback)."""
    return func.lower(User.username) == username.lower()


async def _unit_names(s) -> list[str]:
    """Every unit's name: a guesser near the county tries its places first (password_problem's `names`)."""
    return list((await s.execute(select(Unit.name))).scalars())


def password_problem(password: str, username: str = "", names: Iterable[str] = ()) -> tuple[str, str] | None:
    """THE password policy (REST and web user creation, password resets, `chuishao init` and `user add`, all
    through AdminService): why `password` is refused as (Chinese, English), or None when it is acceptable.
    Refused: shorter than 8 or longer than 128 characters, the public demo password, one or two characters
    repeated, a run of consecutive digits or letters, digits only, and anything zxcvbn scores below 3 of 4
    counting as known words the username, the product's name, the pinyin of `names` (the user's own name and
    the units' names: 张伟 → zhangwei, 文水县 → wenshuixian, wenshui) and common Chinese surnames, given names
    and phrases in pinyin (so a password built on the username, a common password, a word or name alone, a
    pinyin name, place or phrase, a keyboard pattern or a date is refused; the reason names the longest such
    part)."""
    p = password.lower()
    if len(password) < 8:
        key = "short"
    elif len(password) > 128:
        key = "long"
    elif password in PUBLIC_PASSWORDS:
        key = "public"
    elif len(set(p)) <= 2:
        key = "repeats"
    elif {ord(b) - ord(a) for a, b in zip(p, p[1:], strict=False)} in ({1}, {-1}):
        key = "run"
    elif p.isdigit():
        key = "digits"
    else:
        key = _zxcvbn_reason(password, username, names)
    return PASSWORD_REASONS[key] if key else None


def weak_password(password: str, username: str = "", names: Iterable[str] = ()) -> str | None:
    """The Chinese reason `password_problem` gives (for a form field), or None when the password is acceptable."""
    problem = password_problem(password, username, names)
    return problem[0] if problem else None


def check_password(password: str, username: str, names: Iterable[str] = ()) -> None:
    """Raise Invalid (422, code `weak_password`) with the policy's reason, or return."""
    problem = password_problem(password, username, names)
    if problem:
        raise Invalid(*problem, code="weak_password")


def tree_order(units: list[dict]) -> list[dict]:
    """`units` ({code, parent, kind, name, …}) in tree order with a `depth`: the county, its departments, then
    each township followed by its team and its grids. Orphans (a parent missing) come last at depth 0."""
    kind_rank = {"county": 0, "department": 1, "township": 2, "team": 3, "grid": 4}
    children: dict[str | None, list[dict]] = {}
    codes = {u["code"] for u in units}
    for u in units:
        parent = u["parent"] if u["parent"] in codes else None
        children.setdefault(parent, []).append(u)
    out: list[dict] = []

    def walk(code: str | None, depth: int) -> None:
        for u in sorted(children.get(code, []), key=lambda x: (kind_rank.get(x["kind"], 9), x["code"])):
            out.append({**u, "depth": depth})
            walk(u["code"], depth + 1)

    walk(None, 0)
    return out


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536):
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._dummy: str | None = None

    @property
    def dummy_hash(self) -> str:
        """A hash of a random password with the same cost as real ones: checked when there is no such user,
        so an unknown username costs the same time as a wrong password (no telling which names exist)."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(24))
        return self._dummy

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
        async with self.db.transaction() as s:
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

    @staticmethod
    def _taken(username: str, existing: str | None = None) -> Conflict:
        if existing and existing != username:
            return Conflict(f"用户名 {username} 已被使用：已有用户 {existing}（用户名不区分大小写）",
                            f"username '{username}' is taken: user '{existing}' exists (usernames ignore letter case)",
                            code="exists")
        return Conflict(f"用户 {username} 已存在", f"user '{username}' already exists", code="exists")

    async def create_user(self, raw: dict, now: datetime, *, check_password_policy: bool = True) -> dict:
        """A new user; 409 when the username is taken whatever its letter case (`Admin` beside `admin`),
        422 a weak password (`check_password`), an unknown unit or a role that cannot belong to it.
        `check_password_policy=False` only for the demo county, whose users share the public demo password."""
        body = parse_body(UserIn, raw)
        async with self.db.transaction() as s:
            if check_password_policy:
                check_password(body.password, body.username, [body.name, *await _unit_names(s)])
            unit = await self._unit(s, body.unit)
            if unit.kind not in ROLE_UNIT_KINDS[body.role]:
                raise Invalid(f"角色 {body.role} 不能属于 {unit.kind} 类单位",
                              f"role '{body.role}' cannot belong to a {unit.kind} unit")
            existing = (await s.execute(select(User.username).where(named(body.username)))).scalar_one_or_none()
            if existing:
                raise self._taken(body.username, existing)
            user = User(username=body.username, password_hash=self.passwords.hash(body.password), name=body.name,
                        role=body.role, unit_id=unit.id, certificate_no=body.certificate_no,
                        certificate_expires=body.certificate_expires, phone=body.phone, email=body.email,
                        created_at=now)
            s.add(user)
            try:
                await s.flush()
            except IntegrityError:  # created meanwhile by another request
                raise self._taken(body.username) from None
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
                "devolved": item.devolved, "enforcement": item.enforcement, "major": item.major,
                "disclose": item.disclose, "limits": item.limits}

    async def create_item(self, raw: dict) -> dict:
        body = parse_body(CatalogIn, raw)
        async with self.db.transaction() as s:
            lead = (await self._receivers(s, [body.lead_unit]))[0] if body.lead_unit else None
            if lead is None and not body.devolved:
                raise Invalid("非赋权事项须指定主办单位", "an item that is not devolved needs a lead unit")
            if (await s.execute(select(CatalogItem.id).where(CatalogItem.code == body.code))).first():
                raise Conflict(f"事项 {body.code} 已存在", f"catalog item '{body.code}' already exists",
                               code="exists")
            item = CatalogItem(code=body.code, name=body.name, category=body.category, lead_unit_id=lead,
                               assist_unit_ids=await self._receivers(s, body.assist_units), devolved=body.devolved,
                               enforcement=body.enforcement, major=body.major,
                               disclose=body.disclose, limits=body.limits)
            s.add(item)
        return self._item_dict(item)

    async def list_items(self) -> list[dict]:
        async with self.db.read() as s:
            rows = (await s.execute(select(CatalogItem).order_by(CatalogItem.code))).scalars().all()
            await self.units.reload(s)
        return [self._item_dict(i) for i in rows]

    async def set_override(self, code: str, township_code: str, raw: dict) -> dict:
        body = parse_body(OverrideIn, raw)
        async with self.db.transaction() as s:
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

    # ---- what the admin pages read and change (the REST API above keeps its own shapes) -----------------
    async def overview(self) -> dict:
        """Counts for the admin's overview: {"units", "users", "active_users", "catalog_items", "overrides", "api_keys",
        "active_api_keys", "failed_deliveries"} (deliveries that gave up after their last retry)."""
        async with self.db.read() as s:
            async def count(model, *where) -> int:
                return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()

            return {
                "units": await count(Unit),
                "users": await count(User),
                "active_users": await count(User, User.active.is_(True)),
                "catalog_items": await count(CatalogItem),
                "overrides": await count(CatalogOverride),
                "api_keys": await count(ApiKey),
                "active_api_keys": await count(ApiKey, ApiKey.active.is_(True)),
                "failed_deliveries": await count(Delivery, Delivery.state == DELIVERY_FAILED),
            }

    async def unit_tree(self) -> list[dict]:
        """Every unit in tree order (see `tree_order`): {"id", "code", "name", "kind", "parent", "polygon",
        "depth", "users"} — `users`: how many users belong to it."""
        async with self.db.read() as s:
            await self.units.reload(s)
            rows = (await s.execute(select(Unit))).scalars().all()
            counts = dict((await s.execute(select(User.unit_id, func.count()).group_by(User.unit_id))).all())
        return tree_order([{**unit_dict(u, self.units.code(u.parent_id)), "users": counts.get(u.id, 0)}
                           for u in rows])

    def _user_row(self, u: User) -> dict:
        return {**user_dict(u, self.units.code(u.unit_id)), "unit_name": self.units.name(u.unit_id)}

    async def find_users(self, *, unit: str | None = None, role: str | None = None, active: bool | None = None,
                         q: str | None = None, page: int = 1, page_size: int = 50) -> dict:
        """One page of users, by username: {"total", "page", "page_size", "items": [user_dict + "unit_name"]}.
        `unit` (a code) also takes the users of the units under it (a township's grids and team); `q`
        matches username or name. An unknown unit code is 422."""
        async with self.db.read() as s:
            await self.units.reload(s)
            where = []
            if unit:
                u = await self._unit(s, unit)
                ids = {u.id}
                if u.kind == "township":  # a township's people include its grids' and its team's
                    ids |= {g.id for g in self.units.grids(u.id)} | {self.units.team_of(u.id)} - {None}
                where.append(User.unit_id.in_(ids))
            if role:
                where.append(User.role == role)
            if active is not None:
                where.append(User.active.is_(active))
            if q:
                like = f"%{q.strip()}%"
                where.append(User.username.ilike(like) | User.name.ilike(like))
            total = (await s.execute(select(func.count()).select_from(User).where(*where))).scalar_one()
            rows = (await s.execute(select(User).where(*where).order_by(User.username)
                                    .offset((page - 1) * page_size).limit(page_size))).scalars().all()
        return {"total": total, "page": page, "page_size": page_size, "items": [self._user_row(u) for u in rows]}

    async def get_user(self, username: str) -> dict:
        """One user (user_dict + "unit_name"); 404 when there is none."""
        async with self.db.read() as s:
            user = (await s.execute(select(User).where(named(username)))).scalar_one_or_none()
            if user is None:
                raise NotFound(f"用户 {username} 不存在", f"user '{username}' not found")
            await self.units.get(s, user.unit_id)
        return self._user_row(user)

    async def _other_active_admins(self, s, user: User) -> int:
        return (await s.execute(select(func.count()).select_from(User).where(
            User.role == "admin", User.active.is_(True), User.id != user.id))).scalar_one()

    async def _user(self, s, username: str) -> User:
        user = (await s.execute(select(User).where(named(username)))).scalar_one_or_none()
        if user is None:
            raise NotFound(f"用户 {username} 不存在", f"user '{username}' not found")
        return user

    async def update_user(self, username: str, raw: dict, now: datetime, *, by: str | None = None) -> dict:
        """Change a user's name, role, unit, certificate (执法证号 and expiry), phone or e-mail. Only the fields
        present in `raw` change (`None` clears an optional one). A new role or unit ends the user's sessions
        in the same transaction (their tokens carry the old ones). 404 unknown user; 422 a role that cannot
        belong to the unit, taking the admin role from the last active admin, or `by` (the admin acting)
        changing their own role."""
        body = parse_body(UserUpdate, raw)
        fields = body.model_fields_set
        async with self.db.transaction() as s:
            user = await self._user(s, username)
            unit = await self._unit(s, body.unit) if "unit" in fields and body.unit else \
                await self.units.get(s, user.unit_id)
            role = body.role if "role" in fields and body.role else user.role
            if unit.kind not in ROLE_UNIT_KINDS[role]:
                raise Invalid(f"角色 {role} 不能属于 {unit.kind} 类单位",
                              f"role '{role}' cannot belong to a {unit.kind} unit", code="role_unit")
            if by == user.username and role != user.role:
                raise Invalid("不能修改自己的角色，请让另一位管理员操作", "you cannot change your own role",
                              code="self")
            demoting = user.role == "admin" and role != "admin" and user.active
            if demoting and not await self._other_active_admins(s, user):
                raise Invalid("这是最后一个管理员账号，不能改为其他角色", "the last active admin must stay admin",
                              code="last_admin")
            if (role, unit.id) != (user.role, user.unit_id):
                await revoke_user_sessions(s, user.id, now)
            user.role, user.unit_id = role, unit.id
            for name in ("name", "certificate_no", "certificate_expires", "phone", "email"):
                if name in fields:
                    value = getattr(body, name)
                    if name == "name" and not value:
                        continue  # a user always has a name
                    setattr(user, name, value or None)
        return self._user_row(user)

    async def set_active(self, username: str, active: bool, now: datetime, *, by: str | None = None) -> dict:
        """Deactivate (停用) or reactivate a user. Deactivation ends the user's sessions in the same transaction
        and they can no longer sign in; a reactivated user signs in again. 404 unknown user; 422 deactivating
        the last active admin, or `by` (the admin acting) deactivating their own account."""
        async with self.db.transaction() as s:
            user = await self._user(s, username)
            if not active and by == user.username:
                raise Invalid("不能停用自己正在使用的账号", "you cannot deactivate your own account", code="self")
            if not active and user.role == "admin" and user.active and not await self._other_active_admins(s, user):
                raise Invalid("这是最后一个管理员账号，不能停用", "the last active admin cannot be deactivated",
                              code="last_admin")
            if not active:
                await revoke_user_sessions(s, user.id, now)
            user.active = active
            await self.units.get(s, user.unit_id)
        return self._user_row(user)

    async def set_password(self, username: str, raw: dict, now: datetime) -> dict:
        """Reset a user's password ({"password": "…"}, checked by `check_password`) and end all their sessions
        in the same transaction (someone else may know the old one). 404 unknown user; 422 a weak password."""
        body = parse_body(PasswordIn, raw)
        async with self.db.transaction() as s:
            user = await self._user(s, username)
            check_password(body.password, user.username, [user.name, *await _unit_names(s)])
            user.password_hash = self.passwords.hash(body.password)
            await revoke_user_sessions(s, user.id, now)
            await self.units.get(s, user.unit_id)
        return self._user_row(user)

    async def find_items(self, *, q: str | None = None, page: int = 1, page_size: int = 20) -> dict:
        """One page of catalog items by code: {"total", "page", "page_size", "items": [item dict + "overrides"
        (how many townships override it)]}. `q` matches code, name or category."""
        async with self.db.read() as s:
            where = []
            if q:
                like = f"%{q.strip()}%"
                where.append(CatalogItem.code.ilike(like) | CatalogItem.name.ilike(like)
                             | CatalogItem.category.ilike(like))
            total = (await s.execute(select(func.count()).select_from(CatalogItem).where(*where))).scalar_one()
            rows = (await s.execute(select(CatalogItem).where(*where).order_by(CatalogItem.code)
                                    .offset((page - 1) * page_size).limit(page_size))).scalars().all()
            ids = [i.id for i in rows]
            counts = dict((await s.execute(select(CatalogOverride.item_id, func.count())
                                           .where(CatalogOverride.item_id.in_(ids))
                                           .group_by(CatalogOverride.item_id))).all()) if ids else {}
            await self.units.reload(s)
        return {"total": total, "page": page, "page_size": page_size,
                "items": [{**self._item_dict(i), "overrides": counts.get(i.id, 0)} for i in rows]}

    async def get_item(self, code: str) -> dict:
        """One catalog item with its township overrides: the item dict plus "overrides": [{"township",
        "lead_unit", "assist_units" (None: the item's), "limits" (None: the item's)}] by township code.
        404 when there is no such item."""
        async with self.db.read() as s:
            item = (await s.execute(select(CatalogItem).where(CatalogItem.code == code))).scalar_one_or_none()
            if item is None:
                raise NotFound(f"事项 {code} 不存在", f"catalog item '{code}' not found")
            rows = (await s.execute(select(CatalogOverride).where(CatalogOverride.item_id == item.id))).scalars().all()
            await self.units.reload(s)
        overrides = [{"township": self.units.code(o.township_id), "lead_unit": self.units.code(o.lead_unit_id),
                      "assist_units": None if o.assist_unit_ids is None
                      else [self.units.code(u) for u in o.assist_unit_ids],
                      "limits": o.limits} for o in rows]
        return {**self._item_dict(item), "overrides": sorted(overrides, key=lambda o: o["township"] or "")}

    async def authenticate(self, username: str, password: str) -> User | None:
        """The active user with this username (any letter case, `named`) and password, or None. Every attempt
        verifies one hash of the same cost, so unknown and deactivated usernames take as long as a wrong password."""
        async with self.db.read() as s:
            user = (await s.execute(select(User).where(named(username)))).scalar_one_or_none()
        ok = self.passwords.verify(user.password_hash if user else self.passwords.dummy_hash, password)
        return user if ok and user is not None and user.active else None


async def bootstrap(svc: AdminService, *, county_code: str, county_name: str, admin_password: str,
                    now: datetime, check_password_policy: bool = True) -> bool:
    """`chuishao init`: the county unit and the `admin` user, if they do not exist yet. True if created.
    The admin password meets the policy (`check_password`, 422 otherwise) unless the demo says otherwise."""
    async with svc.db.read() as s:
        has_admin = (await s.execute(select(User.id).where(named("admin")))).first()
        county = (await s.execute(select(Unit).where(Unit.kind == "county"))).scalar_one_or_none()
    if not has_admin and check_password_policy:  # before the county is created: a refusal leaves nothing behind
        check_password(admin_password, "admin", [ADMIN_NAME, county_name])
    if county is None:
        county_code = (await svc.create_unit({"code": county_code, "name": county_name, "kind": "county"},
                                             now))["code"]
    else:
        county_code = county.code
    if has_admin:
        return False
    await svc.create_user({"username": "admin", "password": admin_password, "name": ADMIN_NAME, "role": "admin",
                           "unit": county_code}, now, check_password_policy=check_password_policy)
    return True

"""Reading what a GeoReport v2 client sent (docs/open311.md): the query string and form-encoded bodies as the
standard describes them, into what the Open311 service takes (flows/open311/inputs.py). Every malformed,
unknown, repeated or out-of-range parameter is refused here with the standard's 400, naming the parameter;
whether a code names a service, a request exists or a key may read it is the service's to say."""

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import Request

from chuishao.flows.calendar import in_range
from chuishao.flows.errors import Invalid
from chuishao.flows.open311.inputs import NewRequest, NewUpdate, RequestQuery, UpdateQuery
from chuishao.flows.open311.standard import (
    CODE,
    DIGITS,
    MAX_DESCRIPTION,
    MAX_IDS,
    MAX_RESULTS,
    SPAN,
    bad_request,
    unknown_services,
)
from chuishao.flows.open311.status import EXTENDED, INBOUND_STATUSES
from chuishao.flows.text import clean
from chuishao.models.vocabulary import URGENCY_LABELS

_W3 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$", re.ASCII)
_ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_]{1,64})\](\[\])?$")
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EMAIL = re.compile(r"^[^@\s]{1,100}@[^@\s]{1,100}$")
_PHONE = re.compile(r"^[0-9+\-() ]{3,32}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$", re.ASCII)


def parse_w3(text: str, name: str) -> datetime:
    """A W3C datetime, with its timezone ("Timezone information ... must be included"), as aware UTC."""
    if not _W3.match(text):
        raise bad_request(f"{name} 须为带时区的 W3C 日期时间，如 2026-11-16T09:00:00+08:00",
                          f"{name} must be a W3C datetime with a timezone, e.g. 2010-01-01T00:00:00Z")
    try:
        return in_range(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC), name)
    except (ValueError, OverflowError):
        raise bad_request(f"{name} 不是有效的日期时间", f"{name} is not a valid datetime") from None


class Params:
    """Form or query fields: unknown names refused (or ignored, for queries), each named field given once,
    `attribute[code]` collected apart. An empty value counts as not given ("A null parameter should be
    treated as equivalent to a non-declared parameter")."""

    def __init__(self, pairs: Iterable[tuple[str, str]], allowed: frozenset[str], *, strict: bool,
                 repeatable: frozenset[str] = frozenset(), attributes: bool = False):
        self.values: dict[str, list[str]] = {}
        self.attributes: dict[str, list[str]] = {}
        self.listed: set[str] = set()  # attribute[code][] given: a multivaluelist answer
        for key, value in pairs:
            for text in (key, value):
                if _BAD_TEXT.search(text):
                    raise bad_request("参数中含有控制字符或无效字符",
                                      "parameters must not contain control or invalid characters")
            m = _ATTRIBUTE.match(key) if attributes else None
            if m:
                self.attributes.setdefault(m.group(1), []).append(value)
                if m.group(2):
                    self.listed.add(m.group(1))
            elif key in allowed:
                self.values.setdefault(key, []).append(value)
            elif strict:
                raise bad_request(f"不支持的参数：{key[:64]}", f"unknown parameter '{key[:64]}'")
        for key, values in self.values.items():
            if len(values) > 1 and key not in repeatable:
                raise bad_request(f"参数 {key} 只能给出一次", f"'{key}' was given more than once")

    def text(self, name: str, max_length: int, *, required: bool = False) -> str | None:
        values = [v for v in self.values.get(name, []) if v.strip()]
        if not values:
            if required:
                raise bad_request(f"缺少参数 {name}", f"{name} was not provided")
            return None
        value = clean(values[0].strip() if name != "description" else values[0], name, long=name == "description")
        if len(value) > max_length:
            raise bad_request(f"{name} 超过 {max_length} 个字符", f"{name} is longer than {max_length:,} characters")
        return value

    def listed_values(self, name: str) -> list[str]:
        """A comma-delimited argument that may also be declared several times."""
        out: list[str] = []
        for v in self.values.get(name, []):
            out += [x.strip() for x in v.split(",") if x.strip()]
        return out

    def number(self, name: str, low: float, high: float) -> float | None:
        raw = self.text(name, 40)
        if raw is None:
            return None
        if not _NUMBER.match(raw) or not math.isfinite(float(raw)) or not low <= float(raw) <= high:
            raise bad_request(f"{name} 须为 {low} 到 {high} 之间的数", f"{name} must be a number from {low} to {high}")
        return float(raw)

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        raw = self.text(name, 12)
        if raw is None:
            return default
        if not DIGITS.match(raw) or not low <= int(raw) <= high:
            raise bad_request(f"{name} 须为 {low} 到 {high} 之间的整数",
                              f"{name} must be a whole number from {low} to {high}")
        return int(raw)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name, 8)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false", "1", "0"):
            raise bad_request(f"{name} 须为 true 或 false", f"{name} must be true or false")
        return raw.lower() in ("true", "1")

    def dates(self, now: datetime) -> tuple[datetime, datetime | None]:
        """start_date / end_date: "When not specified, the range defaults to most recent 90 days";
        a given range "may not span more than 90 days"."""
        start = self.text("start_date", 40)
        end = self.text("end_date", 40)
        start_at = parse_w3(start, "start_date") if start else None
        end_at = parse_w3(end, "end_date") if end else None
        if start_at and end_at:
            if end_at < start_at:
                raise bad_request("end_date 早于 start_date", "end_date is before start_date")
            if end_at - start_at > SPAN:
                raise bad_request("查询时间范围不能超过 90 天", "the date range may not span more than 90 days")
            return start_at, end_at
        if start_at:
            return start_at, start_at + SPAN
        if end_at:
            return end_at - SPAN, end_at
        return now - SPAN, None


def _url(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^\s<>\"]+$", value):
        raise bad_request(f"{name} 须为 http(s) 地址", f"{name} must be an http(s) URL")
    return value


def _contact(p: Params) -> dict:
    email, phone = p.text("email", 200), p.text("phone", 32)
    if email and not _EMAIL.match(email):
        raise bad_request("email 格式有误", "email is not a valid e-mail address")
    if phone and not _PHONE.match(phone):
        raise bad_request("phone 格式有误", "phone is not a valid phone number")
    return {"email": email, "phone": phone, "first_name": p.text("first_name", 100),
            "last_name": p.text("last_name", 100), "account_id": p.text("account_id", 100)}


def _media(p: Params) -> list[str]:
    urls = [_url(v.strip(), "media_url") for v in p.values.get("media_url", []) if v.strip()]
    if len(urls) > 10 or any(len(u) > 1000 for u in urls):
        raise bad_request("media_url 过多或过长", "media_url values are too many or too long")
    return urls


REQUEST_FIELDS = frozenset({"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
                            "address_id", "email", "device_id", "account_id", "first_name", "last_name", "phone",
                            "description", "media_url"})
UPDATE_FIELDS = frozenset({"api_key", "jurisdiction_id", "service_request_id", "update_id", "status",
                           "updated_datetime", "description", "email", "phone", "last_name", "first_name", "title",
                           "media_url", "account_id", "service_request_id_ext", "public_anonymity_required",
                           "email_alerts_requested", "service_code"})
QUERY_FIELDS = frozenset({"api_key", "jurisdiction_id", "service_request_id", "service_code", "start_date",
                          "end_date", "status", "page", "page_size", "extensions"})


# ---- the HTTP request --------------------------------------------------------------------------------------
def _pairs(raw: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict",
                         max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise Invalid("参数不是有效的 UTF-8 表单编码", "parameters are not valid UTF-8 form encoding") from None


def query_params(request: Request) -> Params:
    """The query string. "can be declared multiple times, comma delimited" (service_request_id, service_code,
    status); names the resources do not read are ignored."""
    return Params(_pairs(request.scope.get("query_string", b"")), QUERY_FIELDS, strict=False,
                  repeatable=frozenset({"service_request_id", "service_code", "status"}))


async def form_params(request: Request, allowed: frozenset[str], *, attributes: bool) -> tuple[Params, str | None]:
    """"POST Service Request: Content-Type: application/x-www-form-urlencoded; charset=utf-8": the form's
    fields (unknown names refused) and the api_key, which may come in the body or in the query string."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise Invalid("请以 application/x-www-form-urlencoded 提交", "send application/x-www-form-urlencoded")
    form = Params(_pairs(await request.body()), allowed, strict=True, repeatable=frozenset({"media_url"}),
                  attributes=attributes)
    key = form.text("api_key", 200) or query_params(request).text("api_key", 200)
    return form, key


# ---- what each resource takes ------------------------------------------------------------------------------
def _attributes(p: Params) -> dict[str, str]:
    known = {"title": 200, "township": 64, "grid": 64, "urgency": 16}
    out = {}
    for code, values in p.attributes.items():
        if code not in known:
            raise bad_request(f"服务没有属性 {code}", f"attribute[{code}] is not in the service definition")
        if len(values) > 1 or code in p.listed:
            raise bad_request(f"属性 {code} 只能有一个值", f"attribute[{code}] takes one value")
        value = values[0].strip()
        if not value:
            continue
        if len(value) > known[code]:
            raise bad_request(f"属性 {code} 过长", f"attribute[{code}] is too long")
        if code in ("township", "grid") and not CODE.match(value):
            raise bad_request(f"属性 {code} 的值无效", f"attribute[{code}] is not a valid code")
        if code == "urgency" and value not in URGENCY_LABELS:
            raise bad_request("urgency 须为 normal 或 urgent", "attribute[urgency] must be normal or urgent")
        out[code] = value
    return out


def new_request(p: Params) -> NewRequest:
    """POST requests' fields. A location is required: lat and long together, or address_string."""
    code = p.text("service_code", 64, required=True)
    lat, lon = p.number("lat", -90, 90), p.number("long", -180, 180)
    if (lat is None) != (lon is None):
        raise bad_request("lat 与 long 须同时提供", "lat & long both need to be sent")
    address = p.text("address_string", 300)
    address_id = p.text("address_id", 100)
    if lat is None and address is None:
        if address_id:
            raise bad_request("本平台没有地址库，无法识别 address_id；请提供 lat/long 或 address_string",
                              "address_id is not known here (no master address repository); send lat/long or "
                              "address_string")
        raise bad_request("缺少位置：请提供 lat 和 long，或 address_string",
                          "a full location parameter must be submitted: lat & long or address_string")
    description = p.text("description", MAX_DESCRIPTION) or ""
    contact = _contact(p)
    media = _media(p)
    device_id = p.text("device_id", 100)
    return NewRequest(code, lat, lon, address, address_id, description, contact, media, device_id, _attributes(p))


def extensions(p: Params) -> bool:
    """`extensions=false` leaves out our extended attributes (true when not given)."""
    return p.flag("extensions", True)


def request_query(p: Params, now: datetime) -> RequestQuery:
    """GET requests' arguments; `now` (UTC) ends the default 90 days. service_request_id "overrides all other
    arguments", which are then not read."""
    with_extensions = extensions(p)
    ids = p.listed_values("service_request_id")
    if ids:
        if len(ids) > MAX_IDS:
            raise bad_request(f"service_request_id 最多 {MAX_IDS} 个", f"at most {MAX_IDS} service_request_id values")
        if not all(DIGITS.match(i) for i in ids):
            raise bad_request("service_request_id 须为数字", "service_request_id values must be numbers")
        return RequestQuery(with_extensions, ids=[int(i) for i in ids if int(i) < 2**31])
    start, end = p.dates(now)
    codes = p.listed_values("service_code")
    malformed = [c for c in codes if not CODE.match(c)]
    if malformed:
        raise unknown_services(malformed)
    statuses = frozenset(p.listed_values("status"))
    if statuses - {"open", "closed"}:
        raise bad_request("status 须为 open 或 closed", "status must be open or closed")
    size = p.integer("page_size", 1, MAX_RESULTS, MAX_RESULTS)
    page = p.integer("page", 1, 100000, 1)
    return RequestQuery(with_extensions, None, start, end, tuple(codes), statuses, page, size)


def update_query(p: Params, now: datetime) -> UpdateQuery:
    """GET servicerequestupdates' arguments; `now` (UTC) ends the default 90 days."""
    start, end = p.dates(now)
    size = p.integer("page_size", 1, MAX_RESULTS, MAX_RESULTS)
    page = p.integer("page", 1, 100000, 1)
    return UpdateQuery(start, end, page, size)


def new_update(p: Params) -> NewUpdate:
    """POST servicerequestupdates' fields (mySociety): the ids, an extended status, when, a description (may be
    empty, not absent); the requester's details and title, service_request_id_ext and service_code kept with it."""
    rid = p.text("service_request_id", 12, required=True)
    update_id = p.text("update_id", 64, required=True)
    status = (p.text("status", 40, required=True) or "").upper()
    if status not in INBOUND_STATUSES:
        raise bad_request(f"status 无效：{status[:40]}", f"status must be one of {', '.join(EXTENDED)}")
    when = parse_w3(p.text("updated_datetime", 40, required=True), "updated_datetime")
    if "description" not in p.values:
        raise bad_request("缺少参数 description", "description was not provided")
    description = p.text("description", MAX_DESCRIPTION) or ""
    contact = {k: v for k, v in _contact(p).items() if v}
    for name in ("title", "service_request_id_ext", "service_code"):
        if p.text(name, 100):
            contact[name] = p.text(name, 100)
    for name in ("public_anonymity_required", "email_alerts_requested"):
        value = p.text(name, 8)
        if value is not None and value.upper() not in ("TRUE", "FALSE"):
            raise bad_request(f"{name} 须为 TRUE 或 FALSE", f"{name} must be TRUE or FALSE")
    return NewUpdate(rid, update_id, status, when, description, contact, _media(p))

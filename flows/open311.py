"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), with mySociety's extensions for updates and
extended statuses, over our own cases (docs/open311.md). The router in `api/routes/open311.py` only decodes HTTP and
renders XML or JSON; what is read, checked and written lives here.

What an integrator sees of a case
---------------------------------
Catalog items are the services (`service_code` = item code, `group` = the category's 大类); `OTHER` stands for
a report without a catalog item (the township classifies it at acceptance). A case is a service request:
`status` is the standard's `open`/`closed`; mySociety's extended status, our own state and the case code ride
in `extended_attributes` (the extension Chicago, Boston and San Francisco use; `extensions=false` drops it);
`status_notes` says in Chinese why the case is where it is (from its timeline); `agency_responsible` is the
lead unit's name (the township's before a whistle is blown). Requesters' contact details are stored apart
(`Open311Request`) and never shown on Open311.

Extended status (mySociety's names), from our state and the verified outcome:

| our state                     | status | extended status             | why                                    |
|-------------------------------|--------|-----------------------------|----------------------------------------|
| reported 已上报               | open   | OPEN                        | waiting for the township to accept it  |
| accepted 已受理               | open   | INVESTIGATING               | accepted, being classified and routed  |
| dispatched 已吹哨             | open   | INTERNAL_REFERRAL           | whistled to a county department        |
| returned 已退回               | open   | INTERNAL_REFERRAL           | handed back, to be re-dispatched       |
| disputed 争议中               | open   | INTERNAL_REFERRAL           | the county names the lead unit         |
| handling 办理中               | open   | IN_PROGRESS                 | the lead unit checked in, working      |
| handling after failed check   | open   | REOPEN                      | 返工: the fix failed verification      |
| feedback 待核查               | open   | ACTION_SCHEDULED            | result in, on-site verification due    |
| suspended 已挂起              | open   | that of the state it left   | paused; status_notes give the reason   |
| closed, resolved              | closed | FIXED                       |                                        |
| closed, partially_resolved    | closed | CLOSED                      | closed, only partly solved (see notes) |
| closed, not_resolvable        | closed | NO_FURTHER_ACTION           |                                        |
| closed, transferred 移送      | closed | NOT_COUNCILS_RESPONSIBILITY | handed to the judiciary / police       |
| rejected 不予受理             | closed | NOT_COUNCILS_RESPONSIBILITY | not for the loop; notes: the reason    |
| merged 已合并                 | closed | DUPLICATE                   | notes name the master request          |

Updates (GET servicerequestupdates) are the timeline entries of the key's townships' cases, each with the
extended status the case reached by it. Updates an integrator POSTs are stored once per (key, update_id) and
notified to the township and the lead unit; they never move a case (only the township's people do).
"""

import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError

from flows import lifecycle as lc
from flows.access import DEPT_LIAISON, DISPATCHER, INTEGRATOR, TOWNSHIP_LIAISON, Actor
from flows.audience import audience
from flows.calendar import in_range
from flows.cases import CODE_RE, CaseService, case_code
from flows.clock import LOCAL_TZ
from flows.commands import Body, Code, parse_body
from flows.errors import Conflict, Forbidden, Invalid, NotFound
from flows.sentences import join
from flows.settings import read_setting, write_setting
from flows.text import clean
from models.cases import Case, Whistle
from models.catalog import CatalogItem
from models.notifications import Event
from models.open311 import ApiKey, InboundUpdate, Open311Request
from models.org import Unit
from models.timeline import TimelineEntry
from models.vocabulary import OUTCOME_LABELS, URGENCY_LABELS

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"xml": "text/xml", "json": "application/json"}
OTHER = "OTHER"  # the service for a report without a catalog item
MAX_DESCRIPTION = 4000  # "free form text limited to 4,000 characters"
SPAN = timedelta(days=90)  # "may not span more than 90 days"; "defaults to most recent 90 days"
MAX_RESULTS = 1000  # "Default query limit is a span of 90 days or first 1000 requests returned"
MAX_IDS = 1000
RECORDS = ("urge", "supervise", "attach")  # timeline entries that leave the state as it was

EXTENDED = ("OPEN", "INVESTIGATING", "IN_PROGRESS", "ACTION_SCHEDULED", "FIXED", "CLOSED", "DUPLICATE",
            "NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION", "INTERNAL_REFERRAL", "CANCELLED", "REOPEN")
INBOUND_STATUSES = frozenset(EXTENDED) | {"FOR_TRIAGE"}  # what mySociety's clients may send us
OPEN_EXTENDED = {
    lc.REPORTED: "OPEN",
    lc.ACCEPTED: "INVESTIGATING",
    lc.DISPATCHED: "INTERNAL_REFERRAL",
    lc.RETURNED: "INTERNAL_REFERRAL",
    lc.DISPUTED: "INTERNAL_REFERRAL",
    lc.HANDLING: "IN_PROGRESS",
    lc.FEEDBACK: "ACTION_SCHEDULED",
}
CLOSED_EXTENDED = {
    "resolved": "FIXED",
    "partially_resolved": "CLOSED",
    "not_resolvable": "NO_FURTHER_ACTION",
    "transferred": "NOT_COUNCILS_RESPONSIBILITY",
}
ENDED_EXTENDED = {lc.REJECTED: "NOT_COUNCILS_RESPONSIBILITY", lc.MERGED: "DUPLICATE"}


def standard_status(state: str) -> str:
    """The standard's two values: `open` (it has been reported) or `closed` (it has been resolved)."""
    return "closed" if state in lc.FINAL_STATES else "open"


def extended_status(state: str, outcome: str | None = None, suspended_from: str | None = None,
                    reworked: bool = False) -> str:
    """mySociety's extended status for a case in `state` (see the table in the module docstring)."""
    if state == lc.SUSPENDED:
        state = suspended_from or lc.ACCEPTED
    if state == lc.CLOSED:
        return CLOSED_EXTENDED.get(outcome or "", "CLOSED")
    if state in ENDED_EXTENDED:
        return ENDED_EXTENDED[state]
    if state == lc.HANDLING and reworked:
        return "REOPEN"
    return OPEN_EXTENDED[state]


def w3(dt: datetime | None) -> str | None:
    """A W3C datetime with its offset, in Asia/Shanghai: 2026-11-16T09:00:00+08:00."""
    return None if dt is None else dt.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


@dataclass
class Many:
    """A list that XML writes as repeated `<tag>` children and JSON as an array (the Spark convention)."""

    tag: str
    items: list


# ---- reading what the client sent -------------------------------------------------------------------------
_W3 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$", re.ASCII)
_ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_]{1,64})\](\[\])?$")
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EMAIL = re.compile(r"^[^@\s]{1,100}@[^@\s]{1,100}$")
_PHONE = re.compile(r"^[0-9+\-() ]{3,32}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$", re.ASCII)
_DIGITS = re.compile(r"^[0-9]{1,10}$")  # str.isdigit() also takes "²", which int() refuses


def _bad(zh: str, en: str) -> Invalid:
    return Invalid(zh, en, code="bad_request")


def parse_w3(text: str, name: str) -> datetime:
    """A W3C datetime, with its timezone ("Timezone information ... must be included"), as aware UTC."""
    if not _W3.match(text):
        raise _bad(f"{name} 须为带时区的 W3C 日期时间，如 2026-11-16T09:00:00+08:00",
                   f"{name} must be a W3C datetime with a timezone, e.g. 2010-01-01T00:00:00Z")
    try:
        return in_range(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC), name)
    except (ValueError, OverflowError):
        raise _bad(f"{name} 不是有效的日期时间", f"{name} is not a valid datetime") from None


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
                    raise _bad("参数中含有控制字符或无效字符",
                               "parameters must not contain control or invalid characters")
            m = _ATTRIBUTE.match(key) if attributes else None
            if m:
                self.attributes.setdefault(m.group(1), []).append(value)
                if m.group(2):
                    self.listed.add(m.group(1))
            elif key in allowed:
                self.values.setdefault(key, []).append(value)
            elif strict:
                raise _bad(f"不支持的参数：{key[:64]}", f"unknown parameter '{key[:64]}'")
        for key, values in self.values.items():
            if len(values) > 1 and key not in repeatable:
                raise _bad(f"参数 {key} 只能给出一次", f"'{key}' was given more than once")

    def text(self, name: str, max_length: int, *, required: bool = False) -> str | None:
        values = [v for v in self.values.get(name, []) if v.strip()]
        if not values:
            if required:
                raise _bad(f"缺少参数 {name}", f"{name} was not provided")
            return None
        value = clean(values[0].strip() if name != "description" else values[0], name, long=name == "description")
        if len(value) > max_length:
            raise _bad(f"{name} 超过 {max_length} 个字符", f"{name} is longer than {max_length:,} characters")
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
            raise _bad(f"{name} 须为 {low} 到 {high} 之间的数", f"{name} must be a number from {low} to {high}")
        return float(raw)

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        raw = self.text(name, 12)
        if raw is None:
            return default
        if not _DIGITS.match(raw) or not low <= int(raw) <= high:
            raise _bad(f"{name} 须为 {low} 到 {high} 之间的整数", f"{name} must be a whole number from {low} to {high}")
        return int(raw)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name, 8)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false", "1", "0"):
            raise _bad(f"{name} 须为 true 或 false", f"{name} must be true or false")
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
                raise _bad("end_date 早于 start_date", "end_date is before start_date")
            if end_at - start_at > SPAN:
                raise _bad("查询时间范围不能超过 90 天", "the date range may not span more than 90 days")
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
        raise _bad(f"{name} 须为 http(s) 地址", f"{name} must be an http(s) URL")
    return value


def _contact(p: Params) -> dict:
    email, phone = p.text("email", 200), p.text("phone", 32)
    if email and not _EMAIL.match(email):
        raise _bad("email 格式有误", "email is not a valid e-mail address")
    if phone and not _PHONE.match(phone):
        raise _bad("phone 格式有误", "phone is not a valid phone number")
    return {"email": email, "phone": phone, "first_name": p.text("first_name", 100),
            "last_name": p.text("last_name", 100), "account_id": p.text("account_id", 100)}


def _media(p: Params) -> list[str]:
    urls = [_url(v.strip(), "media_url") for v in p.values.get("media_url", []) if v.strip()]
    if len(urls) > 10 or any(len(u) > 1000 for u in urls):
        raise _bad("media_url 过多或过长", "media_url values are too many or too long")
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


# ---- what the timeline says, in words a hotline can read back ---------------------------------------------
@dataclass
class EntryRow:
    id: int
    case_id: int
    seq: int
    at: datetime
    action: str
    unit: str | None
    from_state: str | None
    to_state: str | None
    payload: str


@dataclass
class Step:
    """One timeline entry as an Open311 update: the state and extended status the case reached, in words."""

    entry: EntryRow
    state: str
    extended: str
    note: str


def describe(action: str, p: dict, *, unit: str, name_of: Callable[[str | None], str], outcome: str | None,
             result: str | None, to_state: str | None) -> str:
    """The Chinese status note for one timeline entry."""
    note = (p.get("note") or "").strip()
    tail = f"：{note}" if note else ""
    if action == "report":
        return "已上报，等待乡镇受理"
    if action == "accept":
        return "乡镇已受理，正在核实分类" + tail
    if action == "reject":
        return f"不予受理：{p.get('reason', '')}"
    if action == "merge":
        return f"与服务请求 {p.get('into')} 重复，已合并办理"
    if action in ("dispatch", "arbitrate"):
        lead = name_of(p.get("lead_unit"))
        assists = "、".join(name_of(a) for a in p.get("assist_units") or [])
        head = "县级裁定主办单位：" if action == "arbitrate" else "已吹哨，主办单位："
        return head + lead + (f"，协办单位：{assists}" if assists else "") + tail
    if action == "check_in":
        return f"{unit}已报到" + ("，正在办理" if to_state == lc.HANDLING else "（协办）") + tail
    if action == "return":
        return join(f"{unit}退回：{p.get('reason', '')}", "待乡镇重新派遣", sep="；")
    if action == "escalate_dispute":
        return f"职责有争议，已提请县级裁定：{p.get('reason', '')}"
    if action == "request_extension":
        return f"{unit}申请延期 {p.get('working_days')} 个工作日：{p.get('reason', '')}"
    if action == "approve_extension":
        return f"延期 {p.get('working_days')} 个工作日已批准" + tail
    if action == "deny_extension":
        return "延期申请未获批准" + tail
    if action == "suspend":
        return f"已挂起（缓办）：{p.get('reason', '')}"
    if action == "resume":
        return "已恢复办理"
    if action == "feedback":
        label = OUTCOME_LABELS.get(p.get("outcome", ""), "")
        return f"{unit}已反馈办理结果（{label}），待乡镇核查：{p.get('result', '')}"
    if action == "verify":
        if p.get("passed"):
            label = OUTCOME_LABELS.get(outcome or "", "已办结")
            proposed = p.get("proposed_outcome")
            if proposed:  # the township corrected the outcome the department reported
                label += f"；部门反馈为{OUTCOME_LABELS.get(proposed, proposed)}，经核查更正"
            return join(f"核查通过，已结案（{label}）", result and f"办理结果：{result}", note and f"核查意见：{note}")
        return "核查未通过，返工重新办理" + tail
    if action in ("urge", "supervise"):
        return ("催办" if action == "urge" else "督办") + tail
    if action == "attach":
        return "补充了附件"
    return lc.ACTION_LABELS.get(action, action)


def history(entries: list[EntryRow], name_of: Callable[[str | None], str]) -> list[Step]:
    """Walk one case's timeline (in order), giving each entry the extended status the case reached by it."""
    steps: list[Step] = []
    left, reworked, outcome, result = None, False, None, None
    for e in entries:
        p = json.loads(e.payload or "{}")
        state = e.to_state or (steps[-1].state if steps else lc.REPORTED)
        if e.action == "feedback":
            outcome, result = p.get("outcome"), p.get("result")
        elif e.action == "verify" and p.get("passed") and p.get("outcome"):
            outcome = p["outcome"]  # confirmed or corrected at verification
        elif e.action == "verify" and not p.get("passed"):
            reworked = True
        if e.action == "suspend":
            left = e.from_state
        extended = extended_status(state, outcome, left, reworked)
        note = describe(e.action, p, unit=name_of(e.unit), name_of=name_of, outcome=outcome, result=result,
                        to_state=e.to_state)
        steps.append(Step(e, state, extended, note[:2000]))
    return steps


# ---- API keys -----------------------------------------------------------------------------------------------
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


# ---- public reads -------------------------------------------------------------------------------------------
SETTING = "open311"  # settings row: {"public_reads": bool}; absent means keys are needed for every read


class Open311SettingsIn(Body):
    """`PUT /api/v1/settings/open311`: whether the standard's reads (GET requests, request, tokens) need no key."""

    public_reads: bool


@dataclass(frozen=True)
class PublicReader:
    """Someone reading without a key while the admin allows public reads: they see the requests that came in
    through Open311 (any key; not the township's own or the grid workers' reports), and only their public
    fields (see `public_view`)."""


PUBLIC = PublicReader()
Reader = Integrator | PublicReader

# personal data a description or note may hold: a requester's phone, e-mail or ID card number (身份证号)
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                      r"[0-9]{3}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?(1[3-9][0-9])[\s-]?[0-9]{4}[\s-]?([0-9]{4})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])[(（]?(0[1-9][0-9]{1,2})[)）]?[\s-]?[0-9]{3,4}[\s-]?([0-9]{4})(?![0-9])")
# Chinese input methods often type digits and letters full width (１３８…, ｚｈａｎｇ＠…): fold them (and ＋－＠．)
# first, so the patterns see them; full-width punctuation such as （，） is left as written
_FOLDED = [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B), 0xFF0B, 0xFF0D, 0xFF20, 0xFF0E]
_FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in _FOLDED})
_MAIL = re.compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")


def mask_personal(text: str | None) -> str | None:
    """`text` with phone numbers (mobile 138****8000, landline 0358-****4567), e-mail addresses (***@host) and
    ID card numbers (身份证号已隐去) masked: what a public Open311 read may show of free text."""
    if not text:
        return text
    text = text.translate(_FULL_WIDTH)
    text = _ID_CARD.sub("[身份证号已隐去]", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(2)}", text)
    return _MAIL.sub(lambda m: f"***@{m.group(1)}", text)


def public_view(req: dict) -> dict:
    """A request as a public read shows it. GeoReport v2 defines no private field in a request (its
    requester's contact details are POST-only, and we never show them), but our free text may carry personal
    data: description, status_notes and address are masked (`mask_personal`), and media_url (the requester's
    photo, unreviewed) is left out."""
    out = {**req, "media_url": None}
    for name in ("description", "status_notes", "address"):
        out[name] = mask_personal(out.get(name))
    return out


@dataclass
class _Names:
    by_code: dict[str, str] = field(default_factory=dict)
    by_id: dict[int, str] = field(default_factory=dict)
    code_by_id: dict[int, str] = field(default_factory=dict)

    def of(self, code: str | None) -> str:
        return self.by_code.get(code or "", code or "")


class Open311Service:
    def __init__(self, cases: CaseService):
        self.cases = cases
        self.db = cases.db
        self.units = cases.units

    # ---- keys ---------------------------------------------------------------------------------------------
    def _key_dict(self, k: ApiKey) -> dict:
        return {"id": k.id, "name": k.name, "unit": self.units.code(k.unit_id), "townships": k.townships,
                "source": k.source, "active": k.active, "created_at": w3(k.created_at)}

    async def create_key(self, raw, now: datetime) -> dict:
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
                raise Conflict(f"接入密钥 {body.name} 已存在", f"api key '{body.name}' already exists", code="exists")
            secret = "o311_" + secrets.token_urlsafe(32)
            key = ApiKey(name=body.name, key_hash=hash_key(secret), unit_id=unit.id, townships=townships,
                         source=body.source, active=True, created_at=now)
            s.add(key)
            try:
                await s.flush()
            except IntegrityError:
                raise Conflict(f"接入密钥 {body.name} 已存在", f"api key '{body.name}' already exists",
                               code="exists") from None
        return {**self._key_dict(key), "key": secret}

    async def list_keys(self) -> list[dict]:
        async with self.db.read() as s:
            await self.units.reload(s)
            rows = (await s.execute(select(ApiKey).order_by(ApiKey.id))).scalars().all()
        return [self._key_dict(k) for k in rows]

    async def revoke_key(self, name: str) -> dict:
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

    # ---- discovery and services ---------------------------------------------------------------------------
    async def discovery(self, url: str, now: datetime) -> dict:
        """The discovery document; `key_service` also says whether reads need a key (the admin's setting)."""
        async with self.db.read() as s:
            county = (await s.execute(select(Unit.name).where(Unit.kind == "county"))).scalar_one_or_none()
        changeset = f"{now.astimezone(LOCAL_TZ):%Y-%m-%d} 00:00"  # services may change any day: refresh daily
        if (await self.settings())["public_reads"]:
            reads = ("上报须提供 api_key；查询（GET requests、tokens）无需 api_key，只返回经 Open311 提交的服务请求的"
                     "公开字段（不含诉求人联系方式和照片，描述中的电话、邮箱、身份证号已隐去）。 / "
                     "API keys are issued by the platform administrator and are needed to post. Reads (GET requests "
                     "and tokens) need no api_key and show only the public fields of requests posted through "
                     "Open311: no requester contact details or photos, and phone numbers, e-mail addresses and ID "
                     "numbers in the text are masked.")
        else:
            reads = ("上报和查询都须提供 api_key。 / API keys are issued by the platform administrator; every "
                     "request, reads included, needs an api_key.")
        return {
            "changeset": changeset,
            "contact": f"{county or ''}吹哨平台（乡镇吹哨、部门报到）。接入与运维请联系县综治中心平台管理员。",
            "key_service": "接入密钥（api_key）由平台管理员签发（POST /api/v1/api-keys），"
                           "每个密钥绑定受理单位和可上报的乡镇。" + reads,
            "endpoints": Many("endpoint", [{
                "specification": SPECIFICATION,
                "url": url,
                "changeset": changeset,
                "type": "production",
                "formats": Many("format", list(FORMATS.values())),
            }]),
        }

    @staticmethod
    def _service(code: str, name: str, category: str) -> dict:
        big, _, small = category.partition("/")
        return {
            "service_code": code,
            "service_name": name,
            "description": f"{category}：{name}" if category else name,
            "metadata": True,
            "type": "realtime",
            "keywords": ", ".join(dict.fromkeys(x for x in (big, small, name) if x)),
            "group": big or category,
        }

    async def _items(self, s) -> dict[str, CatalogItem]:
        rows = (await s.execute(select(CatalogItem).order_by(CatalogItem.code))).scalars().all()
        return {i.code: i for i in rows}

    def _other(self) -> dict:
        return self._service(OTHER, "其他事项（由乡镇受理时分类）", "其他")

    async def services(self) -> list[dict]:
        async with self.db.read() as s:
            items = await self._items(s)
        out = [self._service(i.code, i.name, i.category) for i in items.values()]
        return out if OTHER in items else [*out, self._other()]

    async def _service_named(self, s, code: str | None) -> tuple[str | None, str]:
        """(catalog item code or None for OTHER, service name); 404 for a code that names no service."""
        if code and _CODE.match(code):
            item = (await s.execute(select(CatalogItem).where(CatalogItem.code == code))).scalar_one_or_none()
            if item is not None:
                return item.code, item.name
            if code == OTHER:
                return None, self._other()["service_name"]
        raise NotFound(f"服务 {str(code)[:64]} 不存在", f"service_code '{str(code)[:64]}' was not found")

    async def service_definition(self, code: str) -> dict:
        async with self.db.read() as s:
            await self._service_named(s, code)
            units = (await s.execute(select(Unit).where(Unit.kind.in_(("township", "grid"))).order_by(Unit.code))
                     ).scalars().all()
        names = {u.id: u.name for u in units}
        townships = [{"key": u.code, "name": u.name} for u in units if u.kind == "township"]
        grids = [{"key": u.code, "name": f"{names.get(u.parent_id, '')}{u.name}"} for u in units if u.kind == "grid"]

        def attribute(order, code, datatype, description, datatype_description, values=None):
            a = {"variable": True, "code": code, "datatype": datatype, "required": False,
                 "datatype_description": datatype_description, "order": order, "description": description}
            if values is not None:
                a["values"] = Many("value", values)
            return a

        return {"service_code": code, "attributes": Many("attribute", [
            attribute(1, "title", "string", "事件标题（不填则取描述的第一行）", "不超过 200 字"),
            attribute(2, "township", "singlevaluelist", "事发乡镇（坐标落在网格范围内时可不填）",
                      "乡镇代码；须在接入密钥允许的乡镇之内", townships),
            attribute(3, "grid", "singlevaluelist", "事发网格（可不填，由坐标确定）", "网格代码", grids),
            attribute(4, "urgency", "singlevaluelist", "紧急程度（不填为一般）", "normal 一般 / urgent 紧急",
                      [{"key": k, "name": v} for k, v in URGENCY_LABELS.items()]),
        ])}

    # ---- POST requests ------------------------------------------------------------------------------------
    async def create_request(self, key: Integrator, p: Params, now: datetime) -> list[dict]:
        """"Create service requests": one case, reported by the key's intake unit (step 1 like any report)."""
        code = p.text("service_code", 64, required=True)
        lat, lon = p.number("lat", -90, 90), p.number("long", -180, 180)
        if (lat is None) != (lon is None):
            raise _bad("lat 与 long 须同时提供", "lat & long both need to be sent")
        address = p.text("address_string", 300)
        address_id = p.text("address_id", 100)
        if lat is None and address is None:
            if address_id:
                raise _bad("本平台没有地址库，无法识别 address_id；请提供 lat/long 或 address_string",
                           "address_id is not known here (no master address repository); send lat/long or "
                           "address_string")
            raise _bad("缺少位置：请提供 lat 和 long，或 address_string",
                       "a full location parameter must be submitted: lat & long or address_string")
        description = p.text("description", MAX_DESCRIPTION) or ""
        contact = _contact(p)
        media = _media(p)
        device_id = p.text("device_id", 100)
        attrs = self._attributes(p)
        async with self.db.read() as s:
            category, service_name = await self._service_named(s, code)
        township = attrs.get("township")
        if township is None and attrs.get("grid") is None and lat is None and len(key.townships) == 1:
            township = key.townships[0]  # an address alone: the key's only township
        if lat is None and township is None and attrs.get("grid") is None:
            raise _bad("仅有地址描述时，请用 attribute[township] 指明乡镇",
                       "with address_string alone, give the township as attribute[township]")
        first_line = next((ln.strip() for ln in description.splitlines() if ln.strip()), "")
        title = attrs.get("title") or (first_line[:60] if first_line else service_name)
        raw = {"title": title, "description": description, "category": category,
               "urgency": attrs.get("urgency", "normal"), "source": key.source}
        if township:
            raw["township"] = township
        if attrs.get("grid"):
            raw["grid"] = attrs["grid"]
        if lat is not None:
            raw["lat"], raw["lon"] = lat, lon
        if address:
            raw["address"] = address
        def request_record(s, case):  # the requester's details, in the report's own transaction
            s.add(Open311Request(case_id=case.id, api_key_id=key.id, device_id=device_id, address_id=address_id,
                                 media_urls=media, attributes=attrs, created_at=now, **contact))

        view = await self.cases.report(key.actor(), raw, now, townships=set(key.townships), also=request_record)
        async with self.db.read() as s:
            names = await self._names(s)
        notice = f"已转{names.of(view['township'])}受理，案件编号 {view['code']}"
        return [{"service_request_id": str(view["id"]), "service_notice": notice}]

    @staticmethod
    def _attributes(p: Params) -> dict:
        known = {"title": 200, "township": 64, "grid": 64, "urgency": 16}
        out = {}
        for code, values in p.attributes.items():
            if code not in known:
                raise _bad(f"服务没有属性 {code}", f"attribute[{code}] is not in the service definition")
            if len(values) > 1 or code in p.listed:
                raise _bad(f"属性 {code} 只能有一个值", f"attribute[{code}] takes one value")
            value = values[0].strip()
            if not value:
                continue
            if len(value) > known[code]:
                raise _bad(f"属性 {code} 过长", f"attribute[{code}] is too long")
            if code in ("township", "grid") and not _CODE.match(value):
                raise _bad(f"属性 {code} 的值无效", f"attribute[{code}] is not a valid code")
            if code == "urgency" and value not in URGENCY_LABELS:
                raise _bad("urgency 须为 normal 或 urgent", "attribute[urgency] must be normal or urgent")
            out[code] = value
        return out

    # ---- reading requests ---------------------------------------------------------------------------------
    async def _names(self, s) -> _Names:
        rows = (await s.execute(select(Unit.id, Unit.code, Unit.name))).all()
        return _Names({c: n for _, c, n in rows}, {i: n for i, _, n in rows}, {i: c for i, c, _ in rows})

    async def _entries(self, s, case_ids: list[int]) -> dict[int, list[EntryRow]]:
        out: dict[int, list[EntryRow]] = {i: [] for i in case_ids}
        for chunk in range(0, len(case_ids), 500):
            ids = case_ids[chunk:chunk + 500]
            rows = (await s.execute(
                select(TimelineEntry.id, TimelineEntry.case_id, TimelineEntry.seq, TimelineEntry.at,
                       TimelineEntry.action, TimelineEntry.unit, TimelineEntry.from_state, TimelineEntry.to_state,
                       TimelineEntry.payload)
                .where(TimelineEntry.case_id.in_(ids)).order_by(TimelineEntry.case_id, TimelineEntry.seq))).all()
            for r in rows:
                out[r.case_id].append(EntryRow(*r))
        return out

    async def _represent(self, s, cases: list[Case], extensions: bool, public: bool = False) -> list[dict]:
        """`cases` as GeoReport requests; `public`: only what a reader without a key may see (`public_view`)."""
        ids = [c.id for c in cases]
        names = await self._names(s)
        items = {code: name for code, name in (await s.execute(select(CatalogItem.code, CatalogItem.name))).all()}
        entries = await self._entries(s, ids)
        media: dict[int, list[str]] = {}
        for chunk in range(0, len(ids), 500):
            rows = (await s.execute(select(Open311Request.case_id, Open311Request.media_urls)
                                    .where(Open311Request.case_id.in_(ids[chunk:chunk + 500])))).all()
            media |= dict(rows)
        out = []
        for c in cases:
            steps = [x for x in history(entries[c.id], names.of) if x.entry.action not in RECORDS]
            ext = extended_status(c.status, c.outcome, c.suspended_from, c.rework_count > 0)
            township, grid = names.by_id.get(c.township_id, ""), names.by_id.get(c.grid_id) if c.grid_id else None
            address = c.address or "，".join(x for x in (grid, township) if x)
            agency = names.by_id.get(c.lead_unit_id) if c.lead_unit_id else township
            req = {
                "service_request_id": str(c.id),
                "status": standard_status(c.status),
                "status_notes": steps[-1].note if steps else None,
                "service_name": items.get(c.category, c.category) if c.category else self._other()["service_name"],
                "service_code": c.category or OTHER,
                "description": (c.description or "")[:MAX_DESCRIPTION],
                "agency_responsible": agency,
                "service_notice": f"由{township}受理，案件编号 {case_code(c)}",
                "requested_datetime": w3(c.created_at),
                "updated_datetime": w3(c.closed_at or c.updated_at),
            }
            if c.status == lc.HANDLING and c.deadline is not None:
                req["expected_datetime"] = w3(c.deadline)  # the lead unit's handling deadline
            req |= {
                "address": address,
                "address_id": None,
                "zipcode": None,
                "lat": c.lat,
                "long": c.lon,
                "media_url": (media.get(c.id) or [None])[0],
            }
            if extensions:
                req["extended_attributes"] = {
                    "status": ext,
                    "state": c.status,
                    "state_label": lc.STATE_LABELS[c.status],
                    "step": lc.step_of(c.status, c.suspended_from),
                    "outcome": c.outcome if c.status == lc.CLOSED else None,
                    "code": case_code(c),
                    "township": names.code_by_id.get(c.township_id),
                    "grid": names.code_by_id.get(c.grid_id) if c.grid_id else None,
                    "urgency": c.urgency,
                    "source": c.source,
                }
            out.append(public_view(req) if public else req)
        return out

    @staticmethod
    def _scope(stmt, reader: Reader):
        """The cases `reader` may read: its key's townships, or for the public those posted through Open311."""
        if isinstance(reader, PublicReader):
            return stmt.where(exists().where(Open311Request.case_id == Case.id))
        return stmt.where(Case.township_id.in_(reader.township_ids))

    async def requests(self, key: Reader, p: Params, now: datetime) -> list[dict]:
        """GET requests: the key's townships' cases (or the public's, `_scope`), filtered as the standard says."""
        extensions = p.flag("extensions", True)
        stmt = self._scope(select(Case), key)
        ids = p.listed_values("service_request_id")
        async with self.db.read() as s:
            if ids:  # "This overrides all other arguments."
                if len(ids) > MAX_IDS:
                    raise _bad(f"service_request_id 最多 {MAX_IDS} 个", f"at most {MAX_IDS} service_request_id values")
                if not all(_DIGITS.match(i) for i in ids):
                    raise _bad("service_request_id 须为数字", "service_request_id values must be numbers")
                wanted = [int(i) for i in ids if int(i) < 2**31]
                stmt = stmt.where(Case.id.in_(wanted)).order_by(Case.created_at.desc(), Case.id.desc())
            else:
                start, end = p.dates(now)
                stmt = stmt.where(Case.created_at >= start)
                if end is not None:
                    stmt = stmt.where(Case.created_at <= end)
                codes = p.listed_values("service_code")
                if codes:
                    bad = [c for c in codes if not _CODE.match(c)]
                    known = set() if bad else set((await s.execute(
                        select(CatalogItem.code).where(CatalogItem.code.in_(codes)))).scalars())
                    unknown = bad or [c for c in codes if c not in known and c != OTHER]
                    if unknown:
                        raise _bad(f"服务不存在：{', '.join(c[:64] for c in unknown[:5])}",
                                   f"unknown service_code: {', '.join(c[:64] for c in unknown[:5])}")
                    conds = [Case.category.in_(sorted(known))] if known else []
                    if OTHER in codes and OTHER not in known:
                        conds.append(Case.category.is_(None))
                    stmt = stmt.where(or_(*conds))
                statuses = set(p.listed_values("status"))
                if statuses - {"open", "closed"}:
                    raise _bad("status 须为 open 或 closed", "status must be open or closed")
                if statuses == {"open"}:
                    stmt = stmt.where(Case.status.not_in(lc.FINAL_STATES))
                elif statuses == {"closed"}:
                    stmt = stmt.where(Case.status.in_(lc.FINAL_STATES))
                size = p.integer("page_size", 1, MAX_RESULTS, MAX_RESULTS)
                page = p.integer("page", 1, 100000, 1)
                stmt = (stmt.order_by(Case.created_at.desc(), Case.id.desc())
                        .offset((page - 1) * size).limit(size))
            cases = list((await s.execute(stmt)).scalars())
            return await self._represent(s, cases, extensions, public=isinstance(key, PublicReader))

    async def _readable(self, s, key: Reader, case_id: int) -> Case | None:
        if not 0 < case_id < 2**31:
            return None
        return (await s.execute(self._scope(select(Case).where(Case.id == case_id), key))).scalar_one_or_none()

    async def _scoped_case(self, s, key: Reader, case_id: int) -> Case:
        case = await self._readable(s, key, case_id)
        if case is None:
            raise NotFound(f"服务请求 {case_id} 不存在", f"service_request_id {case_id} was not found")
        return case

    async def request(self, key: Reader, rid: str, p: Params) -> list[dict]:
        if not _DIGITS.match(rid):
            raise NotFound(f"服务请求 {rid[:20]} 不存在", f"service_request_id '{rid[:20]}' was not found")
        async with self.db.read() as s:
            case = await self._scoped_case(s, key, int(rid))
            return await self._represent(s, [case], p.flag("extensions", True), public=isinstance(key, PublicReader))

    async def token(self, key: Reader, token: str) -> list[dict]:
        """Tokens are our case codes (CS + report date + id): what a hotline reads out to the caller."""
        m = CODE_RE.match(token) if len(token) <= 40 else None
        async with self.db.read() as s:
            case = await self._readable(s, key, int(m.group(1))) if m else None
            if case is None or case_code(case) != token:
                raise NotFound(f"token {token[:40]} 不存在", f"token '{token[:40]}' was not found")
        return [{"service_request_id": str(case.id), "token": token}]

    # ---- updates ------------------------------------------------------------------------------------------
    async def updates(self, key: Integrator, p: Params, now: datetime) -> list[dict]:
        """GET servicerequestupdates: the timeline of the key's townships' cases, oldest first."""
        start, end = p.dates(now)
        size = p.integer("page_size", 1, MAX_RESULTS, MAX_RESULTS)
        page = p.integer("page", 1, 100000, 1)
        stmt = (select(TimelineEntry.id, TimelineEntry.case_id)
                .join(Case, Case.id == TimelineEntry.case_id)
                .where(Case.township_id.in_(key.township_ids), TimelineEntry.at >= start,
                       TimelineEntry.action != "attach"))
        if end is not None:
            stmt = stmt.where(TimelineEntry.at <= end)
        stmt = stmt.order_by(TimelineEntry.at, TimelineEntry.id).offset((page - 1) * size).limit(size)
        async with self.db.read() as s:
            page_rows = (await s.execute(stmt)).all()
            wanted = [r.id for r in page_rows]
            names = await self._names(s)
            entries = await self._entries(s, list(dict.fromkeys(r.case_id for r in page_rows)))
        steps = {x.entry.id: x for rows in entries.values() for x in history(rows, names.of)}
        return [{
            "update_id": str(x.entry.id),
            "service_request_id": str(x.entry.case_id),
            "status": x.extended,
            "updated_datetime": w3(x.entry.at),
            "description": x.note,
            "media_url": "",
            "external_status_code": x.state,
        } for x in (steps[i] for i in wanted)]

    async def inbound_update(self, key: Integrator, p: Params, now: datetime) -> list[dict]:
        """POST servicerequestupdates: stored and notified once per (key, update_id); never moves the case."""
        rid = p.text("service_request_id", 12, required=True)
        update_id = p.text("update_id", 64, required=True)
        status = (p.text("status", 40, required=True) or "").upper()
        if status not in INBOUND_STATUSES:
            raise _bad(f"status 无效：{status[:40]}", f"status must be one of {', '.join(EXTENDED)}")
        when = parse_w3(p.text("updated_datetime", 40, required=True), "updated_datetime")
        if "description" not in p.values:
            raise _bad("缺少参数 description", "description was not provided")
        description = p.text("description", MAX_DESCRIPTION) or ""
        contact = {k: v for k, v in _contact(p).items() if v}
        for name in ("title", "service_request_id_ext", "service_code"):
            if p.text(name, 100):
                contact[name] = p.text(name, 100)
        for name in ("public_anonymity_required", "email_alerts_requested"):
            value = p.text(name, 8)
            if value is not None and value.upper() not in ("TRUE", "FALSE"):
                raise _bad(f"{name} 须为 TRUE 或 FALSE", f"{name} must be TRUE or FALSE")
        media = _media(p)
        if not _DIGITS.match(rid):
            raise NotFound(f"服务请求 {rid} 不存在", f"service_request_id '{rid}' was not found")
        async with self.db.read() as s:
            case = await self._scoped_case(s, key, int(rid))
            seen = await self._inbound(s, key, update_id, case.id)
        if seen is not None:
            return seen
        try:
            async with self.db.transaction() as s:
                row = InboundUpdate(api_key_id=key.id, update_id=update_id, case_id=case.id, status=status,
                                    description=description, updated_datetime=when, contact=contact,
                                    media_urls=media, received_at=now)
                s.add(row)
                await s.flush()
                event = await self._inbound_event(s, key, case, row, now)
                s.add(event)
        except IntegrityError:  # the same update arrived twice at once: the other one was applied
            async with self.db.read() as s:
                seen = await self._inbound(s, key, update_id, case.id)
            if seen is None:
                raise
            return seen
        if self.cases.committed is not None:
            self.cases.committed([event])
        return [{"update_id": str(row.id)}]

    async def _inbound(self, s, key: Integrator, update_id: str, case_id: int) -> list[dict] | None:
        row = (await s.execute(select(InboundUpdate).where(
            InboundUpdate.api_key_id == key.id, InboundUpdate.update_id == update_id))).scalar_one_or_none()
        if row is None:
            return None
        if row.case_id != case_id:
            raise _bad(f"update_id {update_id} 已用于另一个服务请求",
                       f"update_id '{update_id}' was already used for another service request")
        return [{"update_id": str(row.id)}]

    async def _inbound_event(self, s, key: Integrator, case: Case, row: InboundUpdate, now: datetime) -> Event:
        whistles = (await s.execute(select(Whistle.unit_id, Whistle.active).where(Whistle.case_id == case.id))).all()
        keys = (f"township:{DISPATCHER}", f"township:{TOWNSHIP_LIAISON}", f"lead:{DEPT_LIAISON}")
        code = case_code(case)
        summary = row.description.strip().replace("\n", " ")[:120]
        headline = f"{code} {case.title}：{key.name} 补充（{row.status}）{summary}"
        return Event(kind="open311_update", action="open311_update", case_id=case.id, township_id=case.township_id,
                     unit_ids=list(dict.fromkeys(u for u, _ in whistles)), reporter_id=case.reporter_id,
                     audience=audience(keys, township_id=case.township_id, lead_unit_id=case.lead_unit_id,
                                       whistled=[u for u, active in whistles if active], reporter_id=None),
                     payload={"code": code, "title": case.title, "action": "open311_update", "label": "热线补充",
                              "status": case.status, "status_label": lc.STATE_LABELS[case.status],
                              "version": case.version, "actor": key.actor().username, "unit": key.unit_code,
                              "at": w3(now), "headline": headline[:300], "update_id": row.update_id,
                              "open311_status": row.status, "description": row.description[:500]},
                     at=now)

    # ---- what our own staff see ---------------------------------------------------------------------------
    async def case_open311(self, case_id: int, actor: Actor, now: datetime) -> dict:
        """For anyone who may see the case: the key it came through, the requester's contact details, and the
        updates integrators sent about it."""
        await self.cases.get(case_id, actor, now)  # scope: 404 / 403 as for the case itself
        async with self.db.read() as s:
            req = await s.get(Open311Request, case_id)
            keys = {k.id: k.name for k in (await s.execute(select(ApiKey))).scalars()}
            updates = (await s.execute(select(InboundUpdate).where(InboundUpdate.case_id == case_id)
                                       .order_by(InboundUpdate.id))).scalars().all()
        return {
            "request": None if req is None else {
                "api_key": keys.get(req.api_key_id),
                "requester": {k: getattr(req, k) for k in ("first_name", "last_name", "email", "phone",
                                                          "account_id", "device_id")},
                "address_id": req.address_id, "media_urls": req.media_urls, "attributes": req.attributes,
                "received_at": w3(req.created_at),
            },
            "updates": [{"id": u.id, "api_key": keys.get(u.api_key_id), "update_id": u.update_id, "status": u.status,
                         "description": u.description, "updated_datetime": w3(u.updated_datetime),
                         "contact": u.contact, "media_urls": u.media_urls, "received_at": w3(u.received_at)}
                        for u in updates],
        }


"""What the REST API answers, as the models /openapi.json shows (and the action bodies it documents).

Each response model follows the dict its service builds today (flows/cases.py `_view`, `list`, `timeline`,
flows/admin.py `unit_dict`, `user_dict` ...) key for key and in the same order, so the route's `response_model`
writes the very JSON the dict made. FastAPI then validates and encodes the answer in pydantic-core (about 10 µs
for a case) instead of walking it with `jsonable_encoder` (about 100 µs). `extra="forbid"`: a key a service adds
without adding it here fails every test that reads the route (500), instead of silently leaving the answer.

A key that only some answers carry (`replayed`, a webhook's `secret`) is a field with a default, and its route sets
`response_model_exclude_unset=True`, so an answer without the key still has none.

Stored documents (the weekly checkpoint, the monthly bulletin) and the Open311 GeoReport answers (XML or JSON,
written by api/routes/open311.py) are described here but not validated per request: a record stored by an
earlier version keeps the keys it was stored with (flows/reports/SCHEMA.md), and GeoReport answers are rendered
by hand in two formats. Their routes name these models in `responses`.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chuishao.flows import lifecycle as lc
from chuishao.flows.cases import ALERTS
from chuishao.flows.commands import OUTCOMES, SOURCES
from chuishao.models.vocabulary import (
    ROLE_LABELS,
    SATISFACTION_LABELS,
    UNIT_KIND_LABELS,
    URGENCY_LABELS,
    WHISTLE_ROLE_LABELS,
    WHISTLE_STATE_LABELS,
)

LocalTime = Annotated[str, Field(description="ISO 8601 in Asia/Shanghai, with its offset (+08:00)",
                                 json_schema_extra={"format": "date-time"}, examples=["2026-11-16T09:00:00+08:00"])]
Day = Annotated[str, Field(description="YYYY-MM-DD", json_schema_extra={"format": "date"}, examples=["2026-10-01"])]
Status = Literal[tuple(lc.STATE_LABELS)]
Action = Literal[tuple(lc.BY_ACTION)]
Alert = Literal[ALERTS]
Outcome = Literal[OUTCOMES]
Source = Literal[SOURCES]
Urgency = Literal[tuple(URGENCY_LABELS)]
Role = Literal[tuple(ROLE_LABELS)]
UnitKind = Literal[tuple(UNIT_KIND_LABELS)]
Channel = Literal["webhook", "email", "sms"]
HHMM = Annotated[str, Field(description="local time HH:MM; an end may be 24:00", examples=["09:00"])]
# the content of an answer that is no JSON, for a route's `responses`
BINARY = {"schema": {"type": "string", "format": "binary"}}
TEXT = {"schema": {"type": "string"}}


class Out(BaseModel):
    """Every response model: exactly the keys the service writes (see the module doc)."""

    model_config = ConfigDict(extra="forbid")


# ---- cases ----------------------------------------------------------------------------------------------------
class WhistleView(Out):
    """One whistle (哨令) to one unit; earlier rounds stay with `active` false."""

    unit: str | None = Field(description="the unit's code")
    unit_name: str | None
    role: Literal[tuple(WHISTLE_ROLE_LABELS)] = Field(description="lead 主办 / assist 协办")
    state: Literal[tuple(WHISTLE_STATE_LABELS)] = Field(description="sent 待报到 / checked_in 已报到 / returned 已退回")
    active: bool
    arbitrated: bool = Field(description="named by arbitration (争议裁定): may not be returned again")
    round: int
    dispatched_at: LocalTime | None
    checked_in_at: LocalTime | None
    returned_at: LocalTime | None
    return_reason: str | None


class PendingExtension(Out):
    working_days: int
    reason: str
    requested_at: LocalTime


class PredictedClosure(Out):
    """预计办结 (flows/prediction.py): report time + the median (and 80th percentile) working minutes the same
    catalog item took in the same township, over the cases closed in the last `window_days` days."""

    median_at: LocalTime | None = Field(description="half of such cases closed by then; null under 5 samples")
    p80_at: LocalTime | None = Field(description="four in five closed by then; null under 5 samples")
    samples: int = Field(description="closed cases of the item and township in the window")
    window_days: int


class CaseView(Out):
    """A case as its caller may see it, with the actions this caller may take on it now."""

    id: int
    code: str = Field(description="CS + local report date + id", examples=["CS20261116000042"])
    title: str
    description: str
    category: str | None = Field(description="the catalog item's code (事项清单)")
    township: str | None
    grid: str | None
    address: str | None
    lat: float | None
    lon: float | None
    urgency: Urgency
    source: Source
    status: Status
    status_label: str
    step: int = Field(ge=1, le=6, description="the loop's step, 1 事件上报 … 6 核查结案")
    version: int = Field(description="send it back as If-Match to refuse a stale write (409)")
    lead_unit: str | None
    whistles: list[WhistleView]
    deadline: LocalTime | None = Field(description="the running step clock's deadline")
    alert: Alert
    alert_label: str
    provisional: bool = Field(description="the deadline assumes working days the calendar has not confirmed yet")
    time_left_minutes: int | None = Field(description="working minutes left on the running clock (wall-clock "
                                                      "minutes when urgent); negative when overdue")
    outcome: Outcome | None
    suspended_from: Status | None
    merged_into: int | None
    return_count: int
    rework_count: int
    pending_extension: PendingExtension | None
    reporter_id: int | None
    created_at: LocalTime
    updated_at: LocalTime
    closed_at: LocalTime | None
    allowed_actions: list[Action] = Field(description="what this caller may do now: POST …/actions/{action}")
    predicted_closure: PredictedClosure | None = Field(default=None, description="open cases with a catalog item")


class ReportedCase(CaseView):
    """The case a report made; `replayed` (only then, true): the same Idempotency-Key was sent before, and this
    is the case the first report made."""

    replayed: bool = False


class CasePage(Out):
    items: list[CaseView]
    total: int
    page: int
    page_size: int


class TimelineEntry(Out):
    """One entry of the case's tamper-evident record (全过程记录): each hash covers the previous one."""

    seq: int
    at: LocalTime
    actor: str = Field(description="username, or open311:<key name> for an integrator")
    unit: str | None
    role: str
    action: str = Field(description="report, an action of the transition table, or attach")
    label: str
    from_state: str | None
    to_state: str | None
    payload: dict[str, Any] = Field(description="the action's body as applied (canonical JSON)")
    prev_hash: str
    hash: str = Field(description="SHA-256 hex over prev_hash and this entry")


class AttachmentRecord(Out):
    """A file recorded on the case; sent again by the same person, the first record (`replayed`: true)."""

    id: int
    sha256: str
    filename: str
    content_type: str
    size: int = Field(description="bytes")
    at: LocalTime
    case_version: int
    replayed: bool = False


class AttachmentItem(Out):
    id: int
    filename: str
    sha256: str
    size: int = Field(description="bytes")
    content_type: str


# ---- accounts -------------------------------------------------------------------------------------------------
class SignedInUser(Out):
    username: str
    name: str
    role: Role
    unit: str
    unit_name: str


class AccessToken(Out):
    """OAuth2 password flow: send `Authorization: Bearer <access_token>`."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="seconds")
    user: SignedInUser


class Me(Out):
    username: str
    role: Role
    unit: str


class UnitView(Out):
    id: int
    code: str
    name: str
    kind: UnitKind
    parent: str | None = Field(description="the parent unit's code")
    polygon: dict[str, Any] | None = Field(description="GeoJSON (grids)")


class UserView(Out):
    id: int
    username: str
    name: str
    role: Role
    unit: str | None
    certificate_no: str | None = Field(description="执法证号")
    certificate_expires: Day | None
    phone: str | None
    email: str | None
    active: bool


class UserDetail(UserView):
    unit_name: str | None


class CatalogItemView(Out):
    code: str
    name: str
    category: str
    lead_unit: str | None
    assist_units: list[str]
    devolved: bool = Field(description="赋权事项: handled by the township's own team")
    enforcement: bool = Field(description="行政执法事项: feedback needs two officers with valid certificates")
    major: bool = Field(False, description="重大执法决定: feedback goes to legal review (法制审核) before verification")
    disclose: bool = Field(False, description="行政执法公示: closed cases are published, masked (GET /disclosures)")
    limits: dict[str, dict[str, str]] = Field(description="clock → urgency → duration (e.g. 3d, 4h, 90m)")


class OverrideView(Out):
    item: str
    township: str
    lead_unit: str | None
    assist_units: list[str] | None
    limits: dict[str, dict[str, str]] | None


class Scorecard(Out):
    weights: dict[str, int]
    list_min_whistles: int


# ---- calendar -------------------------------------------------------------------------------------------------
class CalendarDayView(Out):
    date: Day
    kind: Literal["holiday", "workday"]
    name: str | None
    source: str


class CalendarYearView(Out):
    year: int
    official: bool = Field(description="the State Council's schedule for the year is loaded")
    source: str
    hours: list[tuple[HHMM, HHMM]]
    days: list[CalendarDayView] = Field(description="the dates that differ from the weekday/weekend rule")


class DaySet(Out):
    date: Day
    kind: Literal["holiday", "workday"] | None
    name: str | None


class ScheduleDay(BaseModel):
    """One day of an official schedule (国务院办公厅放假安排): a holiday, or a weekend day worked (调休上班)."""

    date: str = Field(description="YYYY-MM-DD")
    kind: Literal["holiday", "workday"] | None = Field(
        None, description="in a list of days; left out in `holidays`/`workdays`")
    name: str | None = Field(None, description="e.g. 春节")


class Schedule(BaseModel):
    """A year's official schedule as JSON: the holidays and the worked weekend days, each a date or a day with its
    name. The same may come as a list of days (each with its `kind`), or as CSV `date,kind,name` via the CLI."""

    year: int | None = None
    holidays: list[str | ScheduleDay] = []
    workdays: list[str | ScheduleDay] = []


class YearImported(Out):
    year: int
    days: int
    recomputed_clocks: int


class WorkingHours(Out):
    windows: list[tuple[HHMM, HHMM]]


# ---- notifications --------------------------------------------------------------------------------------------
class NotificationView(Out):
    id: int
    event_id: int
    title: str
    kind: str
    action: str | None
    case_id: int | None
    at: LocalTime
    read: bool


class NotificationPage(Out):
    items: list[NotificationView]
    page: int
    page_size: int


class UnreadCount(Out):
    unread: int


class Marked(Out):
    marked: int


class ChannelView(Out):
    """`secret_set` (webhooks only): whether a signing secret exists; the secret itself is never shown again."""

    channel: Channel
    address: str
    enabled: bool
    secret_set: bool = False


class ChannelSaved(Out):
    """`secret` only on a webhook's first save: its signing secret, shown this once."""

    channel: Channel
    address: str
    enabled: bool
    secret: str | None = None


class WebhookSecret(Out):
    channel: Literal["webhook"]
    secret: str


class EgressRanges(Out):
    allowed_ranges: list[str] = Field(description="CIDR ranges outbound calls may reach although not public")


class DeliveryAttempt(Out):
    at: LocalTime
    ok: bool
    error: str | None


class DeliveryView(Out):
    id: int
    channel: str
    address: str
    state: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None
    sent_at: LocalTime | None
    history: list[DeliveryAttempt]


# ---- Open311 keys and settings --------------------------------------------------------------------------------
class ApiKeyView(Out):
    id: int
    name: str
    unit: str | None = Field(description="the intake unit (受理单位)")
    townships: list[str]
    source: Source
    active: bool
    created_at: LocalTime


class ApiKeyIssued(ApiKeyView):
    key: str = Field(description="the secret, shown this once (only its SHA-256 is kept)")


class Open311Settings(Out):
    public_reads: bool = Field(description="GeoReport reads need no api_key (public fields only)")


class Requester(Out):
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    account_id: str | None
    device_id: str | None


class Open311Record(Out):
    api_key: str | None
    requester: Requester
    address_id: str | None
    media_urls: list[str]
    attributes: dict[str, Any]
    received_at: LocalTime


class InboundUpdateView(Out):
    id: int
    api_key: str | None
    update_id: str
    status: str
    description: str
    updated_datetime: LocalTime
    contact: dict[str, Any]
    media_urls: list[str]
    received_at: LocalTime


class CaseOpen311(Out):
    request: Open311Record | None = Field(description="null: the case did not come through Open311")
    updates: list[InboundUpdateView]


class Health(Out):
    status: Literal["ok"]


# ---- described, not validated: stored documents ---------------------------------------------------------------
class Doc(BaseModel):
    """A stored document's part: the keys it is written with today; a record stored by an earlier version may lack
    some, and nothing is refused for an extra one."""

    model_config = ConfigDict(extra="allow")


class Period(Doc):
    start: LocalTime
    end: LocalTime


class CaseLine(Doc):
    id: int
    code: str
    title: str
    status: Status
    status_label: str
    alert: Alert
    deadline: LocalTime | None
    url: str


class Listing(Doc):
    count: int = Field(description="every case of the list; `cases` holds the first 100")
    cases: list[CaseLine]


class Totals(Doc):
    cases: int | None = Field(description="every case in scope; null when not known")
    new: int
    accepted: int | None = Field(None, description="townships and the county only")
    closed: int
    open: int


class CheckpointSection(Doc):
    """One township's (with accepted, returns_pending) or department's (with returned) lists."""

    code: str
    name: str
    new: Listing
    accepted: Listing | None = None
    closed: Listing
    returns_pending: Listing | None = None
    returned: dict[str, Any] | None = Field(None, description='{"count", "case_ids"}: departments only')
    open_by_step: dict[str, int] = Field(description="step (1–6) → open cases")
    warnings: Listing
    overdue: Listing
    stalled: Listing
    disputes_pending: Listing
    awaiting_verification: Listing
    totals: Totals | None = None


class Checkpoint(Doc):
    """每周一检点 of one ISO week; township and department staff see their own section (`scope` says whose)."""

    week: str = Field(examples=["2026-W47"])
    preview: bool = Field(description="generated before the week ended")
    period: Period
    generated_at: LocalTime
    stalled_rule: str
    totals: Totals
    townships: list[CheckpointSection]
    departments: list[CheckpointSection]
    scope: dict[str, Any] | None = Field(None, description='{"unit"}: a township\'s or department\'s own version')


class Rate(Doc):
    num: int
    den: int
    rate: float | None = Field(description="num ÷ den rounded half up to 4 decimals; null when den is 0")


class Bulletin(Doc):
    """每月一通报 (flows/reports/SCHEMA.md): every figure the county's; a township's or department's version
    keeps only its own cases in the case lists (`scope` says so)."""

    month: str = Field(examples=["2026-11"])
    county: str
    title: str
    preview: bool = Field(description="generated before the month ended")
    generated_at: LocalTime
    period: Period
    overview: list[dict[str, Any]] = Field(description='[{"key", "label", "value", "previous", "change"}]')
    by_source: list[dict[str, Any]] = Field(description='[{"source", "label", "count", "share"}]')
    hotspots: list[dict[str, Any]] = Field(description='[{"code", "name", "category", "count", "previous"}]')
    by_township: list[dict[str, Any]] = Field(description="per township: received, closed, open, overdue, on_time")
    by_department: list[dict[str, Any]] = Field(description="per department: whistles, closed, open, overdue, "
                                                            "on_time")
    scorecard: list[dict[str, Any]] = Field(description="per unit: each rate as {num, den, rate}, rating "
                                                        "{avg, count}, score and rank (null when unranked)")
    weights: dict[str, int]
    red_list: list[dict[str, Any]]
    black_list: list[dict[str, Any]]
    overdue_cases: list[dict[str, Any]]
    supervised_cases: list[dict[str, Any]]
    typical_cases: list[dict[str, Any]]
    unranked: list[dict[str, Any]]
    definitions: list[dict[str, str]] = Field(description='[{"term", "definition"}] (口径说明)')
    scope: dict[str, str] | None = Field(None, description='{"unit", "note"}: a township\'s or department\'s '
                                                           'own version')


# ---- described, not validated: Open311 GeoReport v2 (JSON; the XML has the same elements) -------------------
class GeoEndpoint(Doc):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class GeoDiscovery(Doc):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[GeoEndpoint]


class GeoService(Doc):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class GeoAttributeValue(Doc):
    key: str
    name: str


class GeoAttribute(Doc):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[GeoAttributeValue] | None = None


class GeoServiceDefinition(Doc):
    service_code: str
    attributes: list[GeoAttribute]


class GeoRequest(Doc):
    """A service request; `expected_datetime` while handling; `extended_attributes` unless extensions=false.
    Read without a key (public reads): description, status_notes and address masked, no media_url."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None = None
    address: str | None
    address_id: None
    zipcode: None
    lat: float | None
    long: float | None
    media_url: str | None
    extended_attributes: dict[str, Any] | None = None


class GeoRequestCreated(Doc):
    service_request_id: str
    service_notice: str


class GeoToken(Doc):
    service_request_id: str
    token: str


class GeoUpdate(Doc):
    update_id: str
    service_request_id: str
    status: str
    updated_datetime: str
    description: str
    media_url: str
    external_status_code: str


class GeoUpdateCreated(Doc):
    update_id: str


# ---- described, not parsed by these: what GeoReport v2 clients send (api/open311_params.py reads it) --------
GEO_QUERY = {  # api/open311_params.QUERY_FIELDS, as the GET resources read them; anything else is ignored
    "api_key": "the integrator's key; reads need none while the admin allows public reads",
    "jurisdiction_id": "accepted and ignored (one jurisdiction)",
    "service_request_id": "comma-delimited or repeated; overrides every other argument",
    "service_code": "comma-delimited or repeated",
    "start_date": "W3C datetime; the range defaults to the last 90 days and may not span more",
    "end_date": "W3C datetime",
    "status": "open, closed (comma-delimited or repeated)",
    "page": "from 1",
    "page_size": "1–1000 (default 1000)",
    "extensions": "true (default): each request with extended_attributes",
}
ATTRIBUTE = r"^attribute\[[A-Za-z0-9_]{1,64}\](\[\])?$"


def geo_query(*names: str) -> dict:
    """openapi_extra for a GeoReport GET: the query parameters it reads (`names`, keys of GEO_QUERY)."""
    return {"parameters": [{"name": n, "in": "query", "required": False, "description": GEO_QUERY[n],
                            "schema": {"type": "string"}} for n in names]}


def geo_form(model: type[BaseModel]) -> dict:
    """openapi_extra for a GeoReport POST: its form-encoded body, described by `model`."""
    return {"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": model.model_json_schema()}}}}


class GeoRequestForm(BaseModel):
    """POST Service Request (api/open311_params.REQUEST_FIELDS): a location is required, lat & long or address_string
    (with attribute[township] unless the key has one township); `attribute[title|township|grid|urgency]` as the
    service definition lists them. The api_key may come in the query string instead. Unknown parameters are
    refused (400)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"patternProperties": {ATTRIBUTE: {
        "type": "string"}}})

    api_key: str | None = None
    jurisdiction_id: str | None = None
    service_code: str = Field(description="a catalog item's code, or OTHER")
    lat: float | None = Field(None, ge=-90, le=90)
    long: float | None = Field(None, ge=-180, le=180)
    address_string: str | None = Field(None, max_length=300)
    address_id: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=200)
    device_id: str | None = Field(None, max_length=100)
    account_id: str | None = Field(None, max_length=100)
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32)
    description: str | None = Field(None, max_length=4000)
    media_url: list[str] | None = Field(None, max_length=10, description="repeatable")


class GeoUpdateForm(BaseModel):
    """POST Service Request Update (mySociety; api/open311_params.UPDATE_FIELDS): applied once per update_id and key.
    Unknown parameters are refused (400)."""

    model_config = ConfigDict(extra="forbid")

    api_key: str | None = None
    jurisdiction_id: str | None = None
    service_request_id: str
    update_id: str = Field(max_length=64)
    status: str = Field(description="mySociety's extended status (OPEN, INVESTIGATING, IN_PROGRESS, "
                                    "ACTION_SCHEDULED, FIXED, CLOSED, DUPLICATE, … or FOR_TRIAGE)")
    updated_datetime: str = Field(description="W3C datetime")
    description: str = Field(max_length=4000, description="may be empty, not left out")
    email: str | None = None
    phone: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    title: str | None = None
    media_url: list[str] | None = Field(None, max_length=10, description="repeatable")
    account_id: str | None = None
    service_request_id_ext: str | None = None
    public_anonymity_required: Literal["TRUE", "FALSE"] | None = None
    email_alerts_requested: Literal["TRUE", "FALSE"] | None = None
    service_code: str | None = None


# ---- the action bodies ----------------------------------------------------------------------------------------
def body_examples() -> dict[str, dict]:
    """For the action route's request body (`openapi_examples`): one example per action of the transition table,
    named by the action, with every field its body model takes (each row's `body` in flows/lifecycle.py)."""
    # the demo county's codes and logins (flows/demo/county.py), so an example can be sent as it stands after the
    # README's quick start: GT01 违法占用耕地, led by ZRZY with NYNC assisting
    samples = {"category": "GT01", "urgency": "urgent", "note": "现场已核实", "reason": "不属于本单位职责",
               "into": 41, "lead_unit": "ZRZY", "assist_units": ["NYNC"], "working_days": 5, "outcome": "resolved",
               "result": "违建已拆除，现场已恢复", "officers": ["zrzy_officer1", "zrzy_officer2"], "passed": True,
               "satisfaction": next(iter(SATISFACTION_LABELS)), "rating": 5, "major": False}
    out = {}
    for action, t in lc.BY_ACTION.items():
        model = lc.BODIES[action]
        fields = ", ".join(model.model_fields) or "no fields"
        out[action] = {"summary": f"{action} {t.label}",
                       "description": f"`{model.__name__}`: {fields}",
                       "value": {name: samples[name] for name in model.model_fields}}
    return out


def body_schema() -> dict:
    """The action body's schema: any of the body models, each named in components/schemas (see `install`);
    which one applies is the path's `action` (listed in the operation's `x-action-bodies`)."""
    return {"anyOf": [{"$ref": f"#/components/schemas/{m.__name__}"} for m in dict.fromkeys(lc.BODIES.values())]}


def action_bodies() -> dict[str, str]:
    """action → its body model's schema, for the operation's `x-action-bodies`."""
    return {action: f"#/components/schemas/{lc.BODIES[action].__name__}" for action in lc.BY_ACTION}


SERVICE_BODIES: list[type] = []  # body models a service parses itself (parse_body), documented by `parsed_body`
PARSED_BODY = "x-parsed-body"


def parsed_body(model: type, *, or_list_of: type | None = None) -> dict:
    """openapi_extra for a route whose service parses the JSON body itself (flows/commands.parse_body, so refusals
    keep their Chinese wording): the request body is documented as `model` (or a list of `or_list_of`), the models
    listed in components/schemas by `install`."""
    SERVICE_BODIES.extend(m for m in (model, or_list_of) if m is not None)
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    if or_list_of is not None:
        ref = {"anyOf": [ref, {"type": "array", "items": {"$ref": f"#/components/schemas/{or_list_of.__name__}"}}]}
    return {PARSED_BODY: ref}  # `install` puts this in place of FastAPI's untyped body


def install(app) -> None:
    """Serve /openapi.json with the action bodies' models, and those of `parsed_body` routes, in components/schemas
    (FastAPI lists only the models a route parses, and these routes parse their bodies in the service:
    flows/commands.parse_body)."""
    from pydantic.json_schema import models_json_schema

    generate = app.openapi
    models = dict.fromkeys([*lc.BODIES.values(), *SERVICE_BODIES])
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")

    def openapi() -> dict:
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model_schema in defs.get("$defs", {}).items():
            components.setdefault(name, model_schema)
        for operation in (op for item in schema.get("paths", {}).values() for op in item.values()):
            if isinstance(operation, dict) and PARSED_BODY in operation:
                operation["requestBody"]["content"]["application/json"]["schema"] = operation.pop(PARSED_BODY)
        return schema

    app.openapi = openapi

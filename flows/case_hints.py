"""What the case page's forms offer, looked up for one case: read-only queries, no writes.

The case page (api/web/case.py) shows the caller's allowed actions as forms; some of their choices depend on
the case — the catalog for acceptance, the routed units for dispatch, duplicate candidates for merging, the
lead unit's officers and their certificates for feedback. `load()` gathers them in one read transaction, and
only for the actions the caller may take now.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, or_, select

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import DEPT_LIAISON, DEPT_OFFICER
from chuishao.flows.cases import CaseService, case_code
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.errors import Invalid
from chuishao.flows.lifecycle import certificate_status  # the feedback rule's own judgement
from chuishao.flows.routing import route
from chuishao.flows.sentences import display_name
from chuishao.models.cases import Case
from chuishao.models.catalog import CatalogItem, CatalogOverride
from chuishao.models.org import Unit, User

MERGE_POOL = 50  # newest open cases of the township scored for duplicates
MERGE_SHOWN = 8
NEARBY_METRES = 500
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


@dataclass(frozen=True)
class CatalogChoice:
    code: str
    name: str
    category: str  # 大类/小类
    enforcement: bool

    @property
    def group(self) -> str:
        """The top-level category (大类), for grouping the choices."""
        return self.category.split("/", 1)[0] or "其他"

    @property
    def label(self) -> str:
        """What a search box shows and matches: '违法占用耕地（国土资源/违法占地）'."""
        return f"{self.name}（{self.category}）"


@dataclass(frozen=True)
class UnitChoice:
    code: str
    name: str
    kind: str  # department / team


@dataclass(frozen=True)
class OfficerChoice:
    username: str
    name: str
    role: str
    certificate_no: str | None
    certificate_expires: date | None
    status: str  # valid / expired / none / unknown (a number without an expiry date)

    @property
    def valid(self) -> bool:
        return self.status == "valid"


CERT_STATUS_LABELS = {"valid": "有效", "expired": "已过期", "none": "无执法证", "unknown": "有效期未登记"}


@dataclass(frozen=True)
class MergeCandidate:
    id: int
    code: str
    title: str
    status: str
    distance_m: float | None  # metres, when both cases carry a point
    same_item: bool
    shared: tuple[str, ...]  # title bigrams the two cases share


@dataclass
class CaseHints:
    """Lookups for the page and its forms. Empty lists where the caller has no action that needs them."""

    item: CatalogChoice | None = None  # the case's catalog item
    reporter: str | None = None  # "username（name）"
    unit_names: dict[str, str] = field(default_factory=dict)  # unit code → name
    case_codes: dict[int, str] = field(default_factory=dict)  # ids named in the timeline (merge targets) → code
    item_names: dict[str, str] = field(default_factory=dict)  # catalog codes named on the case → item name
    catalog: list[CatalogChoice] = field(default_factory=list)
    units: list[UnitChoice] = field(default_factory=list)  # who may receive a whistle for this case
    routed_lead: str | None = None  # dispatch preview: unit codes
    routed_assists: list[str] = field(default_factory=list)
    route_error: str | None = None  # why there is no default route (the dispatcher must name a lead)
    merge: list[MergeCandidate] = field(default_factory=list)
    officers: list[OfficerChoice] = field(default_factory=list)  # the lead unit's staff

    @property
    def enforcement(self) -> bool:
        return bool(self.item and self.item.enforcement)


def bigrams(text: str) -> set[str]:
    """Two-character Chinese sequences of a title: the cheap similarity measure for duplicates."""
    grams: set[str] = set()
    for run in CJK.findall(text or ""):
        grams.update(run[i:i + 2] for i in range(len(run) - 1))
    return grams


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(min(1.0, a)))


def score_candidates(case: dict, rows: Iterable, limit: int = MERGE_SHOWN) -> list[MergeCandidate]:
    """Rank possible masters for `case` (the page's case dict) among `rows` (id, title, status, category,
    lat, lon, created_at): same catalog item within NEARBY_METRES, or at least one shared title bigram that is
    not common among `rows` (over a fifth of them, and more than 3). Best first: same item nearby, then more
    shared bigrams, then newer."""
    rows = [r for r in rows if r.id != case["id"]]
    grams = {r.id: bigrams(r.title) for r in rows}
    # a bigram in many of the township's titles is a place name (东街, 社区), not a sign of the same event
    df: dict[str, int] = {}
    for g in grams.values():
        for b in g:
            df[b] = df.get(b, 0) + 1
    common = {b for b, n in df.items() if n > max(3, len(rows) // 5)}
    mine = bigrams(case["title"]) - common
    found = []
    for r in rows:
        dist = None
        if None not in (case.get("lat"), case.get("lon"), r.lat, r.lon):
            dist = distance_m(case["lat"], case["lon"], r.lat, r.lon)
        same_item = bool(case.get("category")) and r.category == case["category"]
        near_same = same_item and dist is not None and dist <= NEARBY_METRES
        shared = tuple(sorted(mine & grams[r.id]))
        if not (near_same or shared):
            continue
        found.append(((near_same, len(shared), r.id),
                      MergeCandidate(r.id, case_code(r), r.title, r.status, dist, same_item, shared)))
    found.sort(key=lambda x: x[0], reverse=True)
    return [c for _, c in found[:limit]]


async def load(cases: CaseService, case: dict, actions: Iterable[str], now: datetime,
               timeline: list[dict] | None = None) -> CaseHints:
    """Everything the case page needs beyond CaseService.get, for `case` (the dict CaseService.get returned,
    so the caller's scope is already checked) and the caller's allowed `actions`. `timeline`: the entries
    from CaseService.timeline, to name the cases merges point at. One read transaction; never writes."""
    actions = set(actions)
    hints = CaseHints()
    units = cases.units
    today = now.astimezone(LOCAL_TZ).date()
    async with cases.db.read() as s:
        township = await units.by_code(s, case["township"])
        hints.unit_names = {code: name for code, name in (await s.execute(select(Unit.code, Unit.name))).all()}
        item = None
        if case.get("category"):
            item = (await s.execute(
                select(CatalogItem).where(CatalogItem.code == case["category"]))).scalar_one_or_none()
            if item is not None:
                hints.item = CatalogChoice(item.code, item.name, item.category, item.enforcement)
        named = {e["payload"].get("category") for e in timeline or ()} - {None, case.get("category")}
        named = {c for c in named if isinstance(c, str)}
        if named:
            rows = (await s.execute(select(CatalogItem.code, CatalogItem.name).where(CatalogItem.code.in_(named))))
            hints.item_names = dict(rows.all())
        if item is not None:
            hints.item_names[item.code] = item.name
        if case.get("reporter_id"):
            row = (await s.execute(select(User.username, User.name).where(User.id == case["reporter_id"]))).first()
            if row:
                hints.reporter = display_name(row.username, row.name)
        targets = {e["payload"].get("into") for e in timeline or () if e["action"] == "merge"}
        if case.get("merged_into"):
            targets.add(case["merged_into"])
        targets = {t for t in targets if isinstance(t, int)}
        if targets:
            rows = (await s.execute(select(Case.id, Case.created_at).where(Case.id.in_(targets)))).all()
            hints.case_codes = {r.id: case_code(r) for r in rows}

        if "accept" in actions:
            rows = (await s.execute(select(CatalogItem.code, CatalogItem.name, CatalogItem.category,
                                           CatalogItem.enforcement).order_by(CatalogItem.category,
                                                                             CatalogItem.code))).all()
            hints.catalog = [CatalogChoice(*r) for r in rows]

        if actions & {"dispatch", "arbitrate"} and township is not None:
            rows = (await s.execute(select(Unit.code, Unit.name, Unit.kind).where(or_(
                Unit.kind == "department", and_(Unit.kind == "team", Unit.parent_id == township.id)))
                .order_by(Unit.kind.desc(), Unit.id))).all()  # the township's own team first
            hints.units = [UnitChoice(*r) for r in rows]

        if "dispatch" in actions and item is not None and township is not None:
            # the same routing CaseService._facts applies to a dispatch that names no unit
            override = (await s.execute(select(CatalogOverride).where(
                CatalogOverride.item_id == item.id, CatalogOverride.township_id == township.id,
            ))).scalar_one_or_none()
            try:
                r = route(item_code=item.code, item_lead=item.lead_unit_id, item_assists=item.assist_unit_ids,
                          devolved=item.devolved, override_lead=override.lead_unit_id if override else None,
                          override_assists=override.assist_unit_ids if override else None,
                          township_team=units.team_of(township.id), explicit_lead=None, explicit_assists=None)
                hints.routed_lead = units.code(r.lead_unit_id)
                hints.routed_assists = [c for c in (units.code(u) for u in r.assist_unit_ids) if c]
            except Invalid as exc:
                hints.route_error = exc.zh

        if "merge" in actions and township is not None:
            rows = (await s.execute(
                select(Case.id, Case.title, Case.status, Case.category, Case.lat, Case.lon, Case.created_at)
                .where(Case.township_id == township.id, Case.status.in_(sorted(lc.OPEN_STATES)),
                       Case.id != case["id"])
                .order_by(Case.id.desc()).limit(MERGE_POOL))).all()
            hints.merge = score_candidates(case, rows)

        if "feedback" in actions and case.get("lead_unit"):
            lead = await units.by_code(s, case["lead_unit"])
            if lead is not None:
                rows = (await s.execute(
                    select(User.username, User.name, User.role, User.certificate_no, User.certificate_expires)
                    .where(User.unit_id == lead.id, User.role.in_((DEPT_OFFICER, DEPT_LIAISON)),
                           User.active.is_(True))
                    .order_by(User.username))).all()
                officers = [OfficerChoice(r.username, r.name, r.role, r.certificate_no, r.certificate_expires,
                                          certificate_status(r.certificate_no, r.certificate_expires, today))
                            for r in rows]
                hints.officers = sorted(officers, key=lambda o: (not o.valid, o.role != DEPT_OFFICER))
    return hints

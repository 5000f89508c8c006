"""The Open311 service over our cases (docs/open311.md): discovery, services and their definitions, posting a
request (a case reported through the key's intake unit), reading requests, tokens and updates in the standard's
shapes, and the updates integrators post (stored and notified, never moving a case). The router
(api/routes/open311.py) decodes HTTP with api/open311_params.py and renders XML or JSON; statuses are in
`status`, the timeline in words in `history`, keys and public reads in `keys`, what the public may see in
`privacy`.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import DEPT_LIAISON, DISPATCHER, TOWNSHIP_LIAISON, Actor
from chuishao.flows.audience import audience
from chuishao.flows.cases import CODE_RE, CaseService, case_code
from chuishao.flows.clock import LOCAL_TZ, Clock, system_clock
from chuishao.flows.errors import NotFound
from chuishao.flows.open311.history import RECORDS, EntryRow, history
from chuishao.flows.open311.inputs import NewRequest, NewUpdate, RequestQuery, UpdateQuery
from chuishao.flows.open311.keys import Integrator, Open311Keys, PublicReader, Reader
from chuishao.flows.open311.privacy import public_view
from chuishao.flows.open311.standard import (
    CODE,
    DIGITS,
    FORMATS,
    MAX_DESCRIPTION,
    OTHER,
    SPECIFICATION,
    Many,
    bad_request,
    unknown_services,
    w3,
)
from chuishao.flows.open311.status import extended_status, standard_status
from chuishao.flows.prediction import expected_at, predict
from chuishao.models.cases import Case, Whistle
from chuishao.models.catalog import CatalogItem
from chuishao.models.notifications import Event
from chuishao.models.open311 import ApiKey, InboundUpdate, Open311Request
from chuishao.models.org import Unit
from chuishao.models.timeline import TimelineEntry
from chuishao.models.vocabulary import URGENCY_LABELS


@dataclass
class _Names:
    by_code: dict[str, str] = field(default_factory=dict)
    by_id: dict[int, str] = field(default_factory=dict)
    code_by_id: dict[int, str] = field(default_factory=dict)

    def of(self, code: str | None) -> str:
        return self.by_code.get(code or "", code or "")


class Open311Service:
    """The GeoReport resources over our cases; `keys` answers who a request's api_key stands for."""

    def __init__(self, cases: CaseService, clock: Clock = system_clock):
        self.cases = cases
        self.clock = clock  # "now" for the predicted closure's 90-day window (expected_datetime)
        self.db = cases.db
        self.units = cases.units
        self.keys = Open311Keys(self.db, self.units)

    # ---- discovery and services ---------------------------------------------------------------------------
    async def discovery(self, url: str, now: datetime) -> dict:
        """The discovery document; `key_service` also says whether reads need a key (the admin's setting)."""
        async with self.db.read() as s:
            county = (await s.execute(select(Unit.name).where(Unit.kind == "county"))).scalar_one_or_none()
        changeset = f"{now.astimezone(LOCAL_TZ):%Y-%m-%d} 00:00"  # services may change any day: refresh daily
        if (await self.keys.settings())["public_reads"]:
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
        if code and CODE.match(code):
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
    async def create_request(self, key: Integrator, req: NewRequest, now: datetime) -> list[dict]:
        """"Create service requests": one case, reported by the key's intake unit (step 1 like any report).
        Answers [{"service_request_id", "service_notice"}]. Raises NotFound (404) for a code that names no
        service, Invalid (400) for an address without a township, and what reporting a case raises."""
        code, lat, lon, address, attrs = req.service_code, req.lat, req.lon, req.address, req.attributes
        async with self.db.read() as s:
            category, service_name = await self._service_named(s, code)
        township = attrs.get("township")
        if township is None and attrs.get("grid") is None and lat is None and len(key.townships) == 1:
            township = key.townships[0]  # an address alone: the key's only township
        if lat is None and township is None and attrs.get("grid") is None:
            raise bad_request("仅有地址描述时，请用 attribute[township] 指明乡镇",
                              "with address_string alone, give the township as attribute[township]")
        first_line = next((ln.strip() for ln in req.description.splitlines() if ln.strip()), "")
        title = attrs.get("title") or (first_line[:60] if first_line else service_name)
        raw = {"title": title, "description": req.description, "category": category,
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
            s.add(Open311Request(case_id=case.id, api_key_id=key.id, device_id=req.device_id,
                                 address_id=req.address_id, media_urls=req.media, attributes=attrs, created_at=now,
                                 **req.contact))

        view = await self.cases.report(key.actor(), raw, now, townships=set(key.townships), also=request_record)
        async with self.db.read() as s:
            names = await self._names(s)
        notice = f"已转{names.of(view['township'])}受理，案件编号 {view['code']}"
        return [{"service_request_id": str(view["id"]), "service_notice": notice}]

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
        now = self.clock()
        predicted = await predict(self.db, self.cases.calendar.current, cases, now)  # one query for the page
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
            expected = expected_at(predicted.get(c.id), c.deadline if c.status == lc.HANDLING else None, now)
            if expected is not None:  # the predicted closure, else the lead unit's handling deadline (docs/open311.md)
                req["expected_datetime"] = w3(expected)
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

    async def requests(self, key: Reader, q: RequestQuery) -> list[dict]:
        """GET requests: the key's townships' cases (or the public's, `_scope`), filtered as the standard says,
        newest first. Raises Invalid (400) for a service code that names no service."""
        stmt = self._scope(select(Case), key)
        async with self.db.read() as s:
            if q.ids is not None:  # "This overrides all other arguments."
                stmt = stmt.where(Case.id.in_(q.ids)).order_by(Case.created_at.desc(), Case.id.desc())
            else:
                stmt = stmt.where(Case.created_at >= q.start)
                if q.end is not None:
                    stmt = stmt.where(Case.created_at <= q.end)
                codes = q.service_codes
                if codes:
                    known = set((await s.execute(
                        select(CatalogItem.code).where(CatalogItem.code.in_(codes)))).scalars())
                    unknown = [c for c in codes if c not in known and c != OTHER]
                    if unknown:
                        raise unknown_services(unknown)
                    conds = [Case.category.in_(sorted(known))] if known else []
                    if OTHER in codes and OTHER not in known:
                        conds.append(Case.category.is_(None))
                    stmt = stmt.where(or_(*conds))
                if q.statuses == {"open"}:
                    stmt = stmt.where(Case.status.not_in(lc.FINAL_STATES))
                elif q.statuses == {"closed"}:
                    stmt = stmt.where(Case.status.in_(lc.FINAL_STATES))
                stmt = (stmt.order_by(Case.created_at.desc(), Case.id.desc())
                        .offset((q.page - 1) * q.page_size).limit(q.page_size))
            cases = list((await s.execute(stmt)).scalars())
            return await self._represent(s, cases, q.extensions, public=isinstance(key, PublicReader))

    async def _readable(self, s, key: Reader, case_id: int) -> Case | None:
        if not 0 < case_id < 2**31:
            return None
        return (await s.execute(self._scope(select(Case).where(Case.id == case_id), key))).scalar_one_or_none()

    async def _scoped_case(self, s, key: Reader, case_id: int) -> Case:
        case = await self._readable(s, key, case_id)
        if case is None:
            raise NotFound(f"服务请求 {case_id} 不存在", f"service_request_id {case_id} was not found")
        return case

    async def request(self, key: Reader, rid: str, extensions: bool = True) -> list[dict]:
        """GET one request (a list of one, as the standard writes it). Raises NotFound (404) for an id the
        reader may not read or that does not exist."""
        if not DIGITS.match(rid):
            raise NotFound(f"服务请求 {rid[:20]} 不存在", f"service_request_id '{rid[:20]}' was not found")
        async with self.db.read() as s:
            case = await self._scoped_case(s, key, int(rid))
            return await self._represent(s, [case], extensions, public=isinstance(key, PublicReader))

    async def token(self, key: Reader, token: str) -> list[dict]:
        """Tokens are our case codes (CS + report date + id): what a hotline reads out to the caller."""
        m = CODE_RE.match(token) if len(token) <= 40 else None
        async with self.db.read() as s:
            case = await self._readable(s, key, int(m.group(1))) if m else None
            if case is None or case_code(case) != token:
                raise NotFound(f"token {token[:40]} 不存在", f"token '{token[:40]}' was not found")
        return [{"service_request_id": str(case.id), "token": token}]

    # ---- updates ------------------------------------------------------------------------------------------
    async def updates(self, key: Integrator, q: UpdateQuery) -> list[dict]:
        """GET servicerequestupdates: the timeline of the key's townships' cases, oldest first."""
        start, end, page, size = q.start, q.end, q.page, q.page_size
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

    async def inbound_update(self, key: Integrator, upd: NewUpdate, now: datetime) -> list[dict]:
        """POST servicerequestupdates: stored and notified once per (key, update_id); never moves the case.
        Answers [{"update_id"}] (ours), the first one's again for a repeat. Raises NotFound (404) for a request
        the key may not read, Invalid (400) for an update_id used for another request."""
        rid, update_id = upd.service_request_id, upd.update_id
        if not DIGITS.match(rid):
            raise NotFound(f"服务请求 {rid} 不存在", f"service_request_id '{rid}' was not found")
        async with self.db.read() as s:
            case = await self._scoped_case(s, key, int(rid))
            seen = await self._inbound(s, key, update_id, case.id)
        if seen is not None:
            return seen
        try:
            async with self.db.transaction() as s:
                row = InboundUpdate(api_key_id=key.id, update_id=update_id, case_id=case.id, status=upd.status,
                                    description=upd.description, updated_datetime=upd.updated, contact=upd.contact,
                                    media_urls=upd.media, received_at=now)
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
            raise bad_request(f"update_id {update_id} 已用于另一个服务请求",
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


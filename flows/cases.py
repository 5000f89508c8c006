"""Case services: report, act, read, list, attach. Each write is one short transaction; the rules
themselves live in `lifecycle.py`.

An action reads the case and its whistles, decides in memory, then writes with one versioned
UPDATE of the case row (`WHERE version = :seen`). A concurrent action on the same case finds the
version moved and gets 409, so exactly one of two conflicting actions is applied.
"""

import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import BindParameter, bindparam, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chuishao.flows import aggregate
from chuishao.flows import clocks as clk
from chuishao.flows import lifecycle as lc
from chuishao.flows.access import (
    COUNTY_ROLES,
    DEPARTMENT_ROLES,
    GRID_WORKER,
    INTEGRATOR,
    LEGAL_REVIEWER,
    REVIEWS_COUNTY,
    TOWNSHIP_ROLES,
    Actor,
)
from chuishao.flows.audience import case_event
from chuishao.flows.calendar_store import CalendarStore
from chuishao.flows.clock import LOCAL_TZ, local
from chuishao.flows.commands import SOURCES, CaseCreate, parse_body
from chuishao.flows.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthorized
from chuishao.flows.geo import contains
from chuishao.flows.prediction import attach as attach_predictions
from chuishao.flows.routing import route
from chuishao.flows.sessions import ENDED, ensure_alive
from chuishao.flows.timeline import canonical, entry_hash
from chuishao.flows.units import UnitDirectory, UnitInfo
from chuishao.models import vocabulary as vocab
from chuishao.models.cases import Attachment, Case, Extension, Whistle
from chuishao.models.catalog import CatalogItem, CatalogOverride
from chuishao.models.clocks import StepClock
from chuishao.models.compiled import TransactionRollback, connection
from chuishao.models.db import Database
from chuishao.models.rows import columns, new
from chuishao.models.timeline import TimelineEntry

REPORTER_ROLES = frozenset({GRID_WORKER, *TOWNSHIP_ROLES, "county_supervisor", INTEGRATOR})
DEFAULT_SOURCE = {GRID_WORKER: "grid", "county_supervisor": "county", INTEGRATOR: "open311"}
# the sources (上报来源) a person may declare: the bulletin counts cases by source, so a grid worker's report is
# always 网格上报, and 平台接入 is the Open311 channel's own (an integrator's key carries the source its admin set)
SOURCES_BY_ROLE = {GRID_WORKER: ("grid",)}
STAFF_SOURCES = tuple(s for s in SOURCES if s != "open311")
LOCATES_ANYWHERE = frozenset({"county_supervisor", INTEGRATOR})  # no own township to fall back on
ALERTS = ("none", "warning", "overdue", "escalated")
CODE_RE = re.compile(r"^CS\d{8}(\d{6,})$")
MOVED = ("案件已被他人更新，请刷新后重试", "the case was changed by someone else; reload and retry")
# a write gated on a second case too (a merge's master) cannot tell which of the two moved
EITHER_MOVED = ("本案件或所选主案件已被他人更新，请刷新后重试",
                "this case or the chosen master case was changed by someone else; reload and retry")
CLIENT_KEY_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
# list orders; the id breaks ties so that paging is stable
ORDERS = {"newest": (Case.id.desc(),), "deadline": (Case.deadline.asc().nulls_last(), Case.id.asc())}


def states_in(states) -> BindParameter:
    """A fixed set of states for `Case.status.in_(...)`, written into the SQL as literals: with bound
    parameters PostgreSQL may settle on a generic plan that scans every case instead of the status index
    (bench/RESULTS.md ## ui)."""
    return bindparam("states", sorted(states), expanding=True, literal_execute=True, unique=True)


def takes_attachments(status: str) -> bool:
    """Whether a case in `status` takes new files (photos, evidence): not once it is finished."""
    return status not in lc.FINAL_STATES


def may_attach(actor: Actor) -> bool:
    """Whether the actor's role adds evidence at all: a legal reviewer (法制审核员) judges the file, never adds
    to it."""
    return actor.role != LEGAL_REVIEWER


def _takes_attachments(case: Case) -> None:
    if not takes_attachments(case.status):
        raise Invalid("案件已办结，不能再添加附件", "attachments cannot be added to a finished case")


def unknown_action(action: str) -> NotFound:
    """404 `unknown_action` for a name that is no row of the transition table, naming every action there is
    (with its 中文 label) and listing them in `actions`."""
    shown = action[:40]
    return NotFound(f"未知操作 {shown}。可用的操作：" + "、".join(f"{a}（{t.label}）" for a, t in lc.BY_ACTION.items()),
                    f"unknown action '{shown}'; the actions are " + ", ".join(lc.BY_ACTION),
                    code="unknown_action", extra={"actions": list(lc.BY_ACTION)})


def case_code(case: Case) -> str:
    """Human-readable number, derived rather than stored: CS + local report date + id."""
    day = case.created_at.astimezone(LOCAL_TZ)  # fields, not strftime: this runs several times per request
    return f"CS{day.year:04d}{day.month:02d}{day.day:02d}{case.id:06d}"


def _check_source(role: str, source: str | None) -> None:
    """Refuse (Invalid 422, beside `source`) a source the role may not declare (SOURCES_BY_ROLE, STAFF_SOURCES;
    an integrator's key is not limited here)."""
    allowed = SOURCES_BY_ROLE.get(role, STAFF_SOURCES)
    if source is not None and role != INTEGRATOR and source not in allowed:
        said = "、".join(f"「{vocab.SOURCE_LABELS[x]}」" for x in allowed)
        raise Invalid(f"{vocab.ROLE_LABELS.get(role, role)}上报的来源只能是{said}",
                      f"a {role} may report with source {', '.join(allowed)} only", code="source_not_allowed",
                      extra={"field": "source"})


class CaseService:
    def __init__(self, db: Database, units: UnitDirectory | None = None, calendar: CalendarStore | None = None):
        self.db = db
        self.units = units or UnitDirectory()
        self.calendar = calendar or CalendarStore(db)
        self.committed = None  # callable(list[Event]) set by the app: live fan-out, wake the deliverer

    def _after_commit(self, events: list) -> None:
        if self.committed is not None:
            self.committed(events)

    def _event_payload(self, case: Case, actor: Actor, action: str, before, after, now: datetime) -> dict:
        return {"code": case_code(case), "title": case.title, "action": action,
                "label": lc.ACTION_LABELS.get(action, "上报"), "from": before, "to": after,
                "status": case.status, "status_label": lc.STATE_LABELS[case.status], "version": case.version,
                "actor": actor.username, "unit": actor.unit_code, "at": local(now)}

    # ---- loading ------------------------------------------------------------------------
    async def _load(self, s: AsyncSession, case_id: int, session: tuple[str, int | None] | None = None,
                    memo: dict | None = None) -> lc.CaseAggregate:
        """The case with its whistles, running clocks and (while handling) extensions, in one statement
        (flows/aggregate.py). `session`: (session id, user id) to check in the same statement (Unauthorized
        before NotFound). `memo`: receives the case's catalog item and override (see `_catalog`)."""
        got = await aggregate.load(s, case_id, *(session or (None, None)))
        if got is None:
            if session is not None:
                await ensure_alive(s, *session)
            raise NotFound(f"案件 {case_id} 不存在", f"case {case_id} not found")
        if session is not None and not got.alive:
            raise Unauthorized(*ENDED)
        case = got.case
        if memo is not None and case.category and got.item is not None:
            memo[(case.category, case.township_id)] = (got.item, got.override)
        return lc.CaseAggregate(case, got.whistles, got.extensions, got.clocks)

    async def _visible(self, s: AsyncSession, case_id: int, actor: Actor, session_id: str | None = None,
                       memo: dict | None = None) -> lc.CaseAggregate:
        agg = await self._load(s, case_id, None if session_id is None else (session_id, actor.id), memo)
        if not actor.sees(agg.case, agg.whistles):
            raise Forbidden("无权访问该案件", "this case is outside your scope")
        return agg

    # ---- writing ------------------------------------------------------------------------
    @staticmethod
    def _entry(case: Case, actor: Actor, action: str, before, after, payload: dict, now: datetime) -> TimelineEntry:
        """The case's next timeline entry, chained to its head; moves the head (written with the case row)."""
        seq, prev = case.timeline_seq + 1, case.timeline_head or "0" * 64
        fields = dict(case_id=case.id, seq=seq, at=now, actor=actor.username, unit=actor.unit_code,
                      role=actor.role, action=action, from_state=before, to_state=after, payload=canonical(payload))
        digest = entry_hash(prev, **fields)
        case.timeline_seq, case.timeline_head = seq, digest
        return new(TimelineEntry, **fields, prev_hash=prev, hash=digest)

    async def _persist(self, s: AsyncSession, agg: lc.CaseAggregate, seen: dict,
                       plan: clk.ClockPlan | None = None, also: tuple = (), unchanged: Case | None = None) -> None:
        """Write back what the decision changed: the case row gated on its version (Conflict, 409, when it
        moved), the changed whistles, extensions and clocks, the new rows (whistles before their check-in
        clocks), then `also` (the timeline entry, the outbox event). Each object inserted gets its id.
        `unchanged`: another case the decision read (a merge's master case); the write is gated on its version
        too (Conflict when it moved, or when PostgreSQL breaks a deadlock between two such writes).

        PostgreSQL: one statement (aggregate.write, a data-modifying CTE whose every part hangs on the case's
        versioned UPDATE). SQLite: the same writes statement by statement, on the sqlite3 connection itself."""
        case = agg.case
        changes = {k: v for k, v in columns(case).items() if v != seen["case"][k] and k != "version"}
        if plan and (plan.new or plan.changed):
            # the sweep may have raised the alert since we read; what the clocks say now wins
            changes |= {"deadline": case.deadline, "provisional": case.provisional, "alert": case.alert}
        version = seen["case"]["version"]
        updates = []
        for kind, rows in (("whistles", agg.whistles), ("extensions", agg.extensions), ("clocks", agg.clocks)):
            for row in rows:
                before = seen[kind].get(row.id)
                if before is None:
                    continue  # new row, inserted below
                diff = {k: v for k, v in columns(row).items() if v != before[k]}
                if diff:
                    updates.append((row, diff))
        inserts = [(obj, None) for obj in agg.added]
        for clock, whistle in plan.new if plan else ():
            if whistle is not None and whistle.id is None:
                inserts.append((clock, whistle))  # its whistle is new too: the id comes from that insert
            else:
                clock.whistle_id = whistle.id if whistle is not None else clock.whistle_id
                inserts.append((clock, None))
        inserts += [(obj, None) for obj in also]
        other = None if unchanged is None else (unchanged.id, unchanged.version)
        moved = MOVED if unchanged is None else EITHER_MOVED
        try:
            written = await aggregate.write(await connection(s), case.id, version, changes, updates, inserts, other)
        except TransactionRollback as err:  # A merged into B while B into A: PostgreSQL let one of them through
            raise Conflict(*moved) from err
        if not written:
            raise Conflict(*moved)
        case.version = version + 1

    @staticmethod
    def _seen(agg: lc.CaseAggregate) -> dict:
        return {
            "case": columns(agg.case),
            "whistles": {w.id: columns(w) for w in agg.whistles},
            "extensions": {e.id: columns(e) for e in agg.extensions},
            "clocks": {c.id: columns(c) for c in agg.clocks},
        }

    async def _catalog(self, s: AsyncSession, code: str, township_id: int, memo: dict
                       ) -> tuple[CatalogItem, CatalogOverride | None]:
        """A catalog item and its override for the township (一乡镇一清单), in one query, read once per
        transaction (`memo`). Raises Invalid (422, unknown_category) for an unknown code."""
        key = (code, township_id)
        if key not in memo:
            item, override = await aggregate.item_and_override(s, code, township_id)
            if item is None:
                raise Invalid(f"事项 {code} 不在清单中", f"unknown catalog item '{code}'", code="unknown_category")
            memo[key] = (item, override)
        return memo[key]

    async def _limits(self, s: AsyncSession, case: Case, memo: dict) -> tuple[dict | None, dict | None]:
        """The catalog item's and the township override's limits for this case."""
        if not case.category:
            return None, None
        item, override = await self._catalog(s, case.category, case.township_id, memo)
        return item.limits, override.limits if override is not None else None

    def _limit_for(self, case: Case, limits: tuple[dict | None, dict | None]):
        return lambda kind: clk.resolve_limit(kind, case.urgency, limits[0], limits[1])

    def _apply_summary(self, agg: lc.CaseAggregate, plan: clk.ClockPlan) -> None:
        clocks = agg.clocks + [c for c, _ in plan.new]
        agg.case.deadline, agg.case.provisional, agg.case.alert = clk.case_summary(clocks)

    # ---- facts the rules need -----------------------------------------------------------
    async def _unit_for_whistle(self, s: AsyncSession, code: str, case: Case) -> UnitInfo:
        unit = await self.units.by_code(s, code)
        if unit is None:
            raise Invalid(f"单位 {code} 不存在", f"unknown unit '{code}'", code="unknown_unit")
        if unit.kind not in ("department", "team"):
            raise Invalid(f"{unit.name} 不能接哨（只能派给县直部门或乡镇执法队）",
                          f"'{code}' cannot receive whistles (departments and township teams only)")
        if unit.kind == "team" and unit.parent_id != case.township_id:
            raise Invalid(f"{unit.name} 不属于本乡镇", f"team '{code}' belongs to another township")
        return unit

    async def _facts(self, s: AsyncSession, ctx: lc.Context, action: str, memo: dict) -> None:
        body, case, facts = ctx.body, ctx.case, ctx.facts
        if action == "accept" and body.category:
            await self._catalog(s, body.category, case.township_id, memo)
        elif action == "merge":
            facts.merge_target = await s.get(Case, body.into)
            if facts.merge_target is None:
                raise Invalid(f"主案件 {body.into} 不存在", f"master case {body.into} not found")
        elif action == "dispatch":
            item, override = await self._catalog(s, case.category, case.township_id, memo)
            lead = await self._unit_for_whistle(s, body.lead_unit, case) if body.lead_unit else None
            assists = None
            if body.assist_units is not None:
                assists = [(await self._unit_for_whistle(s, c, case)).id for c in body.assist_units]
            r = route(item_code=item.code, item_lead=item.lead_unit_id, item_assists=item.assist_unit_ids,
                      devolved=item.devolved, override_lead=override.lead_unit_id if override else None,
                      override_assists=override.assist_unit_ids if override else None,
                      township_team=self.units.team_of(case.township_id),
                      explicit_lead=lead.id if lead else None, explicit_assists=assists)
            facts.lead_unit_id, facts.assist_unit_ids = r.lead_unit_id, list(r.assist_unit_ids)
        elif action == "arbitrate":
            lead = await self._unit_for_whistle(s, body.lead_unit, case)
            assists = [(await self._unit_for_whistle(s, c, case)).id for c in body.assist_units or []]
            facts.lead_unit_id, facts.assist_unit_ids = lead.id, [a for a in dict.fromkeys(assists) if a != lead.id]
        elif action == "feedback":
            # usernames are unique whatever their letter case (flows/admin.named): ZRZY_OFFICER2 is zrzy_officer2
            names = list({n.lower(): n for n in body.officers or []}.values())
            found = [lc.OfficerFact(*row) for row in await aggregate.users_named(s, names)]
            missing = sorted(n for n in names if n.lower() not in {o.username.lower() for o in found})
            if missing:
                raise Invalid(f"执法人员不存在：{', '.join(missing)}", f"unknown officers: {', '.join(missing)}")
            order = [n.lower() for n in names]
            facts.officers = sorted(found, key=lambda o: order.index(o.username.lower()))
            ctx.record["officers"] = [o.username for o in facts.officers]  # the accounts' names as they are
            item = (await self._catalog(s, case.category, case.township_id, memo))[0] if case.category else None
            facts.enforcement, facts.major = bool(item and item.enforcement), bool(item and item.major)
        if action in ("dispatch", "arbitrate"):
            await self.units.get(s, facts.lead_unit_id)
            ctx.record["lead_unit"] = self.units.code(facts.lead_unit_id)
            ctx.record["assist_units"] = [self.units.code(u) for u in facts.assist_unit_ids]

    # ---- the write paths ----------------------------------------------------------------
    async def act(self, case_id: int, action: str, actor: Actor, raw: dict | None, now: datetime,
                  if_match: int | None = None, session_id: str | None = None) -> dict:
        """`action` on the case, as `actor`, in one transaction (timeline entry and outbox event included);
        answers the case's view. `session_id`: the caller's sign-in, checked in this transaction (None: checked
        already). Raises Unauthorized, NotFound, Forbidden, NotAllowed, Invalid, Conflict (flows/errors.py)."""
        if action not in lc.BY_ACTION:
            raise unknown_action(action)
        body = parse_body(lc.BODIES[action], raw)
        # reads, then every write in one statement (PostgreSQL: that statement is the transaction)
        async with self.db.one_statement_write() as s:
            memo: dict = {}  # catalog rows read in this transaction (the case's own come with the case)
            agg = await self._visible(s, case_id, actor, session_id, memo)
            if if_match is not None and if_match != agg.case.version:
                raise Conflict(f"版本已变化（当前 {agg.case.version}），请刷新后重试",
                               f"version {if_match} is stale (now {agg.case.version}); reload and retry")
            ctx = lc.Context(agg, actor, now, body)
            lc.ensure_allowed(ctx, action)
            await self._facts(s, ctx, action, memo)
            seen = self._seen(agg)
            before, after = lc.decide(ctx, action)
            starts_clock = ((before != after and after in clk.STEP_CLOCK)
                            or lc.BY_ACTION[action].clock == lc.CLOCK_START_WHISTLES)
            limits = await self._limits(s, agg.case, memo) if starts_clock else (None, None)
            plan = clk.follow(self.calendar.current, agg, action, before, after, now,
                              self._limit_for(agg.case, limits), actor_unit_id=actor.unit_id,
                              extension_days=ctx.record.get("working_days"))
            self._apply_summary(agg, plan)
            payload = {**body.model_dump(exclude_none=True), **ctx.record}
            entry = self._entry(agg.case, actor, action, before, after, payload, now)
            agg.case.version = seen["case"]["version"] + 1  # as the write below leaves it (or it fails, 409)
            kind = action if action in ("urge", "supervise") else ("transition" if before != after else "action")
            reviewers = None
            if after == lc.LEGAL_REVIEW and before != after:  # the county-level legal reviewers hear of it too
                await self.units.get(s, agg.case.township_id)  # loads the directory if this process has not yet
                reviewers = self.units.of_kinds(REVIEWS_COUNTY)  # units are in process: no query per action
            event = case_event(kind, action, agg, actor_id=actor.id, at=now, to_state=after,
                               payload=self._event_payload(agg.case, actor, action, before, after, now),
                               reviewer_units=reviewers)
            await self._persist(s, agg, seen, plan, also=(entry, event), unchanged=ctx.facts.merge_target)
            agg.clocks = [c for c in agg.clocks if c.stopped_at is None] + [c for c, _ in plan.new]
        self._after_commit([event])
        return await self._view(agg, actor, now)

    async def report(self, actor: Actor, raw: dict | None, now: datetime,
                     townships: set[str] | None = None, also=None, client_key: str | None = None,
                     session_id: str | None = None) -> dict:
        """事件上报 (step 1). `townships`: the township codes an integrator's key may report into.
        `also(session, case)`: rows that belong with the report (an integrator's request record), written in
        the same transaction. `client_key`: the reporter's idempotency key (1–64 printable ASCII); a report
        sent again with the same key returns the first one's case (with `"replayed": true`) and writes nothing.
        Raises Invalid (422) for a bad body or key, Forbidden (403) for a role that may not report."""
        body = parse_body(CaseCreate, raw)
        if actor.role not in REPORTER_ROLES:
            raise Forbidden("当前角色不能上报事件", f"role '{actor.role}' may not report cases")
        if client_key is not None:
            if not CLIENT_KEY_RE.fullmatch(client_key) or actor.id is None:
                raise Invalid("幂等键须为 1–64 位字母数字",
                              "the idempotency key must be 1-64 characters from [A-Za-z0-9_.:-]",
                              code="bad_idempotency_key")
            replay = await self._replay(actor, client_key, now, session_id)
            if replay is not None:
                return replay
        try:
            return await self._report(actor, body, now, townships, also, client_key, session_id)
        except IntegrityError:
            replay = await self._replay(actor, client_key, now) if client_key else None
            if replay is None:
                raise
            return replay  # the same key arrived twice at once; the other request wrote it

    async def _replay(self, actor: Actor, client_key: str, now: datetime, session_id: str | None = None
                      ) -> dict | None:
        async with self.db.read() as s:
            await ensure_alive(s, session_id, actor.id)
            case_id = (await s.execute(select(Case.id).where(
                Case.reporter_id == actor.id, Case.client_key == client_key))).scalar_one_or_none()
        if case_id is None:
            return None
        return {**await self.get(case_id, actor, now), "replayed": True}

    async def _report(self, actor: Actor, body: CaseCreate, now: datetime, townships, also, client_key,
                      session_id: str | None = None) -> dict:
        # The case's id is drawn before the rows are written (it goes into the first timeline entry's hash), and
        # only for a report that passed every check, so refused reports leave no gaps in case numbers (on
        # PostgreSQL a report that loses an idempotency-key race, or fails as it is written, still uses one up:
        # a sequence's value is never given back). Then the case, its clock, the
        # timeline entry and the event are inserted together. PostgreSQL without `also`: the session check and
        # the id in one read, the inserts in one statement (that statement is the transaction).
        fast = self.db.is_postgres and also is None
        async with (self.db.one_statement_write() if fast else self.db.transaction()) as s:
            if not fast:
                await ensure_alive(s, session_id, actor.id)
            memo: dict = {}
            try:
                _check_source(actor.role, body.source)
                township_id, grid_id = await self._locate(s, actor, body)
                if townships is not None and self.units.code(township_id) not in townships:
                    raise Forbidden("该接入密钥无权向此乡镇上报", "this key may not report into that township")
                if body.category:
                    await self._catalog(s, body.category, township_id, memo)
            except DomainError:
                if fast:  # an ended session is told so first, as on every other path
                    await ensure_alive(s, session_id, actor.id)
                raise
            alive, case_id = await aggregate.alive_and_next_case_id(s, session_id, actor.id)
            if fast and session_id is not None and not alive:
                raise Unauthorized(*ENDED)
            case = new(
                Case, id=case_id, title=body.title, description=body.description, category=body.category,
                township_id=township_id, grid_id=grid_id, address=body.address, lat=body.lat, lon=body.lon,
                urgency=body.urgency, source=body.source or DEFAULT_SOURCE.get(actor.role, "township"),
                status=lc.REPORTED, version=1, reporter_id=actor.id, created_at=now, updated_at=now,
                client_key=client_key,
            )
            limits = await self._limits(s, case, memo)
            clock = clk.start(self.calendar.current, case_id=case.id, kind="accept", urgency=case.urgency,
                              spec=self._limit_for(case, limits)("accept"), now=now)
            case.deadline, case.provisional, case.alert = clk.case_summary([clock])
            entry = self._entry(case, actor, "report", None, lc.REPORTED, body.model_dump(exclude_none=True), now)
            agg = lc.CaseAggregate(case, [], [], [clock])
            event = case_event("transition", "report", agg, actor_id=actor.id, at=now, to_state=lc.REPORTED,
                               payload=self._event_payload(case, actor, "report", None, lc.REPORTED, now))
            await aggregate.insert_together(await connection(s), [case, clock, entry, event])
            if also is not None:
                also(s, case)
        self._after_commit([event])
        return await self._view(agg, actor, now)

    async def _locate(self, s: AsyncSession, actor: Actor, body: CaseCreate) -> tuple[int, int | None]:
        """Township and grid from codes, or from a point inside a grid's polygon, or the reporter's own."""
        township = grid = None
        if body.grid:
            grid = await self.units.by_code(s, body.grid)
            if grid is None or grid.kind != "grid":
                raise Invalid(f"网格 {body.grid} 不存在", f"unknown grid '{body.grid}'", code="unknown_unit")
        if body.township:
            township = await self.units.by_code(s, body.township)
            if township is None or township.kind != "township":
                raise Invalid(f"乡镇 {body.township} 不存在", f"unknown township '{body.township}'",
                              code="unknown_unit")
        if grid and township and grid.parent_id != township.id:
            raise Invalid(f"网格 {grid.code} 不属于 {township.code}",
                          f"grid '{grid.code}' is not in township '{township.code}'")
        if grid is None and body.lat is not None and body.lon is not None:
            if not self.units.grids():
                await self.units.reload(s)
            pool = self.units.grids(township.id if township else None)
            grid = next((g for g in pool if g.polygon and contains(g.polygon, body.lon, body.lat)), None)
        if township is None and grid is not None:
            township = await self.units.get(s, grid.parent_id)
        if township is None and actor.role not in LOCATES_ANYWHERE:
            own = await self.units.get(s, actor.township_id) if actor.township_id else None
            township = own
            if grid is None and actor.role == GRID_WORKER:
                grid = await self.units.get(s, actor.unit_id)
        if township is None:
            raise Invalid("请提供乡镇、网格或网格范围内的坐标",
                          "give a township, a grid, or a point inside a grid")
        if actor.role not in COUNTY_ROLES | LOCATES_ANYWHERE and township.id != actor.township_id:
            raise Forbidden("只能上报本乡镇的事件", "you may only report cases in your own township")
        return township.id, grid.id if grid else None

    async def ensure_attachable(self, case_id: int, actor: Actor) -> None:
        """Whether `actor` may add a file to the case now, asked before anything is stored: raises NotFound
        (404), Forbidden (403) outside scope or for a legal reviewer, Invalid (422) on a finished case; answers
        None when it may."""
        if not may_attach(actor):
            raise Forbidden("法制审核员负责审核案卷，不能上传照片或证据", "a legal reviewer does not add evidence")
        async with self.db.read() as s:
            _takes_attachments((await self._visible(s, case_id, actor)).case)

    async def attach(self, case_id: int, actor: Actor, *, store: Callable[[], Awaitable[tuple[str, int]]],
                     filename: str, content_type: str, now: datetime) -> dict:
        """Store a file and record it on the case, with a timeline entry. `store()` writes the file (content-
        addressed) and answers its (sha256, size in bytes); it runs only after `ensure_attachable` passed, so
        a refused upload stores nothing. The same file sent again by the same person returns the first
        record (`"replayed": true`) and writes nothing. Raises as `ensure_attachable`, and whatever `store`
        raises (too large, empty)."""
        await self.ensure_attachable(case_id, actor)
        sha256, size = await store()
        async with self.db.transaction() as s:
            agg = await self._visible(s, case_id, actor)
            _takes_attachments(agg.case)  # it may have been closed while the file was being stored
            same = (await s.execute(select(Attachment).where(
                Attachment.case_id == case_id, Attachment.sha256 == sha256,
                Attachment.uploaded_by_id == actor.id))).scalars().first()
            if same is not None:  # the same photo sent again by the same person (a phone resending its draft)
                return {"id": same.id, "sha256": sha256, "filename": same.filename,
                        "content_type": same.content_type, "size": same.size, "at": local(same.at),
                        "case_version": agg.case.version, "replayed": True}
            seen = self._seen(agg)
            att = Attachment(case_id=case_id, sha256=sha256, filename=filename, content_type=content_type,
                             size=size, uploaded_by_id=actor.id, at=now)
            agg.added.append(att)
            status = agg.case.status
            agg.case.updated_at = now
            entry = self._entry(agg.case, actor, "attach", status, status,
                                {"sha256": sha256, "filename": filename, "size": size}, now)
            await self._persist(s, agg, seen, also=(entry,))
        return {"id": att.id, "sha256": sha256, "filename": filename, "content_type": content_type,
                "size": size, "at": local(now), "case_version": agg.case.version}

    # ---- reading ------------------------------------------------------------------------
    async def get(self, case_id: int, actor: Actor, now: datetime) -> dict:
        async with self.db.read() as s:
            agg = await self._visible(s, case_id, actor)
        view = await self._view(agg, actor, now)
        await attach_predictions(self.db, self.calendar.current, [agg.case], [view], now)  # 预计办结
        return view

    async def attachments(self, case_id: int, actor: Actor) -> list[Attachment]:
        async with self.db.read() as s:
            await self._visible(s, case_id, actor)
            return list((await s.execute(
                select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id))).scalars())

    async def timeline(self, case_id: int, actor: Actor) -> list[dict]:
        import json

        async with self.db.read() as s:
            await self._visible(s, case_id, actor)
            rows = (await s.execute(select(TimelineEntry).where(TimelineEntry.case_id == case_id)
                                    .order_by(TimelineEntry.seq))).scalars().all()
        return [{
            "seq": e.seq, "at": local(e.at), "actor": e.actor, "unit": e.unit, "role": e.role,
            "action": e.action, "label": lc.ACTION_LABELS.get(e.action, e.action),
            "from_state": e.from_state, "to_state": e.to_state, "payload": json.loads(e.payload),
            "prev_hash": e.prev_hash, "hash": e.hash,
        } for e in rows]

    def _scope(self, stmt, actor: Actor):
        if actor.role in COUNTY_ROLES:
            return stmt
        if actor.role == GRID_WORKER:
            return stmt.where(Case.reporter_id == actor.id)
        if actor.role in TOWNSHIP_ROLES:
            return stmt.where(Case.township_id == actor.township_id)
        if actor.role in DEPARTMENT_ROLES:
            return stmt.where(exists().where(Whistle.case_id == Case.id, Whistle.unit_id == actor.unit_id))
        if actor.role == LEGAL_REVIEWER:  # Actor.sees: the major decisions of the county, or of one township
            major = stmt.where(Case.major.is_(True))
            return major if actor.township_id is None else major.where(Case.township_id == actor.township_id)
        return stmt.where(False)

    async def list(self, actor: Actor, now: datetime, *, status: str | None = None, township: str | None = None,
                   unit: str | None = None, alert: str | None = None, q: str | None = None, page: int = 1,
                   page_size: int = 20, order: str = "newest", where=None) -> dict:
        """The caller's cases, filtered, one page: {"items": [case view], "total", "page", "page_size"}.
        `order`: "newest" (id descending, the REST API's order) or "deadline" (soonest first, so overdue
        first; no deadline last; then id). `where`: an extra SQL condition on `cases` (the inbox's
        "waits for me" rule, flows/inbox.py). Raises Invalid for an unknown filter value."""
        if order not in ORDERS:
            raise Invalid(f"未知排序 {order}", f"unknown order '{order}'")
        stmt = self._scope(select(Case), actor)
        if where is not None:
            stmt = stmt.where(where)
        async with self.db.read() as s:
            if status:
                wanted = [x for x in status.split(",") if x]
                bad = [x for x in wanted if x not in lc.STATE_LABELS]
                if bad:
                    raise Invalid(f"未知状态：{', '.join(bad)}", f"unknown status: {', '.join(bad)}")
                stmt = stmt.where(Case.status.in_(wanted))
            if township:
                t = await self.units.by_code(s, township)
                if t is None or t.kind != "township":
                    raise Invalid(f"乡镇 {township} 不存在", f"unknown township '{township}'", code="unknown_unit")
                stmt = stmt.where(Case.township_id == t.id)
            if unit:
                u = await self.units.by_code(s, unit)
                if u is None:
                    raise Invalid(f"单位 {unit} 不存在", f"unknown unit '{unit}'", code="unknown_unit")
                stmt = stmt.where(exists().where(Whistle.case_id == Case.id, Whistle.unit_id == u.id))
            if alert:
                if alert not in ALERTS:
                    raise Invalid(f"未知预警级别 {alert}", f"unknown alert level '{alert}'")
                stmt = stmt.where(Case.alert == alert)
            if q:
                m = CODE_RE.match(q.strip())
                if m:
                    case_id = int(m.group(1))  # ids are 32-bit: a longer number names no case
                    stmt = stmt.where(Case.id == case_id) if case_id < 2**31 else stmt.where(False)
                else:
                    like = f"%{q.strip()}%"
                    stmt = stmt.where(or_(Case.title.like(like), Case.description.like(like),
                                          Case.address.like(like)))
            counted = select(func.count()).select_from(stmt.subquery())
            whistled_to = {actor.unit_id if actor.role in DEPARTMENT_ROLES else None, u.id if unit else None} - {None}
            if (actor.role in DEPARTMENT_ROLES | COUNTY_ROLES and len(whistled_to) == 1 and where is None
                    and not (status or township or alert or q)):
                # one unit's cases and nothing else: counted from its whistles alone (every whistle's case
                # exists), several times cheaper than a semi-join over every case
                counted = select(func.count(Whistle.case_id.distinct())).where(Whistle.unit_id == whistled_to.pop())
            total = (await s.execute(counted)).scalar_one()
            cases = list((await s.execute(
                stmt.order_by(*ORDERS[order]).offset((page - 1) * page_size).limit(page_size))).scalars())
            ids = [c.id for c in cases]
            whistles = list((await s.execute(select(Whistle).where(Whistle.case_id.in_(ids))
                                             .order_by(Whistle.id))).scalars()) if ids else []
            handling = [c.id for c in cases if lc.HANDLING in (c.status, c.suspended_from)]
            exts = list((await s.execute(select(Extension).where(Extension.case_id.in_(handling))
                                         .order_by(Extension.id))).scalars()) if handling else []
            running = list((await s.execute(select(StepClock).where(
                StepClock.case_id.in_(ids), StepClock.stopped_at.is_(None), StepClock.drives_case))).scalars()) \
                if ids else []
        items = []
        for c in cases:
            agg = lc.CaseAggregate(c, [w for w in whistles if w.case_id == c.id],
                                   [e for e in exts if e.case_id == c.id], [k for k in running if k.case_id == c.id])
            items.append(await self._view(agg, actor, now))
        await attach_predictions(self.db, self.calendar.current, cases, items, now)  # one query for the page
        return {"items": items, "total": total, "page": page, "page_size": page_size}

    def _time_left(self, agg: lc.CaseAggregate, now: datetime) -> int | None:
        """Working minutes left on the case's clock (wall-clock minutes when urgent); negative when overdue."""
        driving = [c for c in agg.clocks if c.stopped_at is None and c.drives_case]
        if not driving:
            return None
        return round(clk.remaining_minutes(self.calendar.current, min(driving, key=lambda c: c.deadline), now))

    async def _view(self, agg: lc.CaseAggregate, actor: Actor, now: datetime) -> dict:
        c = agg.case
        ids = {c.township_id, c.grid_id, c.lead_unit_id, *(w.unit_id for w in agg.whistles)} - {None}
        if any(self.units.code(i) is None for i in ids):
            async with self.db.read() as s:
                await self.units.reload(s)
        pending = agg.pending_extension
        return {
            "id": c.id,
            "code": case_code(c),
            "title": c.title,
            "description": c.description,
            "category": c.category,
            "township": self.units.code(c.township_id),
            "grid": self.units.code(c.grid_id),
            "address": c.address,
            "lat": c.lat,
            "lon": c.lon,
            "urgency": c.urgency,
            "source": c.source,
            "status": c.status,
            "status_label": lc.STATE_LABELS[c.status],
            "step": lc.step_of(c.status, c.suspended_from),
            "version": c.version,
            "lead_unit": self.units.code(c.lead_unit_id),
            "whistles": [{
                "unit": self.units.code(w.unit_id), "unit_name": self.units.name(w.unit_id), "role": w.role,
                "state": w.state, "active": w.active, "arbitrated": w.arbitrated, "round": w.round,
                "dispatched_at": local(w.dispatched_at), "checked_in_at": local(w.checked_in_at),
                "returned_at": local(w.returned_at), "return_reason": w.return_reason,
            } for w in agg.whistles],
            "deadline": local(c.deadline),
            "alert": c.alert,
            "alert_label": clk.LEVEL_LABELS.get(c.alert, c.alert),
            "provisional": c.provisional,
            "time_left_minutes": self._time_left(agg, now),
            "outcome": c.outcome if c.status in (lc.CLOSED, lc.FEEDBACK) else None,
            "suspended_from": c.suspended_from,
            "merged_into": c.merged_into_id,
            "return_count": c.return_count,
            "rework_count": c.rework_count,
            "pending_extension": None if pending is None else {
                "working_days": pending.working_days, "reason": pending.reason,
                "requested_at": local(pending.requested_at)},
            "reporter_id": c.reporter_id,
            "created_at": local(c.created_at),
            "updated_at": local(c.updated_at),
            "closed_at": local(c.closed_at),
            "allowed_actions": lc.allowed_actions(agg, actor, now),
        }

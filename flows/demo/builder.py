"""`chuishao demo` (api/cli.py) builds the demo county with this: the organisation, then months of case history.

Everything goes through the service layer — `AdminService` for units, users, catalog and township
overrides, `CaseService.report/act` with an explicit `now` for every case step — so each case carries
a valid hash-chained timeline and only moves the way the transition table allows.

How the history is made: every case is first *planned* in memory (a script of timed steps walking the
six-step loop and its side paths, cut off at `now`), then all steps of all cases are *replayed* in
time order. Replaying in time order keeps case ids in report order and lets a duplicate be merged into
a master case that is still open at that moment. Planning only draws from `random.Random(seed)`, so the
same seed and the same `now` give the same county.
"""

import random
import time as wallclock
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Protocol

from sqlalchemy import func, select

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import Actor
from chuishao.flows.admin import AdminService, bootstrap
from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.cases import CaseService
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.clocks import resolve_limit
from chuishao.flows.demo.case_review import build_case_review
from chuishao.flows.demo.county import (
    CATALOG,
    COUNTY_CODE,
    COUNTY_NAME,
    DEMO_LOGINS,
    DEMO_LOGINS_KEY,
    DEMO_PASSWORD,
    DEPARTMENTS,
    DEPT_BY_CODE,
    EXT_REASONS,
    FAIL_NOTES,
    GIVEN,
    GRID_HALF,
    ITEM_BY_CODE,
    NOT_RESOLVABLE,
    OVERRIDES,
    PARTIAL,
    POLYGON_GRIDS,
    REJECT_REASONS,
    RURAL_SPOTS,
    SEASONS,
    SURNAMES,
    SUSPEND_REASONS,
    TEAM_SPEED,
    TOWNSHIP_LATE,
    TOWNSHIPS,
    TRANSFERRED,
    URBAN_SPOTS,
    ItemSpec,
    Speed,
    TownshipSpec,
)
from chuishao.flows.demo.disclosure import add_disclosure
from chuishao.flows.demo.legal import build_org as build_legal_review
from chuishao.flows.demo.legal import plan as plan_legal_review
from chuishao.flows.demo.plans import Plan, Script, add_working, months_before, working_days_before
from chuishao.flows.errors import Conflict
from chuishao.flows.settings import read_setting
from chuishao.flows.sweep import sweep
from chuishao.models.cases import Case
from chuishao.models.db import Database
from chuishao.models.org import Unit, User
from chuishao.models.settings_table import Setting
from chuishao.models.vocabulary import ROLE_LABELS

HANDLING_EXT = "handling+extension"  # planning marker: left in handling with a pending extension
WORKDAY_MINUTES = 450  # one working day (09:00-12:00, 13:30-17:30), the unit the plans count delays in
SWEEP_EVERY = timedelta(hours=1)  # the deadline sweep runs this often in simulated time during the replay
STATE_ORDER = (lc.REPORTED, lc.ACCEPTED, lc.DISPATCHED, lc.HANDLING, lc.LEGAL_REVIEW, lc.FEEDBACK, lc.CLOSED,
               lc.REJECTED, lc.MERGED, lc.RETURNED, lc.DISPUTED, lc.SUSPENDED)  # the summary's order


class DemoServices(Protocol):
    """What the demo needs of the process's services (api.deps.Services is one)."""

    db: Database
    cases: CaseService
    admin: AdminService
    clock: Callable[[], datetime]


class DemoExists(Conflict):
    code = "demo_exists"


class Demo:
    """One demo build: the organisation made through AdminService, every case planned from `rng`, then replayed
    through CaseService in time order (see the package docstring)."""

    def __init__(self, svc: DemoServices, cal: WorkingCalendar, seed: int, months: int, log):
        self.svc, self.cal, self.log = svc, cal, log
        self.rng = random.Random(seed)
        self.now = svc.clock().astimezone(LOCAL_TZ)
        self.start = months_before(self.now, months)
        self.org_time = self.start - timedelta(days=30)  # the county was set up before the history begins
        self.units: dict[str, dict] = {}  # code → unit dict from the service
        self.actors: dict[str, Actor] = {}
        self.officers: dict[str, list[tuple[str, str | None, date | None]]] = {}  # unit → (user, cert, expires)
        self.plans: list[Plan] = []
        self.admin_created = False
        self.county = COUNTY_CODE

    # ---- organisation ---------------------------------------------------------------------------
    async def refuse_if_loaded(self) -> None:
        async with self.svc.db.read() as s:
            kinds = dict((await s.execute(select(Unit.kind, func.count()).group_by(Unit.kind))).all())
            cases = (await s.execute(select(func.count()).select_from(Case))).scalar_one()
            users = (await s.execute(
                select(func.count()).select_from(User).where(User.username != "admin"))).scalar_one()
        others = sum(n for k, n in kinds.items() if k != "county")
        if kinds.get("township") or others or cases or users:
            found = f"乡镇 {kinds.get('township', 0)} 个、单位 {others} 个、用户 {users} 个、案件 {cases} 件"
            raise DemoExists(
                f"数据库中已有数据（{found}），演示数据只能装入空库；SQLite 可用 `chuishao demo --reset` 重建",
                f"the database already holds data ({kinds.get('township', 0)} townships, {others} units, "
                f"{users} users, {cases} cases); the demo only loads into an empty database "
                "(for SQLite use `chuishao demo --reset`)")

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    async def unit(self, code: str, name: str, kind: str, parent: str | None, polygon: dict | None = None) -> None:
        body = {"code": code, "name": name, "kind": kind}
        if parent:
            body["parent"] = parent
        if polygon:
            body["polygon"] = polygon
        self.units[code] = await self.svc.admin.create_unit(body, self.org_time)

    async def user(self, username: str, role: str, unit: str, *, cert: str | None = None,
                   expires: date | None = None) -> None:
        body = {"username": username, "password": DEMO_PASSWORD, "name": self.person(), "role": role, "unit": unit}
        if cert:
            body |= {"certificate_no": cert, "certificate_expires": expires.isoformat()}
        u = await self.svc.admin.create_user(body, self.org_time, check_password_policy=False)  # public on purpose
        info = self.units[unit]
        township = None
        if info["kind"] == "township":
            township = info["id"]
        elif info["kind"] in ("grid", "team"):
            township = self.units[info["parent"]]["id"]
        self.actors[username] = Actor(u["id"], username, role, info["id"], unit, township)
        if role == "department_officer":
            self.officers.setdefault(unit, []).append((username, cert, expires))

    def grid_geometry(self, tw: TownshipSpec, i: int) -> tuple[float, float, dict | None]:
        if i < POLYGON_GRIDS:
            cx, cy = tw.lon + (i - 1) * 0.02, tw.lat + 0.006
            corners = ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))  # closed ring, counter-clockwise
            ring = [(cx + dx * GRID_HALF, cy + dy * GRID_HALF) for dx, dy in corners]
            return cx, cy, {"type": "Polygon", "coordinates": [[[round(x, 4), round(y, 4)] for x, y in ring]]}
        return tw.lon + (i - 3.5) * 0.02, tw.lat - 0.014, None

    async def build_org(self) -> None:
        today = self.now.date()
        self.admin_created = await bootstrap(self.svc.admin, county_code=COUNTY_CODE, county_name=COUNTY_NAME,
                                             admin_password=DEMO_PASSWORD, now=self.org_time,
                                             check_password_policy=False)  # the public demo password
        async with self.svc.db.read() as s:
            county = (await s.execute(select(Unit).where(Unit.kind == "county"))).scalar_one_or_none()
            admin = (await s.execute(select(User).where(User.username == "admin"))).scalar_one()
        if county is None:  # an admin without a county: only possible in a hand-made database
            await self.unit(COUNTY_CODE, COUNTY_NAME, "county", None)
        else:
            self.units[county.code] = {"id": county.id, "code": county.code, "kind": "county", "parent": None}
        self.county = county.code if county else COUNTY_CODE
        self.actors["admin"] = Actor(admin.id, "admin", "admin", admin.unit_id, self.county, None)
        self.log(f"县 county {self.county}：管理员 admin {'已创建 created' if self.admin_created else '已存在 exists'}")

        for tw in TOWNSHIPS:
            await self.unit(tw.code, tw.name, "township", self.county)
            for i, place in enumerate(tw.places):
                _, _, polygon = self.grid_geometry(tw, i)
                await self.unit(f"{tw.code}-G{i + 1}", f"{tw.name}{place}网格", "grid", tw.code, polygon)
            if tw.team:
                await self.unit(tw.team_code, f"{tw.name}综合行政执法队", "team", tw.code)
        for d in DEPARTMENTS:
            await self.unit(d.code, d.name, "department", self.county)
        self.log(f"单位 units: {len(self.units)}（乡镇 {len(TOWNSHIPS)}、网格 {5 * len(TOWNSHIPS)}、"
                 f"部门 {len(DEPARTMENTS)}、执法队 {sum(t.team for t in TOWNSHIPS)}）")

        for item in CATALOG:
            body = {"code": item.code, "name": item.name, "category": item.category, "lead_unit": item.lead,
                    "assist_units": list(item.assists), "devolved": item.devolved, "enforcement": item.enforcement}
            if item.limits:
                body["limits"] = item.limits
            await self.svc.admin.create_item(body)
        for (code, township), body in OVERRIDES.items():
            await self.svc.admin.set_override(code, township, body)
        self.log(f"事项清单 catalog: {len(CATALOG)} 项 items，乡镇覆盖 overrides {len(OVERRIDES)} 条")

        cert_no = iter(range(1, 1000))

        def cert(valid_days: int) -> tuple[str, date]:
            return f"1411{2019 + self.rng.randrange(6)}{next(cert_no):05d}", today + timedelta(days=valid_days)

        await self.user("supervisor", "county_supervisor", self.county)
        for tw in TOWNSHIPS:
            await self.user(f"{tw.prefix}_dispatcher", "township_dispatcher", tw.code)
            await self.user(f"{tw.prefix}_liaison", "township_liaison", tw.code)
            for i in range(len(tw.places)):
                await self.user(f"{tw.prefix}_g{i + 1}", "grid_worker", f"{tw.code}-G{i + 1}")
            if tw.team:
                prefix = f"{tw.prefix}_zfd"
                await self.user(f"{prefix}_liaison", "department_liaison", tw.team_code)
                for k in range(1, 3 + (tw.code == "FC")):
                    no, exp = cert(self.rng.randint(200, 1100))
                    await self.user(f"{prefix}_officer{k}", "department_officer", tw.team_code, cert=no, expires=exp)
        for d in DEPARTMENTS:
            prefix = d.code.lower()
            await self.user(f"{prefix}_liaison", "department_liaison", d.code)
            for k in range(1, d.officers + 1):
                if (d.code, k) == ("ZRZY", 3):
                    no, exp = cert(-24)  # expired three weeks ago: no longer counts for enforcement
                elif (d.code, k) == ("SCJG", 3):
                    no, exp = cert(12)  # about to expire
                elif (d.code, k) == ("WJJ", 3):
                    no, exp = None, None  # newly recruited, no certificate yet
                else:
                    no, exp = cert(self.rng.randint(200, 1100))
                await self.user(f"{prefix}_officer{k}", "department_officer", d.code, cert=no, expires=exp)
        self.log(f"用户 users: {len(self.actors)}（统一演示密码 demo password {DEMO_PASSWORD}）")

    # ---- routing and people, mirrored from the catalog so the plan knows who will act -------------
    def route(self, item: ItemSpec, tw: TownshipSpec) -> tuple[str, list[str]]:
        """Where a dispatch without an explicit unit goes: override, township team (devolved), item default."""
        ov = OVERRIDES.get((item.code, tw.code), {})
        lead = ov.get("lead_unit") or (tw.team_code if item.devolved else None) or item.lead
        assists = ov.get("assist_units", list(item.assists))
        return lead, [a for a in dict.fromkeys(assists) if a != lead]

    def alt_unit(self, item: ItemSpec, lead: str) -> str:
        if item.alt != lead:
            return item.alt
        return next(a for a in (item.lead, *item.assists, "CGJ", "ZJJ") if a != lead and a in DEPT_BY_CODE)

    def speed(self, unit: str) -> Speed:
        return DEPT_BY_CODE[unit].speed if unit in DEPT_BY_CODE else TEAM_SPEED

    def unit_name(self, unit: str) -> str:
        return self.units[unit]["name"]

    def liaison(self, unit: str) -> Actor:
        return self.actors[f"{unit.lower().replace('-', '_')}_liaison" if unit in DEPT_BY_CODE
                           else f"{self.team_prefix(unit)}_liaison"]

    def team_prefix(self, team_code: str) -> str:
        return next(f"{t.prefix}_zfd" for t in TOWNSHIPS if t.team_code == team_code)

    def pick_officers(self, unit: str, day: date, enforcement: bool) -> list[str]:
        staff = self.officers[unit]
        if enforcement:
            valid = [u for u, no, exp in staff if no and exp and exp >= day]
            if len(valid) < 2:
                raise RuntimeError(f"demo data: {unit} has fewer than two certified officers on {day}")
            return self.rng.sample(valid, 2)
        return self.rng.sample([u for u, _, _ in staff], self.rng.choice((1, 1, 2)))

    # ---- one case ---------------------------------------------------------------------------------
    def new_plan(self, tw: TownshipSpec, item: ItemSpec, t0: datetime, source: str | None = None,
                 reporter: Actor | None = None, grid: int | None = None) -> tuple[Plan, dict]:
        rng = self.rng
        grid = rng.randrange(len(tw.places)) if grid is None else grid
        if source is None:
            source = rng.choices(("grid", "hotline", "inspection", "public", "county"), (55, 22, 10, 8, 5))[0]
        if reporter is None:
            reporter = self.actors[{"grid": f"{tw.prefix}_g{grid + 1}", "hotline": f"{tw.prefix}_dispatcher",
                                    "public": f"{tw.prefix}_dispatcher", "inspection": f"{tw.prefix}_liaison",
                                    "county": "supervisor"}[source]]
        place = tw.places[grid]
        spot = rng.choice(URBAN_SPOTS if place.endswith("社区") else RURAL_SPOTS).format(n=rng.randint(1, 120))
        addr = f"{tw.name}{place}{spot}"
        title, desc = rng.choice(item.cases)
        title, desc = title.format(place=place), desc.format(place=place, addr=addr)
        problem = (title, desc, addr)
        if source == "hotline":
            title, desc = f"【12345】{title}", f"12345 热线工单：市民来电反映，{desc}"
        elif source == "public":
            desc = f"群众来访反映：{desc}"
        elif source == "county":
            title, desc = f"【县级交办】{title}", f"县领导督查发现并交办：{desc}"
        cx, cy, polygon = self.grid_geometry(tw, grid)
        spread = GRID_HALF - 0.0015 if polygon else 0.004
        lon, lat = round(cx + rng.uniform(-spread, spread), 6), round(cy + rng.uniform(-spread, spread), 6)
        body = {"title": title, "description": desc, "address": addr, "source": source}
        if source == "grid" and polygon and rng.random() < 0.5:
            body |= {"lat": lat, "lon": lon}  # only the phone's GPS point: the grid is found from its polygon
        else:
            body |= {"township": tw.code, "grid": f"{tw.code}-G{grid + 1}", "lat": lat, "lon": lon}
        if source in ("grid", "inspection", "county") and rng.random() < 0.75:
            body["category"] = item.code
        urgent = rng.random() < item.urgent
        if urgent and rng.random() < 0.8:
            body["urgency"] = "urgent"
        plan = Plan(len(self.plans), tw, item, grid, source, reporter, problem)
        self.plans.append(plan)
        return plan, {"body": body, "t0": t0, "urgent": urgent}

    def walk(self, plan: Plan, opening: dict, *, end: str | None = None, reject: bool = False, returns: int = 0,
             escalate: bool = False, rework: int = 0, suspend: bool = False, extension: str | None = None,
             outcome: str | None = None) -> Script:
        """Plan one case from report along the loop, stopping at `end` (a state) or at `now`. Every wait is
        drawn against the limit the case's clock will apply, so most steps finish in time and slow units
        are late more often."""
        rng, tw, item = self.rng, plan.township, plan.item
        report = opening["body"]
        s = Script(self, plan, opening["t0"], report.get("urgency") == "urgent")
        disp, tl, sup = (self.actors[f"{tw.prefix}_dispatcher"], self.actors[f"{tw.prefix}_liaison"],
                         self.actors["supervisor"])
        s.do("report", plan.reporter, report, lc.REPORTED)
        if end == lc.REPORTED:
            return s
        s.spend(self.delay(plan, "accept", s.urgent))
        if reject:
            s.do("reject", disp, {"reason": rng.choice(REJECT_REASONS)}, lc.REJECTED)
            return s
        accept: dict = {}
        if "category" not in report:
            accept["category"] = item.code
        if opening["urgent"] and not s.urgent:
            accept["urgency"] = "urgent"  # the dispatcher raises it on reading the report
        if rng.random() < 0.3:
            accept["note"] = "情况属实，予以受理"
        s.do("accept", disp, accept, lc.ACCEPTED)
        s.urgent = opening["urgent"]
        if end == lc.ACCEPTED:
            return s

        lead, assists = self.route(item, tw)
        alt = self.alt_unit(item, lead)
        s.spend(self.delay(plan, "dispatch", s.urgent))
        if escalate:  # the lead returns it, the dispatcher sends the dispute up
            s.do("dispatch", disp, {}, lc.DISPATCHED, lead=lead)
            s.spend(self.delay(plan, "check_in", s.urgent, lead))
            s.do("return", self.liaison(lead), {"reason": f"本单位认为该事项应由{self.unit_name(alt)}牵头办理，"
                                                          "本单位无相应执法权限"}, lc.RETURNED)
            if end == lc.RETURNED:
                return s
            s.spend(self.delay(plan, "dispatch", s.urgent))
            s.do("escalate_dispute", disp, {"reason": f"{self.unit_name(lead)}与{self.unit_name(alt)}对管辖存在"
                                                      "争议，提请县级裁定"}, lc.DISPUTED)
            if end == lc.DISPUTED:
                return s
            s.spend(self.delay(plan, "arbitrate", s.urgent))
            assists = [a for a in dict.fromkeys([*assists, alt]) if a != lead]
            s.do("arbitrate", sup, {"lead_unit": lead, "assist_units": assists,
                                    "note": f"经县级协调，明确由{self.unit_name(lead)}主办，不得再次退回"},
                 lc.DISPATCHED, lead=lead)
        elif returns:  # first sent to the wrong unit, which hands it back
            s.do("dispatch", disp, {"lead_unit": alt}, lc.DISPATCHED, lead=alt)
            s.spend(self.delay(plan, "check_in", s.urgent, alt))
            s.do("return", self.liaison(alt), {"reason": f"经核实，该事项属于{self.unit_name(lead)}职责范围，"
                                                         "非本单位管辖，请重新派发"}, lc.RETURNED)
            if end == lc.RETURNED:
                return s
            s.spend(self.delay(plan, "dispatch", s.urgent))
            s.do("dispatch", disp, {"note": "已按事项清单重新派发"}, lc.DISPATCHED, lead=lead)
            if returns >= 2:  # ...and the right one pushes it back too: a dispute
                s.spend(self.delay(plan, "check_in", s.urgent, lead))
                s.do("return", self.liaison(lead), {"reason": f"该事项应由{self.unit_name(alt)}牵头处理，"
                                                              "请县级协调明确"}, lc.DISPUTED)
                if end == lc.DISPUTED:
                    return s
                s.spend(self.delay(plan, "arbitrate", s.urgent))
                assists = [a for a in dict.fromkeys([*assists, alt]) if a != lead]
                s.do("arbitrate", sup, {"lead_unit": lead, "assist_units": assists,
                                        "note": f"经县级裁定，由{self.unit_name(lead)}主办，"
                                                f"{self.unit_name(alt)}协办"}, lc.DISPATCHED, lead=lead)
        else:
            s.do("dispatch", disp, {"note": "请 30 分钟内到场处置"} if s.urgent else {}, lc.DISPATCHED, lead=lead)
        if end == lc.DISPATCHED:
            return s
        self.check_ins(s, plan, lead, assists)
        self.handling(s, plan, lead, end=end, suspend=suspend, extension=extension)
        if end in (lc.HANDLING, HANDLING_EXT, lc.SUSPENDED):
            return s

        quality = self.speed(lead).quality - 0.1 * (returns + escalate)
        for attempt in range(rework + 1):
            final = attempt == rework
            if attempt:  # rework after a failed verification: a fresh, usually short, handling clock
                s.spend(self.delay(plan, "handle", s.urgent, lead, quick=0.4))
            result = self.result(item, outcome if final else "resolved")
            officers = self.pick_officers(lead, s.t.date(), item.enforcement)
            s.do("feedback", self.actors[officers[0]], {"outcome": result[0], "result": result[1],
                                                        "officers": officers}, lc.FEEDBACK)
            if end == lc.FEEDBACK and final:
                return s
            s.spend(self.delay(plan, "verify", s.urgent))
            verifier = plan.reporter if plan.reporter.role == "grid_worker" and rng.random() < 0.3 else tl
            if final:
                r = rng.random()
                sat = "satisfied" if r < quality else "basic" if r < quality + (1 - quality) * 0.7 else "unsatisfied"
                rating = {"satisfied": rng.choice((4, 5, 5)), "basic": rng.choice((3, 4)),
                          "unsatisfied": rng.choice((2, 3))}[sat]
                note = "现场核查，整改到位" if result[0] == "resolved" else "已核实办理情况，同意结案"
                s.do("verify", verifier, {"passed": True, "note": note, "satisfaction": sat, "rating": rating},
                     lc.CLOSED)
            else:
                s.do("verify", verifier, {"passed": False, "note": rng.choice(FAIL_NOTES),
                                          "satisfaction": "unsatisfied", "rating": 2}, lc.HANDLING)
        return s

    def check_ins(self, s: Script, plan: Plan, lead: str, assists: list[str]) -> None:
        """报到: the lead checks in against its check-in limit; assisting units check in around the same time,
        or never when they are late. A late lead gets an urge at its deadline and a 督办 after escalation."""
        rng, tw = self.rng, plan.township
        t0 = s.t
        limit = self.limit_minutes(plan, "check_in", s.urgent)
        t_lead = self.after(t0, self.delay(plan, "check_in", s.urgent, lead), s.urgent)
        moments = [(t_lead, "check_in", lead)]
        for a in assists:
            minutes = self.delay(plan, "check_in", s.urgent, a)
            if minutes <= limit and rng.random() < 0.9:  # a late assisting unit often never reports at all
                moments.append((min(self.after(t0, minutes, s.urgent), t_lead + timedelta(minutes=rng.randint(5, 90))),
                                "check_in", a))
        deadline = self.after(t0, limit, s.urgent) + timedelta(minutes=rng.randint(5, 40))
        if t_lead > deadline and rng.random() < 0.8:
            moments.append((deadline, "urge", None))
            escalation = self.after(deadline, 240 if s.urgent else WORKDAY_MINUTES, s.urgent)
            if t_lead > escalation and rng.random() < 0.7:
                moments.append((escalation, "supervise", None))
        for t, action, unit in sorted(moments, key=lambda m: m[0]):
            s.until(t)
            if action == "urge":
                s.do("urge", rng.choice((self.actors[f"{tw.prefix}_dispatcher"], self.actors[f"{tw.prefix}_liaison"])),
                     {"note": "已超过报到时限，请尽快到场报到"})
            elif action == "supervise":
                s.do("supervise", self.actors["supervisor"], {"note": "县级督办：接哨后长时间未报到，请立即落实"})
            else:
                note = rng.choice(("已到场", "已安排执法人员到现场", "收到，马上处理")) if rng.random() < 0.6 else None
                s.do("check_in", self.liaison(unit), {"note": note} if note else {},
                     lc.HANDLING if unit == lead else None)

    def handling(self, s: Script, plan: Plan, lead: str, *, end: str | None, suspend: bool,
                 extension: str | None) -> None:
        """办理, planned in the handling clock's own time (suspended time does not count): optional suspension,
        an extension asked before the deadline, an urge as the deadline nears, 督办 once it has escalated."""
        rng, tw = self.rng, plan.township
        tl = self.actors[f"{tw.prefix}_liaison"]
        limit = self.limit_minutes(plan, "handle", s.urgent)
        quick = 0.5 if plan.item.effort == "simple" else 1.0
        handle = self.delay(plan, "handle", s.urgent, lead, quick=quick)
        events: list[tuple[float, str]] = []
        days = rng.randint(3, 10)
        if extension and not s.urgent:
            asked = limit * rng.uniform(0.55, 0.8)  # before the deadline, as the rules require
            if extension == "approve":
                handle = limit * rng.uniform(0.9, 1.0) + days * WORKDAY_MINUTES * rng.uniform(0.3, 0.9)
            else:
                handle = limit * rng.uniform(0.85, 1.25)
            decided = asked + min(rng.uniform(30, 300), (handle - asked) / 2)
            events += [(asked, "request_extension"), (decided, "decide")]
        elif handle > limit * 0.9 and rng.random() < 0.6:
            events.append((limit * rng.uniform(0.8, 0.9), "urge"))
        escalation = limit + (240 if s.urgent else WORKDAY_MINUTES)
        if handle > escalation and extension != "approve" and rng.random() < 0.7:
            events.append((escalation + min(rng.uniform(10, 120), (handle - escalation) / 2), "supervise"))
        if suspend:
            events.append((min(handle, limit) * rng.uniform(0.2, 0.5), "suspend"))
        if end != lc.HANDLING:
            events.append((handle, "done"))
        elapsed = 0.0
        for at, what in sorted(events):
            s.spend(max(at - elapsed, 1.0))
            elapsed = max(at, elapsed + 1.0)
            if what == "done":  # the feedback follows in walk()
                return
            if what == "request_extension":
                s.do("request_extension", self.liaison(lead), {"working_days": days,
                                                               "reason": rng.choice(EXT_REASONS)})
                if end == HANDLING_EXT:
                    return
            elif what == "decide":
                if extension == "approve":
                    s.do("approve_extension", tl, {"note": "同意延期，请在延长期限内办结"})
                else:
                    s.do("deny_extension", tl, {"note": "该事项情况较简单，不同意延期，请按期办结"})
            elif what == "urge":
                s.do("urge", tl, {"note": "该案件即将超期，请加快办理并及时反馈"})
            elif what == "supervise":
                s.do("supervise", self.actors["supervisor"],
                     {"note": "县级督办：该案件已超期，请于 3 个工作日内办结并反馈"})
            elif what == "suspend":
                s.do("suspend", tl, {"reason": rng.choice(SUSPEND_REASONS)}, lc.SUSPENDED)
                if end == lc.SUSPENDED:
                    return
                s.spend(rng.uniform(3, 15) * WORKDAY_MINUTES)  # paused: not handling time
                s.do("resume", tl, {}, lc.HANDLING)

    # ---- time limits ---------------------------------------------------------------------------
    def limit_minutes(self, plan: Plan, kind: str, urgent: bool) -> float:
        """The limit the case's clock applies (township override, item, default), in planning minutes:
        working minutes for normal cases, wall-clock minutes for urgent ones."""
        override = OVERRIDES.get((plan.item.code, plan.township.code), {}).get("limits")
        spec = resolve_limit(kind, "urgent" if urgent else "normal", plan.item.limits, override)
        n, unit = int(spec[:-1]), spec[-1]
        return n * {"m": 1, "h": 60, "d": 1440 if urgent else WORKDAY_MINUTES}[unit]

    def delay(self, plan: Plan, kind: str, urgent: bool, unit: str | None = None, quick: float = 1.0) -> float:
        """How long a step takes: mostly well inside its limit, sometimes close to it, and late with the
        acting unit's lateness (township staff are rarely late)."""
        limit = self.limit_minutes(plan, kind, urgent)
        late = self.speed(unit).late if unit else TOWNSHIP_LATE
        r = self.rng.random()
        if r < late:
            share = self.rng.uniform(1.05, 1.9)
        elif r < late + 0.1:
            share = self.rng.uniform(0.8, 0.98)
        else:
            share = self.rng.uniform(0.05, 0.75) * quick
        return max(2.0, limit * share)

    def after(self, t: datetime, minutes: float, urgent: bool) -> datetime:
        return t + timedelta(minutes=minutes) if urgent else add_working(self.cal, t, minutes)

    def result(self, item: ItemSpec, outcome: str | None) -> tuple[str, str]:
        rng = self.rng
        if outcome is None:
            weights = (74, 8, 4, 14) if item.enforcement else (82, 10, 6, 2)
            outcome = rng.choices(("resolved", "partially_resolved", "not_resolvable", "transferred"), weights)[0]
        text = {"resolved": f"{item.fix}。",
                "partially_resolved": f"{item.fix}，但{rng.choice(PARTIAL)}。",
                "not_resolvable": f"{NOT_RESOLVABLE}。",
                "transferred": f"{rng.choice(TRANSFERRED)}。"}[outcome]
        return outcome, text

    # ---- the whole history ---------------------------------------------------------------------
    def item_weights(self, tw: TownshipSpec, month: int) -> list[float]:
        out = []
        for item in CATALOG:
            season = SEASONS[item.season]
            w = item.weight * season.get(month, season["_"])
            if item.where == "u":
                w *= 2.0 if tw.urban else 0.4
            elif item.where == "r":
                w *= 0.3 if tw.urban else 1.3
            out.append(w)
        return out

    def report_time(self, day: date, source: str) -> datetime:
        lo, hi = {"hotline": (7.0, 22.0), "grid": (8.0, 18.5)}.get(source, (8.5, 17.5))
        minutes = int(self.rng.uniform(lo, hi) * 60)
        return datetime.combine(day, time(minutes // 60, minutes % 60, self.rng.randrange(60)), LOCAL_TZ)

    def poisson(self, lam: float) -> int:
        limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def natural_options(self, plan: Plan) -> dict:
        """The path an ordinary case takes: mostly the plain loop, sometimes a side path."""
        r = self.rng.random()
        options: dict = {}
        if (plan.source in ("hotline", "public") and r < 0.10) or (plan.source == "grid" and r < 0.03):
            return {"reject": True}
        r = self.rng.random()
        if r < 0.07:
            options["returns"] = 1
        elif r < 0.10:
            options["returns"] = 2
        elif r < 0.115:
            options["escalate"] = True
        if self.rng.random() < 0.08:
            options["rework"] = 1
        if self.rng.random() < 0.03:
            options["suspend"] = True
        r = self.rng.random()
        if r < 0.07:
            options["extension"] = "approve"
        elif r < 0.09:
            options["extension"] = "deny"
        return options

    def plan_history(self) -> None:
        rng = self.rng
        day = self.start.date()
        while day <= self.now.date():
            for tw in TOWNSHIPS:
                weights = self.item_weights(tw, day.month)
                lam = tw.size * (0.85 if self.cal.is_workday(day) else 0.45)
                for _ in range(self.poisson(lam)):
                    item = rng.choices(CATALOG, weights)[0]
                    source = rng.choices(("grid", "hotline", "inspection", "public", "county"), (55, 22, 10, 8, 5))[0]
                    t0 = self.report_time(day, source)
                    if not self.start <= t0 <= self.now - timedelta(minutes=5):
                        continue
                    plan, opening = self.new_plan(tw, item, t0, source)
                    self.walk(plan, opening, **self.natural_options(plan))
            day += timedelta(days=1)
        natural = len(self.plans)
        self.plan_pinned()
        pinned = len(self.plans) - natural
        dups = self.plan_duplicates(self.plans[:natural], share=0.04)
        self.log(f"案件计划 planned: {natural} 件日常 ordinary + {pinned} 件示例 showcase + {dups} 件重复 duplicates")

    def plan_pinned(self) -> None:
        """Cases that make sure every state and side path is on show, reported in the last few weeks."""
        fc = TOWNSHIPS[0]
        showcase = [
            (lc.REPORTED, 0, {}), (lc.REPORTED, 0, {}),
            (lc.ACCEPTED, 1, {}), (lc.ACCEPTED, 1, {}),
            (lc.DISPATCHED, 1, {}), (lc.DISPATCHED, 2, {}), (lc.DISPATCHED, 2, {}),
            (lc.HANDLING, 3, {}), (lc.HANDLING, 4, {}),
            (HANDLING_EXT, 5, {"extension": "approve"}), (HANDLING_EXT, 6, {"extension": "approve"}),
            (HANDLING_EXT, 5, {"extension": "approve"}),
            (lc.FEEDBACK, 6, {}), (lc.FEEDBACK, 7, {}), (lc.FEEDBACK, 8, {"rework": 1}),
            (lc.RETURNED, 2, {"returns": 1}), (lc.RETURNED, 3, {"returns": 1}), (lc.RETURNED, 3, {"escalate": True}),
            (lc.DISPUTED, 4, {"returns": 2}), (lc.DISPUTED, 5, {"returns": 2}), (lc.DISPUTED, 4, {"escalate": True}),
            (lc.SUSPENDED, 8, {"suspend": True}), (lc.SUSPENDED, 10, {"suspend": True}),
            (lc.SUSPENDED, 12, {"suspend": True}),
            (lc.REJECTED, 2, {"reject": True}),
            (lc.CLOSED, 14, {"outcome": "resolved"}), (lc.CLOSED, 14, {"outcome": "partially_resolved"}),
            (lc.CLOSED, 14, {"outcome": "not_resolvable"}), (lc.CLOSED, 14, {"outcome": "transferred"}),
            (lc.CLOSED, 16, {"returns": 1}), (lc.CLOSED, 18, {"returns": 2}), (lc.CLOSED, 18, {"escalate": True}),
            (lc.CLOSED, 16, {"rework": 1}), (lc.CLOSED, 16, {"suspend": True}),
            (lc.CLOSED, 16, {"extension": "approve"}), (lc.CLOSED, 16, {"extension": "deny"}),
        ]
        items = ("GT01", "SR01", "HJ03", "SC01", "JS01", "AQ01", "SR04", "HJ02", "GT02")
        masters = []
        for k, (end, back, options) in enumerate(showcase):
            tw = fc if k % 2 == 0 else TOWNSHIPS[1 + k % (len(TOWNSHIPS) - 1)]
            item = ITEM_BY_CODE[items[k % len(items)]]
            reporter, grid = (self.actors["fc_g1"], 0) if tw is fc else (None, None)
            for attempt in range(8):
                if end == lc.REPORTED:
                    t0 = self.now - timedelta(minutes=self.rng.randint(20, 600))
                else:
                    day = working_days_before(self.cal, self.now, back + 2 * attempt)
                    t0 = datetime.combine(day, time(9 + self.rng.randrange(7), self.rng.randrange(60)), LOCAL_TZ)
                plan, opening = self.new_plan(tw, item, max(t0, self.start), "grid" if reporter else None,
                                              reporter, grid)
                opening["urgent"] = False
                opening["body"].pop("urgency", None)
                self.walk(plan, opening, end=end, **options)
                if end == HANDLING_EXT:
                    reached = plan.state == lc.HANDLING and plan.steps[-1].action == "request_extension"
                else:
                    reached = plan.state == end
                if reached or t0 <= self.start:
                    break
                self.plans.pop()  # cut off by `now`: start it earlier
            if end in (lc.DISPATCHED, lc.HANDLING) and plan.state == end:
                masters.append(plan)
        made = self.plan_duplicates(masters, share=1.0, limit=2)
        if not made:
            self.log("提示 note: 没有可合并的示例主案件 no open showcase case to merge a duplicate into")

    def plan_duplicates(self, masters: list[Plan], share: float, limit: int | None = None) -> int:
        """A second report of the same problem (usually by the hotline), merged into the open master."""
        made = 0
        for master in masters:
            if limit is not None and made >= limit:
                break
            if master.state in (lc.REJECTED, lc.MERGED) or self.rng.random() >= share:
                continue
            tw = master.township
            t0 = master.steps[0].at + timedelta(minutes=self.rng.randint(20, 300))
            if t0 > self.now - timedelta(minutes=5):
                continue
            plan, opening = self.new_plan(tw, master.item, t0, "hotline", grid=master.grid)
            title, desc, addr = plan.problem = master.problem  # the same problem, phoned in
            opening["body"] |= {"title": f"【12345】{title}", "description": f"12345 热线工单：市民来电反映，{desc}",
                                "address": addr}
            opening["body"].pop("urgency", None)
            urgent = master.steps[0].body.get("urgency") == "urgent"
            if urgent:
                opening["body"]["urgency"] = "urgent"
            s = Script(self, plan, t0, urgent)
            disp = self.actors[f"{tw.prefix}_dispatcher"]
            s.do("report", plan.reporter, opening["body"], lc.REPORTED)
            if self.rng.random() < 0.25:
                s.spend(self.rng.uniform(10, 90))
                accept = {} if "category" in opening["body"] else {"category": master.item.code}
                s.do("accept", disp, accept, lc.ACCEPTED)
            s.spend(self.rng.uniform(10, 120))
            if master.final_at is None or s.t < master.final_at:
                s.do("merge", disp, lambda m=master: {"into": m.case_id}, lc.MERGED)
            made += 1
        return made

    # ---- replay --------------------------------------------------------------------------------
    async def replay(self) -> tuple[int, int]:
        """Every step of every case in time order, with the deadline sweep running between them as it would
        have: alerts fire at (nearly) their historical time instead of all at once on the first `serve`."""
        events = sorted(((st.at, p.n, i) for p in self.plans for i, st in enumerate(p.steps)))
        total, tick = len(events), max(1, len(events) // 10)
        began = wallclock.monotonic()
        alerts, swept = 0, None
        for k, (at, n, i) in enumerate(events, 1):
            if swept is None or at - swept >= SWEEP_EVERY:
                alerts += len(await sweep(self.svc.db, self.cal, at))
                swept = at
            plan = self.plans[n]
            st = plan.steps[i]
            try:
                if st.action == "report":
                    view = await self.svc.cases.report(st.who, st.body, st.at)
                    plan.case_id = view["id"]
                else:
                    body = st.body() if callable(st.body) else st.body
                    view = await self.svc.cases.act(plan.case_id, st.action, st.who, body, st.at)
            except Exception as err:
                raise RuntimeError(f"demo step failed: case plan {n} ({plan.item.code} @ {plan.township.code}) "
                                   f"{st.action} by {st.who.username} at {st.at.isoformat()}: {err}") from err
            if view["status"] != st.to or (st.lead and view["lead_unit"] != st.lead):
                raise RuntimeError(f"demo step diverged: case {plan.case_id} {st.action} reached "
                                   f"{view['status']}/{view['lead_unit']}, planned {st.to}/{st.lead}")
            plan.status = view["status"]
            if k % tick == 0 or k == total:
                self.log(f"案件回放 replaying: {k}/{total} 步 steps（{wallclock.monotonic() - began:.1f} s）")
        alerts += len(await sweep(self.svc.db, self.cal, self.now))
        self.log(f"预警 alerts fired: {alerts}")
        return total, alerts


class _HashOnce:
    """Every demo user has the same public password; hash it once instead of ~120 times (argon2 is slow
    on purpose, ~0.2 s a hash). Each hash still verifies normally; a changed password gets its own."""

    def __init__(self, inner):
        self.inner, self.cache = inner, {}

    def hash(self, password: str) -> str:
        if password not in self.cache:
            self.cache[password] = self.inner.hash(password)
        return self.cache[password]

    def verify(self, hashed: str, password: str) -> bool:
        return self.inner.verify(hashed, password)


async def demo_loaded(svc: DemoServices) -> bool:
    """Whether the database holds a demo county loaded to its end: its logins are the last thing written."""
    return await read_setting(svc.db, DEMO_LOGINS_KEY) is not None


async def build_demo(svc: DemoServices, *, seed: int = 2026, months: int = 3, log=print) -> str:
    """Fill an empty, migrated database with the demo county and its history, `months` (>= 1) up to `svc.clock()`;
    the same seed and clock give the same county. Returns a bilingual summary. Raises DemoExists (409) when the
    database already holds units, users or cases, ValueError for months < 1."""
    began = wallclock.monotonic()
    if months < 1:
        raise ValueError("months must be at least 1")
    now = svc.clock()
    demo = Demo(svc, await svc.cases.calendar.load(now), seed, months, log)
    await demo.refuse_if_loaded()
    log(f"演示县 demo county {COUNTY_NAME}：{demo.start:%Y-%m-%d} 至 {demo.now:%Y-%m-%d %H:%M}，seed {seed}")
    passwords = svc.admin.passwords
    svc.admin.passwords = _HashOnce(passwords)
    try:
        await demo.build_org()
        await build_legal_review(demo)  # 法制审核: 司法局, reviewers, items marked major (flows/demo/legal.py)
    finally:
        svc.admin.passwords = passwords
    demo.plan_history()
    plan_legal_review(demo)  # a few major decisions through legal review, recent
    steps, alerts = await demo.replay()
    await add_disclosure(svc, demo)  # 行政执法公示: disclosed items, the townships' withholdings
    await build_case_review(svc, demo)  # 案卷评查: one quarter's recorded draw, reviewers, scores (issue 15)
    async with svc.db.transaction() as s:  # the login page and `chuishao serve` show these to a new user
        s.add(Setting(key=DEMO_LOGINS_KEY, value={"password": DEMO_PASSWORD, "logins": [
            [role, names] for role, names in DEMO_LOGINS if role != "admin" or demo.admin_created]}))
    return summary(demo, steps, alerts, wallclock.monotonic() - began)


def summary(demo: Demo, steps: int, alerts: int, elapsed: float) -> str:
    by_status = Counter(p.status for p in demo.plans)
    outcomes = Counter(p.steps[-2].body["outcome"] for p in demo.plans
                       if p.status == lc.CLOSED and p.steps[-2].action == "feedback")
    by_source = Counter(p.source for p in demo.plans)
    grids = 5 * len(TOWNSHIPS)
    lines = [
        f"{COUNTY_NAME}演示数据已生成 / demo county loaded（{elapsed:.1f} s）",
        f"  乡镇 townships {len(TOWNSHIPS)} · 网格 grids {grids}（{POLYGON_GRIDS * len(TOWNSHIPS)} 个带 GeoJSON 范围 "
        f"with polygons）· 县直部门 departments {len(DEPARTMENTS)} · 乡镇执法队 teams {sum(t.team for t in TOWNSHIPS)}",
        f"  事项清单 catalog items {len(CATALOG)}（乡镇覆盖 township overrides {len(OVERRIDES)}）· 用户 users "
        f"{len(demo.actors)}",
        f"  案件 cases {len(demo.plans)}（{demo.start:%Y-%m-%d} 至 {demo.now:%Y-%m-%d}），全过程记录 timeline "
        f"entries {steps}，预警 alerts {alerts}",
        "  按状态 by status: " + " · ".join(f"{lc.STATE_LABELS[s]} {s} {by_status[s]}" for s in STATE_ORDER),
        "  结案结果 closed outcomes: " + " · ".join(f"{o} {n}" for o, n in sorted(outcomes.items())),
        "  来源 sources: " + " · ".join(f"{s} {n}" for s, n in by_source.most_common()),
        f"  演示账号 demo logins（统一密码 password: {DEMO_PASSWORD}"
        + ("" if demo.admin_created else "；admin 沿用已有密码 keeps its existing password") + "）:",
    ]
    lines += [f"    {ROLE_LABELS[role]} {role}: {', '.join(names)}" for role, names in DEMO_LOGINS]
    prefixes = ", ".join(f"{t.prefix}={t.name}" for t in TOWNSHIPS)
    depts = ", ".join(d.code.lower() for d in DEPARTMENTS)
    lines += [
        f"  用户名规则 usernames: <乡镇>_dispatcher / _liaison / _g1…g5 / _zfd_liaison / _zfd_officerN（{prefixes}）；",
        f"    <部门>_liaison / _officerN（{depts}）",
    ]
    return "\n".join(lines)

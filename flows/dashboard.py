"""The live dashboard (实时看板, docs/ui.md): today's figures for a township or the whole county.

Every figure is one grouped query (GROUP BY in SQL) over a range an index serves — open states, today's
`created_at` / `closed_at`, this month's stopped clocks, running check-in clocks, the newest timeline ids —
so the page costs the same with a million cases of history as with a hundred. No case row is loaded.
"""

from datetime import datetime, timedelta

from sqlalchemy import case as when_
from sqlalchemy import exists, func, select

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import COUNTY_ROLES, DEPARTMENT_ROLES, TOWNSHIP_ROLES, Actor
from chuishao.flows.bulletin import month_window, ratio
from chuishao.flows.cases import case_code, states_in
from chuishao.flows.clock import LOCAL_TZ, local
from chuishao.flows.errors import Forbidden
from chuishao.flows.units import UnitDirectory
from chuishao.models.cases import Case, Whistle
from chuishao.models.clocks import StepClock
from chuishao.models.db import Database
from chuishao.models.org import Unit
from chuishao.models.timeline import TimelineEntry
from chuishao.models.vocabulary import ALERT_SHORT_LABELS, METRIC_LABELS, STEP_LABELS

OPEN_ORDER = (lc.REPORTED, lc.ACCEPTED, lc.DISPATCHED, lc.RETURNED, lc.DISPUTED, lc.HANDLING, lc.FEEDBACK,
              lc.SUSPENDED)  # the open states in the order a case meets them; suspended last
ALERT_LEVELS = tuple((level, ALERT_SHORT_LABELS[level]) for level in ("warning", "overdue", "escalated"))
PAST_DEADLINE = frozenset({"overdue", "escalated"})  # 超期: 红灯, and 督办 (escalated is later still)
LATEST = 10


def day_window(now: datetime) -> tuple[datetime, datetime]:
    """The Asia/Shanghai calendar day holding `now`: local midnight to the next local midnight (aware)."""
    d = now.astimezone(LOCAL_TZ).date()
    start = datetime(d.year, d.month, d.day, tzinfo=LOCAL_TZ)
    return start, start + timedelta(days=1)


def scope_of(actor: Actor) -> str:
    """'county', 'township' or 'department'. Raises Forbidden (403) for a grid worker or an integrator."""
    if actor.role in COUNTY_ROLES:
        return "county"
    if actor.role in TOWNSHIP_ROLES:
        return "township"
    if actor.role in DEPARTMENT_ROLES:
        return "department"
    raise Forbidden("看板面向乡镇、部门和县级人员", "the dashboard is for township, department and county staff")


def _cases_in_scope(stmt, actor: Actor, scope: str):
    """The visibility rule (docs/access.md#scope) on a statement that selects from (or joins) `cases`."""
    if scope == "township":
        return stmt.where(Case.township_id == actor.township_id)
    if scope == "department":
        return stmt.where(exists().where(Whistle.case_id == Case.id, Whistle.unit_id == actor.unit_id))
    return stmt


def _clocks_in_scope(stmt, actor: Actor, scope: str):
    """Clocks of the township's cases; a department's own clocks (its whistles' check-ins, its handling)."""
    if scope == "township":
        return stmt.join(Case, Case.id == StepClock.case_id).where(Case.township_id == actor.township_id)
    if scope == "department":
        return stmt.where(StepClock.unit_id == actor.unit_id)
    return stmt


class RatesCache:
    """The month's on-time rates per scope, kept for `ttl` (by the injected clock): they are month-to-date
    percentages that a minute's lag does not change, and the most expensive figure to count (every clock
    stopped this month, joined to its case for a township). One per app; the live counts are never cached."""

    def __init__(self, ttl: timedelta = timedelta(seconds=60), size: int = 512):
        self.ttl, self.size = ttl, size
        self._kept: dict[tuple, tuple[datetime, dict]] = {}

    def get(self, key: tuple, now: datetime) -> dict | None:
        hit = self._kept.get(key)
        if hit is None or not timedelta(0) <= now - hit[0] < self.ttl:
            return None
        return hit[1]

    def put(self, key: tuple, now: datetime, rates: dict) -> None:
        if len(self._kept) >= self.size:  # scopes are few (county, townships, departments): never reached
            self._kept.clear()
        self._kept[key] = (now, rates)


async def figures(db: Database, units: UnitDirectory, actor: Actor, now: datetime, *,
                  rates_cache: RatesCache | None = None) -> dict:
    """Today's dashboard figures within the caller's scope.

    Scope (docs/access.md#scope): county supervisor and admin — the whole county; township dispatcher and
    liaison — their township's cases; department liaison and officer — the cases ever whistled to their unit
    (as the case list shows them), and for the rates their own unit's clocks. Grid workers: Forbidden (403).

    "Today" is the Asia/Shanghai calendar day holding `now`; "this month" its calendar month. Times in the
    database are UTC; every time returned is ISO 8601 in Asia/Shanghai. Counts are numbers of cases unless
    said otherwise.

    Returns a dict:
      scope: {kind: county|township|department, code, name} — whose figures these are.
      generated_at, today (YYYY-MM-DD), month (YYYY-MM).
      totals: open — cases in an open state (not closed, rejected or merged), suspended included;
        new_today — cases created today; closed_today — cases whose closed_at (a passed verification) is
        today; warning / overdue / escalated — open cases whose alert (cases.alert, the level of the
        running clock the case shows) is 黄灯 / 红灯 / 督办, each case counted once at its level;
        suspended — open cases suspended (挂起).
      by_step: six entries {step 1–6, name, open, suspended}: open — open, not suspended cases whose state is
        at that step (lifecycle.STEP: returned and disputed are step 3); suspended — suspended cases counted
        by the step they left. Step 6 (核查结案) holds no open case; its closures today are totals.closed_today.
      by_status: one entry per open state {status, label, count}, suspended included, in loop order.
      alerts: [{level, label, count}] for 黄灯, 红灯, 督办 — the same counts as totals.
      by_township: [{code, name, short, open, overdue, new_today, closed_today}] — overdue = open cases at
        红灯 or 督办; short = the name without the county's name in front (chart labels). County: every
        township; township: its own; department: townships with any figure. Sorted by open, then overdue,
        descending.
      by_department: [{code, name, short, kind, open, overdue, awaiting_check_in}] — open / overdue: open
        cases whose lead unit (主办) it is; awaiting_check_in: its whistles not yet checked in (running check-in clocks;
        a whistle, not a case). County: every department and township team; township: units with any figure
        on its cases; department: its own unit.
      rates: check_in (及时报到率) and on_time (按期办结率), each {label, num, den, rate}: among check-in
        (resp. handling) clocks that stopped this month because the step was done, those done by their
        deadline (suspended time excluded, approved extensions included, frozen when the step finished) —
        num — over all of them — den; rate = num/den rounded to 4 places, None when den is 0. With
        `rates_cache` (the web page passes one) they may be up to its ttl (60 s) old.
      latest: the newest 10 timeline entries (by entry id: the order they were written) on cases in scope:
        {id, case_id, code, title, action, label, from_state, to_state, to_label, actor, unit, unit_name, at}.

    Raises Forbidden for a caller with no dashboard (grid worker, integrator).
    """
    scope = scope_of(actor)
    day_a, day_b = day_window(now)
    local_now = now.astimezone(LOCAL_TZ)
    month = f"{local_now.year:04d}-{local_now.month:02d}"
    month_a, month_b = month_window(month)
    open_states = tuple(lc.OPEN_STATES)

    async with db.read() as s:
        unit_rows = (await s.execute(select(Unit.id, Unit.code, Unit.name, Unit.kind).where(
            Unit.kind.in_(("county", "township", "department", "team"))))).all()
        info = {uid: (code, name, kind) for uid, code, name, kind in unit_rows}
        me = await units.get(s, actor.unit_id)

        # one pass over the open cases: every open figure is a sum over these few groups
        open_groups = (await s.execute(_cases_in_scope(
            select(Case.township_id, Case.lead_unit_id, Case.status, Case.suspended_from, Case.alert, func.count())
            .where(Case.status.in_(states_in(open_states)))
            .group_by(Case.township_id, Case.lead_unit_id, Case.status, Case.suspended_from, Case.alert),
            actor, scope))).all()
        new_today = dict((await s.execute(_cases_in_scope(
            select(Case.township_id, func.count()).where(Case.created_at >= day_a, Case.created_at < day_b)
            .group_by(Case.township_id), actor, scope))).all())
        closed_today = dict((await s.execute(_cases_in_scope(
            select(Case.township_id, func.count()).where(Case.closed_at >= day_a, Case.closed_at < day_b)
            .group_by(Case.township_id), actor, scope))).all())
        awaiting = dict((await s.execute(_clocks_in_scope(
            select(StepClock.unit_id, func.count()).where(StepClock.kind == "check_in",
                                                          StepClock.stopped_at.is_(None))
            .group_by(StepClock.unit_id), actor, scope))).all())
        rates_key = (scope, actor.township_id if scope == "township" else actor.unit_id, month)
        kept = rates_cache.get(rates_key, now) if rates_cache is not None else None
        rates = {k: dict(v) for k, v in kept.items()} if kept else None
        if rates is None:
            stopped = {kind: (n, on) for kind, n, on in (await s.execute(_clocks_in_scope(
                select(StepClock.kind, func.count(), func.sum(when_((StepClock.on_time.is_(True), 1), else_=0)))
                .where(StepClock.kind.in_(("check_in", "handle")), StepClock.stopped_at >= month_a,
                       StepClock.stopped_at < month_b, StepClock.ended_by == "done")
                .group_by(StepClock.kind), actor, scope))).all()}
            rates = {}
            for key, kind in (("check_in", "check_in"), ("on_time", "handle")):
                n, on = stopped.get(kind, (0, 0))
                rates[key] = {"label": METRIC_LABELS[key], **ratio(on or 0, n or 0)}
            if rates_cache is not None:
                rates_cache.put(rates_key, now, rates)
        latest_rows = (await s.execute(_cases_in_scope(
            select(TimelineEntry.id, TimelineEntry.case_id, TimelineEntry.at, TimelineEntry.actor,
                   TimelineEntry.unit, TimelineEntry.action, TimelineEntry.from_state, TimelineEntry.to_state,
                   Case.title, Case.created_at)
            .join(Case, Case.id == TimelineEntry.case_id)
            .order_by(TimelineEntry.id.desc()).limit(LATEST), actor, scope))).all()
        unit_names = {}  # grids and the like are not in `info`; the in-process directory knows every unit
        for code in {row.unit for row in latest_rows if row.unit}:
            u = await units.by_code(s, code)
            unit_names[code] = u.name if u else code

    totals = {"open": 0, "new_today": sum(new_today.values()), "closed_today": sum(closed_today.values()),
              "warning": 0, "overdue": 0, "escalated": 0, "suspended": 0}
    steps = {n: {"step": n, "name": STEP_LABELS[n - 1], "open": 0, "suspended": 0} for n in range(1, 7)}
    statuses = dict.fromkeys(OPEN_ORDER, 0)
    t_open: dict[int, int] = {}
    t_overdue: dict[int, int] = {}
    d_open: dict[int, int] = {}
    d_overdue: dict[int, int] = {}
    for township_id, lead_id, status, suspended_from, alert, n in open_groups:
        totals["open"] += n
        statuses[status] = statuses.get(status, 0) + n
        if status == lc.SUSPENDED:
            totals["suspended"] += n
            if suspended_from in lc.STEP:
                steps[lc.STEP[suspended_from]]["suspended"] += n
        else:
            steps[lc.STEP[status]]["open"] += n
        if alert in totals:
            totals[alert] += n
        late = alert in PAST_DEADLINE
        t_open[township_id] = t_open.get(township_id, 0) + n
        t_overdue[township_id] = t_overdue.get(township_id, 0) + (n if late else 0)
        if lead_id is not None:
            d_open[lead_id] = d_open.get(lead_id, 0) + n
            d_overdue[lead_id] = d_overdue.get(lead_id, 0) + (n if late else 0)

    def pick(kinds: tuple[str, ...], wanted) -> list[int]:
        return [uid for uid, (_c, _n, kind) in info.items() if kind in kinds and wanted(uid)]

    if scope == "county":
        township_ids = pick(("township",), lambda _: True)
        department_ids = pick(("department", "team"), lambda _: True)
    elif scope == "township":
        township_ids = [actor.township_id]
        department_ids = pick(("department", "team"), lambda u: d_open.get(u) or awaiting.get(u))
    else:
        township_ids = pick(("township",), lambda u: t_open.get(u) or new_today.get(u) or closed_today.get(u))
        department_ids = [actor.unit_id]

    county_name = next((n for _c, n, k in info.values() if k == "county"), "")

    def short(name: str) -> str:  # "文水县应急管理局" → "应急管理局": chart labels are narrow
        return name[len(county_name):] if county_name and name.startswith(county_name) \
            and len(name) > len(county_name) + 1 else name

    by_township = sorted(({
        "code": info[u][0], "name": info[u][1], "short": short(info[u][1]), "open": t_open.get(u, 0),
        "overdue": t_overdue.get(u, 0), "new_today": new_today.get(u, 0), "closed_today": closed_today.get(u, 0),
    } for u in township_ids if u in info), key=lambda r: (-r["open"], -r["overdue"], r["code"]))
    by_department = sorted(({
        "code": info[u][0], "name": info[u][1], "short": short(info[u][1]), "kind": info[u][2],
        "open": d_open.get(u, 0), "overdue": d_overdue.get(u, 0), "awaiting_check_in": awaiting.get(u, 0),
    } for u in department_ids if u in info),
        key=lambda r: (-r["open"], -r["overdue"], -r["awaiting_check_in"], r["code"]))

    latest = [{
        "id": tid, "case_id": cid, "code": case_code(Case(id=cid, created_at=created)), "title": title,
        "action": action, "label": lc.ACTION_LABELS.get(action, action), "from_state": frm, "to_state": to,
        "to_label": lc.STATE_LABELS.get(to, "") if to else "", "actor": who, "unit": unit,
        "unit_name": unit_names.get(unit) or unit, "at": local(at),
    } for tid, cid, at, who, unit, action, frm, to, title, created in latest_rows]

    if scope == "county":
        county = next(((c, n) for c, n, k in info.values() if k == "county"), (actor.unit_code, "全县"))
        scope_info = {"kind": scope, "code": county[0], "name": county[1] or "全县"}
    else:
        scope_info = {"kind": scope, "code": me.code if me else actor.unit_code,
                      "name": me.name if me else actor.unit_code}
        if scope == "township" and actor.township_id in info:
            scope_info |= {"code": info[actor.township_id][0], "name": info[actor.township_id][1]}

    return {
        "scope": scope_info,
        "generated_at": local(now),
        "today": day_a.date().isoformat(),
        "month": month,
        "totals": totals,
        "by_step": list(steps.values()),
        "by_status": [{"status": st, "label": lc.STATE_LABELS[st], "count": statuses.get(st, 0)} for st in OPEN_ORDER],
        "alerts": [{"level": lvl, "label": label, "count": totals[lvl]} for lvl, label in ALERT_LEVELS],
        "by_township": by_township,
        "by_department": by_department,
        "rates": rates,
        "latest": latest,
    }

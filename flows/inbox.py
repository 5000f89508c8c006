"""My work (待办) and the case list (案件) the pages show.

`WAITING` below says, once, which cases wait for which role: the states each role acts in, read off the
transition table in `lifecycle.py`, with the extra condition that makes a case theirs. The same table gives
the SQL (`waiting_clause`, so the database filters, orders and pages) and the short verb each row shows
("待受理"). tests/test_inbox.py checks it against `lifecycle.allowed_actions`, so the two cannot drift apart
silently.

Both lists go through `CaseService.list`: it scopes by role, validates filters and batch-loads whistles,
extensions and clocks for the page (one query for the page, one count, no query per case).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, select

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import (
    ADMIN,
    COUNTY_ROLES,
    DEPARTMENT_ROLES,
    DEPT_LIAISON,
    DEPT_OFFICER,
    DISPATCHER,
    LEGAL_REVIEWER,
    SUPERVISOR,
    TOWNSHIP_LIAISON,
    TOWNSHIP_ROLES,
    Actor,
)
from chuishao.flows.cases import ALERTS, CaseService, states_in
from chuishao.flows.errors import Invalid
from chuishao.models.cases import Case, Extension, Whistle
from chuishao.models.org import Unit
from chuishao.models.vocabulary import ALERT_SHORT_LABELS, EXTENSION_PENDING, WHISTLE_SENT

# ---- what waits for whom ------------------------------------------------------------------------
# Extra conditions beyond the case's state. Each has an SQL form (`_sql`) and a Python form (`_holds`),
# side by side below; keep them in step.
PENDING_EXTENSION = "pending_extension"  # the lead unit asked for more time (延期申请待审批)
OWN_WHISTLE_SENT = "own_whistle_sent"  # an active whistle of my unit not yet checked in (待报到)
OWN_LEAD = "own_lead"  # my unit is the lead unit (主办) of the case
ESCALATED = "escalated"  # the running clock reached 督办 (a working day past the deadline)


@dataclass(frozen=True)
class Wait:
    verb: str  # what the row says is expected of me: "待受理"
    states: frozenset[str]
    actions: tuple[str, ...]  # the actions that clear it (lifecycle.TRANSITIONS); the drift check uses them
    when: str | None = None  # one extra condition above, or None


def W(verb: str, states, actions, when: str | None = None) -> Wait:
    return Wait(verb, frozenset(states), tuple(actions), when)


# Township staff see only their own township; department staff only cases whistled to their unit
# (CaseService._scope adds that on top). The first line that matches a case gives its verb.
_DEPT = (
    W("待报到", [lc.DISPATCHED, lc.HANDLING], ["check_in", "return"], OWN_WHISTLE_SENT),
    W("待反馈", [lc.HANDLING], ["feedback", "request_extension"], OWN_LEAD),
)
WAITING: dict[str, tuple[Wait, ...]] = {
    #  role               verb            states                  actions that clear it                   condition
    DISPATCHER: (
        W("待受理",        [lc.REPORTED],  ["accept", "reject", "merge"]),
        W("待吹哨",        [lc.ACCEPTED],  ["dispatch", "merge"]),
        W("待重新吹哨",    [lc.RETURNED],  ["dispatch", "escalate_dispute"]),
    ),
    TOWNSHIP_LIAISON: (
        W("待核查",        [lc.FEEDBACK],  ["verify"]),
        W("待审批延期",    [lc.HANDLING],  ["approve_extension", "deny_extension"],    PENDING_EXTENSION),
        W("待恢复",        [lc.SUSPENDED], ["resume"]),
    ),
    DEPT_LIAISON: _DEPT,
    DEPT_OFFICER: _DEPT,
    SUPERVISOR: (
        W("待裁定",        [lc.DISPUTED],  ["arbitrate"]),
        W("待督办",        lc.OPEN_STATES, ["supervise"],                             ESCALATED),
    ),
    LEGAL_REVIEWER: (  # 法制审核员: the major decisions of their scope (CaseService._scope)
        W("待法制审核",    [lc.LEGAL_REVIEW], ["approve_legal_review", "return_legal_review"]),
    ),
    ADMIN: (),  # nothing waits for the admin
}  # fmt: skip

# Actions a role may take on almost any open case but that no case waits for: they never put a case in
# anyone's inbox (the supervisor's 督办 of an escalated case does, through the ESCALATED line above).
OPTIONAL_ACTIONS = frozenset({"urge", "supervise", "suspend"})


def _sql(w: Wait, actor: Actor) -> ColumnElement:
    cond = Case.status.in_(states_in(w.states))
    if w.when == PENDING_EXTENSION:
        cond &= Case.id.in_(select(Extension.case_id).where(Extension.state == EXTENSION_PENDING))
    elif w.when == OWN_WHISTLE_SENT:
        cond &= Case.id.in_(select(Whistle.case_id).where(
            Whistle.unit_id == actor.unit_id, Whistle.active.is_(True), Whistle.state == WHISTLE_SENT))
    elif w.when == OWN_LEAD:
        cond &= Case.lead_unit_id == actor.unit_id  # the active lead's unit, kept on the row (None once returned)
    elif w.when == ESCALATED:
        cond &= Case.alert == "escalated"
    return cond


def _holds(w: Wait, case: dict, actor: Actor) -> bool:
    """The same rule on a case view (CaseService._view)."""
    if case["status"] not in w.states:
        return False
    if w.when == PENDING_EXTENSION:
        return case["pending_extension"] is not None
    if w.when == OWN_WHISTLE_SENT:
        return any(x["unit"] == actor.unit_code and x["active"] and x["state"] == WHISTLE_SENT
                   for x in case["whistles"])
    if w.when == OWN_LEAD:
        return case["lead_unit"] == actor.unit_code
    if w.when == ESCALATED:
        return case["alert"] == "escalated"
    return True


def waiting_clause(actor: Actor) -> ColumnElement:
    """SQL condition on `cases`: the case waits for this actor (their scope is added by CaseService.list)."""
    waits = WAITING.get(actor.role, ())
    return or_(*(_sql(w, actor) for w in waits)) if waits else false()


def waiting_for(case: dict, actor: Actor) -> Wait | None:
    """The line of WAITING that puts this case (a case view) in the actor's inbox, or None."""
    return next((w for w in WAITING.get(actor.role, ()) if _holds(w, case, actor)), None)


# ---- filters of the case list -------------------------------------------------------------------
OPEN = "open"  # a status choice of the page: every state not final
STATUS_CHOICES = [(OPEN, "全部未办结")] + [(s, label) for s, label in lc.STATE_LABELS.items()]
ALERT_CHOICES = list(ALERT_SHORT_LABELS.items())
assert [a for a, _ in ALERT_CHOICES] == list(ALERTS)
MAX_Q = 100  # the REST API's limit on the search text
INBOX_PAGE_SIZE = 50  # a command centre scans a long list; the phone scrolls
CASES_PAGE_SIZE = 20


@dataclass
class Filters:
    """The case list's filters as the page's GET form sends them (strings; empty means no filter)."""

    status: str = ""
    township: str = ""
    unit: str = ""
    alert: str = ""
    q: str = ""
    page: str = "1"

    def query(self, **change) -> dict:
        """The non-empty filters as query parameters, with `change` applied (e.g. page=3)."""
        values = {**self.__dict__, **{k: str(v) for k, v in change.items()}}
        if values.get("page") == "1":
            values.pop("page")
        return {k: v for k, v in values.items() if v}


@dataclass
class Options:
    statuses: list[tuple[str, str]]
    alerts: list[tuple[str, str]]
    townships: list[tuple[str, str]]  # (code, name); empty when the role's scope is one township
    units: list[tuple[str, str]]  # departments and township teams that receive whistles; empty for departments


class InboxService:
    """Reads for the 待办 and 案件 pages. Stateless; build one per request over the app's CaseService."""

    def __init__(self, cases: CaseService):
        self.cases = cases
        self.db = cases.db

    async def _names(self, items: list[dict]) -> list[dict]:
        """Add the township's and the lead unit's names to case views (the unit directory is in memory)."""
        units = self.cases.units
        async with self.db.read() as s:  # opens a connection only if the directory misses a code
            for item in items:
                t = await units.by_code(s, item["township"]) if item["township"] else None
                lead = await units.by_code(s, item["lead_unit"]) if item["lead_unit"] else None
                item["township_name"] = t.name if t else None
                item["lead_unit_name"] = lead.name if lead else None
        return items

    def _decorate(self, items: list[dict], actor: Actor, now: datetime) -> list[dict]:
        for item in items:
            w = waiting_for(item, actor)
            item["waiting"] = w.verb if w else None
            item["waiting_actions"] = w.actions if w else ()
            # past the deadline by the wall clock: after hours that can be 0 working minutes, still overdue
            item["overdue"] = item["deadline"] is not None and datetime.fromisoformat(item["deadline"]) <= now
        return items

    async def waiting(self, actor: Actor, now: datetime, page: int = 1,
                      page_size: int = INBOX_PAGE_SIZE) -> dict:
        """What waits for the actor, soonest deadline first (overdue first, no deadline last).
        Returns {"items": [case view + "waiting" verb, "township_name", "lead_unit_name"], "total", "page",
        "page_size"}; a page past the end gives the last page."""
        result = await self.cases.list(actor, now, page=page, page_size=page_size, order="deadline",
                                       where=waiting_clause(actor))
        if not result["items"] and result["total"] and page > 1:
            last = (result["total"] + page_size - 1) // page_size
            result = await self.cases.list(actor, now, page=last, page_size=page_size, order="deadline",
                                           where=waiting_clause(actor))
        self._decorate(await self._names(result["items"]), actor, now)
        return result

    async def options(self, actor: Actor) -> Options:
        """The choices of the case list's selects for this actor."""
        townships, units = [], []
        async with self.db.read() as s:
            if actor.role not in TOWNSHIP_ROLES:
                townships = [(u.code, u.name) for u in (await s.execute(
                    select(Unit).where(Unit.kind == "township").order_by(Unit.id))).scalars()]
            if actor.role not in DEPARTMENT_ROLES:
                stmt = select(Unit).where(Unit.kind.in_(("department", "team"))).order_by(Unit.kind, Unit.id)
                rows = (await s.execute(stmt)).scalars().all()
                # a township sees its own team, not the other townships' teams
                units = [(u.code, u.name) for u in rows
                         if u.kind == "department" or actor.role in COUNTY_ROLES or u.parent_id == actor.township_id]
        return Options(STATUS_CHOICES, ALERT_CHOICES, townships, units)

    async def listing(self, actor: Actor, now: datetime, f: Filters,
                      options: Options | None = None) -> tuple[dict | None, dict[str, str]]:
        """The case list for the filters: (result as `waiting` returns it, errors by field). With errors
        the result is None and no case was read; each message says how to fix the value. `options`: the
        actor's choices if the caller already has them."""
        errors = self.check(f, options or await self.options(actor))
        if errors:
            return None, errors
        page = int(f.page or 1)
        status = ",".join(sorted(lc.OPEN_STATES)) if f.status == OPEN else f.status or None
        kw = dict(status=status, township=f.township or None, unit=f.unit or None, alert=f.alert or None,
                  q=f.q.strip() or None, page_size=CASES_PAGE_SIZE)
        try:
            result = await self.cases.list(actor, now, page=page, **kw)
            if not result["items"] and result["total"] and page > 1:
                last = (result["total"] + CASES_PAGE_SIZE - 1) // CASES_PAGE_SIZE
                result = await self.cases.list(actor, now, page=last, **kw)
        except Invalid as e:  # the service's own check, should a value slip past ours
            return None, {"_": e.zh}
        self._decorate(await self._names(result["items"]), actor, now)
        return result, {}

    @staticmethod
    def check(f: Filters, opts: Options) -> dict[str, str]:
        """Errors by field for filter values that are not among the actor's choices (`options`)."""
        errors = {}
        if f.status and f.status not in dict(opts.statuses):
            errors["status"] = "状态不正确，请从列表中选择"
        if f.township and f.township not in dict(opts.townships):
            errors["township"] = "乡镇不正确，请从列表中选择"
        if f.unit and f.unit not in dict(opts.units):
            errors["unit"] = "单位不正确，请从列表中选择"
        if f.alert and f.alert not in dict(opts.alerts):
            errors["alert"] = "预警状态不正确，请从列表中选择"
        if len(f.q) > MAX_Q:
            errors["q"] = f"搜索内容不能超过 {MAX_Q} 个字"
        if f.page and not (f.page.isascii() and f.page.isdigit() and 1 <= int(f.page) <= 100000):
            errors["_"] = "页码不正确，请从第 1 页开始"
        return errors

"""行政执法公示 (docs/disclosure.md): the public list of closed cases of catalog items marked for disclosure, the
township's decisions to withhold a case from it, and the admin's setting of the disclosure period.

The rule (docs/disclosure.md):
- A case is disclosed when it is closed (核查结案), its catalog item is marked `disclose` (read now, so marking an
  item publishes its past closed cases too), and the township has not withheld it (its latest decision in
  `disclosure_decisions` is not a withholding).
- Its publication day (公示日) is the N-th working day after the day it was closed (Asia/Shanghai, on the working
  calendar), N = the admin's `working_days` (default 7; 0 = at closure). It is listed from 00:00 of that day on and
  stays listed (the archive by closing month): every result is public no later than N working days after the
  decision (行政执法公示制度, 7 个工作日内公开), and the township has the working days before that to review it. A
  case withheld after its publication day disappears from the list at once.
- Shown: item, township, place (the address cut to the village), closing date, lead unit, outcome (Chinese label)
  and the lead unit's feedback result, with personal data masked by flows/masking.py (the reporter's, the
  Open311 requester's, the submitting officer's and the named officers' names exactly, and the rules).
- Only the township's dispatcher or liaison of the case's township may withhold it or release it again, each with a
  reason; every decision is kept (who, unit, role, when, why). Anyone else: 403; an unknown case: 404; a case that is
  not closed or whose item is not disclosed: 422.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import Field
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from chuishao.flows.access import COUNTY_ROLES, TOWNSHIP_ROLES, Actor
from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.cases import case_code
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.commands import Body, Reason, parse_body
from chuishao.flows.errors import Forbidden, Invalid, NotAllowed, NotFound
from chuishao.flows.masking import mask, village_of
from chuishao.flows.periods import month_window, parse_month
from chuishao.flows.settings import read_setting, write_setting
from chuishao.models.cases import Case, Feedback
from chuishao.models.catalog import CatalogItem
from chuishao.models.db import Database
from chuishao.models.disclosure import DisclosureDecision
from chuishao.models.open311 import Open311Request
from chuishao.models.org import Unit, User
from chuishao.models.vocabulary import OUTCOME_LABELS, ROLE_LABELS

SETTINGS_KEY = "disclosure"  # {"working_days": int}, kept by the admin
DEFAULT_WORKING_DAYS = 7
MAX_WORKING_DAYS = 30
MAX_PAGE_SIZE = 100
MAX_SCAN_DAYS = 3660
CLOSED = "closed"


class DecisionIn(Body):
    """不予公示 / 恢复公示: why (required)."""

    reason: Reason


class SettingsIn(Body):
    working_days: Annotated[int, Field(ge=0, le=MAX_WORKING_DAYS)] = DEFAULT_WORKING_DAYS


@dataclass(frozen=True)
class Filters:
    """The public list's filters: township and item codes, the closing month ('2026-11'), page (from 1)."""

    township: str | None = None
    item: str | None = None
    month: str | None = None
    page: int = 1
    page_size: int = 20


# ---- the period ---------------------------------------------------------------------------------------------
async def period(db: Database) -> dict:
    """{"working_days": int, "stored": bool}: the disclosure period the admin set (default 7)."""
    kept = await read_setting(db, SETTINGS_KEY)
    days = (kept or {}).get("working_days")
    ok = isinstance(days, int) and 0 <= days <= MAX_WORKING_DAYS
    return {"working_days": days if ok else DEFAULT_WORKING_DAYS, "stored": kept is not None}


async def set_period(db: Database, raw: dict) -> dict:
    """Save {"working_days": 0–30}. Returns {"working_days"}. Raises Invalid (422) for anything else."""
    body = parse_body(SettingsIn, raw)
    return await write_setting(db, SETTINGS_KEY, {"working_days": body.working_days})


def publication_day(cal: WorkingCalendar, closed_at: datetime, working_days: int) -> date:
    """The day a case closed at `closed_at` (UTC) is published: the `working_days`-th working day after its closing
    day in Asia/Shanghai (the closing day itself for 0)."""
    d = closed_at.astimezone(LOCAL_TZ).date()
    counted = 0
    for _ in range(MAX_SCAN_DAYS):
        if counted == working_days:
            return d
        d += timedelta(days=1)
        counted += cal.is_workday(d)
    raise ValueError("no working day found within ten years")


def cutoff(cal: WorkingCalendar, now: datetime, working_days: int) -> datetime:
    """Cases closed before this moment (UTC) have reached their publication day at `now`; the inverse of
    `publication_day`, so the list can be filtered and paged in SQL. For N >= 1: 00:00 of the N-th working day
    counted back from the latest working day up to today (that day counting as the first)."""
    if working_days == 0:
        return now + timedelta(microseconds=1)
    d = now.astimezone(LOCAL_TZ).date()
    counted = 0
    for _ in range(MAX_SCAN_DAYS):
        if cal.is_workday(d):
            counted += 1
            if counted == working_days:
                return datetime.combine(d, time(0), LOCAL_TZ).astimezone(UTC)
        d -= timedelta(days=1)
    raise ValueError("no working day found within ten years")


# ---- what is listed -----------------------------------------------------------------------------------------
_Latest = aliased(DisclosureDecision)
_Withheld = aliased(DisclosureDecision)
_LATEST_ID = select(func.max(_Latest.id)).where(_Latest.case_id == Case.id).correlate(Case).scalar_subquery()
WITHHELD_NOW = exists().where(_Withheld.id == _LATEST_ID, _Withheld.withheld.is_(True))
IN_SCOPE = and_(Case.status == CLOSED, CatalogItem.disclose.is_(True))


def _local(at: datetime) -> str:
    """ISO 8601 in Asia/Shanghai with its offset (+08:00), as the rest of the API shows times."""
    return at.astimezone(LOCAL_TZ).isoformat()


def _month(text: str | None) -> tuple[datetime, datetime] | None:
    if not text:
        return None
    start, end = month_window(parse_month(text))
    return start.astimezone(UTC), end.astimezone(UTC)


async def public_list(db: Database, cal: WorkingCalendar, now: datetime, filters: Filters = Filters()) -> dict:
    """The public page's list, newest closure first: {"items": [row], "total", "page", "page_size", "pages",
    "working_days", "county" (the county unit's name, "" without one), "filters": {"townships": [{code, name}],
    "items": [{code, name}]}}; each row as `_row` makes it
    (masked). Unknown township or item codes list nothing; a malformed month is Invalid (422)."""
    days = (await period(db))["working_days"]
    page, size = max(1, filters.page), max(1, min(filters.page_size, MAX_PAGE_SIZE))
    where = [IN_SCOPE, Case.closed_at < cutoff(cal, now, days), ~WITHHELD_NOW]
    window = _month(filters.month)
    if window:
        where += [Case.closed_at >= window[0], Case.closed_at < window[1]]
    if filters.item:
        where.append(CatalogItem.code == filters.item)
    async with db.read() as s:
        units = {u.id: u for u in (await s.execute(select(Unit))).scalars()}
        if filters.township:
            ids = [u.id for u in units.values() if u.code == filters.township and u.kind == "township"]
            where.append(Case.township_id == (ids[0] if ids else -1))
        base = select(Case, CatalogItem.name).join(CatalogItem, CatalogItem.code == Case.category).where(*where)
        total = (await s.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
        rows = (await s.execute(base.order_by(Case.closed_at.desc(), Case.id.desc())
                                .offset((page - 1) * size).limit(size))).all()
        items = [{"code": c, "name": n} for c, n in (await s.execute(
            select(CatalogItem.code, CatalogItem.name).where(CatalogItem.disclose.is_(True))
            .order_by(CatalogItem.code))).all()]
        out = await _rows(s, cal, days, rows, units)
    townships = sorted(({"code": u.code, "name": u.name} for u in units.values() if u.kind == "township"),
                       key=lambda t: t["code"])
    county = next((u.name for u in sorted(units.values(), key=lambda u: u.id) if u.kind == "county"), "")
    return {"items": out, "total": total, "page": page, "page_size": size, "pages": max(1, -(-total // size)),
            "working_days": days, "county": county, "filters": {"townships": townships, "items": items}}


async def _rows(s, cal: WorkingCalendar, days: int, rows, units: dict[int, Unit]) -> list[dict]:
    """The public form of each (case, item name): masked with the names the case knows."""
    ids = [c.id for c, _ in rows]
    if not ids:
        return []
    feedback: dict[int, Feedback] = {}
    for f in (await s.execute(select(Feedback).where(Feedback.case_id.in_(ids)).order_by(Feedback.id))).scalars():
        feedback[f.case_id] = f  # the latest feedback of the case: the one verification closed it on
    requesters = {r.case_id: r for r in (await s.execute(
        select(Open311Request).where(Open311Request.case_id.in_(ids)))).scalars()}
    user_ids = {c.reporter_id for c, _ in rows} | {f.submitted_by_id for f in feedback.values()}
    usernames = {u for f in feedback.values() for u in f.officers}
    people = (await s.execute(select(User.id, User.username, User.name)
                              .where(User.id.in_(user_ids - {None}) | User.username.in_(usernames)))).all()
    name_by_id = {i: n for i, _, n in people}
    name_by_username = {u: n for _, u, n in people}
    out = []
    for case, item_name in rows:
        f = feedback.get(case.id)
        names = [name_by_id.get(case.reporter_id), *(name_by_username.get(u) for u in (f.officers if f else ())),
                 name_by_id.get(f.submitted_by_id) if f else None, *_requester_names(requesters.get(case.id))]
        out.append(_row(case, item_name, f, units, cal, days, [n for n in names if n]))
    return out


def _requester_names(r: Open311Request | None) -> Iterable[str]:
    if r is None:
        return ()
    first, last = (r.first_name or "").strip(), (r.last_name or "").strip()
    return [n for n in (last + first, first + last) if n]


def _row(case: Case, item_name: str, f: Feedback | None, units: dict[int, Unit], cal: WorkingCalendar, days: int,
         names: list[str]) -> dict:
    township, lead = units.get(case.township_id), units.get(case.lead_unit_id)
    return {
        "code": case_code(case),
        "item": item_name, "item_code": case.category,
        "township": township.name if township else None, "township_code": township.code if township else None,
        "place": _place(case.address, township.name if township else "", names),
        "closed_at": _local(case.closed_at),
        "closed_on": case.closed_at.astimezone(LOCAL_TZ).date().isoformat(),
        "published_on": publication_day(cal, case.closed_at, days).isoformat(),
        "lead_unit": lead.name if lead else None,
        "outcome": case.outcome, "outcome_label": OUTCOME_LABELS.get(case.outcome or "", None),
        "result": mask(f.result if f else "", names),
    }


def _place(address: str | None, township: str, names: list[str]) -> str | None:
    """The address cut to its village and masked, without the township's name the row already shows."""
    place = mask(village_of(address), names)
    short = (place or "").split(township, 1)[-1] if township else place
    return short or place


# ---- the township's review ----------------------------------------------------------------------------------
def _may_decide(who: Actor, case: Case) -> None:
    if who.role not in TOWNSHIP_ROLES or who.township_id != case.township_id:
        raise Forbidden("只有本乡镇的受理员或执法联络员可以决定是否公示该案件",
                        "only the dispatcher or liaison of the case's township may decide its disclosure")


def _may_read(who: Actor, case: Case) -> None:
    if who.role in COUNTY_ROLES:
        return
    _may_decide(who, case)


async def _case_in_scope(s, case_id: int) -> Case:
    case = await s.get(Case, case_id)
    if case is None:
        raise NotFound(f"案件 {case_id} 不存在", f"case {case_id} not found")
    return case


async def decide(db: Database, case_id: int, who: Actor, withheld: bool, raw: dict, now: datetime) -> dict:
    """不予公示 (withheld=True) or 恢复公示 (False) with {"reason"}, in one short transaction. Returns the case's
    disclosure state as `state_of`. Raises NotFound (404), Forbidden (403) outside the case's township or for
    another role, NotAllowed (422) when the case is not closed, its item is not disclosed, or it already is
    withheld (released), Invalid (422) for a missing or empty reason."""
    body = parse_body(DecisionIn, raw)
    async with db.transaction() as s:
        case = await _case_in_scope(s, case_id)
        _may_decide(who, case)
        disclosed = (await s.execute(select(CatalogItem.disclose).where(CatalogItem.code == case.category))).scalar()
        if case.status != CLOSED or not disclosed:
            raise NotAllowed("该案件不在公示范围：只有公示事项的已结案案件可以决定是否公示",
                             "only closed cases of items marked for disclosure can be withheld or released")
        latest = (await s.execute(select(DisclosureDecision.withheld).where(DisclosureDecision.case_id == case_id)
                                  .order_by(DisclosureDecision.id.desc()).limit(1))).scalar()
        if bool(latest) == withheld:
            raise NotAllowed("该案件已不予公示" if withheld else "该案件未被暂停公示，无需恢复",
                             "the case is already withheld" if withheld else "the case is not withheld")
        s.add(DisclosureDecision(case_id=case_id, withheld=withheld, reason=body.reason, by_id=who.id,
                                 unit_id=who.unit_id, role=who.role, at=now))
    return await state_of(db, case_id, who)


async def state_of(db: Database, case_id: int, who: Actor) -> dict:
    """A case's disclosure as its township (or county staff) sees it: {"case_id", "withheld": bool,
    "decisions": [{"withheld", "reason", "by", "by_name", "unit", "role", "role_label", "at"}] oldest first}.
    Raises NotFound (404), Forbidden (403) as `decide`."""
    async with db.read() as s:
        case = await _case_in_scope(s, case_id)
        _may_read(who, case)
        rows = (await s.execute(select(DisclosureDecision, User.username, User.name, Unit.name)
                                .join(User, User.id == DisclosureDecision.by_id)
                                .join(Unit, Unit.id == DisclosureDecision.unit_id)
                                .where(DisclosureDecision.case_id == case_id)
                                .order_by(DisclosureDecision.id))).all()
    decisions = [{"withheld": d.withheld, "reason": d.reason, "by": username, "by_name": name, "unit": unit,
                  "role": d.role, "role_label": ROLE_LABELS.get(d.role, d.role), "at": _local(d.at)}
                 for d, username, name, unit in rows]
    return {"case_id": case_id, "withheld": bool(decisions and decisions[-1]["withheld"]), "decisions": decisions}


async def township_list(db: Database, cal: WorkingCalendar, now: datetime, who: Actor, page: int = 1,
                        page_size: int = 20, state: str | None = None) -> dict:
    """The township's review list: its closed cases of disclosed items, newest closure first, each with its state
    (待公示 pending until its publication day, 已公示 published, 不予公示 withheld), publication day, the text as
    the public sees it, and every decision. `state` (pending, published, withheld; None: all) keeps only the cases
    in that state — pending is the township's window to withhold before the public sees the case.
    {"items", "total", "page", "page_size", "pages", "working_days", "state", "counts": {state: n, "all": n}}.
    Raises Forbidden (403) for anyone but township dispatchers and liaisons; Invalid (422) for an unknown state."""
    if who.role not in TOWNSHIP_ROLES:
        raise Forbidden("公示审核仅限乡镇受理员和执法联络员",
                        "only township dispatchers and liaisons review disclosure")
    if state is not None and state not in STATE_LABELS:
        raise Invalid("未知的公示状态", f"unknown state {state!r}")
    days = (await period(db))["working_days"]
    page, size = max(1, page), max(1, min(page_size, MAX_PAGE_SIZE))
    today = now.astimezone(LOCAL_TZ).date()
    before = cutoff(cal, now, days)
    states = {"pending": and_(Case.closed_at >= before, ~WITHHELD_NOW),
              "published": and_(Case.closed_at < before, ~WITHHELD_NOW), "withheld": WITHHELD_NOW}
    async with db.read() as s:
        units = {u.id: u for u in (await s.execute(select(Unit))).scalars()}
        everything = (select(Case, CatalogItem.name).join(CatalogItem, CatalogItem.code == Case.category)
                      .where(IN_SCOPE, Case.township_id == who.township_id))
        counts = {k: (await s.execute(select(func.count()).select_from(everything.where(w).subquery()))).scalar_one()
                  for k, w in states.items()}
        counts["all"] = sum(counts.values())
        base = everything.where(states[state]) if state else everything
        total = counts[state or "all"]
        rows = (await s.execute(base.order_by(Case.closed_at.desc(), Case.id.desc())
                                .offset((page - 1) * size).limit(size))).all()
        out = await _rows(s, cal, days, rows, units)
        ids = [c.id for c, _ in rows]
        history: dict[int, list] = {i: [] for i in ids}
        for d, name in (await s.execute(select(DisclosureDecision, User.name)
                                        .join(User, User.id == DisclosureDecision.by_id)
                                        .where(DisclosureDecision.case_id.in_(ids or [-1]))
                                        .order_by(DisclosureDecision.id))).all():
            history[d.case_id].append({"withheld": d.withheld, "reason": d.reason, "by_name": name,
                                       "role_label": ROLE_LABELS.get(d.role, d.role), "at": _local(d.at)})
    for (case, _), row in zip(rows, out, strict=True):
        row["case_id"] = case.id
        row["decisions"] = history[case.id]
        withheld = bool(history[case.id] and history[case.id][-1]["withheld"])
        published = date.fromisoformat(row["published_on"]) <= today
        row["state"] = "withheld" if withheld else ("published" if published else "pending")
    return {"items": out, "total": total, "page": page, "page_size": size, "pages": max(1, -(-total // size)),
            "working_days": days, "state": state, "counts": counts}


STATE_LABELS = {"pending": "待公示", "published": "已公示", "withheld": "不予公示"}


# ---- the catalog's flag -------------------------------------------------------------------------------------
async def set_disclosed_items(db: Database, codes: Iterable[str]) -> list[str]:
    """Mark exactly the catalog items `codes` for disclosure (the rest unmarked), in one transaction. Returns the
    marked codes, sorted. Raises Invalid (422) naming any unknown code."""
    wanted = set(codes)
    async with db.transaction() as s:
        items = (await s.execute(select(CatalogItem))).scalars().all()
        unknown = wanted - {i.code for i in items}
        if unknown:
            raise Invalid(f"事项不存在：{'、'.join(sorted(unknown))}", f"unknown catalog items: {sorted(unknown)}")
        for item in items:
            if item.disclose != (item.code in wanted):
                item.disclose = item.code in wanted
    return sorted(wanted)

"""The weekly checkpoint (每周一检点, docs/bulletin-definitions.md#weekly-checkpoint): for the previous ISO
week, per township and per department, what came in, what was closed, what is open by step, and the lists that
need a push — each line a case."""

from datetime import datetime

from sqlalchemy import and_, func, select

from chuishao.flows import lifecycle as lc
from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.clock import LOCAL_TZ, local
from chuishao.flows.periods import in_progress, records_begin, refuse_before_records, week_window
from chuishao.flows.periods import previous_week as previous_week  # the Monday job's week, where it always was
from chuishao.models.cases import Case, Whistle
from chuishao.models.db import Database
from chuishao.models.org import Unit
from chuishao.models.timeline import TimelineEntry
from chuishao.models.vocabulary import ALERT_SHORT_LABELS

STALLED_WORKING_DAYS = 5
LIST_LIMIT = 100  # per list; the count beside it is always the full number


def _line(c: Case) -> dict:
    return {"id": c.id, "code": f"CS{c.created_at.astimezone(LOCAL_TZ):%Y%m%d}{c.id:06d}", "title": c.title,
            "status": c.status, "status_label": lc.STATE_LABELS[c.status], "alert": c.alert,
            "alert_label": ALERT_SHORT_LABELS.get(c.alert, c.alert),
            "deadline": local(c.deadline), "url": f"/cases/{c.id}"}


def _listing(cases: list[Case]) -> dict:
    return {"count": len(cases), "cases": [_line(c) for c in cases[:LIST_LIMIT]]}


def section_totals(section: dict, cases: int | None = None) -> dict:
    """One township's or department's totals in the shape of the county's: {"cases" (every case in its scope;
    None when not known), "new", "accepted" (townships only), "closed", "open" (at generation)} — the counts
    of its own lists."""
    out = {"cases": cases, "new": section["new"]["count"]}
    if "accepted" in section:
        out["accepted"] = section["accepted"]["count"]
    return {**out, "closed": section["closed"]["count"], "open": sum(section["open_by_step"].values())}


class CheckpointBuilder:
    def __init__(self, db: Database, calendar: WorkingCalendar):
        self.db, self.calendar = db, calendar

    async def build(self, week: str, now: datetime) -> dict:
        """The checkpoint of `week` (parsed, flows.periods.parse_week) as of `now`. Before the week has ended it
        is a preview ("preview": true). Raises Invalid (422) for a week that has not begun, or that ended before
        the county's first record (flows.periods.refuse_before_records)."""
        a, b = week_window(week)
        preview = in_progress(week, a, b, now)
        stalled_before = self.calendar.working_days_before(now, STALLED_WORKING_DAYS)
        open_states = tuple(lc.OPEN_STATES)

        async with self.db.read() as s:
            refuse_before_records(week, b, await records_begin(s))
            units = list((await s.execute(select(Unit).order_by(Unit.code))).scalars())
            new = list((await s.execute(select(Case).where(Case.created_at >= a, Case.created_at < b)
                                        .order_by(Case.id))).scalars())
            closed = list((await s.execute(select(Case).where(Case.closed_at >= a, Case.closed_at < b)
                                           .order_by(Case.id))).scalars())
            open_cases = list((await s.execute(select(Case).where(Case.status.in_(open_states))
                                               .order_by(Case.id))).scalars())
            accepted_ids = {cid for (cid,) in (await s.execute(select(TimelineEntry.case_id).where(
                TimelineEntry.action == "accept", TimelineEntry.at >= a, TimelineEntry.at < b))).all()}
            accepted = list((await s.execute(select(Case).where(Case.id.in_(accepted_ids)).order_by(Case.id)))
                            .scalars()) if accepted_ids else []
            whistles = (await s.execute(select(Whistle.unit_id, Whistle.case_id, Whistle.active, Whistle.dispatched_at,
                                               Whistle.returned_at).where(
                and_(Whistle.case_id.in_(select(Case.id).where(Case.status.in_(open_states))))
                | and_(Whistle.dispatched_at >= a, Whistle.dispatched_at < b)
                | and_(Whistle.returned_at >= a, Whistle.returned_at < b)))).all()
            total = (await s.execute(select(func.count()).select_from(Case))).scalar_one()
            per_township = dict((await s.execute(select(Case.township_id, func.count())
                                                 .group_by(Case.township_id))).all())
            per_unit = dict((await s.execute(select(Whistle.unit_id, func.count(func.distinct(Whistle.case_id)))
                                             .group_by(Whistle.unit_id))).all())
            whistled_ids = {cid for _u, cid, _a, at, _r in whistles if at and a <= at < b}
            whistled = {c.id: c for c in (await s.execute(select(Case).where(Case.id.in_(whistled_ids))))
                        .scalars()} if whistled_ids else {}

        def section(unit: Unit, mine) -> dict:
            o = [c for c in open_cases if mine(c)]
            by_step = {}
            for c in o:
                step = lc.step_of(c.status, c.suspended_from)
                by_step[step] = by_step.get(step, 0) + 1
            return {
                "open_by_step": {str(k): v for k, v in sorted(by_step.items())},
                "warnings": _listing([c for c in o if c.alert == "warning"]),
                "overdue": _listing([c for c in o if c.alert in ("overdue", "escalated")]),
                "stalled": _listing([c for c in o if c.updated_at < stalled_before and c.status != lc.SUSPENDED]),
                "disputes_pending": _listing([c for c in o if c.status == lc.DISPUTED]),
                "awaiting_verification": _listing([c for c in o if c.status == lc.FEEDBACK]),
            }

        ids = {u.code: u.id for u in units}
        townships = []
        for t in (u for u in units if u.kind == "township"):
            in_t = lambda c, t=t: c.township_id == t.id  # noqa: E731
            townships.append({
                "code": t.code, "name": t.name,
                "new": _listing([c for c in new if in_t(c)]),
                "accepted": _listing([c for c in accepted if in_t(c)]),
                "closed": _listing([c for c in closed if in_t(c)]),
                "returns_pending": _listing([c for c in open_cases if in_t(c) and c.status == lc.RETURNED]),
                **section(t, in_t),
            })
        departments = []
        for u in (u for u in units if u.kind in ("department", "team")):
            active = {cid for uid, cid, act, *_ in whistles if uid == u.id and act}
            got = {cid for uid, cid, _, at, _r in whistles if uid == u.id and at and a <= at < b}
            returned = {cid for uid, cid, _, _d, rt in whistles if uid == u.id and rt and a <= rt < b}
            departments.append({
                "code": u.code, "name": u.name,
                "new": _listing([whistled[c] for c in sorted(got)]),
                "closed": _listing([c for c in closed if c.lead_unit_id == u.id]),
                "returned": {"count": len(returned), "case_ids": sorted(returned)},
                **section(u, lambda c, active=active: c.id in active),
            })
        for part, counts in [*((t, per_township) for t in townships), *((d, per_unit) for d in departments)]:
            part["totals"] = section_totals(part, counts.get(ids[part["code"]], 0))
        return {
            "week": week, "preview": preview, "period": {"start": local(a), "end": local(b)},
            "generated_at": local(now),
            "stalled_rule": f"{STALLED_WORKING_DAYS} 个工作日无任何操作（{local(stalled_before)} 之前）",
            "totals": {"cases": total, "new": len(new), "accepted": len(accepted), "closed": len(closed),
                       "open": len(open_cases)},
            "townships": townships, "departments": departments,
        }

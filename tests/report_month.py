"""A November 2026 with a case in every list of the bulletin, from two townships and three departments, for
the tests of who reads what in a bulletin or a checkpoint (tests/test_report_scope.py) and of previews
(tests/test_report_preview.py).

  ALPHA  凤城镇, 秸秆焚烧 → 生态环境分局, never checked in: overdue and escalated (超期案件)
  BRAVO  刘胡兰镇, 违法占地 → 自然资源局 leads, 住建局 assists, never checked in: overdue, and supervised by the
         county (督办案件)
  CHARLIE 凤城镇, 食品摊贩 → 市场监督管理局, closed the same week, satisfied (典型案例)
"""

import asyncio
from datetime import datetime

from sqlalchemy import func, select

from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.jobs import run_sweep
from chuishao.models.db import Database
from chuishao.models.notifications import Event

TITLES = {"alpha": "ALPHA东街秸秆焚烧", "bravo": "BRAVO村口违法占地", "charlie": "CHARLIE早市无证摊贩"}


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=LOCAL_TZ)


def stepper(api, clock):
    """`step(when, who, case_id, action, body=None)`: `who` takes the action at Beijing time `when` (ISO
    text), the clock moved there first; returns the case as the API answers it."""
    def step(when, who, case_id, action, body=None):
        clock.now = at(when)
        return api.act(who, case_id, action, body or {})

    return step


def build_month(api, clock) -> dict[str, int]:
    """The three cases above; the clock is left at Thursday 3 December 2026 09:00. Returns their ids."""
    step = stepper(api, clock)

    def new_case(when, reporter, dispatcher, category, title):
        clock.now = at(when)
        case = api.report(who=reporter, title=title)
        step(when, dispatcher, case["id"], "accept", {"category": category})
        return case["id"]

    alpha = new_case("2026-11-02T08:30", "gw_fc1", "disp_fc", "ENV01", TITLES["alpha"])
    step("2026-11-02T09:00", "disp_fc", alpha, "dispatch")
    bravo = new_case("2026-11-02T08:40", "gw_lhl", "disp_lhl", "LAND01", TITLES["bravo"])
    step("2026-11-02T09:10", "disp_lhl", bravo, "dispatch")
    charlie = new_case("2026-11-03T08:30", "gw_fc1", "disp_fc", "MKT01", TITLES["charlie"])
    step("2026-11-03T09:00", "disp_fc", charlie, "dispatch")
    step("2026-11-03T10:00", "scjg_liaison", charlie, "check_in")
    step("2026-11-04T10:00", "scjg_liaison", charlie, "feedback", {"outcome": "resolved", "result": "已取缔"})
    step("2026-11-05T10:00", "liaison_fc", charlie, "verify", {"passed": True, "satisfaction": "satisfied",
                                                               "rating": 5})
    clock.now = at("2026-11-10T10:00")
    asyncio.run(run_sweep(clock(), api.settings))  # ALPHA's and BRAVO's check-ins: overdue, then escalated
    step("2026-11-12T10:00", "supervisor", bravo, "supervise", {"note": "县级督办：限期报到"})
    clock.now = at("2026-12-03T09:00")
    return {"alpha": alpha, "bravo": bravo, "charlie": charlie}


def events(settings, kind: str) -> int:
    """How many outbox events of `kind` (bulletin, checkpoint) exist: each one is a notification to its audience."""
    async def count():
        db = Database(settings.url)
        try:
            async with db.read() as s:
                return (await s.execute(select(func.count()).select_from(Event).where(Event.kind == kind))).scalar_one()
        finally:
            await db.dispose()

    return asyncio.run(count())

"""A small county in memory, for the fast tests: actors of every role and cases in every state, built from the
models' own classes (no database). Units and people are plain ids.

    township FC (10): grid FC-1 (30), reporter g1 (100), dispatcher (101), liaison (102)
    township XH (11): dispatcher (111)
    departments: ZRZY (20, the usual lead), SLJ (21, assisting), ZJJ (22, never whistled here), SFJ (23, 司法局)
    legal reviewers: the county's at SFJ (400), 凤城镇's 司法所 reviewer of the township's unit (401)
"""

from datetime import UTC, datetime

from chuishao.flows import access as a
from chuishao.flows import lifecycle as lc
from chuishao.flows.access import Actor
from chuishao.models.cases import Case, Extension, Whistle
from chuishao.models.vocabulary import EXTENSION_PENDING, WHISTLE_CHECKED_IN, WHISTLE_RETURNED, WHISTLE_SENT

NOW = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
COUNTY, FC, XH, GRID = 1, 10, 11, 30
LEAD, ASSIST, NEVER, SFJ = 20, 21, 22, 23

ACTORS: dict[str, Actor] = {
    "reporter": Actor(100, "fc_g1", a.GRID_WORKER, GRID, "FC-1", FC),
    "other grid worker": Actor(103, "fc_g2", a.GRID_WORKER, GRID, "FC-1", FC),
    "dispatcher": Actor(101, "fc_dispatcher", a.DISPATCHER, FC, "FC", FC),
    "liaison": Actor(102, "fc_liaison", a.TOWNSHIP_LIAISON, FC, "FC", FC),
    "other township": Actor(111, "xh_dispatcher", a.DISPATCHER, XH, "XH", XH),
    "lead liaison": Actor(200, "zrzy_liaison", a.DEPT_LIAISON, LEAD, "ZRZY", None),
    "lead officer": Actor(201, "zrzy_officer1", a.DEPT_OFFICER, LEAD, "ZRZY", None),
    "assist liaison": Actor(210, "slj_liaison", a.DEPT_LIAISON, ASSIST, "SLJ", None),
    "unwhistled department": Actor(220, "zjj_liaison", a.DEPT_LIAISON, NEVER, "ZJJ", None),
    "supervisor": Actor(300, "supervisor", a.SUPERVISOR, COUNTY, "WS", None),
    "admin": Actor(301, "admin", a.ADMIN, COUNTY, "WS", None),
    "integrator": Actor(None, "open311:12345", a.INTEGRATOR, FC, "FC", None),
    "county reviewer": Actor(400, "sfj_reviewer", a.LEGAL_REVIEWER, SFJ, "SFJ", None),
    "township reviewer": Actor(401, "fc_sfs_reviewer", a.LEGAL_REVIEWER, FC, "FC", FC),
}


def case(status: str, *, id: int = 1, township: int = FC, reporter: int | None = 100, category: str | None = "ENV01",
         **fields) -> Case:
    return Case(id=id, title="东街占道经营", township_id=township, status=status, reporter_id=reporter,
                category=category, created_at=NOW, updated_at=NOW, **fields)


def whistle(unit: int, role: str = "lead", state: str = WHISTLE_SENT, *, case_id: int = 1, active: bool = True,
            round: int = 1, arbitrated: bool = False, id: int | None = None) -> Whistle:
    return Whistle(id=id, case_id=case_id, unit_id=unit, role=role, state=state, active=active, round=round,
                   arbitrated=arbitrated, dispatched_at=NOW)


def pending_extension(case_id: int = 1) -> Extension:
    return Extension(case_id=case_id, unit_id=LEAD, working_days=3, reason="需要等待检测报告", state=EXTENSION_PENDING,
                     requested_by_id=200, requested_at=NOW)


def typical(status: str, **fields) -> lc.CaseAggregate:
    """A case as it usually stands in `status`: whistled to ZRZY (lead) and SLJ (assisting) once dispatched; the
    lead checked in from handling on; returned cases hold the returned round, inactive; a suspended case was
    suspended while handling."""
    c = case(status, **fields)
    whistles: list[Whistle] = []
    if status == lc.DISPATCHED:
        whistles = [whistle(LEAD), whistle(ASSIST, "assist")]
    elif status in (lc.HANDLING, lc.FEEDBACK, lc.CLOSED, lc.SUSPENDED, lc.LEGAL_REVIEW):
        whistles = [whistle(LEAD, state=WHISTLE_CHECKED_IN), whistle(ASSIST, "assist")]
    elif status in (lc.RETURNED, lc.DISPUTED):
        whistles = [whistle(LEAD, state=WHISTLE_RETURNED, active=False), whistle(ASSIST, "assist", active=False)]
        c.return_count = 1 if status == lc.RETURNED else 2
    if any(w.active and w.role == "lead" for w in whistles):
        c.lead_unit_id = LEAD
    if status == lc.SUSPENDED:
        c.suspended_from = lc.HANDLING
    if status in (lc.FEEDBACK, lc.LEGAL_REVIEW):
        c.outcome = "resolved"
    if status == lc.LEGAL_REVIEW:  # a major decision's feedback (重大执法决定), waiting for the legal reviewer
        c.major = True
    return lc.CaseAggregate(c, whistles)

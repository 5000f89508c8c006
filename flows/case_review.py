"""案卷评查 (case-file review, issue 15; docs/case-review.md): the county supervisor draws a reproducible sample of
closed cases per lead unit and period, assigns reviewers, each reviewer scores the six points, the supervisor
finalises; the results are each department's 案卷合格率 and the failed points of each case.

Rules (decided here, written in docs/case-review.md):
- Only the county supervisor (county_supervisor) draws, assigns and finalises. Reviewers are active users with the
  role legal_reviewer (法制审核员) or county_supervisor, never of the case's own lead unit (回避).
- A draw takes the cases closed (`cases.closed_at`) in the period [start, end) and before the draw (`as_of`, so a
  period still running is drawn over what has closed so far) whose catalog item is an enforcement item
  (`catalog_items.enforcement` as at the draw), grouped by lead unit and ordered by (unit code,
  case id); one `random.Random(seed)` samples each unit in turn (`random.sample`), size per unit or a percentage
  of each unit's cases (rounded up). The same seed over the same closed cases gives the same sample: `reproduce`.
- A reviewer reaches an assigned case only through this module's check (the assignment exists), never through
  `Actor.sees`; the case file is read for them with a read-only county-wide actor (`reader`), never to act.
- Scores (pass/fail, a note; a fail needs a note) can be revised by the assigned reviewer until the supervisor
  finalises the review case; finalising needs all six points and freezes 合格 (all six pass).
- A review counts in the month (bulletin) or year (yearly report) in which it was finalised (`finalised_at`).
"""

import math
import random
from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import func, select

from chuishao.flows.access import ADMIN, LEGAL_REVIEWER, SUPERVISOR, Actor
from chuishao.flows.bulletin import ratio
from chuishao.flows.cases import case_code
from chuishao.flows.clock import LOCAL_TZ, local
from chuishao.flows.commands import Body, Code, Note, parse_body
from chuishao.flows.errors import Forbidden, Invalid, NotFound
from chuishao.flows.lifecycle import certificate_status
from chuishao.flows.password_words import pinyin
from chuishao.flows.periods import FIRST_YEAR, LAST_YEAR
from chuishao.models.case_review import ReviewCase, ReviewDraw, ReviewScore
from chuishao.models.cases import Case
from chuishao.models.catalog import CatalogItem
from chuishao.models.db import Database
from chuishao.models.org import Unit, User

# the six points (评查六项), in the order of the form and every table: (key, label, what the reviewer checks)
POINTS = (
    ("subject", "执法主体资格", "执法主体是否适格，执法人员是否持有效执法证、不少于两人"),
    ("evidence", "证据是否充分", "现场照片、询问笔录、勘验记录等证据是否齐全、合法、能证明事实"),
    ("procedure", "程序是否合法", "立案、调查、告知、听证、决定、送达等程序是否完整、合法、及时"),
    ("law", "法律适用是否准确", "定性是否准确，是否载明并正确引用法律依据条款"),
    ("decision", "处理决定是否适当", "处理结果与违法事实、情节相当，裁量适当"),
    ("documents", "执法文书是否规范", "文书格式、编号、签名、盖章、日期是否规范完整"),
)
POINT_KEYS = tuple(k for k, _, _ in POINTS)
POINT_LABELS = {k: label for k, label, _ in POINTS}
PointKey = Literal["subject", "evidence", "procedure", "law", "decision", "documents"]
REVIEWER_ROLES = frozenset({LEGAL_REVIEWER, SUPERVISOR})
READERS = frozenset({SUPERVISOR, ADMIN})  # who reads every draw and the results
MAX_SAMPLE = 200  # cases per unit in one draw

# the appendix (口径说明) rows the bulletin and the yearly report add; docs/bulletin-definitions.md says the same
DEFINITIONS = [
    ("案卷评查", "县级监督人员按部门（结案时的主办单位）、按期间（月、季度或年）从已结案的行政执法事项案件中"
             "随机抽取案卷（记录随机种子、抽样参数和抽中的案件，可按同一种子重新抽取核对），指定法制审核员评查；评查按执法主体资格、证据是否充分、"
             "程序是否合法、法律适用是否准确、处理决定是否适当、执法文书是否规范六项逐项评定，六项均合格的案卷为合格。"),
    ("案卷合格率", "统计期内由县级监督人员定稿的评查案卷中合格的件数 ÷ 统计期内定稿的评查案卷件数，按案卷抽取时的主办"
              "单位分部门统计；评查在定稿的月份（年份）计入，定稿前评查人员可修改评分，定稿后不再改变。"),
]


class PointIn(Body):
    passed: bool
    note: Note | None = None


class DrawIn(Body):
    period: Annotated[str, StringConstraints(min_length=4, max_length=10)]
    seed: int = Field(ge=0, le=2**53)
    size: int | None = Field(default=None, ge=1, le=MAX_SAMPLE)
    share: int | None = Field(default=None, ge=1, le=100)
    units: list[Code] | None = Field(default=None, max_length=100)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class AssignIn(Body):
    reviewer: Code


class ScoresIn(Body):
    scores: dict[PointKey, PointIn] = Field(min_length=1)


# ---- pure parts -------------------------------------------------------------------------------------------
def parse_period(name: str) -> tuple[str, datetime, datetime]:
    """'2026' (a year), '2026-Q3' (a quarter) or '2026-10' (a month) → (name, start, end), the window [start, end)
    in Asia/Shanghai. Raises Invalid (422) for anything else."""
    text = name.strip().upper()
    year_text, _, rest = text.partition("-")
    bad = Invalid(f"期间格式应为 2026（年）、2026-Q3（季度）或 2026-10（月），收到 {name[:20]!r}",
                  f"a period looks like 2026, 2026-Q3 or 2026-10, not {name[:20]!r}", extra={"field": "period"})
    if not (len(year_text) == 4 and year_text.isascii() and year_text.isdigit()):
        raise bad
    year = int(year_text)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise bad
    if not rest:
        first, months = 1, 12
    elif len(rest) == 2 and rest[0] == "Q" and rest[1] in "1234":
        first, months = 3 * int(rest[1]) - 2, 3
    elif len(rest) == 2 and rest.isascii() and rest.isdigit() and 1 <= int(rest) <= 12:
        first, months = int(rest), 1
    else:
        raise bad
    start = datetime(year, first, 1, tzinfo=LOCAL_TZ)
    last = first + months
    end = datetime(year + (last > 12), (last - 1) % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return text, start, end


def period_label(name: str) -> str:
    """'2026' → '2026年'; '2026-Q3' → '2026年第三季度'; '2026-10' → '2026年10月'."""
    year, _, rest = name.partition("-")
    if not rest:
        return f"{year}年"
    if rest.startswith("Q"):
        return f"{year}年第{'一二三四'[int(rest[1]) - 1]}季度"
    return f"{year}年{int(rest)}月"


def draw_sample(candidates: list[tuple[str, int]], seed: int, size: int | None, share: int | None) -> list[int]:
    """The sample of `candidates` [(lead unit code, case id)]: per unit in code order, over its case ids in
    ascending order, `random.Random(seed).sample` of `size` cases (or `share` percent, rounded up; at most all of
    them), each unit's picks listed in ascending id. Deterministic in its inputs, whatever their order."""
    by_unit: dict[str, list[int]] = {}
    for code, case_id in sorted(candidates):
        by_unit.setdefault(code, []).append(case_id)
    rng = random.Random(seed)
    picked: list[int] = []
    for code in sorted(by_unit):
        ids = by_unit[code]
        n = size if size is not None else math.ceil(len(ids) * (share or 0) / 100)
        picked += sorted(rng.sample(ids, min(max(n, 1), len(ids))))
    return picked


def failed_points(scores: list[ReviewScore]) -> list[dict]:
    """The failed points of one review, in the order of POINTS: [{"point", "label", "note"}]."""
    failed = {s.point: s for s in scores if not s.passed}
    return [{"point": k, "label": POINT_LABELS[k], "note": failed[k].note} for k in POINT_KEYS if k in failed]


def reader(actor: Actor) -> Actor:
    """A read-only county-wide stand-in for an assigned reviewer: lets CaseService read the case file (summary,
    timeline, attachments) once `ensure_reviewer` has passed. Never passed to an action."""
    return replace(actor, role=SUPERVISOR)


def _only_supervisor(actor: Actor) -> None:
    if actor.role != SUPERVISOR:
        raise Forbidden("只有县级监督人员可以抽取案卷、指定评查人员和定稿",
                        "only the county supervisor draws, assigns reviewers and finalises case-file reviews")


def _readers_only(actor: Actor) -> None:
    if actor.role not in READERS:
        raise Forbidden("案卷评查的抽样和结果只对县级监督人员和管理员开放",
                        "case-file review draws and results are for the county supervisor and admin")


# ---- reading the tables -------------------------------------------------------------------------------
async def _user_names(s, ids: set) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: {"username": u.username, "name": u.name}
            for u in (await s.execute(select(User).where(User.id.in_(ids)))).scalars()}

async def _reviews(s, where: list) -> list[dict]:
    """The review cases matching `where`, each with its case, unit, reviewer, scores and failed points."""
    rows = (await s.execute(select(ReviewCase, Case, Unit).join(Case, Case.id == ReviewCase.case_id)
                            .join(Unit, Unit.id == ReviewCase.unit_id).where(*where)
                            .order_by(Unit.code, ReviewCase.case_id, ReviewCase.id))).all()
    ids = [rc.id for rc, _, _ in rows]
    scores: dict[int, list[ReviewScore]] = {}
    if ids:
        for sc in (await s.execute(select(ReviewScore).where(ReviewScore.review_case_id.in_(ids)))).scalars():
            scores.setdefault(sc.review_case_id, []).append(sc)
    names = await _user_names(s, {rc.reviewer_id for rc, _, _ in rows})
    out = []
    for rc, case, unit in rows:
        own = scores.get(rc.id, [])
        out.append({
            "id": rc.id, "draw_id": rc.draw_id, "case_id": case.id, "code": case_code(case), "title": case.title,
            "closed_at": local(case.closed_at), "unit": unit.code, "unit_name": unit.name,
            "reviewer": names.get(rc.reviewer_id), "assigned_at": local(rc.assigned_at),
            "scores": {sc.point: {"passed": sc.passed, "note": sc.note, "at": local(sc.scored_at)} for sc in own},
            "complete": len(own) == len(POINTS), "failed": failed_points(own),
            "finalised_at": local(rc.finalised_at), "passed": rc.passed,
        })
    return out


def _by_name(unit: dict) -> tuple[str, str]:
    """Sort key: a unit's name in pinyin (生态环境分局 before 自然资源局), then its code."""
    return pinyin(unit["name"] or ""), unit["code"]


# ---- results ------------------------------------------------------------------------------------------
async def results(s, start: datetime, end: datetime) -> dict:
    """The reviews finalised in [start, end): {"total": ratio (passed / finalised), "by_department": [{"code",
    "name", "reviewed", "passed", "failed", "rate": ratio}] by unit name in pinyin order (code on a tie),
    "by_point": [{"point", "label", "failed", "rate": ratio of passes}], "failed_cases": [{"id", "code",
    "title", "unit", "unit_name", "failed": [{"point", "label", "note"}], "problems", "finalised_at"}]}, read in
    the open session `s`."""
    reviews = await _reviews(s, [ReviewCase.finalised_at >= start, ReviewCase.finalised_at < end])
    depts: dict[str, dict] = {}
    for r in reviews:
        d = depts.setdefault(r["unit"], {"code": r["unit"], "name": r["unit_name"], "reviewed": 0, "passed": 0})
        d["reviewed"] += 1
        d["passed"] += bool(r["passed"])
    by_department = [{**d, "failed": d["reviewed"] - d["passed"], "rate": ratio(d["passed"], d["reviewed"])}
                     for d in sorted(depts.values(), key=_by_name)]
    by_point = []
    for key, label, _ in POINTS:
        failed = sum(any(f["point"] == key for f in r["failed"]) for r in reviews)
        by_point.append({"point": key, "label": label, "failed": failed,
                         "rate": ratio(len(reviews) - failed, len(reviews))})
    failed_cases = [{"id": r["case_id"], "code": r["code"], "title": r["title"], "unit": r["unit"],
                     "unit_name": r["unit_name"], "failed": r["failed"], "finalised_at": r["finalised_at"],
                     "problems": "；".join(f"{f['label']}：{f['note']}" for f in r["failed"])}
                    for r in reviews if r["passed"] is False]
    passed = sum(bool(r["passed"]) for r in reviews)
    return {"total": ratio(passed, len(reviews)), "by_department": by_department, "by_point": by_point,
            "failed_cases": failed_cases}


class CaseReviewService:
    """Draws, assignments, scores, finalisation and results; every human action one short transaction."""

    def __init__(self, db: Database):
        self.db = db

    async def lead_units(self) -> list[dict]:
        """The units a draw may be limited to (the draw form's 限定部门): every department and township team,
        [{"code", "name"}] in pinyin order of the name."""
        async with self.db.read() as s:
            rows = (await s.execute(select(Unit.code, Unit.name).where(Unit.kind.in_(("department", "team"))))).all()
        return sorted(({"code": c, "name": n} for c, n in rows), key=_by_name)

    async def officers(self, usernames: list[str], on: date) -> list[dict]:
        """The enforcement officers named on a feedback (执法人员), in the order given, for judging 执法主体资格:
        [{"username", "name", "certificate_no", "certificate_expires" (date | None), "status" (valid / expired /
        none / unknown on `on`, the feedback's local date; flows/lifecycle.certificate_status)}]. The certificate
        is the one on record now (a renewal since replaces it); an unknown username comes back without a name.
        No access check: the caller already holds the case file."""
        async with self.db.read() as s:
            found = {u.username: u for u in (await s.execute(
                select(User).where(User.username.in_(usernames)))).scalars()}
        out = []
        for name in usernames:
            u = found.get(name)
            no, exp = (u.certificate_no, u.certificate_expires) if u else (None, None)
            out.append({"username": name, "name": u.name if u else None, "certificate_no": no,
                        "certificate_expires": exp, "status": certificate_status(no, exp, on)})
        return out

    # ---- drawing ------------------------------------------------------------------------------------------
    async def _candidates(self, s, start: datetime, end: datetime, as_of: datetime,
                          unit_ids: list[int] | None) -> list[tuple[str, int, int]]:
        """(unit code, case id, unit id) of the cases closed in [start, end) and by `as_of`, by lead unit, whose
        catalog item is an enforcement item (`catalog_items.enforcement`, as the catalog says when this runs):
        a case file is reviewed for 行政执法 only, never 秸秆焚烧 or 占道经营 handled without one."""
        stmt = (select(Unit.code, Case.id, Unit.id).join(Unit, Unit.id == Case.lead_unit_id)
                .join(CatalogItem, CatalogItem.code == Case.category)
                .where(CatalogItem.enforcement.is_(True), Case.status == "closed", Case.closed_at >= start,
                       Case.closed_at < end, Case.closed_at <= as_of))
        if unit_ids is not None:
            stmt = stmt.where(Case.lead_unit_id.in_(unit_ids))
        return [tuple(r) for r in (await s.execute(stmt.order_by(Unit.code, Case.id))).all()]

    async def _unit_ids(self, s, codes: list[str] | None) -> list[int] | None:
        if codes is None:
            return None
        found = dict((await s.execute(select(Unit.code, Unit.id).where(Unit.code.in_(codes)))).all())
        if missing := [c for c in codes if c not in found]:
            raise Invalid(f"单位不存在：{'、'.join(missing)}", f"unknown units: {', '.join(missing)}",
                          extra={"field": "units"})
        return [found[c] for c in codes]

    async def draw(self, actor: Actor, raw: dict | None, now: datetime) -> dict:
        """Record a draw (抽样) from `raw` {period, seed, size | share, units?, note?} at `now` (UTC): the sampled
        cases become review cases without a reviewer. Returns the draw's view (`get_draw`). Raises Forbidden (403)
        for anyone but the county supervisor; Invalid (422) for a bad body, both or neither of size and share, a
        period not begun, unknown units, or no closed case to draw from."""
        _only_supervisor(actor)
        body = parse_body(DrawIn, raw)
        if (body.size is None) == (body.share is None):
            raise Invalid("请填写每个部门抽取的件数或比例（二选一）", "give either size or share, not both or neither",
                          extra={"field": "size"})
        period, start, end = parse_period(body.period)
        if now < start:
            raise Invalid(f"{period_label(period)}尚未开始，没有可抽取的案卷", f"{period} has not begun",
                          extra={"field": "period"})
        async with self.db.transaction() as s:
            units = sorted(set(body.units)) if body.units else None
            rows = await self._candidates(s, start, end, now, await self._unit_ids(s, units))
            if not rows:
                raise Invalid(f"{period_label(period)}没有符合条件的已结案案件，无法抽取",
                              f"no closed case in {period} to draw from", extra={"field": "period"})
            sample = draw_sample([(code, cid) for code, cid, _ in rows], body.seed, body.size, body.share)
            unit_of = {cid: uid for _, cid, uid in rows}
            d = ReviewDraw(period=period, start=start, end=end, as_of=now, seed=body.seed, size=body.size,
                           share=body.share, units=units, candidates=len(rows), case_ids=sample, note=body.note,
                           drawn_by_id=actor.id, drawn_at=now)
            s.add(d)
            await s.flush()
            s.add_all([ReviewCase(draw_id=d.id, case_id=cid, unit_id=unit_of[cid]) for cid in sample])
            draw_id = d.id
        return await self.get_draw(actor, draw_id)

    async def reproduce(self, draw_id: int) -> list[int]:
        """The sample drawn again from the draw's recorded parameters and as-of time over today's tables: equal
        to the recorded `case_ids` while the closed cases are the same. Raises NotFound (404)."""
        async with self.db.read() as s:
            d = await s.get(ReviewDraw, draw_id)
            if d is None:
                raise NotFound("抽样记录不存在", "draw not found")
            rows = await self._candidates(s, d.start, d.end, d.as_of, await self._unit_ids(s, d.units))
        return draw_sample([(code, cid) for code, cid, _ in rows], d.seed, d.size, d.share)

    # ---- reading -------------------------------------------------------------------------------------------
    async def list_draws(self, actor: Actor) -> list[dict]:
        """Every draw, newest first, with its counts (reviews, assigned, scored, finalised, passed). 403 unless
        the supervisor or admin."""
        _readers_only(actor)
        async with self.db.read() as s:
            draws = (await s.execute(select(ReviewDraw).order_by(ReviewDraw.id.desc()))).scalars().all()
            reviews = await _reviews(s, [ReviewCase.draw_id.in_([d.id for d in draws])])
            names = await _user_names(s, {d.drawn_by_id for d in draws})
        return [self._draw_view(d, [r for r in reviews if r["draw_id"] == d.id], names) for d in draws]

    async def get_draw(self, actor: Actor, draw_id: int) -> dict:
        """One draw: its parameters, who drew it and when, the sampled case ids and each review case. 403 unless
        the supervisor or admin, 404 unknown draw."""
        _readers_only(actor)
        async with self.db.read() as s:
            d = await s.get(ReviewDraw, draw_id)
            if d is None:
                raise NotFound("抽样记录不存在", "draw not found")
            reviews = await _reviews(s, [ReviewCase.draw_id == d.id])
            names = await _user_names(s, {d.drawn_by_id})
        return self._draw_view(d, reviews, names)

    def _draw_view(self, d: ReviewDraw, reviews: list[dict], names: dict) -> dict:
        return {"id": d.id, "period": d.period, "period_label": period_label(d.period), "start": local(d.start),
                "end": local(d.end), "as_of": local(d.as_of), "seed": d.seed, "size": d.size, "share": d.share,
                "units": d.units, "candidates": d.candidates, "case_ids": list(d.case_ids), "note": d.note,
                "drawn_by": names.get(d.drawn_by_id), "drawn_at": local(d.drawn_at), "reviews": reviews,
                "counts": {"reviews": len(reviews), "assigned": sum(r["reviewer"] is not None for r in reviews),
                           "scored": sum(r["complete"] for r in reviews),
                           "finalised": sum(r["finalised_at"] is not None for r in reviews),
                           "passed": sum(r["passed"] is True for r in reviews)}}

    async def _review_row(self, s, review_id: int) -> ReviewCase:
        rc = await s.get(ReviewCase, review_id)
        if rc is None:
            raise NotFound("评查案卷不存在", "review case not found")
        return rc

    def _ensure_reviewer(self, actor: Actor, rc: ReviewCase) -> None:
        if rc.reviewer_id is None or rc.reviewer_id != actor.id:
            raise Forbidden("该案卷未指定由您评查", "this case file is not assigned to you for review")

    async def get_review(self, actor: Actor, review_id: int) -> dict:
        """One review case as its assigned reviewer, the supervisor or admin see it (scores, failed points).
        404 unknown; 403 anyone else."""
        async with self.db.read() as s:
            rc = await self._review_row(s, review_id)
            if actor.role not in READERS:
                self._ensure_reviewer(actor, rc)
            (view,) = await _reviews(s, [ReviewCase.id == review_id])
        return view

    async def ensure_reviewer(self, actor: Actor, review_id: int) -> int:
        """The case id of review `review_id` when `actor` is its assigned reviewer (or the supervisor/admin):
        the reviewer's access to the case file. 404 unknown review; 403 otherwise."""
        async with self.db.read() as s:
            rc = await self._review_row(s, review_id)
        if actor.role not in READERS:
            self._ensure_reviewer(actor, rc)
        return rc.case_id

    async def my_reviews(self, actor: Actor) -> list[dict]:
        """The review cases assigned to `actor`, those still open first. 403 for roles that never review."""
        if actor.role not in REVIEWER_ROLES:
            raise Forbidden("案卷评查由法制审核员或县级监督人员进行", "case-file reviews are done by legal reviewers "
                            "or the county supervisor")
        async with self.db.read() as s:
            reviews = await _reviews(s, [ReviewCase.reviewer_id == actor.id])
        return sorted(reviews, key=lambda r: (r["finalised_at"] is not None, r["draw_id"], r["unit"], r["case_id"]))

    async def reviewers(self) -> list[dict]:
        """Active users who may review: [{"username", "name", "role", "unit" (name), "unit_code"}], by role."""
        async with self.db.read() as s:
            rows = (await s.execute(select(User, Unit).join(Unit, Unit.id == User.unit_id).where(
                User.active.is_(True), User.role.in_(REVIEWER_ROLES)).order_by(User.role, User.username))).all()
        return [{"username": u.username, "name": u.name, "role": u.role, "unit": unit.name, "unit_code": unit.code}
                for u, unit in rows]

    # ---- acting -------------------------------------------------------------------------------------------
    async def assign(self, actor: Actor, review_id: int, raw: dict | None, now: datetime) -> dict:
        """Assign (or change) the reviewer of a review case: `raw` {"reviewer": username}. 403 unless the
        supervisor; 404 unknown review; 422 an unknown, inactive or non-reviewer user, one of the case's own lead
        unit (回避), a finalised review, or a change of reviewer once scores exist."""
        _only_supervisor(actor)
        body = parse_body(AssignIn, raw)
        async with self.db.transaction() as s:
            rc = await self._review_row(s, review_id)
            user = (await s.execute(select(User).where(User.username == body.reviewer))).scalar_one_or_none()
            if user is None or not user.active or user.role not in REVIEWER_ROLES:
                raise Invalid(f"{body.reviewer} 不是可用的评查人员（须为在岗的法制审核员或县级监督人员）",
                              f"{body.reviewer} is not an active legal reviewer or county supervisor",
                              extra={"field": "reviewer"})
            if user.unit_id == rc.unit_id:
                raise Invalid("评查人员不能评查本单位主办的案卷（回避）",
                              "a reviewer may not review their own unit's case", extra={"field": "reviewer"})
            if rc.finalised_at is not None:
                raise Invalid("该案卷评查已定稿，不能改派", "the review is finalised")
            if rc.reviewer_id not in (None, user.id) and await self._scored(s, rc.id):
                raise Invalid("已有评分的案卷不能改派评查人员", "a review with scores cannot change reviewer")
            rc.reviewer_id, rc.assigned_by_id, rc.assigned_at = user.id, actor.id, now
        async with self.db.read() as s:
            (view,) = await _reviews(s, [ReviewCase.id == review_id])
        return view

    async def _scored(self, s, review_id: int) -> int:
        return (await s.execute(select(func.count()).select_from(ReviewScore)
                                .where(ReviewScore.review_case_id == review_id))).scalar_one()

    async def score(self, actor: Actor, review_id: int, raw: dict | None, now: datetime) -> dict:
        """Record or revise points: `raw` {"scores": {point: {"passed": bool, "note": str}}}, any of the six. Only
        the assigned reviewer, until finalised. 404 unknown review; 403 not assigned to `actor`; 422 a bad body,
        a fail without a note (field `scores.<point>.note`), or a finalised review. Returns the review's view."""
        body = parse_body(ScoresIn, raw)
        for key, p in body.scores.items():
            if not p.passed and not (p.note or "").strip():
                raise Invalid(f"“{POINT_LABELS[key]}”评为不合格时须写明问题", f"a failed point needs a note ({key})",
                              code="note_required", extra={"field": f"scores.{key}.note", "point": key})
        async with self.db.transaction() as s:
            rc = await self._review_row(s, review_id)
            self._ensure_reviewer(actor, rc)
            if rc.finalised_at is not None:
                raise Invalid("该案卷评查已定稿，评分不能再修改", "the review is finalised; scores cannot change")
            kept = {sc.point: sc for sc in (await s.execute(
                select(ReviewScore).where(ReviewScore.review_case_id == rc.id))).scalars()}
            for key, p in body.scores.items():
                sc = kept.get(key) or ReviewScore(review_case_id=rc.id, point=key, passed=p.passed,
                                                  scored_by_id=actor.id, scored_at=now)
                sc.passed, sc.note, sc.scored_by_id, sc.scored_at = p.passed, (p.note or "").strip(), actor.id, now
                s.add(sc)
        async with self.db.read() as s:
            (view,) = await _reviews(s, [ReviewCase.id == review_id])
        return view

    async def finalise(self, actor: Actor, review_id: int, now: datetime) -> dict:
        """定稿: freeze a review case (合格 when all six points pass). 403 unless the supervisor; 404 unknown; 422
        not all six points scored, or already finalised."""
        _only_supervisor(actor)
        async with self.db.transaction() as s:
            rc = await self._review_row(s, review_id)
            if rc.finalised_at is not None:
                raise Invalid("该案卷评查已定稿", "the review is already finalised")
            scores = (await s.execute(select(ReviewScore).where(ReviewScore.review_case_id == rc.id))).scalars().all()
            if len(scores) < len(POINTS):
                raise Invalid(f"六项尚未全部评定（已评 {len(scores)} 项），不能定稿",
                              f"only {len(scores)} of the six points are scored")
            rc.passed, rc.finalised_by_id, rc.finalised_at = all(sc.passed for sc in scores), actor.id, now
        async with self.db.read() as s:
            (view,) = await _reviews(s, [ReviewCase.id == review_id])
        return view

    async def finalise_draw(self, actor: Actor, draw_id: int, now: datetime) -> int:
        """定稿 every review case of a draw whose six points are all scored and that is not yet final; returns how
        many. 403 unless the supervisor; 404 unknown draw."""
        _only_supervisor(actor)
        async with self.db.transaction() as s:
            if await s.get(ReviewDraw, draw_id) is None:
                raise NotFound("抽样记录不存在", "draw not found")
            open_ = (await s.execute(select(ReviewCase).where(ReviewCase.draw_id == draw_id,
                                                             ReviewCase.finalised_at.is_(None)))).scalars().all()
            scores: dict[int, list[bool]] = {}
            if open_:
                for rid, passed in (await s.execute(select(ReviewScore.review_case_id, ReviewScore.passed).where(
                        ReviewScore.review_case_id.in_([rc.id for rc in open_])))).all():
                    scores.setdefault(rid, []).append(passed)
            done = 0
            for rc in open_:
                if len(scores.get(rc.id, [])) == len(POINTS):
                    rc.passed, rc.finalised_by_id, rc.finalised_at = all(scores[rc.id]), actor.id, now
                    done += 1
        return done

async def bulletin_section(s, start: datetime, end: datetime) -> tuple[dict, list[dict]]:
    """The monthly bulletin's 案卷评查 figures for the month [start, end), read in the bulletin's own session:
    (section without the case list, failed cases — the bulletin keeps them as a case list `case_review_cases`,
    cut to what each reader may see like its other lists)."""
    res = await results(s, start, end)
    cases = res.pop("failed_cases")
    return res, cases


def definitions() -> list[dict]:
    """The appendix rows (口径说明) for 案卷评查, as the bulletin's `definitions` lists them."""
    return [{"term": t, "definition": d} for t, d in DEFINITIONS]


async def yearly(db: Database, actor: Actor, year: int, now: datetime) -> dict:
    """The yearly case-file review report (年度案卷评查报告) of `year`: the results of the reviews finalised in the
    year (`results`) with the year's draws, title, period and appendix; the dict
    flows/reports/case_review.py renders. 403 unless the supervisor or admin; 422 a year out of range or not
    begun at `now`."""
    _readers_only(actor)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(f"年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间", f"the year must be {FIRST_YEAR}–{LAST_YEAR}")
    _, start, end = parse_period(str(year))
    if now < start:
        raise Invalid(f"{year}年尚未开始，没有评查报告", f"{year} has not begun", extra={"field": "year"})
    async with db.read() as s:
        res = await results(s, start, end)
        county = (await s.execute(select(Unit.name).where(Unit.kind == "county"))).scalar_one_or_none() or ""
        draws = (await s.execute(select(ReviewDraw).where(ReviewDraw.start >= start, ReviewDraw.start < end)
                                 .order_by(ReviewDraw.id))).scalars().all()
    return {"year": year, "county": county, "title": f"{county}{year}年度行政执法案卷评查报告",
            "generated_at": local(now), "period": {"start": local(start), "end": local(end)},
            **res,
            "draws": [{"id": d.id, "period": period_label(d.period), "seed": d.seed, "size": d.size, "share": d.share,
                       "candidates": d.candidates, "sampled": len(d.case_ids), "drawn_at": local(d.drawn_at)}
                      for d in draws],
            "definitions": definitions()}

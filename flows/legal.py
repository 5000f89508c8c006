"""重大执法决定法制审核 (legal review of major enforcement decisions, docs/lifecycle.md): the bulletin's
legal-review figures per lead unit, with their definitions (docs/bulletin-definitions.md).

The loop itself — feedback on a major decision goes to `legal_review`, the legal reviewer approves (on to the
township's verification) or returns it with a reason (back to handling) — is rows of flows/lifecycle.py's
table; who may review is flows/access.py (`LEGAL_REVIEWER`, `reviews_township`).

Every figure here rests on rows written once and never changed (`feedbacks.at`/`major`, `legal_reviews.at`,
`approved`, `round`), so a month's figures are frozen at its end like the rest of the bulletin.
"""

from datetime import datetime

from sqlalchemy import case, func, select

from chuishao.models.cases import Feedback, LegalReview

# the bulletin's scorecard row keys (flows/bulletin.py) and their labels, in the order the tables show them
SUBMITTED, FIRST_PASS, RETURNED = "legal_submitted", "legal_first_pass", "legal_returned"
LABELS = {SUBMITTED: "提交法制审核数", FIRST_PASS: "法制审核一次通过率", RETURNED: "法制审核退回率"}

DEFINITIONS = [
    (LABELS[SUBMITTED], "统计月内该单位作为主办单位提交的结果反馈中，属于重大执法决定（事项清单标为重大执法决定，"
                        "或部门反馈时勾选）、因而先送法制审核的次数；被法制审核退回后重新提交的另计一次。"),
    (LABELS[FIRST_PASS], "案件第一次法制审核决定（通过或退回）落在统计月内的，其中第一次即审核通过的案件数 ÷ "
                         "第一次法制审核决定落在统计月内的案件数（按该次决定时的主办单位归属）。每个案件只在其"
                         "第一次决定所在的月份计一次，之后的决定不改变已结束月份的数字。"),
    (LABELS[RETURNED], "统计月内法制审核退回（须写明理由，案件回到办理环节）的次数 ÷ 统计月内法制审核作出决定"
                       "（通过或退回）的次数。法制审核退回不计入返工率，返工率只计乡镇核查不通过。"),
]


async def unit_figures(s, a: datetime, b: datetime) -> dict[int, tuple[int, int, int, int, int]]:
    """Per lead unit (unit id), the month [a, b)'s legal-review counts: (submitted, decisions, returned,
    first decisions, first decisions approved) — a first decision is a case's earliest legal review (lowest
    id), counted in the month it fell in, for the unit it reviewed. Three grouped queries in the caller's read
    `s`."""
    submitted = {k: v for k, v in (await s.execute(
        select(Feedback.unit_id, func.count()).where(Feedback.major.is_(True), Feedback.at >= a, Feedback.at < b)
        .group_by(Feedback.unit_id))).all()}
    approved = LegalReview.approved.is_(True)
    decided = {k: tuple(rest) for k, *rest in (await s.execute(
        select(LegalReview.unit_id, func.count(),
               func.sum(case((LegalReview.approved.is_(False), 1), else_=0)))
        .where(LegalReview.at >= a, LegalReview.at < b).group_by(LegalReview.unit_id))).all()}
    earliest = (select(func.min(LegalReview.id).label("id")).where(LegalReview.at < b)  # frozen at the month's end
                .group_by(LegalReview.case_id).subquery())
    first = {k: tuple(rest) for k, *rest in (await s.execute(
        select(LegalReview.unit_id, func.count(), func.sum(case((approved, 1), else_=0)))
        .join(earliest, earliest.c.id == LegalReview.id)
        .where(LegalReview.at >= a, LegalReview.at < b).group_by(LegalReview.unit_id))).all()}
    out = {}
    for unit in set(submitted) | set(decided) | set(first):
        n, returned = decided.get(unit, (0, 0))
        firsts, first_ok = first.get(unit, (0, 0))
        out[unit] = (submitted.get(unit, 0), int(n), int(returned or 0), int(firsts), int(first_ok or 0))
    return out


def scorecard_cells(figures: tuple[int, int, int, int, int] | None, ratio) -> dict:
    """The scorecard row's legal-review cells: {legal_submitted: int, legal_first_pass: rate, legal_returned:
    rate}, each rate `ratio(num, den)` (flows/bulletin.ratio: {"num", "den", "rate"})."""
    submitted, decided, returned, firsts, first_ok = figures or (0, 0, 0, 0, 0)
    return {SUBMITTED: submitted, FIRST_PASS: ratio(first_ok, firsts), RETURNED: ratio(returned, decided)}

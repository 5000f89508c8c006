"""The monthly bulletin (每月一通报, docs/bulletin-definitions.md): every figure computed in the database with
grouped queries, each rate with its numerator and denominator. The figures rest only on what is frozen when it happens
(whether a step finished on time, when it finished, a deadline that has passed), so re-running a month,
or editing the calendar afterwards, gives the same figures. The shape is flows/reports/SCHEMA.md."""

import json
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from chuishao.flows import legal as legal_review
from chuishao.flows import lifecycle as lc
from chuishao.flows.clock import LOCAL_TZ, local
from chuishao.flows.errors import Invalid
from chuishao.flows.periods import in_progress, month_window, previous_month, records_begin, refuse_before_records
from chuishao.flows.reports.common import MAX_LISTED
from chuishao.flows.rounding import as_decimal, difference, exact_rate, half_up, half_up_text
from chuishao.flows.settings import write_setting
from chuishao.models.cases import Case, Remark, Verification, Whistle
from chuishao.models.catalog import CatalogItem
from chuishao.models.clocks import Alert, StepClock
from chuishao.models.db import Database
from chuishao.models.org import Unit
from chuishao.models.settings_table import Setting
from chuishao.models.timeline import TimelineEntry
from chuishao.models.vocabulary import ALERT_LABELS, METRIC_LABELS, SOURCE_LABELS

DEFAULT_WEIGHTS = {"check_in": 20, "on_time": 30, "closure": 20, "returns": 10, "rework": 10, "satisfaction": 5,
                   "rating": 5}
SCORECARD_KEY = "scorecard"  # {"weights": {...}, "list_min_whistles": int}, kept by the admin
MIN_WHISTLES_FOR_LISTS = 5  # a unit with fewer whistles in the three months is ranked but kept off the lists
LIST_MONTHS = 3  # the red/black-list sample: the bulletin's month and the two before it
LOWER_IS_BETTER = {"returns", "rework"}
NO_WHISTLES = "本月无吹哨，不参与排名"
OVERDUE_LABEL = "超期（红灯）案件"
ESCALATED_LABEL = "升级督办案件"
PREVIEW_MARK = "（预览，统计月尚未结束）"

DEFINITIONS = [
    ("统计口径", "各项数字均按统计月末（次月 1 日 0 时）的实际情况计算：之后的退回、重新派遣、恢复、延期、结案、"
             "改分类等都不改变该月的数字，任何时候重新生成同一月份，结果相同。只有考核权重和红黑榜门槛按生成时"
             "管理员的设置计算。"),
    ("新增事件", "统计月内上报（含网格、热线、平台接入等各渠道）的事件数。"),
    ("来源构成", "新增事件按上报渠道分组的件数及其占新增事件的比例。"),
    ("热点事项", "新增事件按事项分组的件数（前 10 项），事项以统计月末时案件所属事项为准（月末尚未受理、之后受理时"
             "改了事项的，按上报时的事项计；上报时未选事项的不计）；“上月”为上一自然月同一口径的件数。"),
    ("接哨数", "统计月内派给该单位的哨令数（主办、协办均计；重新派遣另计）。"),
    ("及时报到率", "按时报到的哨令数 ÷ 报到时限在统计月内到期的哨令数。到期的哨令包括按时报到、逾期报到和"
                  "到期仍未报到的；到期未报到、之后才被退回、重新派遣或随案件终结撤销的，仍按未按时报到计入分母；"
                  "在报到时限到期前就被退回、撤销或挂起（时限停止计算）的不计。"),
    ("按期办结率", "在办理时限内完成办理（提交结果反馈）的次数 ÷ 统计月内完成办理的次数。挂起（缓办）期间"
                  "不计时；经批准的延期以延期后的时限为准；返工后的重新办理单独计一次。"),
    ("办结率", "截至月末已核查结案的案件数 ÷ 办理时限在统计月内到期的案件数（同一案件只计一次）。时限“到期”"
            "指办理已完成（按时或逾期），或时限到达时仍在办理；时限到达前挂起或获批延期的，原时限不算到期，"
            "以恢复后或延期后的时限为准；时限已过才获批延期的，原时限仍算到期未办结。"),
    ("吹哨派遣", "统计月内派出的主办哨令数（协办哨令不计；退回后重新派遣的另计一次）。"),
    ("核查结案", "统计月内核查通过、结案的案件数。"),
    ("退回", "统计月内被主办单位退回的哨令数。"),
    ("结案、未结（分乡镇、分部门）", "结案：统计月内核查结案的案件数（分部门按结案时的主办单位）。未结：统计月末"
                                "仍未结案、也未不予受理或合并的案件数（含此前月份上报的），分部门按月末时的主办单位"
                                "（已退回、待重新派遣的案件不计入任何部门）。"),
    ("退回率", "统计月内该单位退回的主办哨令数 ÷ 该单位在统计月内可以退回的主办哨令数（统计月内派给该单位的"
              "主办哨令，加上此前派出、在统计月内退回的主办哨令）。只有主办单位能退回，协办哨令不计入分母。"),
    ("返工率", "统计月内核查不通过的次数 ÷ 统计月内对该单位办理结果的全部核查次数。"),
    *legal_review.DEFINITIONS,  # 法制审核: submitted, passed first time, returned (flows/legal.py)
    ("满意率", "统计月内核查结案的案件中，回访答复为满意或基本满意的案件数 ÷ 有回访答复的结案案件数。"
              "每件案件只计一个答复，即结案那次（核查通过时）当场记录的群众答复；返工前核查不通过时记录的答复"
              "不计，返工的案件不因此多计。部门满意率按结案时的主办单位统计。"),
    ("一哨一考核评分", "乡镇在核查时对主办单位的评分（1–5 分）的平均值。"),
    ("综合得分", "以上各项按权重（生成通报时管理员设置的权重）加权：比率类按分子 ÷ 分母的精确值取百分数"
             "（退回率、返工率取 1 − 比率），评分"
               "按所示平均分折算为百分制；某项分母为 0 时不计入，其余权重按比例放大。得分相同按单位代码排序。"),
    ("红榜、黑榜", "在近三个月（统计月及其前两个月）接哨数合计不少于门槛（默认 5 个，管理员可调）、且当月有接哨的"
               "单位中，按当月综合得分取最高的 3 个和最低的 3 个（参评单位不足 6 个时，已列入红榜的不再列入黑榜）；"
               "考核表的“近三月接哨数”列出各单位的这一样本量。原因列出该单位与全县水平相比最突出的两项。"),
    (OVERDUE_LABEL, "统计月内有任一环节（乡镇受理、派遣、核查，部门报到、办理）时限到期仍未完成而亮红灯、或升级"
                    "督办的案件数，同一案件无论几个环节超期只计一次；按时限到达的时间（而非系统发出提醒的时间）"
                    "归入月份。按乡镇统计的“超期”是各乡镇的这类案件，"
                    "各乡镇合计等于全县数；按部门统计的“超期”是该部门自己的报到或办理环节超期的案件，一件案件"
                    "可计入几个部门。“超期案件”清单列出的正是这些案件。"),
    (ESCALATED_LABEL, "统计月内有环节升级督办（时限到期后满一个工作日、加急案件满 24 小时仍未完成）的案件数，"
                      "同一案件只计一次；这些案件都计入超期（红灯）案件。"),
    ("案件清单", f"超期案件、督办案件清单在通报正文中最多列出 {MAX_LISTED} 件，超出时注明“共 N 件，列出前 "
             f"{MAX_LISTED} 件”；XLSX 附表“超期督办”列出全部案件。"),
    ("超期案件清单", "列出超期（红灯）案件，每件一行：“预警级别”为该案件在统计月内到达的最高级别（升级督办在前），"
                "“超期环节单位”“超期环节时限”为该级别所在环节的承办单位（乡镇环节为空）和时限。升级督办在统计月内"
                "到达、而原时限在上月的，时限显示为上月日期。"),
    ("督办案件清单", "县级监督人员在统计月内对案件下达“督办”意见的记录（人工督办），与系统按时限自动“升级督办”"
                "不同，二者分别计数。"),
    ("典型案例", "正面：统计月内结案、群众满意、未返工的案件中，从上报到结案用时（自然时间，小时）最短的 3 件；"
             "反面：统计月内结案、返工或退回 2 次以上的案件中，返工与退回次数合计最多的 3 件。"),
    ("数值修约", "按四舍五入修约：比率由分子、分母精确计算，存储保留 4 位小数，以百分数显示时保留 1 位小数；"
             "综合得分保留 1 位小数（表中以两位小数书写，如 81.30），评分平均值保留 2 位小数（例如 4.125 记为 "
             "4.13；红黑榜理由中取 1 位）。"),
    ("环比", "与上一自然月同一口径的数值相比的变化率。"),
    ("统计时间", "统计月为北京时间当月 1 日 0 时至次月 1 日 0 时。"),
]


def red_light(a: datetime, b: datetime, levels=("overdue", "escalated")):
    """The alerts of the 超期 figure: a red light (overdue) or an escalation (escalated) on any step of a case,
    whose point on the clock (due_at: the deadline, or the escalation point) fell in [a, b) — when the step
    became overdue, not when the sweep got round to saying so, so an alert caught up after an outage across the
    month's end counts in the month it was due. Counted as distinct cases (Alert.case_id)."""
    return and_(Alert.level.in_(levels), Alert.due_at >= a, Alert.due_at < b)


def closing_verification(a: datetime, b: datetime):
    """The verifications that closed a case in [a, b): a case closes at its one passed verification
    (flows/lifecycle.py), so each case closed in the month has exactly one — its answer is the case's."""
    return and_(Verification.passed.is_(True), Verification.at >= a, Verification.at < b)


def fell_due(now: datetime):
    """The step clocks whose deadline fell due, as frozen as the clock history allows: a deadline that has
    passed never moves again (a resume shifts only points still ahead of the pause; a calendar edit only
    deadlines still ahead of it, flows/calendar_store.py), so the stored deadline of such a clock is the one
    that fell due.

    Counted: a step done (on time or late); a step still running, not paused, whose deadline is at or before
    `now`; a step ended another way (the whistle returned, re-dispatched, the case cancelled or an extension
    approved) only after its deadline — a check-in missed, then returned, still counts as missed, and a
    handling deadline missed before an extension was granted stays missed. Not counted: a step ended, or
    suspended (挂起), before its deadline without being done — its time stopped before the deadline came."""
    reached = or_(StepClock.ended_by == "done",
                  and_(StepClock.stopped_at.is_(None), StepClock.deadline <= now),
                  StepClock.stopped_at > StepClock.deadline)
    not_paused_before = or_(StepClock.paused_at.is_(None), StepClock.paused_at >= StepClock.deadline)
    return and_(reached, or_(StepClock.ended_by == "done", not_paused_before))


def ended_before(b: datetime):
    """Cases that had reached a final state (结案, 不予受理, 已合并) before `b`. A final state is never left,
    so a case in one now reached it at its closed_at (结案) or at its timeline entry into that state."""
    entered = (select(TimelineEntry.id).where(TimelineEntry.case_id == Case.id, TimelineEntry.to_state == Case.status,
                                              TimelineEntry.at < b).exists())
    return or_(and_(Case.status == lc.CLOSED, Case.closed_at < b),
               and_(Case.status.in_((lc.REJECTED, lc.MERGED)), entered))


def lead_at(b: datetime):
    """The lead whistle (主办) in force at `b`: dispatched before it and not returned by then. A round's whistles
    are set inactive only by a return, which stamps the lead's returned_at, so this is exact in hindsight."""
    return and_(Whistle.role == "lead", Whistle.dispatched_at < b,
                or_(Whistle.returned_at.is_(None), Whistle.returned_at >= b))


async def scorecard_settings(db: Database) -> dict:
    """The scorecard as the admin keeps it: {"weights": {key: int} (every key of DEFAULT_WEIGHTS),
    "list_min_whistles": int, "stored": bool} — defaults where nothing was saved."""
    async with db.read() as s:
        row = await s.get(Setting, SCORECARD_KEY)
    weights, list_min_whistles = _kept_scorecard(row)
    return {"weights": weights, "list_min_whistles": list_min_whistles, "stored": row is not None}


async def set_scorecard(db: Database, weights: dict[str, int], list_min_whistles: int) -> dict:
    """Save the department scorecard's weights (keys of DEFAULT_WEIGHTS; a missing key takes its default) and
    the red/black-list threshold (minimum whistles over the bulletin's month and the two before it).
    Returns {"weights", "list_min_whistles"}.
    Raises Invalid (422) when every weight is 0 or a key is unknown; callers check the bounds (0–100 and
    0–10000)."""
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise Invalid(f"未知的权重项：{', '.join(sorted(unknown))}", f"unknown weights: {sorted(unknown)}")
    merged = {**DEFAULT_WEIGHTS, **weights}
    if not any(merged.values()):
        raise Invalid("权重不能全为 0", "at least one weight must be above 0")
    return await write_setting(db, SCORECARD_KEY, {"weights": merged, "list_min_whistles": list_min_whistles})


def ratio(num: int, den: int) -> dict:
    """{"num", "den", "rate"}: the rate rounded half up to 4 decimals from the exact fraction; None when den
    is 0."""
    exact = exact_rate(num, den)
    return {"num": int(num), "den": int(den), "rate": None if exact is None else half_up(exact, 4)}


def pct(r: float | Fraction | None) -> str:
    """0.0625 → "6.3%" (half up, flows/rounding.py); None → "—"."""
    if r is None:
        return "—"
    return f"{half_up_text(as_decimal(r) * 100, 1)}%"


def _change(value, previous):
    """Month-on-month change: relative for counts, in percentage points for rates."""
    if isinstance(value, dict):
        a, b = value["rate"], previous["rate"]
        return None if a is None or b is None else half_up(difference(a, b), 4)
    return None if not previous else half_up(exact_rate(value - previous, previous), 4)


@dataclass(frozen=True)
class _Month:
    """The windows one bulletin reads: the month [a, b) (UTC), the month before [pa, pb), and the red/black-list
    sample from `list_start` (the month and the two before it) to b; `now`, what has fallen due by."""

    a: datetime
    b: datetime
    pa: datetime
    pb: datetime
    list_start: datetime
    now: datetime

    @classmethod
    def of(cls, month: str, now: datetime) -> "_Month":
        a, b = month_window(month)
        pa, pb = month_window(previous_month(month))
        first = month  # the red/black-list sample window: a month alone can be gamed by volume
        for _ in range(LIST_MONTHS - 1):
            first = previous_month(first)
        return cls(a, b, pa, pb, month_window(first)[0], now)

    def within(self, col):
        return and_(col >= self.a, col < self.b)

    def open_at_end(self):
        """Open at the month's end whatever happened since: reported before it, not yet in a final state then."""
        return and_(Case.created_at < self.b, ~ended_before(self.b))


@dataclass
class _UnitFigures:
    """Per receiving unit (unit id → figure), the scorecard's and the department table's raw counts."""

    whistles: dict
    sample: dict  # whistles over the red/black-list sample window
    returns: dict  # (lead whistles that could be returned, returned)
    check_in: dict  # (check-ins due, on time)
    on_time: dict  # (handlings done, on time)
    closure: dict  # (handling deadlines due, closed by the month's end)
    verif: dict  # (verifications, failed, rating sum, ratings)
    satisfied: dict  # (satisfied or basic, answers)
    closed_by_lead: dict
    open_by_lead: dict
    overdue: dict

    def units(self) -> set:
        """Every unit with a figure in the month."""
        return set(self.whistles) | set(self.check_in) | set(self.on_time) | set(self.closure) | set(self.verif) \
            | set(self.returns) | set(self.closed_by_lead) | set(self.open_by_lead) | set(self.overdue)


def _kept_scorecard(row: Setting | None) -> tuple[dict, int]:
    """(weights, list_min_whistles) as the admin keeps them, defaults where nothing was saved."""
    kept = row.value if row else {}
    return {**DEFAULT_WEIGHTS, **kept.get("weights", {})}, kept.get("list_min_whistles", MIN_WHISTLES_FOR_LISTS)


class BulletinBuilder:
    """Builds one month's bulletin (`build`) from grouped queries in one read, step by step: the overview, the
    sources and hotspots, the townships, the receiving units' figures and the case lists; then the scorecard,
    the department table and the lists are worked out in memory."""

    def __init__(self, db: Database):
        self.db = db

    async def _count(self, s, stmt) -> int:
        return int((await s.execute(stmt)).scalar_one() or 0)

    async def _grouped(self, s, stmt) -> dict:
        return {k: v for k, v in (await s.execute(stmt)).all()}

    async def _pairs(self, s, stmt) -> dict:
        """{key: (the row's other columns)} of a grouped query."""
        return {k: tuple(rest) for k, *rest in (await s.execute(stmt)).all()}

    async def _overview(self, s, a: datetime, b: datetime) -> dict:
        in_window = lambda col: and_(col >= a, col < b)  # noqa: E731
        handled = select(func.count(), _on_time_sum()).where(_handled(a, b))
        handled_n, handled_on_time = (await s.execute(handled)).one()
        verified = (await s.execute(select(
            func.count(Verification.satisfaction),
            func.sum(case((Verification.satisfaction.in_(("satisfied", "basic")), 1), else_=0)),
        ).where(closing_verification(a, b)))).one()
        return {
            "received": await self._count(s, select(func.count()).select_from(Case)
                                          .where(in_window(Case.created_at))),
            "dispatched": await self._count(s, select(func.count()).select_from(Whistle).where(
                Whistle.role == "lead", in_window(Whistle.dispatched_at))),
            "closed": await self._count(s, select(func.count()).select_from(Case).where(in_window(Case.closed_at))),
            "on_time_rate": ratio(handled_on_time or 0, handled_n or 0),
            "overdue": await self._count(s, select(func.count(func.distinct(Alert.case_id))).where(
                red_light(a, b))),
            "escalated": await self._count(s, select(func.count(func.distinct(Alert.case_id))).where(
                red_light(a, b, ("escalated",)))),
            "returns": await self._count(s, select(func.count()).select_from(Whistle).where(
                in_window(Whistle.returned_at))),
            "satisfaction_rate": ratio(verified[1] or 0, verified[0] or 0),
        }

    async def _categories(self, s, a: datetime, b: datetime) -> dict[str, int]:
        """Cases reported in [a, b) by catalog item as it stood at `b`: {item code: count}. The item is set at
        the report or at acceptance (受理); a case accepted only after `b` counts under the item it was reported
        with then (none: not counted), read from its report entry on the timeline."""
        counts = await self._grouped(s, select(Case.category, func.count()).where(
            Case.created_at >= a, Case.created_at < b, Case.category.is_not(None)).group_by(Case.category))
        accepted = aliased(TimelineEntry)
        accepted_later = select(accepted.id).where(accepted.case_id == Case.id, accepted.action == "accept",
                                                   accepted.at >= b).exists()  # probes the case's own entries
        rows = (await s.execute(select(Case.category, TimelineEntry.payload)
                                .join(TimelineEntry, TimelineEntry.case_id == Case.id)
                                .where(Case.created_at >= a, Case.created_at < b, TimelineEntry.action == "report",
                                       accepted_later))).all()
        for now_item, payload in rows:
            then_item = json.loads(payload).get("category")
            if now_item:
                counts[now_item] -= 1
            if then_item:
                counts[then_item] = counts.get(then_item, 0) + 1
        return {k: v for k, v in counts.items() if v}

    async def build(self, month: str, now: datetime, county_name: str | None = None) -> dict:
        """The bulletin of `month` (parsed, flows.periods.parse_month) as of `now`: the dict of
        flows/reports/SCHEMA.md. Before the month has ended it is a preview ("preview": true, the title says
        so). Raises Invalid (422) for a month that has not begun, or that ended before the county's first
        record (flows.periods.refuse_before_records)."""
        from chuishao.flows.case_review import bulletin_section as case_review_section  # imports this module
        from chuishao.flows.case_review import definitions as case_review_definitions

        m = _Month.of(month, now)
        preview = in_progress(month, m.a, m.b, now)
        async with self.db.read() as s:
            refuse_before_records(month, m.b, await records_begin(s))
            units = {u.id: u for u in (await s.execute(select(Unit))).scalars()}
            county = county_name or next((u.name for u in units.values() if u.kind == "county"), "")
            weights, min_whistles = _kept_scorecard(await s.get(Setting, SCORECARD_KEY))
            overview = await self._overview_rows(s, m)
            by_source, hotspots = await self._sources(s, m), await self._hotspots(s, m)
            by_township = await self._townships(s, m, units)
            figures = await self._unit_figures(s, m)
            legal = await legal_review.unit_figures(s, m.a, m.b)
            lists = await self._list_rows(s, m)
            review, review_cases = await case_review_section(s, m.a, m.b)  # 案卷评查 (flows/case_review.py)
        receivers, scorecard, listed, averages = _scorecard(units, figures, m.b, weights, min_whistles)
        unit_ids = {u.code: u.id for u in receivers}
        for row in scorecard:
            row.update(legal_review.scorecard_cells(legal.get(unit_ids[row["code"]]), ratio))
        return {
            "month": month, "county": county,
            "title": f"{county}“乡镇吹哨、部门报到”工作月度通报（{m.a.year}年{m.a.month}月）"
                     + (PREVIEW_MARK if preview else ""),
            "preview": preview, "generated_at": local(now), "period": {"start": local(m.a), "end": local(m.b)},
            "overview": overview, "by_source": by_source, "hotspots": hotspots,
            "by_township": by_township, "by_department": _departments(receivers, scorecard, figures),
            "scorecard": scorecard, "weights": weights,
            "red_list": [_on_list(r, praise(r, averages)) for r in listed[:3]],
            "black_list": [_on_list(r, blame(r, averages)) for r in list(reversed(listed))[:3] if r not in listed[:3]],
            **_case_lists(lists, units),
            "unranked": [{"code": r["code"], "name": r["name"], "reason": NO_WHISTLES}
                         for r in scorecard if not r["whistles"]],
            "definitions": [{"term": t, "definition": d} for t, d in DEFINITIONS]
                           + [unranked_definition([r["name"] for r in scorecard if not r["whistles"]])]
                           + case_review_definitions(),
            "case_review": review, "case_review_cases": review_cases,
        }

    # ---- the steps, each a few grouped queries in the build's one read ----------------------------------
    async def _overview_rows(self, s, m: _Month) -> list[dict]:
        """The headline figures of the month beside the month before, with the change."""
        now_o, prev_o = await self._overview(s, m.a, m.b), await self._overview(s, m.pa, m.pb)
        labels = [("received", "新增事件"), ("dispatched", "吹哨派遣"), ("closed", "核查结案"),
                  ("on_time_rate", "按期办结率"), ("overdue", OVERDUE_LABEL), ("escalated", ESCALATED_LABEL),
                  ("returns", "退回"), ("satisfaction_rate", "满意率")]
        return [{"key": k, "label": label, "value": now_o[k], "previous": prev_o[k],
                 "change": _change(now_o[k], prev_o[k])} for k, label in labels]

    async def _sources(self, s, m: _Month) -> list[dict]:
        """Cases reported in the month by source, most first, each with its share."""
        rows = await self._grouped(s, select(Case.source, func.count()).where(
            m.within(Case.created_at)).group_by(Case.source))
        total = sum(rows.values())
        return [{"source": k, "label": SOURCE_LABELS.get(k, k), "count": v, "share": ratio(v, total)["rate"]}
                for k, v in sorted(rows.items(), key=lambda kv: (-kv[1], kv[0]))]

    async def _hotspots(self, s, m: _Month) -> list[dict]:
        """The ten catalog items most reported in the month, with the month before's count."""
        items = {i.code: i for i in (await s.execute(select(CatalogItem))).scalars()}
        cat_now, cat_prev = await self._categories(s, m.a, m.b), await self._categories(s, m.pa, m.pb)
        return [{"code": c, "name": items[c].name if c in items else c,
                 "category": items[c].category if c in items else "", "count": n, "previous": cat_prev.get(c, 0)}
                for c, n in sorted(cat_now.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]

    async def _townships(self, s, m: _Month, units: dict) -> list[dict]:
        """Per township: received, closed, open at the month's end, overdue, handled on time."""
        received = await self._grouped(s, select(Case.township_id, func.count()).where(
            m.within(Case.created_at)).group_by(Case.township_id))
        closed = await self._grouped(s, select(Case.township_id, func.count()).where(
            m.within(Case.closed_at)).group_by(Case.township_id))
        still_open = await self._grouped(s, select(Case.township_id, func.count()).where(m.open_at_end())
                                         .group_by(Case.township_id))
        overdue = await self._grouped(s, select(Case.township_id, func.count(func.distinct(Alert.case_id)))
                                      .join(Case, Case.id == Alert.case_id).where(red_light(m.a, m.b))
                                      .group_by(Case.township_id))
        handled = await self._pairs(s, select(Case.township_id, func.count(), _on_time_sum())
                                    .join(Case, Case.id == StepClock.case_id).where(_handled(m.a, m.b))
                                    .group_by(Case.township_id))
        figured = set(received) | set(closed) | set(still_open) | set(handled)  # set up later, imported cases
        rows = []
        for u in sorted(units.values(), key=lambda u: u.code):
            if u.kind != "township" or not (u.created_at < m.b or u.id in figured):
                continue
            n, on_time = handled.get(u.id, (0, 0))
            rows.append({"code": u.code, "name": u.name, "received": received.get(u.id, 0),
                         "closed": closed.get(u.id, 0), "open": still_open.get(u.id, 0),
                         "overdue": overdue.get(u.id, 0), "on_time": ratio(on_time or 0, n)})
        return rows

    async def _unit_figures(self, s, m: _Month) -> _UnitFigures:
        """Departments (and township teams): the scorecard's figures, one grouped query each."""
        within, b, now = m.within, m.b, m.now
        whistles = await self._grouped(s, select(Whistle.unit_id, func.count()).where(
            within(Whistle.dispatched_at)).group_by(Whistle.unit_id))
        sample = await self._grouped(s, select(Whistle.unit_id, func.count()).where(
            Whistle.dispatched_at >= m.list_start, Whistle.dispatched_at < b).group_by(Whistle.unit_id))
        # 退回率: only the lead unit can return a whistle, so the denominator is the lead whistles that
        # could have been returned in the month (dispatched in it, or dispatched earlier and returned in it)
        lead = Whistle.role == "lead"
        returns = await self._pairs(s, select(Whistle.unit_id, func.count(),
                                              func.sum(case((within(Whistle.returned_at), 1), else_=0)))
                                    .where(lead, or_(within(Whistle.dispatched_at), within(Whistle.returned_at)))
                                    .group_by(Whistle.unit_id))
        check_in = await self._pairs(s, select(StepClock.unit_id, func.count(), _on_time_sum())
                                     .where(StepClock.kind == "check_in", within(StepClock.deadline), fell_due(now))
                                     .group_by(StepClock.unit_id))
        on_time = await self._pairs(s, select(StepClock.unit_id, func.count(), _on_time_sum())
                                    .where(_handled(m.a, m.b)).group_by(StepClock.unit_id))
        due = (select(StepClock.unit_id.label("unit_id"), StepClock.case_id.label("case_id"))
               .where(StepClock.kind == "handle", within(StepClock.deadline), fell_due(now))
               .distinct().subquery())
        closed_by_end = func.sum(case((Case.closed_at < b, 1), else_=0))
        closure = await self._pairs(s, select(due.c.unit_id, func.count(), closed_by_end)
                                    .join(Case, Case.id == due.c.case_id).group_by(due.c.unit_id))
        verif = await self._pairs(s, select(Verification.unit_id, func.count(),
                                            func.sum(case((Verification.passed.is_(False), 1), else_=0)),
                                            func.sum(Verification.rating), func.count(Verification.rating))
                                  .where(within(Verification.at)).group_by(Verification.unit_id))
        # 满意率: one answer per case closed in the month, the one recorded at the verification that closed it
        satisfied = await self._pairs(s, select(
            Verification.unit_id, func.sum(case((Verification.satisfaction.in_(("satisfied", "basic")), 1), else_=0)),
            func.count(Verification.satisfaction)).where(closing_verification(m.a, b)).group_by(Verification.unit_id))
        closed_by_lead = await self._grouped(s, select(Case.lead_unit_id, func.count()).where(
            within(Case.closed_at)).group_by(Case.lead_unit_id))
        # by the lead unit in force at the month's end, not today's (a later return or re-dispatch)
        open_by_lead = await self._grouped(s, select(Whistle.unit_id, func.count(func.distinct(Case.id)))
                                           .join(Case, Case.id == Whistle.case_id)
                                           .where(m.open_at_end(), lead_at(b)).group_by(Whistle.unit_id))
        overdue = await self._grouped(s, select(StepClock.unit_id, func.count(func.distinct(Alert.case_id)))
                                      .join(StepClock, StepClock.id == Alert.clock_id).where(red_light(m.a, b))
                                      .group_by(StepClock.unit_id))
        return _UnitFigures(whistles, sample, returns, check_in, on_time, closure, verif, satisfied, closed_by_lead,
                            open_by_lead, overdue)

    async def _list_rows(self, s, m: _Month) -> dict:
        """The rows of the case lists: overdue (every case of the 超期 figure, most severe alert first), supervised,
        and the three typical good and bad cases."""
        within = m.within
        # the whole overdue list is kept: the HTML and PDF print the first MAX_LISTED and say so, the XLSX has all
        overdue = (await s.execute(
            select(Case.id, Case.created_at, Case.title, Case.township_id, StepClock.unit_id, Alert.level,
                   StepClock.deadline)
            .join(StepClock, StepClock.id == Alert.clock_id).join(Case, Case.id == Alert.case_id)
            .where(red_light(m.a, m.b))
            .order_by(case((Alert.level == "escalated", 0), else_=1), StepClock.deadline, Case.id))).all()
        supervised = (await s.execute(
            select(Case.id, Case.created_at, Case.title, Remark.note, Remark.at)
            .join(Case, Case.id == Remark.case_id)
            .where(Remark.kind == "supervise", within(Remark.at))
            .order_by(Remark.at, Remark.id))).all()
        good = (await s.execute(
            select(Case.id, Case.created_at, Case.title, Case.lead_unit_id, Case.closed_at)
            .join(Verification, and_(Verification.case_id == Case.id, Verification.passed.is_(True)))
            .where(within(Case.closed_at), Verification.satisfaction == "satisfied", Case.rework_count == 0)
            .order_by((Case.closed_at - Case.created_at) if self.db.is_postgres
                      else func.julianday(Case.closed_at) - func.julianday(Case.created_at), Case.id)
            .limit(3))).all()
        bad = (await s.execute(
            select(Case.id, Case.created_at, Case.title, Case.lead_unit_id, Case.rework_count, Case.return_count)
            .where(within(Case.closed_at), or_(Case.rework_count > 0, Case.return_count > 1))
            .order_by((Case.rework_count + Case.return_count).desc(), Case.id).limit(3))).all()
        return {"overdue": overdue, "supervised": supervised, "good": good, "bad": bad}


def _on_time_sum():
    return func.sum(case((StepClock.on_time.is_(True), 1), else_=0))


def _handled(a: datetime, b: datetime):
    """Handling steps done in [a, b)."""
    return and_(StepClock.kind == "handle", StepClock.ended_by == "done", StepClock.stopped_at >= a,
                StepClock.stopped_at < b)


def _scorecard(units: dict, f: _UnitFigures, b: datetime, weights: dict,
               min_whistles: int) -> tuple[list, list[dict], list[dict], dict]:
    """(receivers, scorecard, listed, averages): the receiving units of the month (set up before its end, or — a
    county imported with older cases — with a figure in it, so a department set up later is not listed as
    "unranked" when the month is generated again), their scorecard rows ranked by score (unranked last), the
    rows eligible for the red/black lists in rank order, and the county's averages."""
    figured = f.units()
    receivers = sorted((u for u in units.values() if u.kind in ("department", "team")
                        and (u.created_at < b or u.id in figured)), key=lambda u: u.code)
    scorecard = []
    for u in receivers:
        n_whistles = f.whistles.get(u.id, 0)
        ci, ot, cl = f.check_in.get(u.id, (0, 0)), f.on_time.get(u.id, (0, 0)), f.closure.get(u.id, (0, 0))
        v, sat = f.verif.get(u.id, (0, 0, None, 0)), f.satisfied.get(u.id, (0, 0))
        ret = f.returns.get(u.id, (0, 0))
        row = {
            "code": u.code, "name": u.name, "kind": u.kind, "whistles": n_whistles,
            "whistles_3m": f.sample.get(u.id, 0),
            "check_in": ratio(ci[1] or 0, ci[0]), "on_time": ratio(ot[1] or 0, ot[0]),
            "closure": ratio(cl[1] or 0, cl[0]), "returns": ratio(ret[1] or 0, ret[0]),
            "rework": ratio(v[1] or 0, v[0]), "satisfaction": ratio(sat[0] or 0, sat[1]),
            "rating": {"avg": half_up(exact_rate(v[2], v[3]), 2) if v[3] else None, "count": int(v[3] or 0)},
        }
        # a unit no one whistled this month is not ranked, however its older cases fared
        # (docs/bulletin-definitions.md, "Composite score and rank")
        row["score"] = composite(row, weights) if n_whistles else None
        scorecard.append(row)
    ranked = sorted((r for r in scorecard if r["score"] is not None), key=lambda r: (-r["score"], r["code"]))
    for i, r in enumerate(ranked, start=1):
        r["rank"] = i
    for r in scorecard:
        r.setdefault("rank", None)
    scorecard.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))
    averages = county_averages(scorecard)
    # eligible for the red/black lists on the three-month sample; the ranking itself stays this month's
    listed = [r for r in ranked if r["whistles_3m"] >= min_whistles]
    for r in scorecard:
        r["list_eligible"] = r in listed
    return receivers, scorecard, listed, averages


def _departments(receivers: list, scorecard: list[dict], f: _UnitFigures) -> list[dict]:
    """The department table: each receiving unit's whistles, closed, open at the month's end, overdue, on time."""
    return [{
        "code": r["code"], "name": r["name"], "whistles": r["whistles"],
        "closed": f.closed_by_lead.get(u.id, 0), "open": f.open_by_lead.get(u.id, 0),
        "overdue": f.overdue.get(u.id, 0), "on_time": r["on_time"],
    } for u in receivers for r in scorecard if r["code"] == u.code]


def _on_list(row: dict, reason: str) -> dict:
    """A scorecard row as the red or black list shows it, with why it is there."""
    return {"code": row["code"], "name": row["name"], "score": row["score"], "rank": row["rank"],
            "whistles_3m": row["whistles_3m"], "reason": reason}


def _code_of(cid: int, created: datetime) -> str:
    return f"CS{created.astimezone(LOCAL_TZ):%Y%m%d}{cid:06d}"


def _case_lists(rows: dict, units: dict) -> dict:
    """{"overdue_cases", "supervised_cases", "typical_cases"} from `_list_rows`: each overdue case once, with
    its most severe alert; the typical cases, good then bad, each with why."""
    seen, overdue_cases = set(), []
    for cid, created, title, township_id, unit_id, level, deadline in rows["overdue"]:
        if cid in seen:
            continue
        seen.add(cid)
        overdue_cases.append({"id": cid, "code": _code_of(cid, created), "title": title,
                              "township": units[township_id].name if township_id in units else "",
                              "unit": units[unit_id].name if unit_id in units else "",
                              "level": level, "level_label": ALERT_LABELS[level],
                              "deadline": local(deadline)})
    typical = [{"id": cid, "code": _code_of(cid, created), "title": title, "kind": "good",
                "reason": f"{units[lead].name if lead in units else ''}当月办结、群众满意，用时"
                          f"{(closed - created).total_seconds() / 3600:.1f} 小时"}
               for cid, created, title, lead, closed in rows["good"]]
    typical += [{"id": cid, "code": _code_of(cid, created), "title": title, "kind": "bad",
                 "reason": f"{units[lead].name if lead in units else ''}返工 {rw} 次、退回 {rt} 次"}
                for cid, created, title, lead, rw, rt in rows["bad"]]
    return {"overdue_cases": overdue_cases,
            "supervised_cases": [{"id": cid, "code": _code_of(cid, created), "title": title, "note": note,
                                  "at": local(at)} for cid, created, title, note, at in rows["supervised"]],
            "typical_cases": typical}


def unranked_definition(names: list[str]) -> dict:
    """The appendix line that names the units left out of the ranking because no one whistled them."""
    rule = "当月接哨数为 0 的单位不计综合得分，不参与排名，也不列入红榜、黑榜"
    listed = f"：{'、'.join(names)}。（{rule}。）" if names else f"。{rule}；本月没有这样的单位。"
    return {"term": "不参与排名", "definition": NO_WHISTLES + listed}


def _metric_value(row: dict, key: str) -> Fraction | None:
    """A metric on a 0–1 scale, higher is better, exactly: a rate from its numerator and denominator (1 − rate
    for 退回率 and 返工率), the rating as shown (2 decimals) ÷ 5. None when it has no denominator."""
    if key == "rating":
        avg = row["rating"]["avg"]
        return None if avg is None else Fraction(as_decimal(avg)) / 5
    rate = exact_rate(row[key]["num"], row[key]["den"])
    if rate is None:
        return None
    return 1 - rate if key in LOWER_IS_BETTER else rate


def composite(row: dict, weights: dict) -> float | None:
    """Weighted mean of the metrics that have a denominator, as a score out of 100, computed exactly and
    rounded half up to 1 decimal."""
    parts = [(weights[k], v) for k in weights if (v := _metric_value(row, k)) is not None and weights[k] > 0]
    total = sum(w for w, _ in parts)
    if not total:
        return None
    return half_up(100 * sum(w * v for w, v in parts) / total, 1)


def county_averages(rows: list[dict]) -> dict:
    """Each metric over all units on the 0–1 scale of _metric_value, exactly: {key: Fraction | None}."""
    out = {}
    for key in DEFAULT_WEIGHTS:
        if key == "rating":
            num = sum(Fraction(as_decimal(r["rating"]["avg"])) * r["rating"]["count"]
                      for r in rows if r["rating"]["avg"] is not None)
            den = sum(r["rating"]["count"] for r in rows)
            out[key] = num / den / 5 if den else None
        else:
            rate = exact_rate(sum(r[key]["num"] for r in rows), sum(r[key]["den"] for r in rows))
            out[key] = None if rate is None else (1 - rate if key in LOWER_IS_BETTER else rate)
    return out


def _gaps(row: dict, averages: dict) -> list[tuple[float, str]]:
    gaps = []
    for key in DEFAULT_WEIGHTS:
        mine, avg = _metric_value(row, key), averages.get(key)
        if mine is not None and avg is not None:
            gaps.append((mine - avg, key))
    return sorted(gaps)


def _describe(row: dict, key: str, averages: dict) -> str:
    if key == "rating":
        avg = averages["rating"]
        return f"{METRIC_LABELS[key]} {half_up_text(row['rating']['avg'], 1)} 分（全县 {half_up_text(avg * 5, 1)} 分）"
    r, avg = row[key], averages[key]
    county = 1 - avg if key in LOWER_IS_BETTER else avg
    return f"{METRIC_LABELS[key]} {pct(exact_rate(r['num'], r['den']))}（{r['num']}/{r['den']}，全县 {pct(county)}）"


def praise(row: dict, averages: dict) -> str:
    best = [k for gap, k in reversed(_gaps(row, averages)) if gap >= 0][:2]
    return "；".join(_describe(row, k, averages) for k in best) or f"综合得分 {row['score']}"


def blame(row: dict, averages: dict) -> str:
    worst = [k for gap, k in _gaps(row, averages) if gap < 0][:2]
    return "；".join(_describe(row, k, averages) for k in worst) or f"综合得分 {row['score']}，为全县最低"

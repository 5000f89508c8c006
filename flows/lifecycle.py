"""The six-step loop (六步闭环) as one declarative table.

Read `TRANSITIONS` top to bottom: each line is one action a person can take on a case, the states
it may start from, the states it may lead to, the roles allowed, and the extra conditions (guards)
that must hold. Everything else — the API, `allowed_actions`, the demo — calls `decide()` and
`allowed_actions()` below; nothing else moves a case. Pure: no I/O, time comes in as `now`.

The Chinese names of states and actions are models/vocabulary.py's; each guard says in Chinese what it
requires (`@requires`). docs/lifecycle.md is this table for a township official, written by
`python -m chuishao.flows.lifecycle_doc`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from chuishao.flows import commands as cmd
from chuishao.flows.access import (
    DEPT_LIAISON,
    DEPT_OFFICER,
    DISPATCHER,
    GRID_WORKER,
    LEGAL_REVIEWER,
    SUPERVISOR,
    TOWNSHIP_LIAISON,
    Actor,
    reviews_township,
)
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.commands import Body
from chuishao.flows.errors import Invalid, NotAllowed
from chuishao.flows.sentences import display_name, join
from chuishao.flows.text import says_something
from chuishao.models import vocabulary as vocab
from chuishao.models.cases import Case, Extension, Feedback, LegalReview, Remark, Verification, Whistle
from chuishao.models.rows import new
from chuishao.models.vocabulary import (
    EXTENSION_APPROVED,
    EXTENSION_DENIED,
    EXTENSION_PENDING,
    WHISTLE_CHECKED_IN,
    WHISTLE_RETURNED,
    WHISTLE_SENT,
)

# ---- states (their Chinese labels: models/vocabulary.STATE_LABELS) ------------------------------
REPORTED = "reported"
ACCEPTED = "accepted"
DISPATCHED = "dispatched"
HANDLING = "handling"
FEEDBACK = "feedback"
CLOSED = "closed"
REJECTED = "rejected"
MERGED = "merged"
RETURNED = "returned"
DISPUTED = "disputed"
SUSPENDED = "suspended"
LEGAL_REVIEW = "legal_review"  # 法制审核: a major decision's feedback, before verification
STAY = "(unchanged)"  # the action is a record; the case stays where it is
PRIOR = "(state it left)"  # resume returns to the state suspend left

STATES = (REPORTED, ACCEPTED, DISPATCHED, HANDLING, FEEDBACK, CLOSED, REJECTED, MERGED, RETURNED, DISPUTED, SUSPENDED,
          LEGAL_REVIEW)
STATE_LABELS = vocab.STATE_LABELS
assert set(STATE_LABELS) == set(STATES), "every state needs its label in models/vocabulary.py"
STEP = {
    REPORTED: 1,
    ACCEPTED: 2,
    REJECTED: 2,
    MERGED: 2,
    DISPATCHED: 3,
    RETURNED: 3,
    DISPUTED: 3,
    HANDLING: 4,
    FEEDBACK: 5,
    LEGAL_REVIEW: 5,  # 结果反馈, reviewed before it goes to the township
    CLOSED: 6,
}
FINAL_STATES = frozenset({CLOSED, REJECTED, MERGED})
OPEN_STATES = frozenset(STATES) - FINAL_STATES
SUSPENDABLE = frozenset({ACCEPTED, DISPATCHED, HANDLING, FEEDBACK, RETURNED, DISPUTED, LEGAL_REVIEW})

RETURNS_BEFORE_DISPUTE = 2  # a case returned twice becomes disputed


def step_of(status: str, suspended_from: str | None = None) -> int:
    return STEP[suspended_from] if status == SUSPENDED and suspended_from else STEP[status]


# ---- the aggregate the rules act on -------------------------------------------------------
def certificate_status(no: str | None, expires: date | None, today: date) -> str:
    """An enforcement certificate (执法证) on `today` (local date): valid / expired / none / unknown (a number
    without an expiry date, which cannot be shown to be valid)."""
    if not no:
        return "none"
    if expires is None:
        return "unknown"
    return "valid" if expires >= today else "expired"


@dataclass
class OfficerFact:
    username: str
    unit_id: int
    certificate_no: str | None
    certificate_expires: date | None
    name: str | None = None  # the person's name, for messages
    active: bool = True  # a deactivated account counts for nobody

    @property
    def shown(self) -> str:
        return display_name(self.username, self.name)

    def unfit(self, lead_unit_id: int, day: date, *, enforcement: bool) -> tuple[str, str, str] | None:
        """Why this officer may not sign the lead unit's feedback on `day`: (code, zh, en), or None.
        Codes: not_in_lead_unit, inactive, and for an enforcement item no_certificate, no_expiry_date,
        certificate_expired (the rule, from 行政处罚法 (2021) 第四十二条: no fewer than two officers holding
        enforcement certificates)."""
        if self.unit_id != lead_unit_id:
            return "not_in_lead_unit", "不属于主办单位", "is not in the lead unit"
        if not self.active:
            return "inactive", "账号已停用", "has a deactivated account"
        if not enforcement:
            return None
        status = certificate_status(self.certificate_no, self.certificate_expires, day)
        if status == "none":
            return "no_certificate", "没有执法证", "holds no enforcement certificate"
        if status == "unknown":
            return ("no_expiry_date", f"执法证 {self.certificate_no} 未登记有效期",
                    f"has certificate {self.certificate_no} with no expiry date on record")
        if status == "expired":
            d = f"{self.certificate_expires:%Y-%m-%d}"
            return ("certificate_expired", f"执法证已于 {d} 过期",
                    f"has a certificate that expired on {d}")
        return None


@dataclass
class Facts:
    """What the service looked up for this action before deciding."""

    lead_unit_id: int | None = None  # dispatch / arbitrate, already routed and checked
    assist_unit_ids: list[int] = field(default_factory=list)
    officers: list[OfficerFact] = field(default_factory=list)  # feedback
    enforcement: bool = False  # the case's catalog item is an enforcement item
    major: bool = False  # the case's catalog item is marked 重大执法决定 (feedback goes to legal review)
    merge_target: Case | None = None


@dataclass
class CaseAggregate:
    case: Case
    whistles: list[Whistle]
    extensions: list[Extension] = field(default_factory=list)
    clocks: list = field(default_factory=list)  # running StepClocks; the rules ignore them, clocks.py follows
    added: list = field(default_factory=list)  # new rows for the unit of work to insert

    @property
    def active(self) -> list[Whistle]:
        return [w for w in self.whistles if w.active]

    @property
    def lead(self) -> Whistle | None:
        return next((w for w in self.active if w.role == "lead"), None)

    def whistle_of(self, unit_id: int) -> Whistle | None:
        return next((w for w in self.active if w.unit_id == unit_id), None)

    @property
    def pending_extension(self) -> Extension | None:
        return next((e for e in self.extensions if e.state == EXTENSION_PENDING), None)


@dataclass
class Context:
    agg: CaseAggregate
    actor: Actor
    now: datetime
    body: Body | None = None  # None while listing allowed actions
    facts: Facts = field(default_factory=Facts)
    record: dict = field(default_factory=dict)  # extra facts for the timeline payload

    @property
    def case(self) -> Case:
        return self.agg.case


# ---- guards: return why not (zh / en), or None when the condition holds ----------------------
Guard = Callable[[Context], tuple[str, str] | None]


def requires(zh: str):
    """Mark a guard, or an effect that refuses some bodies, with the condition it stands for in Chinese, as
    docs/lifecycle.md lists it for a township official (flows/lifecycle_doc.py)."""

    def mark(fn):
        fn.requires = zh
        return fn

    return mark


@requires("本单位持有该案件的有效哨令，且尚未报到")
def own_unit_whistled(ctx: Context):
    w = ctx.agg.whistle_of(ctx.actor.unit_id)
    if w is None:
        return "本单位没有该案件的有效哨令", "your unit holds no active whistle for this case"
    if w.state != WHISTLE_SENT:
        return "本单位已报到", "your unit has already checked in"
    return None


@requires("本单位是该案件的主办单位")
def lead_unit(ctx: Context):
    lead = ctx.agg.lead
    if lead is None or lead.unit_id != ctx.actor.unit_id:
        return "仅主办单位可执行此操作", "only the lead unit may do this"
    return None


@requires("主办单位尚未报到")
def lead_not_checked_in(ctx: Context):
    if ctx.agg.lead and ctx.agg.lead.state != WHISTLE_SENT:
        return "已报到的案件不能退回", "a case cannot be returned after check-in"
    return None


@requires("主办单位不是争议裁定指定的（裁定指定的单位不得再退回）")
def not_arbitrated(ctx: Context):
    if ctx.agg.lead and ctx.agg.lead.arbitrated:
        return "争议裁定指定的主办单位不得再次退回", "the unit named by arbitration may not return it again"
    return None


@requires("主办单位已报到")
def lead_checked_in(ctx: Context):
    if ctx.agg.lead is None or ctx.agg.lead.state != WHISTLE_CHECKED_IN:
        return "主办单位尚未报到", "the lead unit has not checked in"
    return None


@requires("没有待审批的延期申请")
def no_pending_extension(ctx: Context):
    if ctx.agg.pending_extension:
        return "已有待审批的延期申请", "an extension request is already pending"
    return None


@requires("有待审批的延期申请")
def has_pending_extension(ctx: Context):
    if not ctx.agg.pending_extension:
        return "没有待审批的延期申请", "there is no pending extension request"
    return None


@requires("网格员只能核查本人上报的事件")
def reporter_if_grid_worker(ctx: Context):
    if ctx.actor.role == GRID_WORKER and ctx.case.reporter_id != ctx.actor.id:
        return "网格员只能核查本人上报的事件", "a grid worker may only verify their own report"
    return None


@requires("已设置事项类别")
def category_set(ctx: Context):
    if not ctx.case.category:
        return "请先设置事项类别", "set the case's catalog item first"
    return None


# ---- effects: change the aggregate, return the state reached --------------------------------
def _accept(ctx: Context) -> str:
    b = ctx.body
    if b.category:
        ctx.case.category = b.category
    if b.urgency:
        ctx.case.urgency = b.urgency
    return ACCEPTED


def _reject(ctx: Context) -> str:
    return REJECTED


@requires("主案件须是本乡镇另一件未办结的案件")
def _merge(ctx: Context) -> str:
    target = ctx.facts.merge_target
    if target is None or target.id == ctx.case.id:
        raise Invalid("不能合并到本案件", "a case cannot be merged into itself")
    if target.township_id != ctx.case.township_id:
        raise Invalid("只能合并到本乡镇的案件", "the master case must be in the same township")
    if target.status == MERGED:
        raise Invalid("所选案件本身已合并到其他案件，请合并到它的主案件", "the chosen case was itself merged into another")
    if target.status in FINAL_STATES:
        label = STATE_LABELS[target.status]  # 已结案, 不予受理
        raise Invalid(f"主案件{'' if label.startswith('已') else '已'}{label}，不能合并", "the master case is no longer open")
    ctx.case.merged_into_id = target.id
    return MERGED


def _blow_whistles(ctx: Context, *, arbitrated: bool) -> str:
    facts = ctx.facts
    rounds = max((w.round for w in ctx.agg.whistles), default=0) + 1
    units = [(facts.lead_unit_id, "lead")] + [(u, "assist") for u in facts.assist_unit_ids]
    for unit_id, role in units:
        w = new(
            Whistle,
            case_id=ctx.case.id,
            unit_id=unit_id,
            role=role,
            state=WHISTLE_SENT,
            active=True,
            arbitrated=arbitrated and role == "lead",
            round=rounds,
            dispatched_at=ctx.now,
        )
        ctx.agg.whistles.append(w)
        ctx.agg.added.append(w)
    ctx.case.lead_unit_id = facts.lead_unit_id
    return DISPATCHED


def _dispatch(ctx: Context) -> str:
    return _blow_whistles(ctx, arbitrated=False)


def _arbitrate(ctx: Context) -> str:
    return _blow_whistles(ctx, arbitrated=True)


def _check_in(ctx: Context) -> str:
    w = ctx.agg.whistle_of(ctx.actor.unit_id)
    w.state, w.checked_in_at = WHISTLE_CHECKED_IN, ctx.now
    ctx.record["whistle_role"] = w.role
    # the lead's check-in starts handling; an assisting unit's is recorded only
    return HANDLING if w.role == "lead" else STAY


def _return(ctx: Context) -> str:
    lead = ctx.agg.lead
    lead.state, lead.returned_at, lead.return_reason = WHISTLE_RETURNED, ctx.now, ctx.body.reason
    for w in ctx.agg.active:  # the whole round goes back to the township for re-dispatch
        w.active = False
    ctx.case.lead_unit_id = None
    ctx.case.return_count += 1
    return DISPUTED if ctx.case.return_count >= RETURNS_BEFORE_DISPUTE else RETURNED


def _escalate_dispute(ctx: Context) -> str:
    return DISPUTED


def _request_extension(ctx: Context) -> str:
    ext = new(
        Extension,
        case_id=ctx.case.id,
        unit_id=ctx.actor.unit_id,
        working_days=ctx.body.working_days,
        reason=ctx.body.reason,
        state=EXTENSION_PENDING,
        requested_by_id=ctx.actor.id,
        requested_at=ctx.now,
    )
    ctx.agg.extensions.append(ext)
    ctx.agg.added.append(ext)
    return STAY


def _decide_extension(approved: bool):
    def effect(ctx: Context) -> str:
        ext = ctx.agg.pending_extension
        ext.state = EXTENSION_APPROVED if approved else EXTENSION_DENIED
        ext.decided_by_id, ext.decided_at, ext.decision_note = ctx.actor.id, ctx.now, ctx.body.note
        ctx.record["working_days"] = ext.working_days
        return STAY

    return effect


def _suspend(ctx: Context) -> str:
    ctx.case.suspended_from = ctx.case.status
    return SUSPENDED


def _resume(ctx: Context) -> str:
    prior, ctx.case.suspended_from = ctx.case.suspended_from, None
    return prior


def _officer_refusal(ctx: Context) -> None:
    """Refuse feedback whose named officers do not qualify, naming each officer and why (Invalid 422, beside
    the `officers` field; `extra["officers"]`: [{username, name, reason, zh, en}]). Every officer named must be
    active staff of the lead unit; an enforcement item also needs two of them holding a certificate valid on
    the local date (others may sign beside those two)."""
    facts = ctx.facts
    today = ctx.now.astimezone(LOCAL_TZ).date()
    unfit = [(o, why) for o in facts.officers
             if (why := o.unfit(ctx.agg.lead.unit_id, today, enforcement=facts.enforcement))]
    fit = len(facts.officers) - len(unfit)  # usernames are unique here (CaseService._facts)
    short = facts.enforcement and fit < 2
    named = unfit if short else [(o, why) for o, why in unfit if why[0] in ("not_in_lead_unit", "inactive")]
    if not short and not named:
        return
    zh_each = "；".join(f"{o.shown}{' ' if o.shown[-1].isascii() else ''}{zh}" for o, (_, zh, _) in named)
    en_each = "; ".join(f"{o.username} {en}" for o, (_, _, en) in named)
    extra = {"field": "officers", "officers": [
        {"username": o.username, "name": o.name, "reason": code, "zh": zh, "en": en} for o, (code, zh, en) in named]}
    if not short:
        raise Invalid(f"执法人员不符合要求：{zh_each}", f"these officers may not sign the result: {en_each}",
                      code="officers_not_eligible", extra=extra)
    if not facts.officers:
        zh_count, en_count = "未选择执法人员", "no officers are named"
    else:
        zh_count = f"所选 {len(facts.officers)} 名中符合条件的有 {fit} 名"
        en_count = f"{fit} of the {len(facts.officers)} named {'qualifies' if fit == 1 else 'qualify'}"
    raise Invalid(
        join(f"行政执法事项须由至少两名持有效执法证的主办单位执法人员办理，{zh_count}", zh_each, sep="："),
        join(f"an enforcement item needs at least two officers of the lead unit holding a valid enforcement "
             f"certificate, and {en_count}", en_each, sep=": "),
        code="certified_officers_required", extra=extra)


@requires("署名的执法人员须是主办单位在岗人员；行政执法事项须有至少两名持有效执法证的执法人员；"
          "重大执法决定（事项清单标注或部门勾选）先送法制审核")
def _feedback(ctx: Context) -> str:
    """结果反馈. A major decision (重大执法决定: the catalog item is marked major, the department marks it so now,
    or the case went to legal review before) goes to legal review (法制审核) instead of the township."""
    b, facts = ctx.body, ctx.facts
    _officer_refusal(ctx)
    major = facts.major or bool(b.major) or ctx.case.major
    ctx.agg.added.append(new(
        Feedback,
        case_id=ctx.case.id, unit_id=ctx.agg.lead.unit_id, outcome=b.outcome, result=b.result,
        officers=[o.username for o in facts.officers], major=major, submitted_by_id=ctx.actor.id, at=ctx.now,
    ))
    ctx.case.outcome = b.outcome  # proposed; only a passed verification makes it final
    if major:
        ctx.case.major = True
        return LEGAL_REVIEW
    return FEEDBACK


@requires("本人是法制审核员，且审核范围包括本案件（县司法局审核全县，乡镇司法所审核本乡镇）")
def reviewer_in_scope(ctx: Context):
    if not reviews_township(ctx.actor, ctx.case.township_id):
        return "不在本人的法制审核范围内", "the case is outside your legal review scope"
    return None


def _legal_decision(approved: bool):
    """法制审核: approve (on to the township's verification) or return with a reason (back to the lead unit's
    handling; counted as a legal-review return, not a rework). Records a LegalReview row: round 1 for the
    case's first review, +1 after each return."""

    def effect(ctx: Context) -> str:
        case = ctx.case
        ctx.agg.added.append(new(LegalReview,  # a return's reason is required and must say something (cmd.Return)
            case_id=case.id, unit_id=case.lead_unit_id, approved=approved,
            reason=ctx.body.note if approved else ctx.body.reason, round=case.legal_return_count + 1,
            reviewed_by_id=ctx.actor.id, reviewer_unit_id=ctx.actor.unit_id, at=ctx.now))
        if approved:
            return FEEDBACK
        case.legal_return_count += 1
        case.outcome = None
        return HANDLING

    return effect


@requires("核查不通过须写明原因；更正办理结果须核查通过并写明理由")
def _verify(ctx: Context) -> str:
    """核查. A failed verification must say why, so the department knows what to redo (返工). A passed one
    may correct the outcome the department proposed (`outcome`), with a note saying why; the timeline
    entry then carries `proposed_outcome` beside the corrected `outcome`."""
    b = ctx.body
    proposed = ctx.case.outcome
    corrected = b.outcome if b.outcome and b.outcome != proposed else None
    if b.outcome and not b.passed:
        raise Invalid("核查不通过时不能更正办理结果，部门返工后将重新反馈",
                      "an outcome can only be corrected when the verification passes; after rework the "
                      "department reports a new one", code="correction_needs_pass", extra={"field": "outcome"})
    if not b.passed and not says_something(b.note):  # the department must be told what to redo (返工)
        raise Invalid("核查不通过须写明原因", "a failed verification needs a note saying why",
                      code="reason_required", extra={"field": "note"})
    if corrected and not says_something(b.note):
        raise Invalid("更正办理结果须在核查意见中写明理由", "a corrected outcome needs a note saying why",
                      code="reason_required", extra={"field": "note"})
    ctx.agg.added.append(new(
        Verification,
        case_id=ctx.case.id, unit_id=ctx.case.lead_unit_id, passed=b.passed, note=b.note,
        satisfaction=b.satisfaction, rating=b.rating, verified_by_id=ctx.actor.id, at=ctx.now,
    ))
    if b.passed:
        if corrected:
            ctx.record["proposed_outcome"] = proposed
            ctx.case.outcome = corrected
        ctx.case.closed_at = ctx.now
        return CLOSED
    ctx.case.outcome = None
    ctx.case.rework_count += 1  # 返工
    return HANDLING


def _remark(kind: str):
    def effect(ctx: Context) -> str:
        ctx.agg.added.append(new(Remark, case_id=ctx.case.id, kind=kind, note=ctx.body.note, by_id=ctx.actor.id,
                                    unit_id=ctx.actor.unit_id, at=ctx.now))
        return STAY

    return effect


# ---- what an action does to the clocks (flows/clocks.follow carries it out) -------------------------------
# Every state change also stops the step's running clock and starts the next state's (flows/clocks.STEP_CLOCK);
# an action's `clock` names what it does beyond that.
CLOCK_STEP = "step"  # only what the state change does
CLOCK_START_WHISTLES = "start_whistles"  # each new whistle's check-in clock starts (报到计时)
CLOCK_END_OWN_WHISTLE = "end_own_whistle"  # the checking-in unit's check-in clock stops
CLOCK_END_WHISTLES = "end_whistles"  # the round's check-in clocks stop, as returned
CLOCK_PAUSE = "pause"  # every running clock pauses (挂起停止计时)
CLOCK_RESUME = "resume"  # every paused clock runs on
CLOCK_EXTEND = "extend"  # the handling deadline moves by the approved working days (顺延)
CLOCK_EFFECT_LABELS = {
    CLOCK_STEP: "随环节切换计时",
    CLOCK_START_WHISTLES: "各接哨单位开始报到计时",
    CLOCK_END_OWN_WHISTLE: "本单位报到计时结束",
    CLOCK_END_WHISTLES: "本轮报到计时结束（退回）",
    CLOCK_PAUSE: "暂停全部计时",
    CLOCK_RESUME: "恢复计时",
    CLOCK_EXTEND: "办理时限顺延所批工作日",
}


# ---- the public note an action leaves on the case (Open311 status_notes, docs/open311.md) ----------------
@dataclass(frozen=True)
class NoteFacts:
    """What one timeline entry's public note is written from: its payload `p`, the acting unit's name, a way to
    name other units (`name_of(code)`), the case's outcome and result as of the entry, and the state reached."""

    p: dict
    unit: str
    name_of: Callable[[str | None], str]
    outcome: str | None = None
    result: str | None = None
    to_state: str | None = None

    def get(self, key: str, default=""):
        return self.p.get(key) or default

    @property
    def tail(self) -> str:
        """The entry's note, if any, after a colon."""
        note = (self.p.get("note") or "").strip()
        return f"：{note}" if note else ""


def _whistle_note(head: str):
    def note(n: NoteFacts) -> str:
        assists = "、".join(n.name_of(a) for a in n.p.get("assist_units") or [])
        return head + n.name_of(n.p.get("lead_unit")) + (f"，协办单位：{assists}" if assists else "") + n.tail

    return note


def _feedback_note(n: NoteFacts) -> str:
    label = vocab.OUTCOME_LABELS.get(n.get("outcome"), "")
    then = "属重大执法决定，待法制审核" if n.to_state == LEGAL_REVIEW else "待乡镇核查"
    return f"{n.unit}已反馈办理结果（{label}），{then}：{n.get('result')}"


def _verify_note(n: NoteFacts) -> str:
    if not n.p.get("passed"):
        return "核查未通过，返工重新办理" + n.tail
    label = vocab.OUTCOME_LABELS.get(n.outcome or "", "已办结")
    if proposed := n.p.get("proposed_outcome"):  # the township corrected the outcome the department reported
        label += f"；部门反馈为{vocab.OUTCOME_LABELS.get(proposed, proposed)}，经核查更正"
    note = (n.p.get("note") or "").strip()
    return join(f"核查通过，已结案（{label}）", n.result and f"办理结果：{n.result}", note and f"核查意见：{note}")


# ---- how an action's form reads on the case page (api/web/forms.py builds it from the body model) -----------
@dataclass(frozen=True)
class Form:
    """The button (`submit`), one line on what the action does (`intro`), the message once done (`done`), whether
    the button warns (`danger`: the action ends or hands back something), and labels/hints of fields that read
    better for this action than the shared ones (models/vocabulary.FIELD_LABELS): {field: (label, hint)}."""

    submit: str
    intro: str
    done: str
    danger: bool = False
    fields: dict[str, tuple[str, str | None]] = field(default_factory=dict)


# ---- the table: one object per action ------------------------------------------------------------------
@dataclass(frozen=True)
class Transition:
    """One action, everything about it in one place.

    The rule (a township official reads these in docs/lifecycle.md): `action`, the states it may `start` from,
    the states it may lead `to`, the `roles` allowed, the `guards` that must hold, and the `effect` on the case.
    Around the rule: the request `body` model (flows/commands.py), what it does to the `clock`s (CLOCK_*), who
    `hears` of it (flows/audience.py keys: township:ROLE, lead:ROLE, whistled:ROLE, county:ROLE, reporter), the
    public `note` it leaves (Open311), its English words for refusals (`en`: thing, past participle, link), and
    its `form` on the case page; `tells_status` is False for a remark whose note is not the case's status.
    tests/unit/test_transition_table.py checks every action carries all of it."""

    action: str
    start: frozenset[str]
    to: tuple[str, ...]
    roles: frozenset[str]
    guards: tuple[Guard, ...]
    effect: Callable[[Context], str]
    body: type[Body]
    clock: str
    hears: tuple[str, ...]
    note: Callable[[NoteFacts], str]
    en: tuple[str, str, str | None]
    form: Form
    tells_status: bool = True  # its note says where the case stands (Open311 status_notes); 催办/督办 do not

    @property
    def label(self) -> str:
        """The action in Chinese (models/vocabulary.ACTION_LABELS)."""
        return ACTION_LABELS[self.action]



def T(action, start, to, roles, guards, effect, **around) -> Transition:
    return Transition(action, frozenset(start), tuple(to), frozenset(roles), tuple(guards), effect, **around)


DEPT = (DEPT_LIAISON, DEPT_OFFICER)
OPEN = OPEN_STATES
TOWNSHIP_DESK = f"township:{DISPATCHER}"  # who hears: the township's dispatchers (受理员)
TOWNSHIP_LIAISONS = f"township:{TOWNSHIP_LIAISON}"
LEAD_LIAISON, LEAD_OFFICERS = f"lead:{DEPT_LIAISON}", f"lead:{DEPT_OFFICER}"
WHISTLED_LIAISONS = f"whistled:{DEPT_LIAISON}"
COUNTY = f"county:{SUPERVISOR}"
REPORTER = "reporter"
REVIEWERS = f"reviewers:{LEGAL_REVIEWER}"  # the legal reviewers whose scope covers the case (flows/audience.py)

TRANSITIONS: tuple[Transition, ...] = (
    #  action               from                        to                       who                                        guards                                       effect
    T("accept",            [REPORTED],                 [ACCEPTED],              [DISPATCHER],                              [],                                          _accept,
      body=cmd.Accept, clock=CLOCK_STEP, hears=(REPORTER,), en=("a case", "accepted", None),
      note=lambda n: "乡镇已受理，正在核实分类" + n.tail,
      form=Form("确认受理", "确认事件属实、属于本乡镇受理范围；请核对事项类别，吹哨时据此确定主办单位。", "已受理",
                fields={"category": ("事项类别", "按事项清单选择（按大类分组）；吹哨时据此确定主办单位"),
                        "note": ("受理意见", "可选")})),
    T("reject",            [REPORTED],                 [REJECTED],              [DISPATCHER],                              [],                                          _reject,
      body=cmd.Reject, clock=CLOCK_STEP, hears=(REPORTER,), en=("a case", "rejected", None),
      note=lambda n: f"不予受理：{n.get('reason')}",
      form=Form("不予受理", "不属于受理范围或信息不实的事件不予受理，案件就此结束，理由将告知上报人。", "已不予受理",
                danger=True)),
    T("merge",             [REPORTED, ACCEPTED],       [MERGED],                [DISPATCHER],                              [],                                          _merge,
      body=cmd.Merge, clock=CLOCK_STEP, hears=(REPORTER,), en=("a case", "merged", None),
      note=lambda n: f"与服务请求 {n.get('into')} 重复，已合并办理",
      form=Form("合并到所选案件", "与已有案件重复的，合并到主案件后本案件结束，后续在主案件中办理。", "已合并到主案件")),
    T("dispatch",          [ACCEPTED, RETURNED],       [DISPATCHED],            [DISPATCHER],                              [category_set],                              _dispatch,
      body=cmd.Dispatch, clock=CLOCK_START_WHISTLES, hears=(WHISTLED_LIAISONS,), en=("a case", "dispatched", None),
      note=_whistle_note("已吹哨，主办单位："),
      form=Form("吹哨派发", "向主办单位和协办单位吹哨，接哨单位须在时限内报到。", "已吹哨派发",
                fields={"note": ("派发说明", "可选，随哨令发给接哨单位"),
                        "assist_units": ("协办单位", "默认按事项清单勾选，可增减；全部不选即不派协办")})),
    T("check_in",          [DISPATCHED, HANDLING],     [HANDLING, STAY],        DEPT,                                      [own_unit_whistled],                         _check_in,
      body=cmd.CheckIn, clock=CLOCK_END_OWN_WHISTLE, hears=(TOWNSHIP_DESK, TOWNSHIP_LIAISONS),
      en=("a whistle", "checked in", "on"),
      note=lambda n: f"{n.unit}已报到" + ("，正在办理" if n.to_state == HANDLING else "（协办）") + n.tail,
      form=Form("确认报到", "确认本单位接哨并开始办理；主办单位报到后开始计算办理时限。", "已报到",
                fields={"note": ("报到说明", "可选，例如承办人和预计到场时间")})),
    T("return",            [DISPATCHED],               [RETURNED, DISPUTED],    [DEPT_LIAISON],                            [lead_unit, lead_not_checked_in, not_arbitrated], _return,
      body=cmd.Return, clock=CLOCK_END_WHISTLES, hears=(TOWNSHIP_DESK,), en=("a case", "returned", None),
      note=lambda n: join(f"{n.unit}退回：{n.get('reason')}", "待乡镇重新派遣", sep="；"),
      form=Form("退回乡镇", "报到前发现不属于本单位职责的，可退回乡镇重新派发；同一案件退回两次即转为争议，由县级裁定。",
                "已退回乡镇", danger=True,
                fields={"reason": ("退回理由", "写明为何不属于本单位职责、建议由哪个单位办理")})),
    T("escalate_dispute",  [RETURNED],                 [DISPUTED],              [DISPATCHER],                              [],                                          _escalate_dispute,
      body=cmd.EscalateDispute, clock=CLOCK_STEP, hears=(COUNTY,), en=("a case", "escalated as a dispute", None),
      note=lambda n: f"职责有争议，已提请县级裁定：{n.get('reason')}",
      form=Form("提请县级裁定", "对退回的案件无法确定主办单位时，提请县级监督裁定。", "已提请县级裁定",
                fields={"reason": ("提请理由", "写明争议所在，由县级监督裁定主办单位")})),
    T("arbitrate",         [DISPUTED],                 [DISPATCHED],            [SUPERVISOR],                              [],                                          _arbitrate,
      body=cmd.Arbitrate, clock=CLOCK_START_WHISTLES, hears=(WHISTLED_LIAISONS, TOWNSHIP_DESK),
      en=("a case", "arbitrated", None),
      note=_whistle_note("县级裁定主办单位："),
      form=Form("作出裁定", "指定主办单位（及协办单位）并重新吹哨；被指定的主办单位不得再次退回。", "已裁定并重新吹哨",
                fields={"lead_unit": ("裁定主办单位", "裁定后该单位不得再次退回"), "note": ("裁定意见", "可选")})),
    T("request_extension", [HANDLING],                 [STAY],                  DEPT,                                      [lead_unit, no_pending_extension],           _request_extension,
      body=cmd.RequestExtension, clock=CLOCK_STEP, hears=(TOWNSHIP_LIAISONS,), en=("an extension", "requested", "for"),
      note=lambda n: f"{n.unit}申请延期 {n.get('working_days')} 个工作日：{n.get('reason')}",
      form=Form("提交延期申请", "须在办理时限届满前申请，由乡镇执法联络员审批；批准后顺延办理时限。",
                "延期申请已提交，等待审批", fields={"reason": ("延期理由", "写明需要延期的具体原因")})),
    T("approve_extension", [HANDLING],                 [STAY],                  [TOWNSHIP_LIAISON],                        [has_pending_extension],                     _decide_extension(True),
      body=cmd.Decide, clock=CLOCK_EXTEND, hears=(LEAD_LIAISON, LEAD_OFFICERS), en=("an extension", "approved", "for"),
      note=lambda n: f"延期 {n.get('working_days')} 个工作日已批准" + n.tail,
      form=Form("批准延期", "批准后，办理时限顺延所申请的工作日数。", "已批准延期",
                fields={"note": ("审批意见", "可选")})),
    T("deny_extension",    [HANDLING],                 [STAY],                  [TOWNSHIP_LIAISON],                        [has_pending_extension],                     _decide_extension(False),
      body=cmd.Decide, clock=CLOCK_STEP, hears=(LEAD_LIAISON, LEAD_OFFICERS), en=("an extension", "denied", "for"),
      note=lambda n: "延期申请未获批准" + n.tail,
      form=Form("驳回延期", "驳回后，仍按原办理时限办理。", "已驳回延期", danger=True,
                fields={"note": ("驳回理由", "建议写明理由，将通知申请单位")})),
    T("suspend",           SUSPENDABLE,                [SUSPENDED],             [TOWNSHIP_LIAISON],                        [],                                          _suspend,
      body=cmd.Suspend, clock=CLOCK_PAUSE, hears=(LEAD_LIAISON, TOWNSHIP_DESK), en=("a case", "suspended", None),
      note=lambda n: f"已挂起（缓办）：{n.get('reason')}",
      form=Form("挂起案件", "因客观原因暂时无法办理的，挂起期间停止计时，不计入超期。", "案件已挂起", danger=True,
                fields={"reason": ("挂起理由", "挂起期间停止计时，恢复后继续")})),
    T("resume",            [SUSPENDED],                [PRIOR],                 [TOWNSHIP_LIAISON],                        [],                                          _resume,
      body=cmd.Resume, clock=CLOCK_RESUME, hears=(LEAD_LIAISON, TOWNSHIP_DESK), en=("a case", "resumed", None),
      note=lambda n: "已恢复办理",
      form=Form("恢复办理", "恢复到挂起前的环节，继续计时。", "案件已恢复办理")),
    T("feedback",          [HANDLING],                 [FEEDBACK, LEGAL_REVIEW], DEPT,                                     [lead_unit, lead_checked_in],                _feedback,
      body=cmd.FeedbackBody, clock=CLOCK_STEP, hears=(TOWNSHIP_LIAISONS, REPORTER, REVIEWERS),
      en=("a result", "reported", "for"),
      note=_feedback_note,
      form=Form("提交办理结果", "办理完毕后提交结果，由乡镇核查；部门不能自行结案。重大执法决定先送法制审核。",
                "办理结果已提交", fields={"result": ("办理情况", "写明处置经过和结果；现场照片请在上方先上传")})),
    T("approve_legal_review", [LEGAL_REVIEW],          [FEEDBACK],              [LEGAL_REVIEWER],                          [reviewer_in_scope],                         _legal_decision(True),
      body=cmd.Decide, clock=CLOCK_STEP, hears=(TOWNSHIP_LIAISONS,), en=("a legal review", "approved", "for"),
      note=lambda n: "法制审核通过，待乡镇核查" + n.tail,
      form=Form("审核通过", "执法主体、事实证据、程序、法律适用和裁量均无问题的，审核通过，交乡镇核查。", "法制审核已通过",
                fields={"note": ("审核意见", "可选，例如：事实清楚，证据充分，程序合法，同意")})),
    T("return_legal_review", [LEGAL_REVIEW],           [HANDLING],              [LEGAL_REVIEWER],                          [reviewer_in_scope],                         _legal_decision(False),
      body=cmd.Return, clock=CLOCK_STEP, hears=(LEAD_LIAISON, LEAD_OFFICERS), en=("a legal review", "returned", "for"),
      note=lambda n: f"法制审核退回，重新办理：{n.get('reason')}",
      form=Form("退回重办", "发现问题的，写明理由退回主办单位重新办理，改正后重新提交审核。", "已退回主办单位重新办理",
                danger=True, fields={"reason": ("退回理由", "写明存在的问题和需要补正的内容，主办单位将据此重新办理")})),
    T("verify",            [FEEDBACK],                 [CLOSED, HANDLING],      [TOWNSHIP_LIAISON, GRID_WORKER],           [reporter_if_grid_worker],                   _verify,
      body=cmd.Verify, clock=CLOCK_STEP, hears=(LEAD_LIAISON, LEAD_OFFICERS, REPORTER), en=("a case", "verified", None),
      note=_verify_note,
      form=Form("提交核查结果", "到现场或回访核实办理结果：通过即结案，不通过则退回部门返工。", "核查结果已提交",
                fields={"outcome": ("更正办理结果", "核查发现部门反馈的办理结果与实际不符时选择，并在核查意见中写明理由"),
                        "note": ("核查意见", "不通过时必填：写明仍存在的问题，部门将据此返工；更正办理结果时写明理由")})),
    T("urge",              OPEN - {REPORTED},          [STAY],                  [DISPATCHER, TOWNSHIP_LIAISON, SUPERVISOR], [],                                         _remark("urge"),
      body=cmd.Remark, clock=CLOCK_STEP, hears=(LEAD_LIAISON, TOWNSHIP_DESK), en=("a reminder", "sent", "for"),
      note=lambda n: "催办" + n.tail, tells_status=False,
      form=Form("发出催办", "提醒承办单位抓紧办理，不改变案件状态。", "已催办",
                fields={"note": ("催办内容", "写明催办要求，将通知承办单位")})),
    T("supervise",         OPEN,                       [STAY],                  [SUPERVISOR],                              [],                                          _remark("supervise"),
      body=cmd.Remark, clock=CLOCK_STEP, hears=(LEAD_LIAISON, TOWNSHIP_LIAISONS), en=("county supervision", "ordered", "for"),
      note=lambda n: "督办" + n.tail, tells_status=False,
      form=Form("发出督办", "县级督办，记入通报，不改变案件状态。", "已督办",
                fields={"note": ("督办意见", "写明督办要求，将通知承办单位和乡镇")})),
)  # fmt: skip

BY_ACTION = {t.action: t for t in TRANSITIONS}
BODIES = {t.action: t.body for t in TRANSITIONS}  # each action's request body model
ACTION_LABELS = vocab.ACTION_LABELS  # the table's actions, and the timeline's "report" and "attach"
assert set(BY_ACTION) <= set(ACTION_LABELS), "every action needs its label in models/vocabulary.py"


def refusal_en(action: str, *, state: str | None = None, role: str | None = None) -> str:
    """Why `action` is refused, in English: in this `state`, or for this `role`.
    "a case in state 'handling' cannot be accepted"; "a whistle cannot be checked in on a case in state …"."""
    thing, done, link = BY_ACTION[action].en
    if state is not None:
        where = f"a case in state '{state}'"
        return f"{where} cannot be {done}" if link is None else f"{thing} cannot be {done} {link} {where}"
    return f"{thing} cannot be {done} by role '{role}'"


# ---- the two entry points -----------------------------------------------------------------
def _why_not(t: Transition, ctx: Context) -> tuple[str, str] | None:
    status = ctx.case.status
    if status not in t.start:
        return f"案件当前为「{STATE_LABELS[status]}」，不能{t.label}", refusal_en(t.action, state=status)
    if ctx.actor.role not in t.roles:
        return f"当前角色不能{t.label}", refusal_en(t.action, role=ctx.actor.role)
    return _guard_refusal(t, ctx)


def _guard_refusal(t: Transition, ctx: Context) -> tuple[str, str] | None:
    """The first of the row's guards that refuses, or None."""
    for guard in t.guards:
        refusal = guard(ctx)
        if refusal:
            return refusal
    return None


_CANDIDATES: dict[tuple[str, str], tuple[Transition, ...]] = {}


def allowed_actions(agg: CaseAggregate, actor: Actor, now: datetime) -> list[str]:
    """The actions `actor` may take on the case now, in TRANSITIONS' order (every case view lists them)."""
    key = (agg.case.status, actor.role)
    candidates = _CANDIDATES.get(key)
    if candidates is None:  # the state and role checks, once per pair: only the guards depend on the case
        candidates = _CANDIDATES[key] = tuple(t for t in TRANSITIONS if key[0] in t.start and key[1] in t.roles)
    ctx = Context(agg, actor, now)
    return [t.action for t in candidates if _guard_refusal(t, ctx) is None]


def ensure_allowed(ctx: Context, action: str) -> None:
    """Raise NotAllowed, naming what the caller may do now, unless `action` is allowed."""
    refusal = _why_not(BY_ACTION[action], ctx)
    if refusal:
        allowed = allowed_actions(ctx.agg, ctx.actor, ctx.now)
        zh_allowed = "、".join(ACTION_LABELS[a] for a in allowed) or "无"
        raise NotAllowed(
            join(refusal[0], f"当前可执行：{zh_allowed}"),
            join(refusal[1], f"Allowed now: {', '.join(allowed) or 'none'}", sep=". "),
            extra={"allowed_actions": allowed},
        )


def decide(ctx: Context, action: str) -> tuple[str, str]:
    """Apply `action` to the aggregate; return (from_state, to_state). Raises NotAllowed/Invalid."""
    ensure_allowed(ctx, action)
    t = BY_ACTION[action]
    before = ctx.case.status
    reached = t.effect(ctx)
    assert reached in t.to or (PRIOR in t.to and reached in SUSPENDABLE), (action, reached)
    after = before if reached == STAY else reached
    ctx.case.status = after
    ctx.case.updated_at = ctx.now
    return before, after

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

from chuishao.flows.access import (
    DEPT_LIAISON,
    DEPT_OFFICER,
    DISPATCHER,
    GRID_WORKER,
    SUPERVISOR,
    TOWNSHIP_LIAISON,
    Actor,
)
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.commands import Body
from chuishao.flows.errors import Invalid, NotAllowed
from chuishao.flows.sentences import display_name, join
from chuishao.flows.text import says_something
from chuishao.models import vocabulary as vocab
from chuishao.models.cases import Case, Extension, Feedback, Remark, Verification, Whistle
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
STAY = "(unchanged)"  # the action is a record; the case stays where it is
PRIOR = "(state it left)"  # resume returns to the state suspend left

STATES = (REPORTED, ACCEPTED, DISPATCHED, HANDLING, FEEDBACK, CLOSED, REJECTED, MERGED, RETURNED, DISPUTED, SUSPENDED)
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
    CLOSED: 6,
}
FINAL_STATES = frozenset({CLOSED, REJECTED, MERGED})
OPEN_STATES = frozenset(STATES) - FINAL_STATES
SUSPENDABLE = frozenset({ACCEPTED, DISPATCHED, HANDLING, FEEDBACK, RETURNED, DISPUTED})

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
    if target.status in FINAL_STATES:
        raise Invalid("主案件已办结，不能合并", "the master case is no longer open")
    ctx.case.merged_into_id = target.id
    return MERGED


def _blow_whistles(ctx: Context, *, arbitrated: bool) -> str:
    facts = ctx.facts
    rounds = max((w.round for w in ctx.agg.whistles), default=0) + 1
    units = [(facts.lead_unit_id, "lead")] + [(u, "assist") for u in facts.assist_unit_ids]
    for unit_id, role in units:
        w = Whistle(
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
    ext = Extension(
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


@requires("署名的执法人员须是主办单位在岗人员；行政执法事项须有至少两名持有效执法证的执法人员")
def _feedback(ctx: Context) -> str:
    b, facts = ctx.body, ctx.facts
    _officer_refusal(ctx)
    ctx.agg.added.append(Feedback(
        case_id=ctx.case.id, unit_id=ctx.agg.lead.unit_id, outcome=b.outcome, result=b.result,
        officers=[o.username for o in facts.officers], submitted_by_id=ctx.actor.id, at=ctx.now,
    ))
    ctx.case.outcome = b.outcome  # proposed; only a passed verification makes it final
    return FEEDBACK


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
    ctx.agg.added.append(Verification(
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
        ctx.agg.added.append(Remark(case_id=ctx.case.id, kind=kind, note=ctx.body.note, by_id=ctx.actor.id,
                                    unit_id=ctx.actor.unit_id, at=ctx.now))
        return STAY

    return effect


# ---- the table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Transition:
    action: str
    start: frozenset[str]
    to: tuple[str, ...]
    roles: frozenset[str]
    guards: tuple[Guard, ...]
    effect: Callable[[Context], str]

    @property
    def label(self) -> str:
        """The action in Chinese (models/vocabulary.ACTION_LABELS)."""
        return ACTION_LABELS[self.action]


def T(action, start, to, roles, guards, effect) -> Transition:
    return Transition(action, frozenset(start), tuple(to), frozenset(roles), tuple(guards), effect)


DEPT = (DEPT_LIAISON, DEPT_OFFICER)
OPEN = OPEN_STATES

TRANSITIONS: tuple[Transition, ...] = (
    #  action               from                        to                       who                                        guards
    T("accept",            [REPORTED],                 [ACCEPTED],              [DISPATCHER],                              [],                                          _accept),
    T("reject",            [REPORTED],                 [REJECTED],              [DISPATCHER],                              [],                                          _reject),
    T("merge",             [REPORTED, ACCEPTED],       [MERGED],                [DISPATCHER],                              [],                                          _merge),
    T("dispatch",          [ACCEPTED, RETURNED],       [DISPATCHED],            [DISPATCHER],                              [category_set],                              _dispatch),
    T("check_in",          [DISPATCHED, HANDLING],     [HANDLING, STAY],        DEPT,                                      [own_unit_whistled],                         _check_in),
    T("return",            [DISPATCHED],               [RETURNED, DISPUTED],    [DEPT_LIAISON],                            [lead_unit, lead_not_checked_in, not_arbitrated], _return),
    T("escalate_dispute",  [RETURNED],                 [DISPUTED],              [DISPATCHER],                              [],                                          _escalate_dispute),
    T("arbitrate",         [DISPUTED],                 [DISPATCHED],            [SUPERVISOR],                              [],                                          _arbitrate),
    T("request_extension", [HANDLING],                 [STAY],                  DEPT,                                      [lead_unit, no_pending_extension],           _request_extension),
    T("approve_extension", [HANDLING],                 [STAY],                  [TOWNSHIP_LIAISON],                        [has_pending_extension],                     _decide_extension(True)),
    T("deny_extension",    [HANDLING],                 [STAY],                  [TOWNSHIP_LIAISON],                        [has_pending_extension],                     _decide_extension(False)),
    T("suspend",           SUSPENDABLE,                [SUSPENDED],             [TOWNSHIP_LIAISON],                        [],                                          _suspend),
    T("resume",            [SUSPENDED],                [PRIOR],                 [TOWNSHIP_LIAISON],                        [],                                          _resume),
    T("feedback",          [HANDLING],                 [FEEDBACK],              DEPT,                                      [lead_unit, lead_checked_in],                _feedback),
    T("verify",            [FEEDBACK],                 [CLOSED, HANDLING],      [TOWNSHIP_LIAISON, GRID_WORKER],           [reporter_if_grid_worker],                   _verify),
    T("urge",              OPEN - {REPORTED},          [STAY],                  [DISPATCHER, TOWNSHIP_LIAISON, SUPERVISOR], [],                                         _remark("urge")),
    T("supervise",         OPEN,                       [STAY],                  [SUPERVISOR],                              [],                                          _remark("supervise")),
)  # fmt: skip

BY_ACTION = {t.action: t for t in TRANSITIONS}
ACTION_LABELS = vocab.ACTION_LABELS  # the table's actions, and the timeline's "report" and "attach"
assert set(BY_ACTION) <= set(ACTION_LABELS), "every action needs its label in models/vocabulary.py"
# each action in English, for refusals: (what is acted on, past participle, how that thing relates to the case).
# "a case in state 'handling' cannot be accepted"; "a whistle cannot be checked in on a case in state ..."
ACTION_EN: dict[str, tuple[str, str, str | None]] = {
    "accept": ("a case", "accepted", None),
    "reject": ("a case", "rejected", None),
    "merge": ("a case", "merged", None),
    "dispatch": ("a case", "dispatched", None),
    "check_in": ("a whistle", "checked in", "on"),
    "return": ("a case", "returned", None),
    "escalate_dispute": ("a case", "escalated as a dispute", None),
    "arbitrate": ("a case", "arbitrated", None),
    "request_extension": ("an extension", "requested", "for"),
    "approve_extension": ("an extension", "approved", "for"),
    "deny_extension": ("an extension", "denied", "for"),
    "suspend": ("a case", "suspended", None),
    "resume": ("a case", "resumed", None),
    "feedback": ("a result", "reported", "for"),
    "verify": ("a case", "verified", None),
    "urge": ("a reminder", "sent", "for"),  # 催办
    "supervise": ("county supervision", "ordered", "for"),  # 督办
}
assert set(ACTION_EN) == set(BY_ACTION), "every action needs its English words"


def refusal_en(action: str, *, state: str | None = None, role: str | None = None) -> str:
    """Why `action` is refused, in English: in this `state`, or for this `role`."""
    thing, done, link = ACTION_EN[action]
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
    for guard in t.guards:
        refusal = guard(ctx)
        if refusal:
            return refusal
    return None


def allowed_actions(agg: CaseAggregate, actor: Actor, now: datetime) -> list[str]:
    ctx = Context(agg, actor, now)
    return [t.action for t in TRANSITIONS if _why_not(t, ctx) is None]


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

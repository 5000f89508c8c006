"""The transition table as data (flows/lifecycle.py), with no database: who may do what in each state, each
guard's refusal, and what each action does to a case held in memory."""

import ast
from datetime import date
from pathlib import Path

import pytest

from chuishao.flows import lifecycle as lc
from chuishao.flows.commands import Body, parse_body
from chuishao.flows.errors import Invalid, NotAllowed
from chuishao.models import vocabulary as vocab
from chuishao.models.cases import Feedback, LegalReview, Remark, Verification
from chuishao.models.rows import is_row
from tests.unit.memory import ACTORS, ASSIST, FC, LEAD, NEVER, NOW, SFJ, XH, case, pending_extension, typical


def ctx(agg: lc.CaseAggregate, who: str, action: str | None = None, facts: lc.Facts | None = None,
        **raw) -> lc.Context:
    body = parse_body(lc.BODIES[action], raw) if action else None
    return lc.Context(agg, ACTORS[who], NOW, body=body, facts=facts or lc.Facts())


def allowed(agg: lc.CaseAggregate, who: str) -> set[str]:
    return set(lc.allowed_actions(agg, ACTORS[who], NOW))


# ---- who may do what ------------------------------------------------------------------------------
# Written by hand from the six-step loop as a township explains it, for a case as it usually stands in that
# state (tests/unit/memory.typical): the table must give exactly these.
EXPECTED = {
    (lc.REPORTED, "dispatcher"): {"accept", "reject", "merge"},
    (lc.REPORTED, "supervisor"): {"supervise"},
    (lc.REPORTED, "reporter"): set(),
    (lc.ACCEPTED, "dispatcher"): {"merge", "dispatch", "urge"},
    (lc.ACCEPTED, "liaison"): {"suspend", "urge"},
    (lc.DISPATCHED, "lead liaison"): {"check_in", "return"},
    (lc.DISPATCHED, "lead officer"): {"check_in"},  # only a liaison returns a whistle
    (lc.DISPATCHED, "assist liaison"): {"check_in"},  # only the lead returns
    (lc.DISPATCHED, "unwhistled department"): set(),
    (lc.HANDLING, "lead liaison"): {"request_extension", "feedback"},
    (lc.HANDLING, "lead officer"): {"request_extension", "feedback"},
    (lc.HANDLING, "assist liaison"): {"check_in"},
    (lc.HANDLING, "liaison"): {"suspend", "urge"},
    (lc.HANDLING, "supervisor"): {"urge", "supervise"},
    (lc.FEEDBACK, "liaison"): {"suspend", "verify", "urge"},
    (lc.FEEDBACK, "reporter"): {"verify"},
    (lc.FEEDBACK, "other grid worker"): set(),
    (lc.RETURNED, "dispatcher"): {"dispatch", "escalate_dispute", "urge"},
    (lc.DISPUTED, "supervisor"): {"arbitrate", "urge", "supervise"},
    (lc.DISPUTED, "dispatcher"): {"urge"},
    (lc.SUSPENDED, "liaison"): {"resume", "urge"},
    (lc.CLOSED, "supervisor"): set(),
    (lc.REJECTED, "dispatcher"): set(),
    (lc.MERGED, "dispatcher"): set(),
    (lc.HANDLING, "admin"): set(),
    (lc.HANDLING, "integrator"): set(),
    # the table does not judge scope: the service refuses another township's case (403) before asking it
    (lc.HANDLING, "other township"): {"urge"},
    # 法制审核: a major decision's feedback waits for a legal reviewer whose scope covers it, not the township
    (lc.LEGAL_REVIEW, "county reviewer"): {"approve_legal_review", "return_legal_review"},
    (lc.LEGAL_REVIEW, "township reviewer"): {"approve_legal_review", "return_legal_review"},
    (lc.LEGAL_REVIEW, "liaison"): {"suspend", "urge"},
    (lc.LEGAL_REVIEW, "reporter"): set(),
    (lc.LEGAL_REVIEW, "lead liaison"): set(),
    (lc.LEGAL_REVIEW, "supervisor"): {"urge", "supervise"},
    (lc.FEEDBACK, "county reviewer"): set(),
    (lc.HANDLING, "township reviewer"): set(),
}


@pytest.mark.parametrize("state, who", list(EXPECTED), ids=[f"{s}-{w}" for s, w in EXPECTED])
def test_each_role_may_do_what_the_loop_says_in_each_state(state, who):
    assert allowed(typical(state), who) == EXPECTED[(state, who)]


@pytest.mark.parametrize("state", lc.STATES)
def test_every_cell_is_allowed_or_refused_by_the_first_rule_it_breaks(state):
    """Every state × person × action: allowed exactly when the state is in the row's `from`, the role in its
    `who` and no guard objects; otherwise refused (422) by the first of these that fails, in Chinese and English,
    naming what is allowed now."""
    agg = typical(state)
    for who, actor in ACTORS.items():
        now_allowed = lc.allowed_actions(agg, actor, NOW)
        for t in lc.TRANSITIONS:
            c = ctx(agg, who)
            guard = next((why for g in t.guards if (why := g(c))), None)
            if state not in t.start:
                first = (f"案件当前为「{lc.STATE_LABELS[state]}」，不能{t.label}", lc.refusal_en(t.action, state=state))
            elif actor.role not in t.roles:
                first = (f"当前角色不能{t.label}", lc.refusal_en(t.action, role=actor.role))
            else:
                first = guard
            if first is None:
                lc.ensure_allowed(c, t.action)
                assert t.action in now_allowed, (state, who, t.action)
                continue
            with pytest.raises(NotAllowed) as refused:
                lc.ensure_allowed(c, t.action)
            err = refused.value
            assert err.zh.startswith(first[0]) and err.en.startswith(first[1]), (state, who, t.action, err.message)
            assert err.extra["allowed_actions"] == now_allowed and t.action not in now_allowed
            assert "当前可执行：" in err.zh and "Allowed now:" in err.en


def test_the_table_leaves_no_state_stranded():
    """Final states are never left; every other state is reached by some action and has a way on."""
    starts = {s for t in lc.TRANSITIONS for s in t.start}
    reached = {s for t in lc.TRANSITIONS for s in t.to} | {lc.REPORTED}
    moving = {s for t in lc.TRANSITIONS for s in t.start if set(t.to) - {lc.STAY}}
    assert not starts & lc.FINAL_STATES
    assert set(lc.STATES) <= reached
    assert moving == set(lc.OPEN_STATES)


# ---- each action in one place -----------------------------------------------------------------------------
AUDIENCE_PLACES = ("township", "lead", "whistled", "county", "reviewers")
SAMPLE_PAYLOAD = {"note": "请尽快处理", "reason": "不属于本单位职责", "working_days": 3, "outcome": "resolved",
                  "result": "已现场拆除", "passed": True, "lead_unit": "ZRZY", "assist_units": ["ZJJ"], "into": "12"}


@pytest.mark.parametrize("t", lc.TRANSITIONS, ids=lambda t: t.action)
def test_every_action_carries_everything_about_it(t):
    """Each row holds its rule, body, clock effect, audience, public note, English words and form texts, so no
    other module needs a table keyed by action name."""
    assert t.start and t.to and t.roles and callable(t.effect)
    assert issubclass(t.body, Body) and t.body.model_json_schema()["type"] == "object"
    assert t.clock in lc.CLOCK_EFFECT_LABELS
    assert t.hears, "someone must hear of every action"
    for key in t.hears:
        place, _, role = key.partition(":")
        assert key == "reporter" or (place in AUDIENCE_PLACES and role in vocab.ROLE_LABELS), key
    note = t.note(lc.NoteFacts(SAMPLE_PAYLOAD, "自然资源局", lambda code: f"单位{code}", "resolved", "已拆除",
                               next((s for s in t.to if s not in (lc.STAY, lc.PRIOR)), None)))
    assert note and not note.isascii(), "the public note is Chinese"
    thing, done, link = t.en
    assert thing and done and link in (None, "on", "for")
    assert f"in state '{lc.CLOSED}'" in lc.refusal_en(t.action, state=lc.CLOSED)
    assert t.form.submit and t.form.intro and t.form.done and t.label == vocab.ACTION_LABELS[t.action]
    fields = set(t.body.model_fields)
    assert set(t.form.fields) <= fields, f"form labels for fields the body does not have: {set(t.form.fields) - fields}"


def test_no_other_module_keeps_a_table_keyed_by_action_name():
    """A dict literal whose keys are all action names (three or more) outside flows/lifecycle.py is a second
    place for what the row should carry (the vocabulary's labels are the one exception: every layer reads them)."""
    root = Path(__file__).resolve().parents[2]
    actions = set(lc.BY_ACTION)
    found = []
    for folder in ("api", "flows", "notifications", "models"):
        for path in (root / folder).rglob("*.py"):
            if path.name in ("lifecycle.py", "vocabulary.py") or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Dict):
                    keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
                    if len(keys) >= 3 and len(keys) == len(node.keys) and set(keys) <= actions:
                        found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not found, f"tables keyed by action name outside the transition table: {found}"


# ---- each guard's refusal ---------------------------------------------------------------------------------
def _lead_checked_in_but_dispatched():
    agg = typical(lc.DISPATCHED)
    agg.whistles[0].state = vocab.WHISTLE_CHECKED_IN  # a state the loop never leaves it in; the guard still holds
    return agg


def _arbitrated():
    agg = typical(lc.DISPATCHED)
    agg.whistles[0].arbitrated = True
    return agg


def _handling_lead_not_checked_in():
    agg = typical(lc.HANDLING)
    agg.whistles[0].state = vocab.WHISTLE_SENT
    return agg


def _with_pending_extension():
    agg = typical(lc.HANDLING)
    agg.extensions.append(pending_extension())
    return agg


GUARD_REFUSALS = [  # (guard, case, who, action, zh, en)
    (lc.own_unit_whistled, lambda: typical(lc.DISPATCHED), "unwhistled department", "check_in",
     "本单位没有该案件的有效哨令", "your unit holds no active whistle for this case"),
    (lc.own_unit_whistled, lambda: typical(lc.HANDLING), "lead liaison", "check_in",
     "本单位已报到", "your unit has already checked in"),
    (lc.lead_unit, lambda: typical(lc.DISPATCHED), "assist liaison", "return",
     "仅主办单位可执行此操作", "only the lead unit may do this"),
    (lc.lead_not_checked_in, _lead_checked_in_but_dispatched, "lead liaison", "return",
     "已报到的案件不能退回", "a case cannot be returned after check-in"),
    (lc.not_arbitrated, _arbitrated, "lead liaison", "return",
     "争议裁定指定的主办单位不得再次退回", "the unit named by arbitration may not return it again"),
    (lc.lead_checked_in, _handling_lead_not_checked_in, "lead liaison", "feedback",
     "主办单位尚未报到", "the lead unit has not checked in"),
    (lc.no_pending_extension, _with_pending_extension, "lead liaison", "request_extension",
     "已有待审批的延期申请", "an extension request is already pending"),
    (lc.has_pending_extension, lambda: typical(lc.HANDLING), "liaison", "approve_extension",
     "没有待审批的延期申请", "there is no pending extension request"),
    (lc.reporter_if_grid_worker, lambda: typical(lc.FEEDBACK), "other grid worker", "verify",
     "网格员只能核查本人上报的事件", "a grid worker may only verify their own report"),
    (lc.category_set, lambda: typical(lc.ACCEPTED, category=None), "dispatcher", "dispatch",
     "请先设置事项类别", "set the case's catalog item first"),
    (lc.reviewer_in_scope, lambda: typical(lc.LEGAL_REVIEW, township=XH), "township reviewer", "approve_legal_review",
     "不在本人的法制审核范围内", "the case is outside your legal review scope"),
]


@pytest.mark.parametrize("guard, build, who, action, zh, en", GUARD_REFUSALS,
                         ids=[f"{g.__name__}-{a}" for g, _, _, a, _, _ in GUARD_REFUSALS])
def test_each_guard_refuses_in_its_own_words(guard, build, who, action, zh, en):
    agg = build()
    with pytest.raises(NotAllowed) as refused:
        lc.ensure_allowed(ctx(agg, who), action)
    assert refused.value.zh.startswith(f"{zh}。当前可执行：")
    assert refused.value.en.startswith(f"{en}. Allowed now:")
    assert guard in lc.BY_ACTION[action].guards


def test_every_guard_has_a_refusal_above_and_a_chinese_description():
    guards = {g for t in lc.TRANSITIONS for g in t.guards}
    assert guards == {g for g, *_ in GUARD_REFUSALS}
    assert all(getattr(g, "requires", "").strip() for g in guards)


# ---- what each action does ------------------------------------------------------------------------------
def officer(username: str, unit: int = LEAD, expires: date | None = date(2030, 1, 1)) -> lc.OfficerFact:
    return lc.OfficerFact(username, unit, f"CERT-{username}" if expires else None, expires)


def act(agg, who, action, facts=None, **raw) -> tuple[str, str, lc.Context]:
    c = ctx(agg, who, action, facts, **raw)
    before, after = lc.decide(c, action)
    assert agg.case.status == after and agg.case.updated_at == NOW
    return before, after, c


def effect_accept():
    agg = typical(lc.REPORTED, category=None)
    assert act(agg, "dispatcher", "accept", category="ENV02", urgency="urgent")[:2] == (lc.REPORTED, lc.ACCEPTED)
    assert (agg.case.category, agg.case.urgency) == ("ENV02", "urgent")


def effect_reject():
    assert act(typical(lc.REPORTED), "dispatcher", "reject", reason="不属于受理范围")[1] == lc.REJECTED


def effect_merge():
    facts = lc.Facts(merge_target=case(lc.ACCEPTED, id=2))
    agg = typical(lc.REPORTED)
    assert act(agg, "dispatcher", "merge", facts, into=2)[1] == lc.MERGED and agg.case.merged_into_id == 2
    for target, zh in ((case(lc.ACCEPTED, id=1), "不能合并到本案件"),
                       (case(lc.ACCEPTED, id=3, township=XH), "只能合并到本乡镇的案件"),
                       (case(lc.CLOSED, id=4), "主案件已结案，不能合并"),
                       (case(lc.REJECTED, id=5), "主案件已不予受理，不能合并"),
                       (case(lc.MERGED, id=6), "所选案件本身已合并到其他案件")):
        agg = typical(lc.REPORTED)
        with pytest.raises(Invalid, match=zh):
            act(agg, "dispatcher", "merge", lc.Facts(merge_target=target), into=target.id)
        assert agg.case.status == lc.REPORTED and agg.case.merged_into_id is None


def effect_dispatch():
    agg = typical(lc.ACCEPTED)
    act(agg, "dispatcher", "dispatch", lc.Facts(lead_unit_id=LEAD, assist_unit_ids=[ASSIST]))
    assert [(w.unit_id, w.role, w.state, w.round, w.active) for w in agg.whistles] == [
        (LEAD, "lead", vocab.WHISTLE_SENT, 1, True), (ASSIST, "assist", vocab.WHISTLE_SENT, 1, True)]
    assert agg.added == agg.whistles and agg.case.lead_unit_id == LEAD
    again = typical(lc.RETURNED)  # re-dispatch after a return: a new round beside the returned one
    act(again, "dispatcher", "dispatch", lc.Facts(lead_unit_id=NEVER))
    assert [(w.unit_id, w.round, w.active) for w in again.whistles][-1] == (NEVER, 2, True)


def effect_check_in():
    agg = typical(lc.DISPATCHED)
    before, after, c = act(agg, "assist liaison", "check_in")  # an assisting unit's check-in is recorded only
    assert (before, after, c.record) == (lc.DISPATCHED, lc.DISPATCHED, {"whistle_role": "assist"})
    before, after, c = act(agg, "lead liaison", "check_in")
    assert (after, c.record, agg.lead.state, agg.lead.checked_in_at) == (
        lc.HANDLING, {"whistle_role": "lead"}, vocab.WHISTLE_CHECKED_IN, NOW)


def effect_return():
    agg = typical(lc.DISPATCHED)
    assert act(agg, "lead liaison", "return", reason="不属于本部门职责")[1] == lc.RETURNED
    assert [(w.state, w.active) for w in agg.whistles] == [(vocab.WHISTLE_RETURNED, False), (vocab.WHISTLE_SENT, False)]
    assert (agg.case.return_count, agg.case.lead_unit_id, agg.whistles[0].return_reason) == (
        1, None, "不属于本部门职责")
    twice = typical(lc.DISPATCHED, return_count=1)
    assert act(twice, "lead liaison", "return", reason="仍不属于本部门职责")[1] == lc.DISPUTED


def effect_escalate_dispute():
    assert act(typical(lc.RETURNED), "dispatcher", "escalate_dispute", reason="两部门均称不属本职")[1] == lc.DISPUTED


def effect_arbitrate():
    agg = typical(lc.DISPUTED)
    act(agg, "supervisor", "arbitrate", lc.Facts(lead_unit_id=LEAD, assist_unit_ids=[ASSIST]), lead_unit="ZRZY")
    assert agg.case.status == lc.DISPATCHED and [(w.role, w.arbitrated, w.round) for w in agg.active] == [
        ("lead", True, 2), ("assist", False, 2)]


def effect_request_extension():
    agg = typical(lc.HANDLING)
    assert act(agg, "lead officer", "request_extension", working_days=3, reason="等待检测报告")[1] == lc.HANDLING
    ext = agg.pending_extension
    assert (ext.state, ext.working_days, ext.unit_id, ext.requested_by_id) == (vocab.EXTENSION_PENDING, 3, LEAD, 201)
    assert agg.added == [ext]


def _decided(action: str, state: str):
    agg = typical(lc.HANDLING)
    agg.extensions.append(ext := pending_extension())
    _, after, c = act(agg, "liaison", action, note="同意" if state == vocab.EXTENSION_APPROVED else "理由不充分")
    assert (after, ext.state, ext.decided_by_id, ext.decided_at, c.record) == (
        lc.HANDLING, state, 102, NOW, {"working_days": 3})
    assert agg.pending_extension is None


def effect_approve_extension():
    _decided("approve_extension", vocab.EXTENSION_APPROVED)


def effect_deny_extension():
    _decided("deny_extension", vocab.EXTENSION_DENIED)


def effect_suspend():
    agg = typical(lc.FEEDBACK)
    act(agg, "liaison", "suspend", reason="当事人住院，暂缓处理")
    assert (agg.case.status, agg.case.suspended_from) == (lc.SUSPENDED, lc.FEEDBACK)


def effect_resume():
    agg = typical(lc.SUSPENDED)
    assert act(agg, "liaison", "resume")[1:2] == (lc.HANDLING,) and agg.case.suspended_from is None


def effect_feedback():
    agg = typical(lc.HANDLING)
    facts = lc.Facts(officers=[officer("zrzy_officer1"), officer("zrzy_officer2")], enforcement=True)
    act(agg, "lead officer", "feedback", facts, outcome="resolved", result="已责令恢复原状",
        officers=["zrzy_officer1", "zrzy_officer2"])
    [fb] = agg.added
    assert is_row(fb, Feedback) and (fb.outcome, fb.officers, fb.unit_id) == (
        "resolved", ["zrzy_officer1", "zrzy_officer2"], LEAD)
    assert (agg.case.status, agg.case.outcome) == (lc.FEEDBACK, "resolved")
    for facts, code in (
            (lc.Facts(officers=[officer("zrzy_officer1"), officer("old", expires=date(2025, 1, 1))], enforcement=True),
             "certified_officers_required"),
            (lc.Facts(officers=[officer("slj_officer", unit=ASSIST)]), "officers_not_eligible")):
        agg = typical(lc.HANDLING)
        with pytest.raises(Invalid) as refused:
            act(agg, "lead officer", "feedback", facts, outcome="resolved", result="已处理",
                officers=[o.username for o in facts.officers])
        assert refused.value.code == code and refused.value.extra["field"] == "officers"
        assert agg.added == [] and agg.case.status == lc.HANDLING


def effect_feedback_of_a_major_decision():
    """重大执法决定: the item is marked major, or the department marks it, or the case went to legal review before —
    the feedback goes to legal review (法制审核) instead of the township."""
    for facts, raw in ((lc.Facts(major=True), {}), (lc.Facts(), {"major": True})):
        agg = typical(lc.HANDLING)
        act(agg, "lead officer", "feedback", facts, outcome="resolved", result="拟作出强制拆除决定", **raw)
        [fb] = agg.added
        assert (agg.case.status, agg.case.major, fb.major) == (lc.LEGAL_REVIEW, True, True)
    again = typical(lc.HANDLING, major=True)  # returned by the reviewer: resubmitted, reviewed again
    assert act(again, "lead officer", "feedback", outcome="resolved", result="已补正程序")[1] == lc.LEGAL_REVIEW
    plain = typical(lc.HANDLING)
    act(plain, "lead officer", "feedback", outcome="resolved", result="已处理", major=False)
    assert (plain.case.status, plain.case.major, plain.added[0].major) == (lc.FEEDBACK, False, False)


def effect_approve_legal_review():
    agg = typical(lc.LEGAL_REVIEW)
    assert act(agg, "township reviewer", "approve_legal_review", note="程序合法，同意")[:2] == (
        lc.LEGAL_REVIEW, lc.FEEDBACK)
    [r] = agg.added
    assert is_row(r, LegalReview) and (r.approved, r.round, r.unit_id, r.reviewer_unit_id, r.reason) == (
        True, 1, LEAD, FC, "程序合法，同意")
    assert (agg.case.outcome, agg.case.legal_return_count, agg.case.rework_count) == ("resolved", 0, 0)


def effect_return_legal_review():
    agg = typical(lc.LEGAL_REVIEW)
    with pytest.raises(Invalid, match="理由须写明具体内容"):
        act(agg, "county reviewer", "return_legal_review", reason="。")
    assert agg.added == [] and agg.case.status == lc.LEGAL_REVIEW
    act(agg, "county reviewer", "return_legal_review", reason="未告知听证权利")
    [r] = agg.added
    assert (r.approved, r.round, r.reason, r.reviewer_unit_id) == (False, 1, "未告知听证权利", SFJ)
    # back to the lead unit's handling: a legal-review return, not a rework; the proposed outcome is withdrawn
    assert (agg.case.status, agg.case.legal_return_count, agg.case.rework_count, agg.case.outcome) == (
        lc.HANDLING, 1, 0, None)
    second = typical(lc.LEGAL_REVIEW, legal_return_count=1)
    act(second, "county reviewer", "approve_legal_review")
    assert second.added[0].round == 2  # not 一次通过


def effect_verify():
    agg = typical(lc.FEEDBACK)
    _, after, c = act(agg, "liaison", "verify", passed=True, outcome="partially_resolved", note="遗留问题未处理",
                      satisfaction="basic", rating=4)
    assert (after, agg.case.outcome, agg.case.closed_at, c.record) == (
        lc.CLOSED, "partially_resolved", NOW, {"proposed_outcome": "resolved"})
    assert is_row(agg.added[0], Verification) and agg.added[0].rating == 4
    failed = typical(lc.FEEDBACK)
    with pytest.raises(Invalid, match="核查不通过须写明原因"):
        act(failed, "reporter", "verify", passed=False)
    act(failed, "reporter", "verify", passed=False, note="现场仍有摊位")
    assert (failed.case.status, failed.case.rework_count, failed.case.outcome) == (lc.HANDLING, 1, None)


def _remark(action: str):
    agg = typical(lc.HANDLING)
    assert act(agg, "supervisor", action, note="请加快办理")[:2] == (lc.HANDLING, lc.HANDLING)
    [r] = agg.added
    assert is_row(r, Remark) and (r.kind, r.by_id, r.case_id) == (action, 300, 1)


def effect_urge():
    _remark("urge")


def effect_supervise():
    _remark("supervise")


EFFECTS = {name.removeprefix("effect_"): f for name, f in globals().items() if name.startswith("effect_")}
ACTION_EFFECTS = set(EFFECTS) - {"feedback_of_a_major_decision"}  # a second test of feedback


@pytest.mark.parametrize("action", list(EFFECTS))
def test_each_action_changes_the_case_as_the_loop_says(action):
    EFFECTS[action]()


def test_every_action_of_the_table_has_its_effect_tested():
    assert set(lc.BY_ACTION) == ACTION_EFFECTS


def test_a_refused_action_changes_nothing():
    agg = typical(lc.HANDLING)
    with pytest.raises(NotAllowed):
        act(agg, "reporter", "feedback", outcome="resolved", result="已处理")
    assert (agg.case.status, agg.case.outcome, agg.added) == (lc.HANDLING, None, [])

"""A case's timeline as Open311 updates: each entry with the state and extended status the case reached by it,
and a Chinese status note a hotline can read back to the caller (docs/open311.md)."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chuishao.flows import lifecycle as lc
from chuishao.flows.open311.status import extended_status
from chuishao.flows.sentences import join
from chuishao.models.vocabulary import OUTCOME_LABELS

RECORDS = ("urge", "supervise", "attach")  # timeline entries that leave the state as it was


@dataclass
class EntryRow:
    id: int
    case_id: int
    seq: int
    at: datetime
    action: str
    unit: str | None
    from_state: str | None
    to_state: str | None
    payload: str


@dataclass
class Step:
    """One timeline entry as an Open311 update: the state and extended status the case reached, in words."""

    entry: EntryRow
    state: str
    extended: str
    note: str


def describe(action: str, p: dict, *, unit: str, name_of: Callable[[str | None], str], outcome: str | None,
             result: str | None, to_state: str | None) -> str:
    """The Chinese status note for one timeline entry."""
    note = (p.get("note") or "").strip()
    tail = f"：{note}" if note else ""
    if action == "report":
        return "已上报，等待乡镇受理"
    if action == "accept":
        return "乡镇已受理，正在核实分类" + tail
    if action == "reject":
        return f"不予受理：{p.get('reason', '')}"
    if action == "merge":
        return f"与服务请求 {p.get('into')} 重复，已合并办理"
    if action in ("dispatch", "arbitrate"):
        lead = name_of(p.get("lead_unit"))
        assists = "、".join(name_of(a) for a in p.get("assist_units") or [])
        head = "县级裁定主办单位：" if action == "arbitrate" else "已吹哨，主办单位："
        return head + lead + (f"，协办单位：{assists}" if assists else "") + tail
    if action == "check_in":
        return f"{unit}已报到" + ("，正在办理" if to_state == lc.HANDLING else "（协办）") + tail
    if action == "return":
        return join(f"{unit}退回：{p.get('reason', '')}", "待乡镇重新派遣", sep="；")
    if action == "escalate_dispute":
        return f"职责有争议，已提请县级裁定：{p.get('reason', '')}"
    if action == "request_extension":
        return f"{unit}申请延期 {p.get('working_days')} 个工作日：{p.get('reason', '')}"
    if action == "approve_extension":
        return f"延期 {p.get('working_days')} 个工作日已批准" + tail
    if action == "deny_extension":
        return "延期申请未获批准" + tail
    if action == "suspend":
        return f"已挂起（缓办）：{p.get('reason', '')}"
    if action == "resume":
        return "已恢复办理"
    if action == "feedback":
        label = OUTCOME_LABELS.get(p.get("outcome", ""), "")
        return f"{unit}已反馈办理结果（{label}），待乡镇核查：{p.get('result', '')}"
    if action == "verify":
        if p.get("passed"):
            label = OUTCOME_LABELS.get(outcome or "", "已办结")
            proposed = p.get("proposed_outcome")
            if proposed:  # the township corrected the outcome the department reported
                label += f"；部门反馈为{OUTCOME_LABELS.get(proposed, proposed)}，经核查更正"
            return join(f"核查通过，已结案（{label}）", result and f"办理结果：{result}", note and f"核查意见：{note}")
        return "核查未通过，返工重新办理" + tail
    if action in ("urge", "supervise"):
        return ("催办" if action == "urge" else "督办") + tail
    if action == "attach":
        return "补充了附件"
    return lc.ACTION_LABELS.get(action, action)


def history(entries: list[EntryRow], name_of: Callable[[str | None], str]) -> list[Step]:
    """Walk one case's timeline (in order), giving each entry the extended status the case reached by it."""
    steps: list[Step] = []
    left, reworked, outcome, result = None, False, None, None
    for e in entries:
        p = json.loads(e.payload or "{}")
        state = e.to_state or (steps[-1].state if steps else lc.REPORTED)
        if e.action == "feedback":
            outcome, result = p.get("outcome"), p.get("result")
        elif e.action == "verify" and p.get("passed") and p.get("outcome"):
            outcome = p["outcome"]  # confirmed or corrected at verification
        elif e.action == "verify" and not p.get("passed"):
            reworked = True
        if e.action == "suspend":
            left = e.from_state
        extended = extended_status(state, outcome, left, reworked)
        note = describe(e.action, p, unit=name_of(e.unit), name_of=name_of, outcome=outcome, result=result,
                        to_state=e.to_state)
        steps.append(Step(e, state, extended, note[:2000]))
    return steps

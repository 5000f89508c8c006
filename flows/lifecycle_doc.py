"""docs/lifecycle.md, written from the transition table (flows/lifecycle.py) for a township official.

    python -m chuishao.flows.lifecycle_doc            # write docs/lifecycle.md
    python -m chuishao.flows.lifecycle_doc --check    # exit 1 if docs/lifecycle.md is not what the table says now

Every word comes from the table and models/vocabulary.py: the states and actions by their Chinese labels, the
roles by their Chinese names, each guard by its `@requires` description. tests/unit/test_lifecycle_doc.py fails
when the file is stale.
"""

import sys
from pathlib import Path

from chuishao.flows import lifecycle as lc
from chuishao.models.vocabulary import ROLE_LABELS, STEP_LABELS

PATH = Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md"
COMMAND = "python -m chuishao.flows.lifecycle_doc"
TARGET_WORDS = {lc.STAY: "不变（仅作记录）", lc.PRIOR: "挂起前的状态"}


def _state(s: str) -> str:
    return TARGET_WORDS.get(s) or lc.STATE_LABELS[s]


def _states(states) -> str:
    if frozenset(states) == lc.OPEN_STATES:
        return "任一未办结状态"
    return "、".join(lc.STATE_LABELS[s] for s in lc.STATES if s in states)


def _roles(roles) -> str:
    return "、".join(label for role, label in ROLE_LABELS.items() if role in roles)


# where the people are, before their role's name: 本乡镇受理员, 主办单位联络员, 各接哨单位联络员, 县级监督
PLACE_LABELS = {"township": "本", "lead": "主办单位", "whistled": "各接哨单位", "county": "",
                "reviewers": "审核范围内的"}  # 法制审核: 司法局 and the township 司法所 (docs/access.md)


def _hears(keys) -> str:
    """Who hears of an action, in Chinese: 本乡镇乡镇受理员、主办单位部门联络员、上报人 …"""
    said = []
    for key in keys:
        place, _, role = key.partition(":")
        said.append("上报人" if key == "reporter" else PLACE_LABELS[place] + ROLE_LABELS[role].removeprefix("部门"))
    return "、".join(said)


def conditions(t: lc.Transition) -> list[str]:
    """What must hold beyond state and role, in Chinese: each guard's, then what the action itself checks.
    Raises AssertionError for a guard with no `@requires` description."""
    said = []
    for check in (*t.guards, t.effect):
        text = getattr(check, "requires", None)
        assert text or check is t.effect, f"guard {check.__name__} needs @requires(...) in flows/lifecycle.py"
        if text:
            said.append(text)
    return said


def _edges() -> list[tuple[str, str, str]]:
    """(from, to, action label) for every change of state the table allows; records that leave the case where it
    is are not edges."""
    edges = []
    for t in lc.TRANSITIONS:
        for s in (s for s in lc.STATES if s in t.start):
            for target in t.to:
                reached = [p for p in lc.STATES if p in lc.SUSPENDABLE] if target == lc.PRIOR else [target]
                edges += [(s, r, t.label) for r in reached if r not in (lc.STAY, s)]
    return edges


def render() -> str:
    """The whole of docs/lifecycle.md (Markdown with a Mermaid state diagram)."""
    out = [
        "# 案件流转规则（六步闭环）",
        "",
        f"<!-- 本页由 `{COMMAND}` 根据 flows/lifecycle.py 的流转表生成，请勿手工修改。",
        f"     Generated from the transition table in flows/lifecycle.py: edit the table, then run `{COMMAND}`. -->",
        "",
        "每一件事件都按下表流转：案件处在“可从哪些状态”之一、操作人是“谁可以做”中的角色、“前提条件”都满足时，",
        "才能执行该动作，执行后案件到达“到达状态”。不满足时系统拒绝，并说明原因和当前可执行的动作。"
        "每一步都记入全过程记录。",
        "",
        "## 状态",
        "",
        "| 状态 | 所处步骤 | 是否办结 |",
        "|---|---|---|",
    ]
    for s in lc.STATES:
        step = "随挂起前的步骤" if s == lc.SUSPENDED else f"第 {lc.STEP[s]} 步 · {STEP_LABELS[lc.STEP[s] - 1]}"
        out.append(f"| {lc.STATE_LABELS[s]}（`{s}`） | {step} | {'已办结' if s in lc.FINAL_STATES else '未办结'} |")
    out += [
        "",
        "## 动作",
        "",
        "| 动作 | 可从哪些状态 | 到达状态 | 谁可以做 | 前提条件 |",
        "|---|---|---|---|---|",
    ]
    for t in lc.TRANSITIONS:
        out.append(f"| {t.label}（`{t.action}`） | {_states(t.start)} | {'；'.join(_state(x) for x in t.to)} "
                   f"| {_roles(t.roles)} | {'；'.join(conditions(t)) or '—'} |")
    records = "、".join(t.label for t in lc.TRANSITIONS if lc.STAY in t.to)
    out += [
        "",
        f"- 同一案件第 {lc.RETURNS_BEFORE_DISPUTE} 次被退回时直接转为「{lc.STATE_LABELS[lc.DISPUTED]}」，"
        f"由{ROLE_LABELS['county_supervisor']}裁定主办单位。",
        f"- 「{lc.STATE_LABELS[lc.SUSPENDED]}」期间各项时限暂停计时，恢复后回到挂起前的状态。",
        f"- 到达状态为“不变”的动作只作记录，案件状态不变：{records}（报到为协办单位报到时）。",
        "",
        "## 计时与通知",
        "",
        "每个动作除改变状态外对各项时限的作用，以及通知哪些人（操作人本人不再收到通知）。",
        "",
        "| 动作 | 计时 | 通知 |",
        "|---|---|---|",
        *(f"| {t.label} | {lc.CLOCK_EFFECT_LABELS[t.clock]} | {_hears(t.hears)} |" for t in lc.TRANSITIONS),
        "",
        "## 状态图",
        "",
        "图中只画改变案件状态的动作。",
        "",
        "```mermaid",
        "stateDiagram-v2",
    ]
    out += [f'    state "{lc.STATE_LABELS[s]}" as {s}' for s in lc.STATES]
    out.append(f"    [*] --> {lc.REPORTED} : {lc.ACTION_LABELS['report']}")
    out += [f"    {a} --> {b} : {label}" for a, b, label in _edges()]
    out += [f"    {s} --> [*]" for s in lc.STATES if s in lc.FINAL_STATES]
    out += ["```", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write docs/lifecycle.md, or with --check say whether it is current (0) or stale (1)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = PATH.exists() and PATH.read_text(encoding="utf-8") == text
        if not current:
            print(f"docs/lifecycle.md 与流转表不一致，请运行 {COMMAND} / docs/lifecycle.md is stale: run {COMMAND}",
                  file=sys.stderr)
        return 0 if current else 1
    PATH.write_text(text, encoding="utf-8")
    print(f"已写入 wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

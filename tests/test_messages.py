"""Messages people read: the English half of every refusal is well-formed, and notes joined into one message
never double their punctuation (Open311 status notes, refusals).

The English rule, stated once (`english_faults`) and applied to every refusal the transition table can give and
to every English message literal in the domain files:

1. After a restrictive modal and "be" ("cannot be", "can only be", "may not be", "may only be", "must not be",
   "will not be"), a verb the transition table uses (accept, check, request, …: the words of its action names,
   and a few more of our messages' verbs) stands as its past participle, never bare or as a wire name ("be a
   run of digits" stays allowed: a noun may follow "be"). This is the "cannot be accept" kind.
2. After a restrictive modal without "be" ("cannot", "can only", "may not", "may only", "must not") comes a
   plain verb: a word of letters only, not ending in -ed or -ing. This is the "may not check_in" kind (a wire
   name where a verb belongs) and the "cannot accepted" kind.
3. No Chinese characters in the English half, except from values put into it (names, certificate numbers).
4. For the transition table's refusals: no action wire name (check_in, request_extension, …) outside quotes,
   except in the "Allowed now: …" list, which names the actions a client may call.
"""

import ast
import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import (
    ADMIN,
    DEPT_LIAISON,
    DEPT_OFFICER,
    DISPATCHER,
    GRID_WORKER,
    INTEGRATOR,
    SUPERVISOR,
    TOWNSHIP_LIAISON,
    Actor,
)
from chuishao.flows.errors import NotAllowed
from chuishao.flows.sentences import join
from chuishao.models.cases import Case, Extension, Whistle
from tests.test_open311 import O311

ROOT = Path(__file__).resolve().parent.parent
OPEN311_FILES = ("flows/open311/service.py", "flows/open311/keys.py", "flows/open311/standard.py",
                 "api/open311_params.py")  # where the Open311 refusals are written
DOMAIN_FILES = ("flows/lifecycle.py", "flows/cases.py", "flows/access.py", "flows/errors.py", *OPEN311_FILES,
                "flows/clocks.py", "flows/case_hints.py", "flows/inbox_notes.py", "flows/commands.py")
# bare verbs that must not follow "cannot be": the words of the table's action names (not "in" of check_in)
BARE_VERBS = frozenset(w for a in lc.BY_ACTION for w in a.split("_")) - {"in"} | {
    "add", "change", "close", "give", "open", "order", "post", "report", "send", "submit", "update", "use"}
MODAL = r"(?:cannot|can only|may not|may only|must not|will not)"
AFTER_BE = re.compile(rf"\b{MODAL}\s+be\s+([^\s,.;:!?)]+)", re.I)
AFTER_MODAL = re.compile(rf"\b{MODAL}\s+(?!be\b)([^\s,.;:!?)]+)", re.I)
CJK = re.compile(r"[\u3400-\u9fff]")
QUOTED = re.compile(r"'[^']*'")


def english_faults(text: str) -> list[str]:
    """What breaks rules 1-3 of the module docstring in one English message ([] when it is well-formed)."""
    faults = []
    for word in AFTER_BE.findall(text):
        if word.lower() in BARE_VERBS or "_" in word:
            faults.append(f"'be {word}': a bare verb or wire name where a past participle belongs")
    for word in AFTER_MODAL.findall(text):
        if not word.isalpha() or word.lower().endswith(("ed", "ing")):
            faults.append(f"'{word}' after a modal: not a plain verb")
    if CJK.search(text):
        faults.append("Chinese in the English half")
    return faults


def test_the_rule_catches_the_kind():
    assert english_faults("a case in state 'handling' cannot be accept")
    assert english_faults("role 'grid_worker' may not check_in")
    assert english_faults("a case cannot accepted")
    assert english_faults("a reminder (催办) cannot be sent")
    assert not english_faults("a case in state 'handling' cannot be accepted")
    assert not english_faults("a whistle cannot be checked in by role 'grid_worker'")
    assert english_faults("a case cannot be check_in")
    assert not english_faults("a grid worker may only verify their own report")
    assert not english_faults("a password cannot be a run of consecutive digits")


# ---- every refusal of the transition table --------------------------------------------------------------------
NOW = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
ROLES = (GRID_WORKER, DISPATCHER, TOWNSHIP_LIAISON, DEPT_LIAISON, DEPT_OFFICER, SUPERVISOR, ADMIN, INTEGRATOR)
MY_UNIT, OTHER_UNIT = 7, 8


def actor(role: str) -> Actor:
    return Actor(id=3, username="u", role=role, unit_id=MY_UNIT, unit_code="U", township_id=1)


def aggregates(state: str):
    """One case in `state` under every combination the guards look at: whose whistle and in which state,
    an extension pending or not, a catalog item or not, reported by the actor or someone else."""
    whistles = {
        "none": [],
        "mine sent": [("lead", MY_UNIT, "sent", False)],
        "mine checked in": [("lead", MY_UNIT, "checked_in", False)],
        "mine arbitrated": [("lead", MY_UNIT, "sent", True)],
        "other lead, mine assisting": [("lead", OTHER_UNIT, "checked_in", False), ("assist", MY_UNIT, "sent", False)],
    }
    for (_, ws), pending, category, reporter in itertools.product(whistles.items(), (False, True),
                                                                   (None, "LAND01"), (3, 4)):
        case = Case(id=1, title="t", description="", township_id=1, status=state, version=1, reporter_id=reporter,
                    category=category, urgency="normal", source="grid", created_at=NOW, updated_at=NOW,
                    return_count=0, rework_count=0,
                    suspended_from=lc.HANDLING if state == lc.SUSPENDED else None)
        rows = [Whistle(id=i, case_id=1, unit_id=u, role=r, state=s, active=True, arbitrated=a, round=1,
                        dispatched_at=NOW) for i, (r, u, s, a) in enumerate(ws, 1)]
        exts = [Extension(id=1, case_id=1, unit_id=MY_UNIT, working_days=2, reason="r", state="pending",
                          requested_by_id=3, requested_at=NOW)] if pending else []
        yield lc.CaseAggregate(case, rows, exts)


def refusals() -> dict[str, tuple]:
    """Every distinct English refusal `ensure_allowed` gives, each with one (action, state, role) that gave it."""
    seen: dict[str, tuple] = {}
    for state in lc.STATE_LABELS:
        for agg in aggregates(state):
            for role in ROLES:
                for action in lc.BY_ACTION:
                    try:
                        lc.ensure_allowed(lc.Context(agg, actor(role), NOW), action)
                    except NotAllowed as err:
                        seen.setdefault(err.en, (action, state, role))
    return seen


def test_every_refusal_the_transition_table_can_give_is_well_formed_english():
    found = refusals()
    heads = {en.split(". Allowed now:")[0] for en in found}
    # the walk reaches every action's state refusal and role refusal, and every guard's refusal
    for t in lc.TRANSITIONS:
        assert lc.refusal_en(t.action, role=next(r for r in ROLES if r not in t.roles)) in heads, t.action
        assert lc.refusal_en(t.action, state=next(s for s in lc.STATE_LABELS if s not in t.start)) in heads
    guard_texts = {g(lc.Context(agg, actor(r), NOW)) for t in lc.TRANSITIONS for g in t.guards
                   for s in t.start for agg in aggregates(s) for r in t.roles} - {None}
    assert {en for _, en in guard_texts} <= heads
    wire = re.compile(r"\b(" + "|".join(a for a in lc.BY_ACTION if "_" in a) + r")\b")
    bad = {}
    for en, where in found.items():
        head = en.split(". Allowed now:")[0]
        faults = english_faults(head)
        if wire.search(QUOTED.sub("''", head)):
            faults.append("a wire name outside quotes")
        if faults:
            bad[en] = (where, faults)
    assert not bad, bad
    assert len(heads) >= 2 * len(lc.BY_ACTION)  # a state refusal and a role refusal per action at least


# ---- every English message literal in the domain files ----------------------------------------------------------
ERRORS = {"Invalid", "Forbidden", "NotFound", "Conflict", "NotAllowed", "DomainError", "_bad", "bad_request"}


def _text(node) -> str | None:
    """A string literal, or an f-string with each value as X."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
    return None


def english_literals(path: Path):
    """(line, English) for every error raised with (zh, en) and every (zh, en) pair of literals in `path`."""
    for node in ast.walk(ast.parse(path.read_text())):
        pair = None
        if isinstance(node, ast.Call) and len(node.args) >= 2:
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ERRORS:
                pair = node.args[:2]
        elif isinstance(node, ast.Tuple) and len(node.elts) in (2, 3):
            pair = node.elts[-2:]
        if pair:
            zh, en = (_text(x) for x in pair)
            if zh and en and (isinstance(node, ast.Call) or (CJK.search(zh) and not CJK.search(en))):
                yield node.lineno, en


@pytest.mark.parametrize("name", DOMAIN_FILES)
def test_every_english_message_in_the_domain_files_is_well_formed(name):
    messages = list(english_literals(ROOT / name))
    bad = {f"{name}:{line}": (en, english_faults(en)) for line, en in messages if english_faults(en)}
    assert not bad, bad


def test_the_literal_scan_sees_the_messages():
    lines = [en for _, en in english_literals(ROOT / "flows/lifecycle.py")]
    assert "a failed verification needs a note saying why" in lines
    assert "has a certificate that expired on X" in lines
    assert sum(len(list(english_literals(ROOT / name))) for name in OPEN311_FILES) > 30


# ---- joined notes never double their punctuation ------------------------------------------------------------------
@pytest.mark.parametrize("parts, sep, joined", [
    (("核查通过，已结案（已解决）", "办理结果：已拆除违建。", "核查意见：现场已恢复原状"), "。",
     "核查通过，已结案（已解决）。办理结果：已拆除违建。核查意见：现场已恢复原状"),
    (("办理结果：已清理完毕！", "核查意见：群众满意。"), "。", "办理结果：已清理完毕！核查意见：群众满意。"),
    (("办理结果：Done.", "核查意见：好"), "。", "办理结果：Done.核查意见：好"),
    (("退回：不属于本单位职责。", "待乡镇重新派遣"), "；", "退回：不属于本单位职责。待乡镇重新派遣"),
    (("退回：请改派，", "待乡镇重新派遣"), "；", "退回：请改派；待乡镇重新派遣"),
    (("退回：应由乡镇执法队处理", "待乡镇重新派遣"), "；", "退回：应由乡镇执法队处理；待乡镇重新派遣"),
    (("a case cannot be verified.", "Allowed now: none"), ". ", "a case cannot be verified. Allowed now: none"),
    (("a case cannot be verified", "Allowed now: none"), ". ", "a case cannot be verified. Allowed now: none"),
    (("已拆除……", None, "  ", "核查意见：好"), "。", "已拆除……核查意见：好"),
])
def test_join_never_doubles_an_end_mark(parts, sep, joined):
    assert join(*parts, sep=sep) == joined
    assert not re.search(r"[。！？.!?][。；.;]", join(*parts, sep=sep).replace("……", "").replace("Done.", ""))


@pytest.mark.parametrize("result, note", [
    ("已扑灭明火。", "现场已无烟。"),
    ("已扑灭明火", "现场已无烟"),
    ("已扑灭明火！", "现场已无烟！"),
    ("Fire is out.", "No smoke left."),
])
def test_open311_status_notes_read_without_doubled_stops(county, result, note):
    o = O311(county)
    rid = o.create("ENV01")
    case_id = int(rid)
    county.act("disp_fc", case_id, "accept")
    county.act("disp_fc", case_id, "dispatch")
    county.act("sthj_liaison", case_id, "return", {"reason": "应由乡镇执法队处理。"})
    returned = o.request(rid)["status_notes"]
    assert returned == "生态环境分局退回：应由乡镇执法队处理。待乡镇重新派遣", returned
    county.act("disp_fc", case_id, "dispatch", {"lead_unit": "STHJ"})
    county.act("sthj_liaison", case_id, "check_in")
    county.act("sthj_off", case_id, "feedback", {"outcome": "resolved", "result": result})
    county.act("liaison_fc", case_id, "verify", {"passed": True, "note": note})
    notes = o.request(rid)["status_notes"]
    assert notes.startswith("核查通过，已结案（已解决）。办理结果：" + result)
    assert notes.endswith("核查意见：" + note)
    assert not re.search(r"[。！.!][。；]", notes), notes
    status, feed = o.both("servicerequestupdates")
    assert not any(re.search(r"[。！.!][。；]", u["description"] or "") for u in feed)


def test_a_refusal_with_a_full_stop_of_its_own_is_joined_once(county):
    """The lifecycle's refusal message and its "allowed now" list: one stop between them in both languages."""
    case = county.report()
    err = county.act("disp_fc", case["id"], "verify", {"passed": True}, expect=422)["error"]
    zh, en = err["message"].split(" / ")
    assert "。。" not in zh and ".." not in en
    assert zh == "案件当前为「已上报」，不能核查。当前可执行：受理、不予受理、合并重复"
    assert en == "a case in state 'reported' cannot be verified. Allowed now: accept, reject, merge"


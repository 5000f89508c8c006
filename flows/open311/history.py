"""A case's timeline as Open311 updates: each entry with the state and extended status the case reached by it,
and a Chinese status note a hotline can read back to the caller (docs/open311.md)."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chuishao.flows import lifecycle as lc
from chuishao.flows.open311.status import extended_status

# timeline entries whose note does not say where the case stands (催办, 督办, an attachment)
RECORDS = frozenset({"attach"} | {t.action for t in lc.TRANSITIONS if not t.tells_status})


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


OTHER_NOTES = {"report": "已上报，等待乡镇受理", "attach": "补充了附件"}  # timeline entries that are not actions


def describe(action: str, p: dict, *, unit: str, name_of: Callable[[str | None], str], outcome: str | None,
             result: str | None, to_state: str | None) -> str:
    """The Chinese status note for one timeline entry: the action's own `note` (flows/lifecycle.py), or the
    report's and an attachment's."""
    if action in OTHER_NOTES:
        return OTHER_NOTES[action]
    if action not in lc.BY_ACTION:
        return lc.ACTION_LABELS.get(action, action)
    return lc.BY_ACTION[action].note(lc.NoteFacts(p, unit, name_of, outcome, result, to_state))


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

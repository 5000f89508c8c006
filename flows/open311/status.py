"""Open311 statuses of our cases: the standard's `open`/`closed` and mySociety's extended status, from our state
and the verified outcome (docs/open311.md). Extended status (mySociety's names):

| our state                     | status | extended status             | why                                    |
|-------------------------------|--------|-----------------------------|----------------------------------------|
| reported 已上报               | open   | OPEN                        | waiting for the township to accept it  |
| accepted 已受理               | open   | INVESTIGATING               | accepted, being classified and routed  |
| dispatched 已吹哨             | open   | INTERNAL_REFERRAL           | whistled to a county department        |
| returned 已退回               | open   | INTERNAL_REFERRAL           | handed back, to be re-dispatched       |
| disputed 争议中               | open   | INTERNAL_REFERRAL           | the county names the lead unit         |
| handling 办理中               | open   | IN_PROGRESS                 | the lead unit checked in, working      |
| handling after failed check   | open   | REOPEN                      | 返工: the fix failed verification      |
| feedback 待核查               | open   | ACTION_SCHEDULED            | result in, on-site verification due    |
| legal_review 法制审核中       | open   | ACTION_SCHEDULED            | a major decision under legal review    |
| suspended 已挂起              | open   | that of the state it left   | paused; status_notes give the reason   |
| closed, resolved              | closed | FIXED                       |                                        |
| closed, partially_resolved    | closed | CLOSED                      | closed, only partly solved (see notes) |
| closed, not_resolvable        | closed | NO_FURTHER_ACTION           |                                        |
| closed, transferred 移送      | closed | NOT_COUNCILS_RESPONSIBILITY | handed to the judiciary / police       |
| rejected 不予受理             | closed | NOT_COUNCILS_RESPONSIBILITY | not for the loop; notes: the reason    |
| merged 已合并                 | closed | DUPLICATE                   | notes name the master request          |
"""

from chuishao.flows import lifecycle as lc

EXTENDED = ("OPEN", "INVESTIGATING", "IN_PROGRESS", "ACTION_SCHEDULED", "FIXED", "CLOSED", "DUPLICATE",
            "NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION", "INTERNAL_REFERRAL", "CANCELLED", "REOPEN")
INBOUND_STATUSES = frozenset(EXTENDED) | {"FOR_TRIAGE"}  # what mySociety's clients may send us
OPEN_EXTENDED = {
    lc.REPORTED: "OPEN",
    lc.ACCEPTED: "INVESTIGATING",
    lc.DISPATCHED: "INTERNAL_REFERRAL",
    lc.RETURNED: "INTERNAL_REFERRAL",
    lc.DISPUTED: "INTERNAL_REFERRAL",
    lc.HANDLING: "IN_PROGRESS",
    lc.FEEDBACK: "ACTION_SCHEDULED",
    lc.LEGAL_REVIEW: "ACTION_SCHEDULED",  # 法制审核: the decision is reviewed, then verified
}
CLOSED_EXTENDED = {
    "resolved": "FIXED",
    "partially_resolved": "CLOSED",
    "not_resolvable": "NO_FURTHER_ACTION",
    "transferred": "NOT_COUNCILS_RESPONSIBILITY",
}
ENDED_EXTENDED = {lc.REJECTED: "NOT_COUNCILS_RESPONSIBILITY", lc.MERGED: "DUPLICATE"}


def standard_status(state: str) -> str:
    """The standard's two values: `open` (it has been reported) or `closed` (it has been resolved)."""
    return "closed" if state in lc.FINAL_STATES else "open"


def extended_status(state: str, outcome: str | None = None, suspended_from: str | None = None,
                    reworked: bool = False) -> str:
    """mySociety's extended status for a case in `state` (see the table in the module docstring)."""
    if state == lc.SUSPENDED:
        state = suspended_from or lc.ACCEPTED
    if state == lc.CLOSED:
        return CLOSED_EXTENDED.get(outcome or "", "CLOSED")
    if state in ENDED_EXTENDED:
        return ENDED_EXTENDED[state]
    if state == lc.HANDLING and reworked:
        return "REOPEN"
    return OPEN_EXTENDED[state]

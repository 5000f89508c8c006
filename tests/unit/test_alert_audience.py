"""The sweep works out an alert's audience once per (clock kind, level, township, lead unit, whistled units) in a
batch (flows.audience.alert_event's `audiences`): each shared audience must be the one worked out alone."""

from itertools import product

from chuishao.flows import audience
from chuishao.flows import lifecycle as lc
from chuishao.flows.access import LEGAL_REVIEWER, SUPERVISOR
from chuishao.flows.clock import local
from tests.unit.memory import ASSIST, FC, LEAD, NEVER, NOW, XH, case

LEVELS = ("warning", "overdue", "escalated")


COUNTY_REVIEWERS = (7, 8)  # the county-level units a sweep passes as `reviewer_units`


def _event(c, kind, level, unit_id, whistled, audiences=None, reviewer_units=COUNTY_REVIEWERS):
    return audience.alert_event(level=level, clock_kind=kind, unit_id=unit_id, case=c, whistled=whistled,
                                code=f"CS{c.id:06d}", deadline=local(NOW), at=NOW, audiences=audiences,
                                reviewer_units=reviewer_units)


def test_a_shared_audience_is_the_one_worked_out_alone():
    cases = [case(lc.HANDLING, id=1, township=FC, reporter=100), case(lc.HANDLING, id=2, township=FC, reporter=101),
             case(lc.HANDLING, id=3, township=XH, reporter=None)]
    memo: dict = {}
    shown = 0
    for c, kind, level, unit_id, whistled in product(cases, audience.ALERT_AUDIENCE, LEVELS, (None, LEAD, NEVER),
                                                     ([], [LEAD], [LEAD, ASSIST])):
        alone = _event(c, kind, level, unit_id, whistled)
        shared = _event(c, kind, level, unit_id, whistled, memo)
        assert shared == alone, (c.id, kind, level, unit_id, whistled)
        shown += 1
    # cases 1 and 2 differ only in their reporter, which no alert's audience names: they share every audience
    assert len(memo) < shown


def test_the_audience_follows_the_lead_and_the_escalation():
    c = case(lc.HANDLING, id=1, township=FC)
    memo: dict = {}
    to_lead = _event(c, "handle", "overdue", LEAD, [LEAD], memo)["audience"]
    to_other = _event(c, "handle", "overdue", NEVER, [LEAD], memo)["audience"]
    escalated = _event(c, "handle", "escalated", LEAD, [LEAD], memo)["audience"]
    assert to_lead != to_other and [r for r in to_lead["roles"] if r[1] == LEAD]
    assert escalated["roles"] == to_lead["roles"] + [[SUPERVISOR, None]]


def test_a_legal_review_alert_reaches_the_townships_and_the_county_level_reviewers_and_no_other_alert_does():
    c = case(lc.LEGAL_REVIEW, id=1, township=FC)
    memo: dict = {}
    legal = _event(c, "legal_review", "overdue", LEAD, [LEAD], memo)["audience"]
    handle = _event(c, "handle", "overdue", LEAD, [LEAD], memo)["audience"]
    reviewers = sorted(unit for role, unit in legal["roles"] if role == LEGAL_REVIEWER)
    assert reviewers == sorted([FC, *COUNTY_REVIEWERS])
    assert not [r for r in handle["roles"] if r[0] == LEGAL_REVIEWER]

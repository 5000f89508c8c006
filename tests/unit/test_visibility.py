"""Who sees which case, asked of every rule that answers it, with no database server: reading one case
(`Actor.sees`, CaseService), the case lists (`CaseService._scope`, SQL), the dashboard's figures
(`dashboard._cases_in_scope`, SQL) and the live feed (`Actor.sees_event` on the events the actions and the sweep
write, through the hub). The SQL rules run on an in-memory SQLite database made here from the models."""

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from chuishao.flows import audience
from chuishao.flows import lifecycle as lc
from chuishao.flows.cases import CaseService
from chuishao.flows.dashboard import _cases_in_scope, scope_of
from chuishao.flows.errors import Forbidden
from chuishao.models import metadata
from chuishao.models import vocabulary as vocab
from chuishao.models.cases import Case
from chuishao.notifications.events import event_dict
from chuishao.notifications.hub import Hub
from tests.unit.memory import ACTORS, ASSIST, LEAD, NOW, XH, case, whistle

CASES = [  # (case, its whistles, inactive ones included)
    (case(lc.REPORTED, id=1, reporter=100), []),
    (case(lc.DISPATCHED, id=2, reporter=101), [whistle(LEAD, case_id=2), whistle(ASSIST, "assist", case_id=2)]),
    (case(lc.DISPATCHED, id=3, township=XH, reporter=111),  # returned by SLJ, then whistled to ZRZY
     [whistle(ASSIST, state=vocab.WHISTLE_RETURNED, active=False, case_id=3),
      whistle(LEAD, round=2, case_id=3)]),
    (case(lc.CLOSED, id=4, reporter=None), [whistle(LEAD, state=vocab.WHISTLE_CHECKED_IN, case_id=4)]),
    (case(lc.MERGED, id=5, reporter=103), []),
    # major decisions (重大执法决定): under legal review in FC; closed after review in XH
    (case(lc.LEGAL_REVIEW, id=6, reporter=None, major=True),
     [whistle(LEAD, state=vocab.WHISTLE_CHECKED_IN, case_id=6)]),
    (case(lc.CLOSED, id=7, township=XH, reporter=None, major=True),
     [whistle(LEAD, state=vocab.WHISTLE_CHECKED_IN, case_id=7)]),
]
ALL = {c.id for c, _ in CASES}
# written by hand from the rule as a township explains it: the county sees everything, a grid worker their own
# reports, township staff their township's cases, a department the cases it was ever whistled on, a legal reviewer
# the major decisions of the county (司法局) or of their township (司法所)
EXPECTED = {
    "reporter": {1}, "other grid worker": {5}, "dispatcher": {1, 2, 4, 5, 6}, "liaison": {1, 2, 4, 5, 6},
    "other township": {3, 7}, "lead liaison": {2, 3, 4, 6, 7}, "lead officer": {2, 3, 4, 6, 7},
    "assist liaison": {2, 3}, "unwhistled department": set(), "supervisor": ALL, "admin": ALL, "integrator": set(),
    "county reviewer": {6, 7}, "township reviewer": {6},
}


@pytest.fixture(scope="module")
def db():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as s:
        for c, whistles in CASES:
            s.add(type(c)(**c.model_dump()))  # rows of their own: the cases above stay plain objects
            s.add_all(type(w)(**w.model_dump()) for w in whistles)
        s.commit()
    yield engine
    engine.dispose()


def test_the_hand_written_expectation_covers_every_actor():
    assert set(EXPECTED) == set(ACTORS)


@pytest.mark.parametrize("who", list(ACTORS))
def test_reads_lists_dashboard_and_live_feed_agree_on_who_sees_what(db, who):
    actor = ACTORS[who]
    reads = {c.id for c, whistles in CASES if actor.sees(c, whistles)}
    with Session(db) as s:
        lists = set(s.scalars(CaseService._scope(None, select(Case.id), actor)))
        try:
            dashboard = set(s.scalars(_cases_in_scope(select(Case.id), actor, scope_of(actor))))
        except Forbidden:  # grid workers and integrators have no dashboard
            dashboard = None
    hub = Hub()
    sub = hub.subscribe(actor.sees_event)
    for n, (c, whistles) in enumerate(CASES, start=1):
        agg = lc.CaseAggregate(c, whistles)
        action = audience.case_event("action", "urge", agg, actor_id=None, at=NOW, payload={})
        hub.publish(event_dict(action) | {"id": 2 * n})
        # an alert as the sweep writes it: its scope names every unit ever whistled
        hub.publish(audience.alert_event(level="overdue", clock_kind="handle", unit_id=c.lead_unit_id, case=c,
                                         whistled=[w.unit_id for w in whistles], code=f"C{c.id}", deadline=None,
                                         at=NOW, reviewer_units=()) | {"id": 2 * n + 1})
    live = []
    while not sub.queue.empty():
        live.append(sub.queue.get_nowait()["case_id"])
    assert reads == EXPECTED[who]
    assert lists == reads
    assert dashboard is None or dashboard == reads
    assert live == [i for i in sorted(reads) for _ in range(2)]  # the action and the alert of each case it sees

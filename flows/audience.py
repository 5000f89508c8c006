"""Who must act on, or know of, each thing that happens to a case (docs/architecture.md#notifications): for an
action, its row's `hears` in flows/lifecycle.py; here, a new report, disputes and alerts. Pure.

Each entry names where the people are and their role:
  township:ROLE   — the case's township staff        lead:ROLE     — the lead unit
  whistled:ROLE   — every unit with an active whistle  county:ROLE   — anywhere in the county
  reporter        — the person who reported the case
  reviewers:ROLE  — the legal reviewers (法制审核员) whose scope covers the case: its township's, and those of the
                    county-level units (`reviewer_units`: the case service's look-up for an action, the sweep's
                    for an alert); only while it is in legal review
"""

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import DEPT_LIAISON, DISPATCHER, LEGAL_REVIEWER, SUPERVISOR, TOWNSHIP_LIAISON
from chuishao.models.notifications import Event
from chuishao.models.rows import new
from chuishao.models.vocabulary import ALERT_LABELS, CLOCK_LABELS

REPORT_AUDIENCE = (f"township:{DISPATCHER}",)  # a new report; each action's own audience is its row's `hears`
DISPUTE_AUDIENCE = (f"county:{SUPERVISOR}",)  # any action that leaves a case disputed


def audience(keys: tuple[str, ...], *, township_id: int | None, lead_unit_id: int | None,
             whistled: list[int], reporter_id: int | None, exclude: int | None = None,
             reviewer_units: list[int] | None = None) -> dict:
    roles: list[list] = []
    users: list[int] = []
    for key in keys:
        if key == "reporter":
            if reporter_id is not None and reporter_id != exclude:
                users.append(reporter_id)
            continue
        where, role = key.split(":")
        units = {"township": [township_id], "lead": [lead_unit_id], "whistled": whistled, "county": [None],
                 "reviewers": [township_id, *(reviewer_units or ())] if reviewer_units is not None else []}[where]
        roles += [[role, u] for u in units if u is not None or where == "county"]
    return {"roles": roles, "users": users, "exclude": exclude}


def case_event(kind: str, action: str, agg: lc.CaseAggregate, *, actor_id: int | None, at, payload: dict,
               to_state: str | None = None, reviewer_units: list[int] | None = None) -> Event:
    """The outbox row for one action on a case. `reviewer_units`: the county-level units (county, departments)
    whose legal reviewers also cover this case — given by the service when the case enters legal review, so
    that they hear of it (the `reviewers:` key); None leaves the legal reviewers out."""
    case = agg.case
    if case.major:  # a major decision: the legal reviewers' live feed shows it (Actor.sees_event)
        payload = {**payload, "major": True}
    whistled = list(dict.fromkeys(w.unit_id for w in agg.whistles))
    active = [w.unit_id for w in agg.active]
    lead = case.lead_unit_id or (agg.lead.unit_id if agg.lead else None)
    keys = lc.BY_ACTION[action].hears if action in lc.BY_ACTION else REPORT_AUDIENCE if action == "report" else ()
    if to_state == lc.DISPUTED:
        keys = keys + DISPUTE_AUDIENCE
    if action == "urge" and lead is None:
        keys = (f"township:{DISPATCHER}",)
    return new(Event, kind=kind, action=action, case_id=case.id, township_id=case.township_id, unit_ids=whistled,
                 reporter_id=case.reporter_id, at=at, payload=payload,
                 audience=audience(keys, township_id=case.township_id, lead_unit_id=lead, whistled=active,
                                   reporter_id=case.reporter_id, exclude=actor_id,
                                   reviewer_units=reviewer_units if to_state == lc.LEGAL_REVIEW else None))


def report_event(kind: str, *, at, headline: str, url: str, township_id: int | None = None,
                 unit_id: int | None = None, everyone: bool = False, extra: dict | None = None) -> Event:
    """A checkpoint for one township or unit (its liaison), or a bulletin for every unit."""
    if everyone:
        roles = [[TOWNSHIP_LIAISON, None], [DEPT_LIAISON, None], [SUPERVISOR, None], [DISPATCHER, None]]
    elif township_id is not None:
        roles = [[TOWNSHIP_LIAISON, township_id]]
    else:
        roles = [[DEPT_LIAISON, unit_id]]
    return Event(kind=kind, action=kind, case_id=None, township_id=township_id,
                 unit_ids=[unit_id] if unit_id is not None else [], reporter_id=None, at=at,
                 payload={"headline": headline, "url": url, "everyone": everyone, **(extra or {})},
                 audience={"roles": roles, "users": [], "exclude": None})


# who hears of an alert, by the clock that raised it (the county supervisor also hears of every escalation)
ALERT_AUDIENCE: dict[str, tuple[str, ...]] = {
    "accept": (f"township:{DISPATCHER}", f"township:{TOWNSHIP_LIAISON}"),
    "dispatch": (f"township:{DISPATCHER}", f"township:{TOWNSHIP_LIAISON}"),
    "check_in": (f"lead:{DEPT_LIAISON}", f"township:{TOWNSHIP_LIAISON}"),
    "handle": (f"lead:{DEPT_LIAISON}", f"township:{TOWNSHIP_LIAISON}"),
    "verify": (f"township:{TOWNSHIP_LIAISON}",),
    "arbitrate": (f"county:{SUPERVISOR}",),
    # 法制审核: every legal reviewer whose scope covers the case, as when it entered review: the township's own
    # (司法所) and the county-level units' (司法局; alert_event's `reviewer_units`)
    "legal_review": (f"reviewers:{LEGAL_REVIEWER}", f"township:{TOWNSHIP_LIAISON}"),
}
# an alert's audience is shared by the alerts of one batch that have the same clock kind, level, township, lead
# and whistled units (alert_event's `audiences`): no entry may name the case's reporter
assert not any("reporter" in keys for keys in ALERT_AUDIENCE.values())


def alert_event(*, level: str, clock_kind: str, unit_id: int | None, case, whistled: list[int], code: str,
                deadline, at, reviewer_units: tuple[int, ...], audiences: dict | None = None) -> dict:
    """The outbox row for one fired alert level, as a plain dict (the sweep inserts thousands at once).
    `audiences`: a dict the caller keeps for a batch of alerts; each audience is then worked out once per
    (clock kind, level, township, lead unit, whistled units) and the events that share it share the one
    dict (read-only: it is serialized, never changed). `reviewer_units` (required, so that no caller drops them
    by leaving it out): the county-level units (county, departments) whose legal reviewers cover every case
    (flows.access.REVIEWS_COUNTY), for a legal review clock's alerts; the same for every alert of a batch."""
    lead = unit_id or case.lead_unit_id
    if audiences is not None:
        key = (clock_kind, level, case.township_id, lead, tuple(whistled))
        found = audiences.get(key)
        if found is None:
            found = audiences[key] = _alert_audience(level, clock_kind, case.township_id, lead, whistled,
                                                     reviewer_units)
    else:
        found = _alert_audience(level, clock_kind, case.township_id, lead, whistled, reviewer_units)
    return {
        "kind": "alert", "action": level, "case_id": case.id, "township_id": case.township_id,
        "unit_ids": whistled, "reporter_id": case.reporter_id, "at": at, "fanned_out_at": None,
        "payload": {"code": code, "title": case.title, "level": level, "label": ALERT_LABELS[level],
                    "clock": clock_kind, "clock_label": CLOCK_LABELS[clock_kind], "deadline": deadline,
                    # a major decision's: the legal reviewers' live feed shows it (the legal review clock's
                    # alerts always; others when the row read carries the case's flag)
                    **({"major": True} if clock_kind == "legal_review" or getattr(case, "major", False) else {})},
        "audience": found,
    }


def _alert_audience(level: str, clock_kind: str, township_id: int | None, lead_unit_id: int | None,
                    whistled: list[int], reviewer_units: tuple[int, ...]) -> dict:
    """Who hears of an alert: ALERT_AUDIENCE by clock (no `reporter` key, so the case's reporter never
    matters), and the county supervisor for every escalation."""
    keys = ALERT_AUDIENCE[clock_kind]
    if level == "escalated" and f"county:{SUPERVISOR}" not in keys:
        keys = keys + (f"county:{SUPERVISOR}",)
    return audience(keys, township_id=township_id, lead_unit_id=lead_unit_id, whistled=whistled, reporter_id=None,
                    reviewer_units=list(reviewer_units))

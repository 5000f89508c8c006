"""Step clocks (docs/clocks.md): which clock runs in which state, their limits, alert levels, pause and extension.

Pure: the calendar and `now` come in; the service persists what these functions return.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chuishao.flows import lifecycle as lc
from chuishao.flows.calendar import WorkingCalendar
from chuishao.models.cases import Whistle
from chuishao.models.clocks import StepClock
from chuishao.models.rows import new
from chuishao.models.vocabulary import ALERT_LABELS, WHISTLE_SENT

DEFAULT_LIMITS = {  # normal: working time; urgent: wall-clock time
    "accept": {"normal": "2h", "urgent": "30m"},
    "dispatch": {"normal": "1d", "urgent": "1h"},
    "check_in": {"normal": "1d", "urgent": "30m"},
    "handle": {"normal": "5d", "urgent": "24h"},
    "verify": {"normal": "2d", "urgent": "4h"},
    "arbitrate": {"normal": "2d", "urgent": "2h"},
    "legal_review": {"normal": "5d", "urgent": "24h"},  # 法制审核 of a major decision
}
# the case-level clock that runs while a case is in each state (dispatched: the whistles' check-in clocks)
STEP_CLOCK = {
    lc.REPORTED: "accept",
    lc.ACCEPTED: "dispatch",
    lc.RETURNED: "dispatch",
    lc.HANDLING: "handle",
    lc.FEEDBACK: "verify",
    lc.DISPUTED: "arbitrate",
    lc.LEGAL_REVIEW: "legal_review",
}
LEVELS = ("warning", "overdue", "escalated")  # in order; their labels: models/vocabulary.ALERT_LABELS
LEVEL_LABELS = ALERT_LABELS  # the name api/cli.py reads
WARNING_FRACTION = 0.8
SPEC_RE = re.compile(r"^([1-9]\d{0,3})(m|h|d)$")


def limit_set_by(kind: str, urgency: str, *layers: dict | None) -> str | None:
    """The limit ("2h", "1d", ...) the first of `layers` (limits dicts `{kind: {urgency: spec}}`, the nearer
    first) sets for `kind` and `urgency`; None when none of them sets one (the default applies)."""
    return next((spec for layer in layers if (spec := ((layer or {}).get(kind) or {}).get(urgency))), None)


def resolve_limit(kind: str, urgency: str, item_limits: dict | None, override_limits: dict | None) -> str:
    """Township override, then the catalog item, then the default (一乡镇一清单)."""
    return limit_set_by(kind, urgency, override_limits, item_limits) or DEFAULT_LIMITS[kind][urgency]


def add(cal: WorkingCalendar, start: datetime, spec: str, urgency: str) -> tuple[datetime, bool]:
    """`start` plus a limit: wall-clock for urgent cases, working time for normal ones."""
    n, unit = SPEC_RE.match(spec).groups()
    n = int(n)
    if urgency == "urgent":
        return start + timedelta(minutes=n * {"m": 1, "h": 60, "d": 1440}[unit]), False
    if unit == "d":
        return cal.add_working_days(start, n)
    return cal.add_working_minutes(start, n * (60 if unit == "h" else 1))


def _between(cal: WorkingCalendar, a: datetime, b: datetime, urgency: str) -> float:
    return (b - a).total_seconds() / 60 if urgency == "urgent" else cal.working_minutes_between(a, b)


def _after(cal: WorkingCalendar, start: datetime, minutes: float, urgency: str) -> datetime:
    if urgency == "urgent":
        return start + timedelta(minutes=minutes)
    return cal.add_working_minutes(start, minutes)[0]


def _schedule(cal: WorkingCalendar, clock: StepClock) -> None:
    """Warning at 80 % of the allowed time; escalation one working day (urgent: 24 h) after the deadline."""
    span = _between(cal, clock.started_at, clock.deadline, clock.urgency)
    clock.warning_at = _after(cal, clock.started_at, WARNING_FRACTION * span, clock.urgency)
    if clock.urgency == "urgent":
        clock.escalate_at = clock.deadline + timedelta(hours=24)
    else:
        clock.escalate_at = cal.add_working_minutes(clock.deadline, cal.day_minutes())[0]
    clock.next_alert_at = next_due(clock)


def next_due(clock: StepClock) -> datetime | None:
    if clock.stopped_at or clock.paused_at:
        return None
    return {"none": clock.warning_at, "warning": clock.deadline, "overdue": clock.escalate_at}.get(clock.level)


def due_levels(clock: StepClock, now: datetime) -> list[tuple[str, datetime]]:
    """The levels that have come due by `now` and not yet fired, in order."""
    fired = LEVELS.index(clock.level) + 1 if clock.level in LEVELS else 0
    times = {"warning": clock.warning_at, "overdue": clock.deadline, "escalated": clock.escalate_at}
    return [(lvl, times[lvl]) for lvl in LEVELS[fired:] if times[lvl] <= now]


def start(cal: WorkingCalendar, *, case_id: int, kind: str, urgency: str, spec: str, now: datetime,
          whistle_id: int | None = None, unit_id: int | None = None, drives_case: bool = True) -> StepClock:
    deadline, provisional = add(cal, now, spec, urgency)
    clock = new(StepClock, case_id=case_id, whistle_id=whistle_id, unit_id=unit_id, kind=kind, drives_case=drives_case,
                      urgency=urgency,
                      limit_spec=spec, started_at=now, warning_at=now, deadline=deadline, escalate_at=deadline,
                      provisional=provisional, level="none")
    _schedule(cal, clock)
    return clock


def stop(clock: StepClock, now: datetime, ended_by: str = "done") -> None:
    """Finish the clock; whether the step was on time is frozen here and never recomputed."""
    clock.stopped_at, clock.ended_by, clock.next_alert_at = now, ended_by, None
    clock.on_time = (now <= clock.deadline) if ended_by == "done" else None


def pause(clock: StepClock, now: datetime) -> None:
    clock.paused_at, clock.next_alert_at = now, None


def resume(cal: WorkingCalendar, clock: StepClock, now: datetime) -> None:
    """Shift every future point by the paused time, so the remaining time is what it was at the pause."""
    paused_at = clock.paused_at
    for name in ("warning_at", "deadline", "escalate_at"):
        at = getattr(clock, name)
        if at > paused_at:
            setattr(clock, name, _after(cal, now, _between(cal, paused_at, at, clock.urgency), clock.urgency))
    clock.paused_minutes += _between(cal, paused_at, now, clock.urgency)
    clock.paused_at = None
    clock.next_alert_at = next_due(clock)


def extend(cal: WorkingCalendar, clock: StepClock, working_days: int, now: datetime) -> StepClock:
    """An approved extension moves the deadline: this instance ends, a fresh one starts its levels anew."""
    stop(clock, now, "extension")
    if clock.urgency == "urgent":
        deadline, provisional = clock.deadline + timedelta(days=working_days), False
    else:
        deadline, provisional = cal.add_working_days(clock.deadline, working_days)
    fresh = new(StepClock, case_id=clock.case_id, whistle_id=clock.whistle_id, unit_id=clock.unit_id,
                      kind=clock.kind, drives_case=clock.drives_case, urgency=clock.urgency,
                      limit_spec=clock.limit_spec,
                      started_at=clock.started_at, warning_at=clock.started_at, deadline=deadline,
                      escalate_at=deadline, provisional=provisional or clock.provisional, level="none",
                      paused_minutes=clock.paused_minutes, extended_days=clock.extended_days + working_days)
    _schedule(cal, fresh)
    return fresh


def recompute(cal: WorkingCalendar, clock: StepClock) -> None:
    """A running clock's points after a calendar change (an imported year, an admin edit)."""
    deadline, provisional = add(cal, clock.started_at, clock.limit_spec, clock.urgency)
    if clock.extended_days:
        deadline, more = cal.add_working_days(deadline, clock.extended_days)
        provisional |= more
    if clock.paused_minutes:
        deadline = _after(cal, deadline, clock.paused_minutes, clock.urgency)
    clock.deadline, clock.provisional = deadline, provisional
    _schedule(cal, clock)


def remaining_minutes(cal: WorkingCalendar, clock: StepClock, now: datetime) -> float:
    """Time left (negative: overdue), in working minutes for normal cases."""
    at = clock.paused_at or now
    return _between(cal, at, clock.deadline, clock.urgency)


@dataclass
class ClockPlan:
    """What a transition does to the clocks: new ones (with the whistle they belong to) and changed ones."""

    new: list[tuple[StepClock, Whistle | None]] = field(default_factory=list)
    changed: list[StepClock] = field(default_factory=list)


def follow(cal: WorkingCalendar, agg: lc.CaseAggregate, action: str, before: str, after: str, now: datetime,
           limit_for, *, actor_unit_id: int | None = None, extension_days: int | None = None) -> ClockPlan:
    """Stop, start, pause, resume or move clocks after `action` took the case from `before` to `after`: what the
    state change does, then the action's own clock effect (its row's `clock` in flows/lifecycle.py).
    `limit_for(kind)` gives the limit spec for this case's item, township and urgency."""
    plan = ClockPlan()
    case = agg.case
    running = [c for c in agg.clocks if c.stopped_at is None]

    def begin(kind: str, whistle: Whistle | None = None, drives: bool = True):
        unit = whistle.unit_id if whistle is not None else (case.lead_unit_id if kind == "handle" else None)
        clock = start(cal, case_id=case.id, kind=kind, urgency=case.urgency, spec=limit_for(kind), now=now,
                      unit_id=unit, drives_case=drives)
        plan.new.append((clock, whistle))

    def end(clock: StepClock, how: str = "done"):
        stop(clock, now, how)
        plan.changed.append(clock)

    effect = lc.BY_ACTION[action].clock
    if effect == lc.CLOCK_PAUSE:
        for c in running:
            pause(c, now)
            plan.changed.append(c)
        return plan
    if effect == lc.CLOCK_RESUME:
        for c in running:
            resume(cal, c, now)
            plan.changed.append(c)
        return plan
    if effect == lc.CLOCK_EXTEND:
        for c in running:
            if c.kind == "handle":
                plan.changed.append(c)
                plan.new.append((extend(cal, c, extension_days, now), None))
        return plan

    whistle_clocks = {c.whistle_id: c for c in running if c.whistle_id is not None}
    if effect == lc.CLOCK_END_OWN_WHISTLE:
        w = agg.whistle_of(actor_unit_id)
        if w is not None and w.id in whistle_clocks:
            end(whistle_clocks[w.id])
    if effect == lc.CLOCK_END_WHISTLES:
        for c in whistle_clocks.values():
            end(c, "returned")
    if after in lc.FINAL_STATES:  # assisting units that never checked in: their clocks end with the case
        for c in whistle_clocks.values():
            if c.stopped_at is None:
                end(c, "cancelled")
    if before != after:
        for c in running:
            if c.whistle_id is None and c.stopped_at is None:
                end(c)
        if after in STEP_CLOCK:
            begin(STEP_CLOCK[after])
    if effect == lc.CLOCK_START_WHISTLES:
        for w in agg.active:
            if w.state == WHISTLE_SENT:
                begin("check_in", w, drives=w.role == "lead")
    return plan


def case_summary(clocks: list[StepClock]) -> tuple[datetime | None, bool, str]:
    """The deadline, provisional flag and alert level a case shows: those of its driving running clock."""
    live = [c for c in clocks if c.stopped_at is None and c.drives_case]
    if not live:
        return None, False, "none"
    c = min(live, key=lambda x: x.deadline)
    return c.deadline, c.provisional, c.level

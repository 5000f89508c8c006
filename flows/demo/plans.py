"""A demo case before it is replayed: its plan (the timed steps of one case through the loop) and the script that
writes those steps in time order, never past `now`; and the working-time arithmetic the plans use (the
project's own calendar, flows/calendar.py, as loaded from the database)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import Actor
from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.demo.county import ItemSpec, TownshipSpec

if TYPE_CHECKING:
    from chuishao.flows.demo.builder import Demo


def add_working(cal: WorkingCalendar, t: datetime, minutes: float) -> datetime:
    """`t` plus `minutes` of working time, in local time."""
    return cal.add_working_minutes(t, minutes)[0].astimezone(LOCAL_TZ)


def working_days_before(cal: WorkingCalendar, t: datetime, days: int) -> date:
    day = t.astimezone(LOCAL_TZ).date()
    while days > 0:
        day -= timedelta(days=1)
        days -= cal.is_workday(day)
    return day


def months_before(t: datetime, months: int) -> datetime:
    local = t.astimezone(LOCAL_TZ)
    y, m = divmod(local.year * 12 + local.month - 1 - months, 12)
    day = min(local.day, 28)
    return local.replace(year=y, month=m + 1, day=day)


@dataclass
class Step:
    at: datetime
    action: str
    who: Actor
    body: dict | Callable[[], dict]
    to: str  # the state the case must be in afterwards
    lead: str | None = None  # the lead unit a dispatch/arbitrate must reach


@dataclass
class Plan:
    n: int
    township: TownshipSpec
    item: ItemSpec
    grid: int  # 0-based grid index within the township
    source: str
    reporter: Actor
    problem: tuple[str, str, str] = ("", "", "")  # title, description, address as first seen
    steps: list[Step] = field(default_factory=list)
    state: str = lc.REPORTED  # planned state after the last step
    final_at: datetime | None = None  # when it reached a final state
    case_id: int | None = None
    status: str | None = None  # actual state after replay


class Script:
    """Writes one case's steps in order; time only moves forward and a step after `now` is never written."""

    def __init__(self, demo: "Demo", plan: Plan, t0: datetime, urgent: bool):
        self.d, self.p, self.t, self.urgent = demo, plan, t0, urgent
        self.done = False

    def spend(self, minutes: float) -> None:
        """Let `minutes` pass: working time for normal cases, wall-clock time for urgent ones."""
        self.until(self.d.after(self.t, minutes, self.urgent))

    def until(self, t: datetime) -> None:
        """Move to `t` (never backwards: at least a minute after the previous step), to whole seconds."""
        t = max(t, self.t + timedelta(minutes=1))
        self.t = t.replace(second=self.d.rng.randrange(60), microsecond=0)  # still after the previous step

    def do(self, action: str, who: Actor, body, to: str | None = None, lead: str | None = None) -> bool:
        if self.done or self.t > self.d.now:
            self.done = True
            return False
        to = self.p.state if to is None else to
        self.p.steps.append(Step(self.t, action, who, body, to, lead))
        self.p.state = to
        if to in lc.FINAL_STATES:
            self.p.final_at = self.t
        return True

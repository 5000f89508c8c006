"""Predicted closure (预计办结时间): when an open case will probably close, from how long the same catalog item
(事项) took in the same township (乡镇) lately.

The measure is working time: for every case of the item and township closed in the last WINDOW_DAYS days
(closed_at in [now − 90 days, now]), the working minutes on the county's working calendar (flows/calendar.py)
from the report (created_at) to the closure (closed_at). Clocks run on that calendar, so a case reported on a
Friday evening is not "slower" for the weekend in between. The prediction is created_at + the median of those
durations on the same calendar, and likewise the 80th percentile (八成案件在此前办结), with the sample size;
under MIN_SAMPLES closed cases there is no prediction (样本不足).

Percentiles: `statistics.median`, and `statistics.quantiles(n=5, method="inclusive")[3]` for the 80th — the
inclusive method (the same as NumPy's default "linear") treats the closed cases as the whole population and never
reaches beyond the slowest case seen; the default "exclusive" method would extrapolate past it with 5 samples.

`turnaround` and `project` are pure; `predict` runs one grouped query for every (item, township) pair it is
asked about that is not cached, and keeps the figures in process for CACHE_SECONDS, keyed by the local day.
"""

import statistics
import time as wallclock
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from chuishao.flows import lifecycle as lc
from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.clock import LOCAL_TZ, local
from chuishao.models.cases import Case
from chuishao.models.db import Database

WINDOW_DAYS = 90
MIN_SAMPLES = 5
CACHE_SECONDS = 300.0
QUANTILE_METHOD = "inclusive"


@dataclass(frozen=True)
class Turnaround:
    """How long one item took in one township: working minutes, None under MIN_SAMPLES samples."""

    samples: int
    median_minutes: float | None
    p80_minutes: float | None


@dataclass(frozen=True)
class Prediction:
    """A projected closure (UTC); `median_at`/`p80_at` None when the sample is too small."""

    samples: int
    median_at: datetime | None
    p80_at: datetime | None
    window_days: int = WINDOW_DAYS

    def view(self) -> dict:
        """The case JSON's `predicted_closure`: times in Asia/Shanghai (ISO 8601)."""
        return {"median_at": local(self.median_at), "p80_at": local(self.p80_at), "samples": self.samples,
                "window_days": self.window_days}


def turnaround(durations: Sequence[float], min_samples: int = MIN_SAMPLES) -> Turnaround:
    """Median and 80th percentile (inclusive method) of `durations` (working minutes); None for both under
    `min_samples` durations."""
    n = len(durations)
    if n < max(min_samples, 2):
        return Turnaround(n, None, None)
    return Turnaround(n, statistics.median(durations),
                      statistics.quantiles(durations, n=5, method=QUANTILE_METHOD)[3])


def project(created_at: datetime, t: Turnaround, calendar: WorkingCalendar) -> Prediction:
    """created_at + the median (and the 80th percentile) working minutes on `calendar`, UTC."""
    if t.median_minutes is None or t.p80_minutes is None:
        return Prediction(t.samples, None, None)
    return Prediction(t.samples, calendar.add_working_minutes(created_at, t.median_minutes)[0],
                      calendar.add_working_minutes(created_at, t.p80_minutes)[0])


def expected_at(p: Prediction | None, deadline: datetime | None, now: datetime) -> datetime | None:
    """Open311 `expected_datetime` ("the date/time the service request is expected to be fulfilled"): the
    predicted median closure while it lies ahead; once passed, the 80th percentile while that lies ahead; else
    `deadline` (the caller passes the lead unit's handling deadline while handling, else None). UTC."""
    for t in (p.median_at, p.p80_at) if p is not None else ():
        if t is not None and t > now:
            return t
    return deadline


def durations_by_pair(rows: Iterable, calendar: WorkingCalendar) -> dict[tuple[str, int], list[float]]:
    """Closed cases (category, township_id, created_at, closed_at) → working minutes per (item, township)."""
    out: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        out.setdefault((r.category, r.township_id), []).append(
            max(0.0, calendar.working_minutes_between(r.created_at, r.closed_at)))
    return out


# ---- the query and its cache ----------------------------------------------------------------------------
# per database: (local day, item, township) → (expires at, on the monotonic clock; figures)
_CACHE: "weakref.WeakKeyDictionary[Database, dict]" = weakref.WeakKeyDictionary()


def forget(db: Database | None = None) -> None:
    """Drop the cached figures (of one database, or all): after a demo build, or in tests that close cases."""
    if db is None:
        _CACHE.clear()
    else:
        _CACHE.pop(db, None)


async def turnarounds(db: Database, calendar: WorkingCalendar, pairs: Iterable[tuple[str, int]],
                      now: datetime) -> dict[tuple[str, int], Turnaround]:
    """Turnaround per (item code, township id), over the cases closed in the WINDOW_DAYS days before `now`
    (UTC). One query for all the pairs not cached; none when all are."""
    pairs = set(pairs)
    day = now.astimezone(LOCAL_TZ).date()
    cache = _CACHE.setdefault(db, {})
    clock = wallclock.monotonic()
    out, missing = {}, set()
    for p in pairs:
        hit = cache.get((day, *p))
        if hit is not None and hit[0] > clock:
            out[p] = hit[1]
        else:
            missing.add(p)
    if missing:
        cats = sorted({c for c, _ in missing})
        towns = sorted({t for _, t in missing})
        async with db.read() as s:
            rows = (await s.execute(
                select(Case.category, Case.township_id, Case.created_at, Case.closed_at)
                .where(Case.status == lc.CLOSED, Case.closed_at >= now - timedelta(days=WINDOW_DAYS),
                       Case.closed_at <= now, Case.category.in_(cats), Case.township_id.in_(towns)))).all()
        found = durations_by_pair(rows, calendar)
        for k in [k for k, v in cache.items() if v[0] <= clock or k[0] != day]:
            del cache[k]
        for p in missing:
            out[p] = cache_value = turnaround(found.get(p, ()))
            cache[(day, *p)] = (clock + CACHE_SECONDS, cache_value)
    return out


async def predict(db: Database, calendar: WorkingCalendar, cases: Sequence, now: datetime
                  ) -> dict[int, Prediction]:
    """Predictions for the open cases among `cases` (rows with id, status, category, township_id, created_at)
    that have a catalog item, by case id; finished or unclassified cases are left out."""
    wanted = [c for c in cases if c.category and c.status in lc.OPEN_STATES]
    if not wanted:
        return {}
    stats = await turnarounds(db, calendar, {(c.category, c.township_id) for c in wanted}, now)
    return {c.id: project(c.created_at, stats[(c.category, c.township_id)], calendar) for c in wanted}


async def attach(db: Database, calendar: WorkingCalendar, cases: Sequence, views: list[dict], now: datetime
                 ) -> None:
    """Set each view's `predicted_closure` ({median_at, p80_at, samples, window_days}, or None) from the case
    rows `cases` (same order as `views`). One query at most, for the whole page."""
    found = await predict(db, calendar, cases, now)
    for c, v in zip(cases, views, strict=True):
        p = found.get(c.id)
        v["predicted_closure"] = None if p is None else p.view()

"""China's working calendar and working-time arithmetic (docs/clocks.md#working-calendar). Pure: the days come
in as data.

A day is a working day if it is a make-up working day (调休), or a weekday that is not a statutory
holiday. Years with official data (seeded from the maintained packages, or imported from the State
Council's notice) are final; any other year falls back to weekends plus rule-based holidays, and every
deadline computed through such a year is provisional until that year is imported.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.errors import Invalid
from chuishao.flows.text import label_of

# The dates the product stores and accepts (calendar days, imported schedules, certificate expiry, Open311
# times, query bounds): anything outside is a typo or a probe (`PUT /calendar/days/0` is 1970-01-01), never a
# day a case is worked on. The one definition of the range; `in_range` is its check.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)

DEFAULT_HOURS: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
# 24:00, the midnight that ends a day, as a window's end: `time` cannot hold it, and `time.max` sorts after
# every other time of day, so comparisons stay right; every conversion to minutes or datetimes maps it to the
# next day's 00:00 exactly (`minute_of_day`, `WorkingCalendar._windows`).
END_OF_DAY = time.max
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
MAX_SCAN_DAYS = 3660  # a limit is never longer than this; guards against a calendar with no working days


def in_range(value: date, field: str, label: str | None = None) -> date:
    """`value` (a date, or a datetime judged by its Asia/Shanghai date) if it lies in FIRST_DAY … LAST_DAY;
    otherwise Invalid (422, code `date_out_of_range`, extra {"field"}) naming the field (`label`: its Chinese
    name) and the range."""
    day = value.astimezone(LOCAL_TZ).date() if isinstance(value, datetime) and value.tzinfo else value
    if isinstance(day, datetime):
        day = day.date()
    if FIRST_DAY <= day <= LAST_DAY:
        return value
    raise Invalid(f"{label or label_of(field)}须在 {FIRST_DAY} 至 {LAST_DAY} 之间（收到 {day}）",
                  f"{field} must be between {FIRST_DAY} and {LAST_DAY} (got {day})",
                  code="date_out_of_range", extra={"field": field})


def parse_day(text: str, field: str = "day", label: str | None = "日期") -> date:
    """An ISO date "YYYY-MM-DD" within FIRST_DAY … LAST_DAY. Raises Invalid (422, extra {"field"}): a
    number such as "0" is not a date here (pydantic would read it as seconds since 1970)."""
    try:
        if not isinstance(text, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        shown = str(text)[:20]
        raise Invalid(f"{label or label_of(field)}须写作 YYYY-MM-DD 的有效日期，如 2026-10-01（收到 {shown}）",
                      f"{field} must be a valid date written YYYY-MM-DD, e.g. 2026-10-01 (got {shown})",
                      code="bad_date", extra={"field": field}) from None
    return in_range(day, field, label)


def minute_of_day(t: time) -> int:
    """Minutes since midnight; END_OF_DAY is 1440."""
    return 1440 if t == END_OF_DAY else t.hour * 60 + t.minute


def parse_hhmm(text: str, *, end: bool = False) -> time:
    """"HH:MM" as a time. As a window's `end`, "24:00" (and "00:00", which is all a browser's time field can
    say) is END_OF_DAY; elsewhere 24:00 is refused. Raises ValueError."""
    if not isinstance(text, str) or not _HHMM.fullmatch(text):
        raise ValueError(f"not a time of day HH:MM: {text!r}")
    if text in ("24:00", "00:00") and end:
        return END_OF_DAY
    if text == "24:00":
        raise ValueError("24:00 ends a window; it cannot start one")
    return time.fromisoformat(text)


def format_hhmm(t: time) -> str:
    return "24:00" if t == END_OF_DAY else t.strftime("%H:%M")


def check_hours(windows) -> tuple[tuple[time, time], ...]:
    """Working windows of a day: non-empty, each start before its end, in order and not overlapping
    (00:00–24:00 is a whole day). Raises Invalid (422)."""
    windows = tuple(windows)
    if not windows or any(a >= b for a, b in windows) or any(
            windows[i][1] > windows[i + 1][0] for i in range(len(windows) - 1)):
        raise Invalid("工作时段须按时间先后排列且不重叠（结束时间可填 24:00）",
                      "working hours must be ordered, non-overlapping, non-empty windows (an end may be 24:00)")
    return windows


def parse_hours(pairs) -> tuple[tuple[time, time], ...]:
    """[["HH:MM", "HH:MM"], ...] (ends may be 24:00) as checked windows. Raises Invalid (422)."""
    try:
        windows = [(parse_hhmm(a), parse_hhmm(b, end=True)) for a, b in pairs]
    except (ValueError, TypeError):
        raise Invalid("工作时段须写作 HH:MM，如 09:00 至 12:00；全天为 00:00 至 24:00",
                      "working hours are HH:MM pairs, e.g. 09:00 to 12:00; a whole day is 00:00 to 24:00") from None
    return check_hours(windows)


def rule_based_holidays(year: int) -> set[date]:
    """Statutory holidays by rule (lunar dates included), without make-up days: the fallback."""
    import holidays

    return set(holidays.China(years=year).keys())


@dataclass
class WorkingCalendar:
    holidays: set[date] = field(default_factory=set)  # days off (法定节假日)
    workdays: set[date] = field(default_factory=set)  # make-up working days (调休上班)
    official_years: set[int] = field(default_factory=set)
    hours: tuple[tuple[time, time], ...] = DEFAULT_HOURS  # local times; an end may be END_OF_DAY (24:00)
    fallback: Callable[[int], set[date]] = rule_based_holidays
    _fallback_cache: dict[int, set[date]] = field(default_factory=dict, repr=False)
    _counts_cache: dict[int, list[int]] = field(default_factory=dict, repr=False)
    _windows_cache: dict[date, list[tuple[datetime, datetime]]] = field(default_factory=dict, repr=False)

    # ---- days ---------------------------------------------------------------------------
    def is_official(self, year: int) -> bool:
        return year in self.official_years

    def is_workday(self, d: date) -> bool:
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        if not self.is_official(d.year):
            if d.year not in self._fallback_cache:
                self._fallback_cache[d.year] = self.fallback(d.year)
            if d in self._fallback_cache[d.year]:
                return False
        return d.weekday() < 5

    def _windows(self, d: date) -> list[tuple[datetime, datetime]]:
        """The day's working windows as aware local times (kept: every action's clocks ask for a few days)."""
        got = self._windows_cache.get(d)
        if got is None:
            if len(self._windows_cache) >= 4096:
                self._windows_cache.clear()
            midnight = datetime.combine(d, time(0), LOCAL_TZ)
            got = self._windows_cache[d] = [
                (midnight + timedelta(minutes=minute_of_day(a)), midnight + timedelta(minutes=minute_of_day(b)))
                for a, b in self.hours]
        return got

    def day_minutes(self) -> int:
        return sum(minute_of_day(b) - minute_of_day(a) for a, b in self.hours)

    # ---- arithmetic ---------------------------------------------------------------------
    def add_working_minutes(self, start: datetime, minutes: float) -> tuple[datetime, bool]:
        """The moment `minutes` of working time after `start`; and whether any day used was provisional."""
        t = start.astimezone(LOCAL_TZ)
        left = timedelta(minutes=minutes)
        provisional = False
        d = t.date()
        for _ in range(MAX_SCAN_DAYS):
            if self.is_workday(d):
                provisional |= not self.is_official(d.year)
                for a, b in self._windows(d):
                    begin = max(a, t)
                    if begin >= b:
                        continue
                    if begin + left <= b:
                        return (begin + left).astimezone(UTC), provisional
                    left -= b - begin
            d += timedelta(days=1)
        raise ValueError("no working time found within ten years")

    def add_working_days(self, start: datetime, days: int) -> tuple[datetime, bool]:
        """The end of the `days`-th working day after the day of `start` (2026-09-30 + 5 → 2026-10-13 17:30)."""
        d = start.astimezone(LOCAL_TZ).date()
        provisional, counted = False, 0
        for _ in range(MAX_SCAN_DAYS):
            d += timedelta(days=1)
            if self.is_workday(d):
                counted += 1
                provisional |= not self.is_official(d.year)
                if counted == days:
                    return self._windows(d)[-1][1].astimezone(UTC), provisional
        raise ValueError("no working day found within ten years")

    def working_days_before(self, moment: datetime, days: int) -> datetime:
        """The same time of day `days` working days earlier (for "no action for 5 working days")."""
        t = moment.astimezone(LOCAL_TZ)
        d, counted = t.date(), 0
        for _ in range(MAX_SCAN_DAYS):
            d -= timedelta(days=1)
            if self.is_workday(d):
                counted += 1
                if counted == days:
                    return datetime.combine(d, t.timetz()).astimezone(UTC)
        raise ValueError("no working day found within ten years")

    def working_minutes_between(self, a: datetime, b: datetime) -> float:
        """Working minutes from a to b (negative if b is before a). The first and last day count by their
        windows; the whole days between count as working days × the minutes of one working day, so a
        case months overdue costs no more than one due today (lists show it for every row)."""
        if b < a:
            return -self.working_minutes_between(b, a)
        a, b = a.astimezone(LOCAL_TZ), b.astimezone(LOCAL_TZ)
        total = timedelta()
        edges = [a.date()] if a.date() == b.date() else [a.date(), b.date()]
        for d in edges:
            if self.is_workday(d):
                for x, y in self._windows(d):
                    lo, hi = max(x, a), min(y, b)
                    if hi > lo:
                        total += hi - lo
        between = self.workdays_in(a.date() + timedelta(days=1), b.date() - timedelta(days=1))
        return total.total_seconds() / 60 + between * self.day_minutes()

    def workdays_in(self, first: date, last: date) -> int:
        """How many working days from `first` to `last`, both included (0 when last < first)."""
        if last < first:
            return 0
        if first.year == last.year:
            counts = self._year_counts(first.year)
            return counts[last.timetuple().tm_yday] - counts[first.timetuple().tm_yday - 1]
        return (self.workdays_in(first, date(first.year, 12, 31))
                + sum(self._year_counts(y)[-1] for y in range(first.year + 1, last.year))
                + self.workdays_in(date(last.year, 1, 1), last))

    def _year_counts(self, year: int) -> list[int]:
        """counts[n] = working days among the first n days of `year` (a new calendar is built on every edit,
        so the cache never outlives the days it was counted from)."""
        counts = self._counts_cache.get(year)
        if counts is None:
            counts, d = [0], date(year, 1, 1)
            while d.year == year:
                counts.append(counts[-1] + self.is_workday(d))
                d += timedelta(days=1)
            self._counts_cache[year] = counts
        return counts


def from_packages(years: Iterable[int] | None = None) -> tuple[set[date], set[date], set[int]]:
    """Holidays, make-up workdays and the years they cover, from the maintained `chinese-calendar` package."""
    import chinese_calendar

    holidays = set(chinese_calendar.holidays)
    workdays = set(chinese_calendar.workdays)
    covered = {d.year for d in holidays}
    if years is not None:
        wanted = set(years)
        holidays = {d for d in holidays if d.year in wanted}
        workdays = {d for d in workdays if d.year in wanted}
        covered &= wanted
    return holidays, workdays, covered

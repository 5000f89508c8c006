"""China's working calendar and working-time arithmetic (SPEC §5). Pure: the days come in as data.

A day is a working day if it is a make-up working day (调休), or a weekday that is not a statutory
holiday. Years with official data (seeded from the maintained packages, or imported from the State
Council's notice) are final; any other year falls back to weekends plus rule-based holidays, and every
deadline computed through such a year is provisional until that year is imported.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flows.clock import LOCAL_TZ

DEFAULT_HOURS: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
MAX_SCAN_DAYS = 3660  # a limit is never longer than this; guards against a calendar with no working days


def rule_based_holidays(year: int) -> set[date]:
    """Statutory holidays by rule (lunar dates included), without make-up days: the fallback."""
    import holidays

    return set(holidays.China(years=year).keys())


@dataclass
class WorkingCalendar:
    holidays: set[date] = field(default_factory=set)  # days off (法定节假日)
    workdays: set[date] = field(default_factory=set)  # make-up working days (调休上班)
    official_years: set[int] = field(default_factory=set)
    hours: tuple[tuple[time, time], ...] = DEFAULT_HOURS
    fallback: Callable[[int], set[date]] = rule_based_holidays
    _fallback_cache: dict[int, set[date]] = field(default_factory=dict, repr=False)
    _counts_cache: dict[int, list[int]] = field(default_factory=dict, repr=False)

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
        return [(datetime.combine(d, a, LOCAL_TZ), datetime.combine(d, b, LOCAL_TZ)) for a, b in self.hours]

    def day_minutes(self) -> int:
        return sum((b.hour * 60 + b.minute) - (a.hour * 60 + a.minute) for a, b in self.hours)

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
                    end = self.hours[-1][1]
                    return datetime.combine(d, end, LOCAL_TZ).astimezone(UTC), provisional
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

"""The working calendar in our own tables: seeded from the maintained packages, edited by the admin,
imported from the State Council's yearly notice. Each process keeps the calendar in memory."""

import csv
import io
import json
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select

from chuishao.flows import clocks as clk
from chuishao.flows.calendar import (
    DEFAULT_HOURS,
    WorkingCalendar,
    check_hours,
    format_hhmm,
    from_packages,
    in_range,
    parse_hhmm,
)
from chuishao.flows.errors import Invalid
from chuishao.flows.text import clean
from chuishao.models.cases import Case
from chuishao.models.clocks import CalendarDay, CalendarYear, StepClock
from chuishao.models.db import Database
from chuishao.models.settings_table import Setting

# the package's holiday names (English) as people say them
HOLIDAY_NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
                 "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
                 "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日"}
HOURS_KEY = "working_hours"
VERSION_KEY = "calendar_version"  # bumped on every change, so other processes know to reload


def parse_schedule(text: str, filename: str = "") -> tuple[int, list[tuple[date, str, str | None]]]:
    """A year's official schedule, as CSV (`date,kind,name`) or JSON (`{"year", "holidays", "workdays"}` or a
    list of `{date, kind, name}`). Every day must fall in one year within FIRST_DAY … LAST_DAY; names follow
    the one text rule (flows/text.py). Raises Invalid (422)."""
    days: list[tuple[date, str, str | None]] = []
    try:
        if filename.endswith(".json") or text.lstrip().startswith(("{", "[")):
            data = json.loads(text)
            if isinstance(data, dict):
                for kind, key in (("holiday", "holidays"), ("workday", "workdays")):
                    for item in data.get(key, []):
                        d, name = (item, None) if isinstance(item, str) else (item["date"], item.get("name"))
                        days.append((date.fromisoformat(d), kind, name))
            else:
                days = [(date.fromisoformat(x["date"]), x["kind"], x.get("name")) for x in data]
        else:
            for row in csv.DictReader(io.StringIO(text)):
                days.append((date.fromisoformat(row["date"].strip()), row["kind"].strip(),
                             (row.get("name") or "").strip() or None))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise Invalid(f"日历文件格式有误：{err}", f"cannot read the schedule: {err}") from None
    if not days:
        raise Invalid("日历文件中没有日期", "the schedule holds no days")
    years = {d.year for d, _, _ in days}
    if len(years) != 1:
        raise Invalid("一次只能导入一个年度", f"a file may hold only one year, but it holds {sorted(years)}")
    bad = [k for _, k, _ in days if k not in ("holiday", "workday")]
    if bad:
        raise Invalid("类型须为 holiday 或 workday", f"kind must be holiday or workday, got {bad[0]!r}")
    if any(name is not None and not isinstance(name, str) for _, _, name in days):
        raise Invalid("名称须为文字", "name must be text")
    days = [(in_range(d, "date", "日期"), kind, day_name(name)) for d, kind, name in days]
    return years.pop(), days


def day_name(name: str | None) -> str | None:
    """A calendar day's name (春节, 临时停工): the one text rule, at most 100 characters; blank is none."""
    if name is None or not name.strip():
        return None
    name = clean(name.strip(), "name", label="节日名称")
    if len(name) > 100:
        raise Invalid("节日名称不能超过 100 个字", "name must be at most 100 characters")
    return name


class CalendarStore:
    def __init__(self, db: Database):
        self.db = db
        self.current = WorkingCalendar()
        self.version = -1

    async def _stored_version(self, s) -> int:
        row = await s.get(Setting, VERSION_KEY)
        return row.value["v"] if row else 0

    async def _bump(self, s) -> None:
        row = await s.get(Setting, VERSION_KEY)
        if row is None:
            s.add(Setting(key=VERSION_KEY, value={"v": 1}))
        else:
            row.value = {"v": row.value["v"] + 1}

    async def refresh_if_changed(self, now: datetime) -> bool:
        """Cheap check for other processes' edits (one primary-key read)."""
        async with self.db.read() as s:
            stored = await self._stored_version(s)
        if stored != self.version:
            await self.load(now)
            return True
        return False

    async def load(self, now: datetime) -> WorkingCalendar:
        async with self.db.read() as s:
            empty = (await s.execute(select(CalendarYear.year).limit(1))).first() is None
        if empty:
            await self.seed(now)
        async with self.db.read() as s:
            version = await self._stored_version(s)
            days = (await s.execute(select(CalendarDay))).scalars().all()
            years = {y for (y,) in (await s.execute(select(CalendarYear.year))).all()}
            hours_row = await s.get(Setting, HOURS_KEY)
        hours = DEFAULT_HOURS
        if hours_row:
            hours = tuple((parse_hhmm(a), parse_hhmm(b, end=True)) for a, b in hours_row.value["windows"])
        self.current = WorkingCalendar(
            holidays={d.day for d in days if d.kind == "holiday"},
            workdays={d.day for d in days if d.kind == "workday"},
            official_years=years, hours=hours)
        self.version = version
        return self.current

    async def set_hours(self, windows: list[tuple[time, time]], now: datetime) -> None:
        """Working hours per day (default 09:00–12:00, 13:30–17:30; an end may be END_OF_DAY, 24:00), local
        time. Raises Invalid (422) for empty, reversed or overlapping windows."""
        windows = check_hours(windows)
        value = {"windows": [[format_hhmm(a), format_hhmm(b)] for a, b in windows]}
        async with self.db.transaction() as s:
            row = await s.get(Setting, HOURS_KEY)
            if row is None:
                s.add(Setting(key=HOURS_KEY, value=value))
            else:
                row.value = value
            await self._bump(s)
        await self.load(now)
        await self.recompute_open(now.year, now)

    async def year(self, year: int) -> dict:
        async with self.db.read() as s:
            row = await s.get(CalendarYear, year)
            days = (await s.execute(select(CalendarDay).where(
                CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
                .order_by(CalendarDay.day))).scalars().all()
        return {
            "year": year, "official": row is not None, "source": row.source if row else "rules",
            "hours": [[format_hhmm(a), format_hhmm(b)] for a, b in self.current.hours],
            "days": [{"date": d.day.isoformat(), "kind": d.kind, "name": d.name, "source": d.source} for d in days],
        }

    async def year_view(self, year: int, now: datetime) -> dict:
        """Every date of `year` as the calendar page shows it: {"year", "official", "source", "hours",
        "days": [{"date": date, "kind": "holiday" | "workday" | "weekend" | "normal", "working": bool,
        "name": str | None, "source": "package" | "import" | "admin" | "rules" | None}]}.
        `holiday`: a statutory day off (a rule-based one in a year without official data, source "rules");
        `workday`: a make-up working day (调休上班) on a weekend. Reads other processes' edits first."""
        await self.refresh_if_changed(now)
        stored = await self.year(year)
        rows = {d["date"]: d for d in stored["days"]}
        cal = self.current
        rule_names: dict[date, str] = {}
        if not stored["official"]:
            import holidays

            rule_names = dict(holidays.China(years=year, language="zh_CN").items())
        days, d = [], date(year, 1, 1)
        while d.year == year:
            row = rows.get(d.isoformat())
            working = cal.is_workday(d)
            if row:
                kind, source, name = row["kind"], row["source"], row["name"] or self._package_name(d)
            elif not working and (d.weekday() < 5 or d in rule_names):
                kind, source, name = "holiday", "rules", rule_names.get(d)
            else:
                kind, source, name = ("weekend" if d.weekday() >= 5 else "normal"), None, None
            days.append({"date": d, "kind": kind, "working": working, "name": name, "source": source})
            d += timedelta(days=1)
        return {**{k: stored[k] for k in ("year", "official", "source", "hours")}, "days": days}

    @staticmethod
    def _package_name(d: date) -> str | None:
        try:
            import chinese_calendar

            _, name = chinese_calendar.get_holiday_detail(d)
        except (ImportError, NotImplementedError):
            return None
        return HOLIDAY_NAMES.get(name, name) if name else None

    async def seed(self, now: datetime) -> int:
        """Every year the maintained `chinese-calendar` package knows (it agrees with `holidays` on 2025–2026)."""
        holidays, workdays, years = from_packages()
        async with self.db.transaction() as s:
            known = {y for (y,) in (await s.execute(select(CalendarYear.year))).all()}
            for y in sorted(years - known):
                s.add(CalendarYear(year=y, source="package", loaded_at=now))
                for d in sorted(x for x in holidays if x.year == y):
                    s.add(CalendarDay(day=d, kind="holiday", source="package"))
                for d in sorted(x for x in workdays if x.year == y):
                    s.add(CalendarDay(day=d, kind="workday", source="package"))
            await self._bump(s)
        return len(years - known)

    async def import_year(self, text: str, filename: str, now: datetime) -> dict:
        """Replace one year's days with the official schedule, then recompute the open deadlines."""
        year, days = parse_schedule(text, filename)
        async with self.db.transaction() as s:
            await s.execute(delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                      CalendarDay.day <= date(year, 12, 31)))
            for d, kind, name in days:
                s.add(CalendarDay(day=d, kind=kind, name=name, source="import"))
            row = await s.get(CalendarYear, year)
            if row is None:
                s.add(CalendarYear(year=year, source="import", loaded_at=now))
            else:
                row.source, row.loaded_at = "import", now
            await self._bump(s)
        await self.load(now)
        changed = await self.recompute_open(year, now)
        return {"year": year, "days": len(days), "recomputed_clocks": changed}

    async def set_day(self, day: date, kind: str | None, name: str | None, now: datetime) -> str | None:
        """The admin's override for one date (None: back to the rule); returns the name as stored. Raises Invalid
        (422) for a date outside FIRST_DAY … LAST_DAY or a name that breaks the text rule."""
        in_range(day, "day", "日期")
        name = day_name(name)
        async with self.db.transaction() as s:
            row = await s.get(CalendarDay, day)
            if kind is None:
                if row is not None:
                    await s.delete(row)
            elif row is None:
                s.add(CalendarDay(day=day, kind=kind, name=name, source="admin"))
            else:
                row.kind, row.name, row.source = kind, name, "admin"
            await self._bump(s)
        await self.load(now)
        await self.recompute_open(day.year, now)
        return name

    async def recompute_open(self, year: int, now: datetime) -> int:
        """Running normal-urgency clocks whose deadline could touch `year` and has not yet passed: new points
        from the new calendar. Finished steps keep their frozen on-time flags, and a deadline that has
        already passed stays where it was (its alerts have fired; a month's figures must not move)."""
        cal = self.current
        async with self.db.transaction() as s:
            rows = (await s.execute(select(StepClock).where(
                StepClock.stopped_at.is_(None), StepClock.urgency == "normal", StepClock.deadline > now,
            ))).scalars().all()
            touched = [c for c in rows if c.provisional or c.deadline.year >= year or c.started_at.year >= year]
            for c in touched:
                clk.recompute(cal, c)
            cases = {c.case_id for c in touched if c.drives_case}
            await s.flush()
            running = (await s.execute(select(StepClock).where(
                StepClock.case_id.in_(cases), StepClock.stopped_at.is_(None)))).scalars().all() if cases else []
            for case_id in cases:
                live = [c for c in running if c.case_id == case_id]
                deadline, provisional, _ = clk.case_summary(live)
                case = await s.get(Case, case_id)
                case.deadline, case.provisional = deadline, provisional
        return len(touched)

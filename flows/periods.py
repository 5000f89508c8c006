"""The periods the reports cover: an ISO week (每周一检点) and a calendar month (每月一通报), in Asia/Shanghai.

Names come from people (the CLI, a URL), so each is parsed in one place here: `parse_week` and `parse_month`
raise Invalid (422) with a message that says why, and everything else takes the parsed name. A parsed period
is reported only between the county's first record (`records_begin`, `refuse_before_records`) and `now`
(`in_progress`).
"""

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from chuishao.flows.clock import LOCAL_TZ, local
from chuishao.flows.errors import Invalid
from chuishao.models.cases import Case
from chuishao.models.org import Unit

FIRST_YEAR, LAST_YEAR = 2000, 2099  # reports cover these years; anything else is a typo, not a period


def weeks_in(year: int) -> int:
    """52 or 53: the ISO week of 28 December is always the year's last (ISO 8601)."""
    return date(year, 12, 28).isocalendar().week


def _year(text: str, name: str, example: str) -> int:
    year = int(text)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(f"{name} 超出范围：年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间（例如 {example}）",
                      f"{name} is out of range: the year must be between {FIRST_YEAR} and {LAST_YEAR} "
                      f"(e.g. {example})")
    return year


def parse_week(name: str) -> str:
    """'2026-W47' → '2026-W47' (an ISO week, year 2000–2099). Raises Invalid (422) when the name is not of
    that shape, or names a week the year does not have (2025-W53: 2025 has 52 ISO weeks; W00)."""
    year_text, sep, week_text = name.partition("-W")
    if not (sep and len(year_text) == 4 and year_text.isdigit() and len(week_text) == 2 and week_text.isdigit()
            and year_text.isascii() and week_text.isascii()):
        raise Invalid(f"周次格式应为 2026-W47，收到 {name[:20]!r}", f"a week looks like 2026-W47, not {name[:20]!r}")
    year, week = _year(year_text, name, "2026-W47"), int(week_text)
    last = weeks_in(year)
    if not 1 <= week <= last:
        raise Invalid(f"{name} 这一周不存在：{year} 年只有第 1–{last} 周",
                      f"week {name} does not exist: {year} has ISO weeks 1 to {last}")
    return name


def parse_month(name: str) -> str:
    """'2026-11' → '2026-11' (year 2000–2099, month 01–12). Raises Invalid (422) otherwise."""
    year_text, sep, month_text = name.partition("-")
    if not (sep and len(year_text) == 4 and year_text.isdigit() and len(month_text) == 2 and month_text.isdigit()
            and year_text.isascii() and month_text.isascii()):
        raise Invalid(f"月份格式应为 2026-11，收到 {name[:20]!r}", f"a month looks like 2026-11, not {name[:20]!r}")
    _year(year_text, name, "2026-11")
    if not 1 <= int(month_text) <= 12:
        raise Invalid(f"{name} 这个月份不存在：月份应为 01–12", f"month {name} does not exist: months are 01 to 12")
    return name


def week_window(week: str) -> tuple[datetime, datetime]:
    """'2026-W47' (parsed) → Monday 00:00 to the next Monday 00:00, Asia/Shanghai."""
    year, num = week.split("-W")
    monday = date.fromisocalendar(int(year), int(num), 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=LOCAL_TZ)
    return start, start + timedelta(days=7)


def previous_week(now: datetime) -> str:
    """The ISO week before the one `now` falls in (Asia/Shanghai): the week a Monday checkpoint covers."""
    year, num, _ = (now.astimezone(LOCAL_TZ).date() - timedelta(days=7)).isocalendar()
    return f"{year:04d}-W{num:02d}"


def month_window(month: str) -> tuple[datetime, datetime]:
    """'2026-11' (parsed) → 1 November 00:00 to 1 December 00:00, Asia/Shanghai."""
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=LOCAL_TZ)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return start, end


def previous_month(month: str) -> str:
    start, _ = month_window(month)
    prev = start - timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def in_progress(name: str, start: datetime, end: datetime, now: datetime) -> bool:
    """Whether a report of the period [start, end) generated at `now` is a preview (the period has not ended).
    Raises Invalid (422) for a period that has not begun: there is nothing to report yet."""
    if now < start:
        raise Invalid(f"{name} 尚未开始，不能生成", f"{name} has not begun yet; nothing to report")
    return now < end


async def records_begin(s) -> datetime | None:
    """When the county began to have anything to report (UTC, or None for an empty database): the earlier of
    the first case's report time (cases.created_at) and the first unit's creation (units.created_at; the
    county unit, made by `chuishao init`). A county imported with older cases starts at its first case; one
    set up before its first case starts when it was set up (its quiet weeks are true, empty reports)."""
    case_first = (await s.execute(select(func.min(Case.created_at)))).scalar_one()
    unit_first = (await s.execute(select(func.min(Unit.created_at)))).scalar_one()
    return min((t for t in (case_first, unit_first) if t is not None), default=None)


class NothingToReport(Invalid):
    """A period before the county had anything to report: refused by hand (422), skipped by the schedule."""

    code = "nothing_to_report"


def refuse_before_records(name: str, end: datetime, began: datetime | None) -> None:
    """Raises NothingToReport (Invalid, 422) when the period `name` ending at `end` (exclusive) ended by `began`
    (records_begin): the county had nothing then, and a report of it (announced to everyone when published)
    would be an empty one of a time before the county used chuishao — most often a typo in the year."""
    if began is None:
        raise NothingToReport(f"{name} 无可报告的内容：本县尚未建立（请先运行 chuishao init）",
                      f"there is nothing to report for {name}: the county has not been set up (run chuishao init)")
    if end <= began:
        since = local(began)[:10]
        raise NothingToReport(f"{name} 在本县最早的记录（{since}）之前就已结束，没有可报告的内容",
                      f"{name} ended before the county's first record ({since}); there is nothing to report")

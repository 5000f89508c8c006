"""Time: stored in UTC, shown in Asia/Shanghai. The clock is injectable so tests can move time."""

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A clock for tests and scripted runs: returns `now` until moved."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)


def local(dt: datetime | None) -> str | None:
    """ISO 8601 in Asia/Shanghai with its offset, as every response shows time."""
    return None if dt is None else dt.astimezone(LOCAL_TZ).isoformat()

"""Login throttling (issue 10): failed sign-ins are counted with the `limits` library (fixed windows) three
ways: per account from one client address (default 10 per 15 minutes), per account from all addresses
together (a higher ceiling, default 100), and per address over all accounts (default 50). Once a count is used
up, the sign-ins it covers are refused with 429 and a Retry-After until the window ends, even with the right
password.

So guessing one account's password is slow from any one address, and a stranger's few wrong guesses elsewhere
do not lock the owner out: only an attack from many addresses large enough to use up the account's ceiling
does. Only failures count, so people signing in correctly never use up anyone's allowance. Account names are
compared without letter case (usernames are unique that way). A successful sign-in clears its account's count
from that address only (not the account's ceiling, which a stranger's guesses fill; nor the address's: an
attacker could otherwise reset their address by signing in to an account of theirs).

Storage: by default the database (`throttle_counters`), which every API process shares (PostgreSQL
scale-out) and which needs no extra service (SQLite, one process); any `limits` async storage URI
(`async+redis://host:6379`, `async+memory://`) can be configured instead (`CHUISHAO_LOGIN_THROTTLE_STORAGE`).
"""

import math
import time
from urllib.parse import quote

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from chuishao.flows.errors import DomainError
from chuishao.models.accounts import ThrottleCounter
from chuishao.models.db import Database


class Throttled(DomainError):
    """Too many failed sign-ins: 429; `retry_after` is in seconds."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(f"登录失败次数过多，请 {minutes} 分钟后再试",
                         f"too many failed sign-ins; try again in {minutes} minute{'s' if minutes > 1 else ''}",
                         extra={"retry_after": retry_after})
        self.retry_after = retry_after


class DatabaseStorage(Storage):
    """A `limits` storage for fixed windows over the `throttle_counters` table. Times are the library's own
    (time.time(), seconds since the epoch), as for its other storages."""

    STORAGE_SCHEME = None  # built directly, never from a URI

    def __init__(self, db: Database):
        super().__init__()
        self.db = db

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's count, starting a new window of `expiry` seconds if none is running."""
        now = time.time()
        insert = (postgresql if self.db.is_postgres else sqlite).insert
        table = ThrottleCounter.__table__
        stmt = insert(table).values(key=key, hits=amount, expires_at=now + expiry)
        expired = table.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.key], set_={
            "hits": case((expired, amount), else_=table.c.hits + amount),
            "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
        }).returning(table.c.hits)
        async with self.db.transaction() as s:
            await s.execute(delete(table).where(expired, table.c.key != key))  # windows that ended
            return (await s.execute(stmt)).scalar_one()

    async def _row(self, key: str):
        async with self.db.read() as s:
            return (await s.execute(select(ThrottleCounter.hits, ThrottleCounter.expires_at).where(
                ThrottleCounter.key == key, ThrottleCounter.expires_at > time.time()))).first()

    async def get(self, key: str) -> int:
        row = await self._row(key)
        return row.hits if row else 0

    async def get_expiry(self, key: str) -> float:
        row = await self._row(key)
        return row.expires_at if row else time.time()

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        async with self.db.transaction() as s:
            return (await s.execute(delete(ThrottleCounter))).rowcount

    async def clear(self, key: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


class LoginThrottle:
    """`per_account`: failed sign-ins allowed for one account from one address; `per_account_total`: for one
    account from all addresses; `per_address`: from one address over all accounts. Each in the `limits`
    notation, e.g. "10 per 15 minutes". Account names are compared without letter case."""

    def __init__(self, storage: Storage, per_account: str, per_address: str, per_account_total: str):
        self.limiter = FixedWindowRateLimiter(storage)
        self.per_account: RateLimitItem = parse(per_account)
        self.per_account_total: RateLimitItem = parse(per_account_total)
        self.per_address: RateLimitItem = parse(per_address)

    @classmethod
    def for_database(cls, db: Database, per_account: str, per_address: str, per_account_total: str,
                     storage_uri: str | None = None):
        storage = storage_from_string(storage_uri) if storage_uri else DatabaseStorage(db)
        return cls(storage, per_account, per_address, per_account_total)

    def _keys(self, username: str, address: str | None) -> list[tuple[RateLimitItem, str, tuple[str, ...]]]:
        """(allowance, kind, identifiers) for each count: the account from this address first."""
        account = quote(username[:64].lower(), safe="")
        where = quote((address or "unknown")[:64], safe="")
        return [(self.per_account, "login-account-address", (account, where)),
                (self.per_account_total, "login-account", (account,)),
                (self.per_address, "login-address", (where,))]

    async def check(self, username: str, address: str | None) -> None:
        """Raise Throttled when any allowance covering this sign-in is used up."""
        waits = []
        for item, kind, who in self._keys(username, address):
            if not await self.limiter.test(item, kind, *who):
                reset, _ = await self.limiter.get_window_stats(item, kind, *who)
                waits.append(max(1, math.ceil(reset - time.time())))
        if waits:
            raise Throttled(max(waits))

    async def failed(self, username: str, address: str | None) -> None:
        for item, kind, who in self._keys(username, address):
            await self.limiter.hit(item, kind, *who)

    async def succeeded(self, username: str, address: str | None) -> None:
        """Clear the account's failures from this address (see the module's docstring for why only those)."""
        item, kind, who = self._keys(username, address)[0]
        if await self.limiter.storage.get(item.key_for(kind, *who)):  # most sign-ins follow no failure: no write
            await self.limiter.clear(item, kind, *who)

"""Engines and sessions. One `Database` per process; SQLite writers are serialised in-process."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from models.sqlite_inline import connector


def async_url(url: str) -> str:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return str(u.set(drivername="sqlite+aiosqlite"))
    if u.get_backend_name() == "postgresql":
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database: {u.get_backend_name()}")


def sync_url(url: str) -> str:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return str(u.set(drivername="sqlite"))
    if u.get_backend_name() == "postgresql":
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database: {u.get_backend_name()}")


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def make_sync_engine(url: str) -> Engine:
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    return engine


class Database:
    """The async engine, a session factory, and the write lock.

    SQLite allows one writer; without an in-process lock concurrent writers spin in busy waits
    and the tail latency explodes (STACK-NOTES). PostgreSQL needs no such lock.
    """

    def __init__(self, url: str, *, pool_size: int = 10):
        self.url = url
        kwargs: dict = {}
        if make_url(url).get_backend_name() == "postgresql":
            kwargs = {"pool_size": pool_size, "max_overflow": pool_size * 2, "pool_pre_ping": False}
        if make_url(url).get_backend_name() == "sqlite" and make_url(url).database not in (None, "", ":memory:"):
            kwargs = {"async_creator": connector(make_url(url).database)}
        self.engine: AsyncEngine = create_async_engine(async_url(url), **kwargs)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            _sqlite_pragmas(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextlib.asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
        else:
            async with self._write_lock:
                yield

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One short transaction: commit on success, roll back on any error; SQLite writers take turns."""
        async with self.write_lock(), self.sessions() as session, session.begin():
            yield session

    async def lock_for_claim(self, session: AsyncSession) -> None:
        """SQLite has no row locks: take the database's write lock before reading rows to claim, so a
        claimer in another process waits for this one's commit. PostgreSQL uses FOR UPDATE SKIP LOCKED."""
        if not self.is_postgres:
            await session.execute(text("UPDATE settings SET key = key WHERE 1 = 0"))

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

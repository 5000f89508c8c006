"""Engines and sessions. One `Database` per process; SQLite writers are serialised in-process and wait for
writers in other processes (a CLI job beside `chuishao serve`) instead of failing."""

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import greenlet_spawn

from chuishao.models.compiled import SESSION_CONNECTION, PooledConnection
from chuishao.models.sqlite_inline import BUSY_TIMEOUT_MS, connector

# How long a SQLite writer waits, in all, for another process's write transaction to end before it gives up
# (seconds). A CLI job beside `chuishao serve`, or `serve` beside a migration, waits instead of failing.
SQLITE_WRITE_WAIT = 60.0
SYNC_BUSY_TIMEOUT_MS = 10_000  # connections that do not run on an event loop (migrations, scripts) may block


def _with_driver(url: str, drivers: dict[str, str]) -> str:
    """`url` with the driver for its backend (`drivers`: backend → SQLAlchemy drivername). Raises ValueError for
    a backend that is neither SQLite nor PostgreSQL."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database: {backend}")
    return u.set(drivername=drivers[backend]).render_as_string(hide_password=False)


def async_url(url: str) -> str:
    """The URL the app's async engine uses: aiosqlite or asyncpg."""
    return _with_driver(url, {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"})


def sync_url(url: str) -> str:
    """The URL migrations and scripts use: the standard library's sqlite3 or psycopg."""
    return _with_driver(url, {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"})


def _sqlite_pragmas(engine: Engine, busy_timeout_ms: int = SYNC_BUSY_TIMEOUT_MS) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")  # first: the statements below may wait too
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def _explicit_begin(engine: Engine) -> None:
    """Transactions begin where SQLAlchemy begins them, not at the first write (the sqlite3 module's default):
    reads see one snapshot, and a write transaction (execution option `sqlite_write`) takes the write lock up
    front with BEGIN IMMEDIATE, so it can wait for it; a deferred transaction that reads and then writes
    would fail at once (SQLITE_BUSY_SNAPSHOT) when another process wrote in between. Needs connections in
    autocommit mode (isolation_level=None, see sqlite_inline.connector)."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_write") else "BEGIN")


def _busy(err: OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (any extended code): another connection holds the lock."""
    code = getattr(err.orig, "sqlite_errorcode", None)
    return isinstance(err.orig, sqlite3.OperationalError) and code is not None and code & 0xFF in (5, 6)


def make_sync_engine(url: str) -> Engine:
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    return engine


async def _while_busy(attempt):
    """`await attempt()` (which begins a SQLite write transaction, BEGIN IMMEDIATE, and cleans up after itself when
    it fails) again, with pauses that leave the event loop free, while another process holds the write lock —
    for up to SQLITE_WRITE_WAIT seconds; then its OperationalError ("database is locked") is raised. Nothing has
    run by then, so retrying is always safe."""
    give_up, pause = time.monotonic() + SQLITE_WRITE_WAIT, 0.02
    while True:
        try:
            return await attempt()
        except OperationalError as err:
            if not _busy(err) or time.monotonic() >= give_up:
                raise
        await asyncio.sleep(pause)  # each try waited up to busy_timeout; let the loop run between tries
        pause = min(pause * 2, 0.5)


class Database:
    """The async engine, a session factory, and the write lock.

    SQLite allows one writer; without an in-process lock concurrent writers spin in busy waits
    and the tail latency explodes (measured: docs/operations.md#performance-targets). PostgreSQL needs no such lock.
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
        self._inline = "async_creator" in kwargs  # a SQLite file whose connections run on the loop (sqlite_inline)
        if "async_creator" in kwargs:  # a SQLite file, called inline on the loop: wait for locks in short steps
            _sqlite_pragmas(self.engine.sync_engine, BUSY_TIMEOUT_MS)
            _explicit_begin(self.engine.sync_engine)
        elif self.dialect == "sqlite":
            _sqlite_pragmas(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        if self.is_postgres:
            # The action path (one_statement_write) on a small pool of its own whose connections plan every
            # statement once, generically: its statements are few, keyed by primary keys, and re-planning the
            # action's large write CTE each time was about a third of PostgreSQL's CPU per action
            # (bench/RESULTS.md#loop). Not for the other connections: the list queries need custom plans (## ui).
            # No overflow: a connection opened above the pool's size is closed again when it comes back, so under
            # load every few actions paid for a new connection (a backend started, TLS tried, codecs set up); an
            # action beyond `pool_size` at once waits its turn instead, which costs nothing but the wait.
            self._action_engine = create_async_engine(
                async_url(url), pool_size=max(1, pool_size), max_overflow=0, pool_pre_ping=False,
                connect_args={"server_settings": {"plan_cache_mode": "force_generic_plan"}})
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
        """One short transaction: commit on success, roll back on any error; SQLite writers take turns.
        The one way every layer opens a write transaction (a service's unit of work is `db.transaction()`):
        it lives here because notifications/ and models-level jobs need it and may not import flows/.

        SQLite: the transaction starts with the database's write lock (BEGIN IMMEDIATE). While another
        process holds it, the start is retried with pauses that leave the event loop free, for up to
        SQLITE_WRITE_WAIT seconds; then the OperationalError ("database is locked") is raised. Nothing has
        run by then, so retrying is always safe. PostgreSQL: a plain transaction, its locks wait by themselves."""
        async with self.write_lock():
            session = await self._begin_write()
            async with session:
                try:
                    yield session
                except BaseException:
                    await session.rollback()
                    raise
                await session.commit()

    @contextlib.asynccontextmanager
    async def one_statement_write(self) -> AsyncIterator[AsyncSession]:
        """For a unit of work that reads with plain statements and then writes everything in ONE statement
        (the action path, flows/aggregate.write): on PostgreSQL its statements (models.compiled) run on a connection
        of the action pool in autocommit, so that the single write statement is its own transaction (atomic by
        itself) and no BEGIN/COMMIT round trips are paid; its reads see what was committed when each ran, as in
        a READ COMMITTED transaction. A SQLite file: one transaction as `transaction()` makes it (the write lock,
        BEGIN IMMEDIATE with its waits, COMMIT), on a raw connection too. An in-memory SQLite database:
        `transaction()` itself.

        The session it yields is for reads only (PostgreSQL and a SQLite file): its statements run on another
        connection that is closed, never committed, so a write made through it would be lost. Write through
        `models.compiled` on `connection(session)`."""
        if self._inline:
            async with self._sqlite_raw_write() as session:
                yield session
            return
        if not self.is_postgres:  # an in-memory SQLite database (aiosqlite's thread): SQLAlchemy's own transaction
            async with self.transaction() as session:
                yield session
            return
        # The action pool's connection itself (~15 µs to check out and in, against ~100 µs for a session's):
        # the unit of work's statements run on it through models.compiled. The session beside it is for an ORM
        # read the unit may make (a merge's target, a unit not yet in the directory): such a read takes its
        # connection from the main pool, so a unit never waits on the pool whose connection it holds.
        fairy = await self._action_engine.raw_connection()
        try:
            session = self.sessions()
            session.info[SESSION_CONNECTION] = PooledConnection(fairy, self._action_engine.dialect,
                                                                self._action_engine.pool)
            try:
                yield session
            finally:
                if session.in_transaction():
                    await session.close()
        finally:
            fairy.close()

    @contextlib.asynccontextmanager
    async def _sqlite_raw_write(self) -> AsyncIterator[AsyncSession]:
        """`one_statement_write` on a SQLite file: as `transaction()` — the write lock, BEGIN IMMEDIATE with the
        same waits, COMMIT or ROLLBACK — sent on a raw pooled connection's sqlite3 connection rather than through
        a session's (about a quarter of an action's CPU, bench/RESULTS.md#loop). The session it yields reads
        through another connection (reads do not wait for the write lock); writes go through models.compiled."""
        async with self.write_lock():
            fairy = await self._begin_raw_sqlite()
            sqlite = fairy.driver_connection.sqlite
            session = self.sessions()
            session.info[SESSION_CONNECTION] = PooledConnection(fairy, self.engine.dialect, self.engine.pool)
            try:
                try:
                    yield session
                except BaseException:
                    if sqlite.in_transaction:  # SQLite may have ended it already (a full disk, an I/O error)
                        sqlite.execute("ROLLBACK")
                    raise
                sqlite.execute("COMMIT")
            finally:
                if session.in_transaction():
                    await session.close()
                await greenlet_spawn(fairy.close)  # its reset-on-return awaits (the aiosqlite adapter's rollback)

    async def _begin_raw_sqlite(self):
        """A raw pooled connection in a BEGIN IMMEDIATE transaction (see `_while_busy`)."""
        async def attempt():
            fairy = await self.engine.raw_connection()
            try:
                fairy.driver_connection.sqlite.execute("BEGIN IMMEDIATE")
                return fairy
            except sqlite3.OperationalError as err:
                await greenlet_spawn(fairy.close)
                raise OperationalError("BEGIN IMMEDIATE", (), err) from err

        return await _while_busy(attempt)

    async def _begin_write(self) -> AsyncSession:
        if self.is_postgres:
            session = self.sessions()
            await session.connection()
            return session

        async def attempt():
            session = self.sessions()
            try:
                session.info[SESSION_CONNECTION] = await session.connection(
                    execution_options={"sqlite_write": True})
                return session
            except OperationalError:
                await session.close()
                raise

        return await _while_busy(attempt)

    async def lock_for_claim(self, session: AsyncSession) -> None:
        """SQLite has no row locks: take the database's write lock before reading rows to claim, so a
        claimer in another process waits for this one's commit (a `transaction()` on a SQLite file holds it
        from its start already). PostgreSQL uses FOR UPDATE SKIP LOCKED."""
        if not self.is_postgres:
            await session.execute(text("UPDATE settings SET key = key WHERE 1 = 0"))

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.is_postgres:
            await self._action_engine.dispose()

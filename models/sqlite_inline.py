"""An aiosqlite-compatible connection that runs each SQLite call inline on the event loop.

aiosqlite hands every call (cursor, execute, fetch, close, commit) to a thread and back; an action makes
over a hundred such hops, which cost far more than the statements themselves (SQLite answers in
microseconds from the page cache). The embedded mode is one process whose writers already take turns
(Database.write_lock), so running the calls inline is both correct and several times faster. The
price: a statement that waits for another process's lock (busy_timeout) blocks the loop while it waits, so
that wait is short (BUSY_TIMEOUT_MS) and writers retry between waits (models.db.Database.transaction).
"""

import sqlite3
from typing import Any


class _Cursor:
    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    @property
    def description(self):
        return self._cursor.description

    @property
    def lastrowid(self):
        return self._cursor.lastrowid

    @property
    def rowcount(self):
        return self._cursor.rowcount

    async def execute(self, sql: str, parameters: Any = ()) -> "_Cursor":
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq: Any) -> "_Cursor":
        self._cursor.executemany(sql, seq)
        return self

    async def fetchone(self):
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None):
        return self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()

    async def fetchall(self):
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (models/compiled.py runs the action path's statements on it)."""
        return self._conn

    @property
    def isolation_level(self):
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value):
        self._conn.isolation_level = value

    async def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        return _Cursor(self._conn.execute(sql, parameters))

    async def create_function(self, *args, **kwargs) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:  # what SQLAlchemy calls to terminate an aiosqlite connection
        self._conn.close()


# How long one statement waits for another process's lock, blocking the loop meanwhile (milliseconds). Kept
# short: Database.transaction retries the start of a write transaction with pauses that leave the loop free.
BUSY_TIMEOUT_MS = 200


def connector(path: str):
    """Connections in autocommit mode (isolation_level=None): models.db begins each transaction explicitly,
    BEGIN IMMEDIATE for writers."""

    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                                timeout=BUSY_TIMEOUT_MS / 1000))

    return connect

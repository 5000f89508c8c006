"""Core statements compiled once and run on the database driver's own connection (issue 13's action path).

Through SQLAlchemy each execution pays for a cache key over the whole statement (the action's write is a CTE
of up to a dozen parts), an execution context, a greenlet hop and a result wrapper — more than the statement
costs the database. Here a statement is compiled once per dialect; each run applies the column types' bind
processors (UTCDateTime → naive UTC, JSON → text) to the values in order, sends the SQL string with its
positional values through the driver (asyncpg keeps it prepared per connection; sqlite3 caches it per
connection), and applies the result columns' processors (naive UTC → aware) to the rows. SQL stays written
with SQLAlchemy Core; only the execution is direct.

The connection must be one the caller holds from SQLAlchemy: a session's `AsyncConnection`, or on PostgreSQL's
action path a `PooledConnection` (a pool's raw connection, models.db.Database.one_statement_write). In a
transaction the statement runs inside it; in autocommit (the raw connection) it is its own transaction. A
constraint violation is raised as SQLAlchemy's IntegrityError, so callers catch one kind; a connection that
fails (closed by the server, reset) is invalidated, as SQLAlchemy does, and raised as its OperationalError, so
the pool replaces it.
"""

import contextlib
import sqlite3
from collections.abc import Callable, Sequence

from sqlalchemy import Float
from sqlalchemy.exc import IntegrityError, OperationalError

# callables told each statement's SQL before it runs (bench/loop.py counts a request's statements with these)
OBSERVERS: list[Callable[[str], None]] = []


class Compiled:
    """`statement` compiled for `dialect`: `sql`, the bound parameters' names in order with their processors,
    and one result processor per result column (None where the driver's value is the Python one)."""

    __slots__ = ("sql", "binds", "results")

    def __init__(self, statement, dialect):
        c = statement.compile(dialect=dialect)
        self.sql: str = c.string
        processors = c._bind_processors
        # a value written into the statement (a literal compared with, a bindparam with a value) is its default
        self.binds = tuple((name, processors.get(name), c.binds[name].value) for name in c.positiontup)
        self.results = tuple(_result_processor(col.type, dialect) for col in c._result_columns)

    def args(self, params: dict) -> list:
        """The positional values for `params` (bind name → Python value); a name not given is sent as the
        statement's own value for it (None when it has none)."""
        out = []
        for name, proc, default in self.binds:
            value = params.get(name, default)
            out.append(value if proc is None or value is None else proc(value))
        return out

    def row(self, raw: Sequence | None) -> tuple | None:
        if raw is None:
            return None
        return tuple(v if f is None or v is None else f(v) for v, f in zip(raw, self.results, strict=True))


def _result_processor(type_, dialect):
    # asyncpg's Numeric processor wants the column's type oid; a float column already arrives as a float
    if isinstance(type_, Float) and not type_.asdecimal:
        return None
    return type_._cached_result_processor(dialect, None)


_COMPILED: dict[tuple[int, str], tuple[object, Compiled]] = {}
_MAX_COMPILED = 4096


def compiled(statement, dialect) -> Compiled:
    """`statement` compiled for `dialect`, once per process (keyed by the statement object, which callers keep)."""
    key = (id(statement), dialect.name)
    got = _COMPILED.get(key)
    if got is None or got[0] is not statement:
        if len(_COMPILED) >= _MAX_COMPILED:  # callers keep a bounded set of statements; never grow without end
            _COMPILED.clear()
        got = _COMPILED[key] = (statement, Compiled(statement, dialect))
    return got[1]


async def _driver(conn):
    # kept in the DBAPI connection's own info dict (cleared if SQLAlchemy ever replaces that connection):
    # get_raw_connection costs a greenlet hop per call
    info = conn.info
    driver = info.get("chuishao_driver")
    if driver is None:
        driver = info["chuishao_driver"] = (await conn.get_raw_connection()).driver_connection
    return driver


class PooledConnection:
    """A pool's own DBAPI connection (SQLAlchemy's `PoolProxiedConnection`, from `AsyncEngine.raw_connection()`)
    in the shape this module reads from an `AsyncConnection`: `dialect`, `info` (the connection's own info dict,
    where `_driver` keeps the driver's connection) and `invalidate()`. The action path on PostgreSQL runs on one
    (models.db.Database.one_statement_write): checking a raw connection out and in costs about a sixth of a
    session's (bench/RESULTS.md#loop). Statements on it run in the driver's autocommit (no BEGIN is sent)."""

    __slots__ = ("dialect", "info", "_fairy", "_pool")

    def __init__(self, fairy, dialect, pool):
        self._fairy, self.dialect, self.info, self._pool = fairy, dialect, fairy.info, pool
        self.info.setdefault("chuishao_driver", fairy.driver_connection)

    async def invalidate(self, exception: Exception | None = None) -> None:
        """Retire this connection (closed at once: outside a greenlet SQLAlchemy terminates it) and every other
        one the pool opened before it, each reopened at its next checkout — what SQLAlchemy does when it sees a
        disconnect itself. A server that dropped one connection (a restart, a failover) has usually dropped them
        all; retiring only this one would fail one more action on each of the others."""
        self._pool._invalidate(self._fairy, exception)


SESSION_CONNECTION = "chuishao_connection"  # the session.info key under which a unit of work keeps its connection


async def connection(session):
    """The unit of work's connection: the one `session.info[SESSION_CONNECTION]` holds (models.db puts the
    action path's there: a `PooledConnection` on PostgreSQL), else the `AsyncSession`'s own, remembered for the
    session's life (each `session.connection()` call costs a greenlet hop; the action path asks several times)."""
    conn = session.info.get(SESSION_CONNECTION)
    if conn is None:
        conn = session.info[SESSION_CONNECTION] = await session.connection()
    return conn


class TransactionRollback(OperationalError):
    """PostgreSQL aborted the statement to settle a conflict with a concurrent transaction (SQLSTATE class 40:
    a deadlock, a serialization failure); nothing of it was written. On the action path's autocommit connection
    the connection is usable at once; inside an explicit transaction that transaction is aborted."""


async def fetch_one(conn, statement, params: dict) -> tuple | None:
    """Run `statement` (SQLAlchemy Core, kept by the caller) on the driver connection under `conn` (an
    `AsyncConnection` or a `PooledConnection`, see `connection`) with `params` (bind name → value); answers the
    first row, processed, or None. Raises IntegrityError for a constraint violation, TransactionRollback for a
    deadlock or serialization failure; other driver errors as the driver raises them."""
    rows = await _run(conn, statement, params, many=False)
    return rows[0] if rows else None


async def fetch_all(conn, statement, params: dict) -> list[tuple]:
    """As `fetch_one`, answering every row (processed)."""
    return await _run(conn, statement, params, many=True)


def _prepared(statement, dialect, params: dict) -> tuple[Compiled, list]:
    c = compiled(statement, dialect)
    args = c.args(params)
    for observe in OBSERVERS:
        observe(c.sql)
    return c, args


def _on_sqlite(sqlite: sqlite3.Connection, c: Compiled, args: list, many: bool) -> tuple[list, int, int]:
    """Run on the sqlite3 connection: (raw rows, rowcount, lastrowid)."""
    cursor = sqlite.cursor()
    try:
        cursor.execute(c.sql, args)
        raw = cursor.fetchall() if many else [cursor.fetchone()]
        return raw, cursor.rowcount, cursor.lastrowid
    except sqlite3.IntegrityError as err:
        raise IntegrityError(c.sql, args, err) from err
    finally:
        cursor.close()


async def _run(conn, statement, params: dict, *, many: bool) -> list[tuple]:
    c, args = _prepared(statement, conn.dialect, params)
    driver = await _driver(conn)
    if conn.dialect.name == "postgresql":
        import asyncpg  # only with PostgreSQL

        try:
            raw = await driver.fetch(c.sql, *args) if many else [await driver.fetchrow(c.sql, *args)]
        except asyncpg.exceptions.IntegrityConstraintViolationError as err:
            raise IntegrityError(c.sql, args, err) from err
        except asyncpg.exceptions.TransactionRollbackError as err:
            raise TransactionRollback(c.sql, args, err) from err
        except BaseException as err:
            # SQLAlchemy would have seen a dropped connection (a server restart, an admin's kill, a reset) and
            # invalidated it; here we must, or the pool hands the dead connection out again and again
            if isinstance(err, asyncpg.PostgresError) and not driver.is_closed():
                raise  # a statement's own error: the connection is fine
            await _invalidate(conn, err)
            if isinstance(err, Exception):
                raise OperationalError(c.sql, args, err, connection_invalidated=True) from err
            raise  # cancelled mid-statement: the connection's state is unknown, so it was not kept either
    elif not hasattr(driver, "sqlite"):  # SQLite through aiosqlite's thread (an in-memory database): rows
        result = await conn.execute(statement, params)  # come back processed by SQLAlchemy already
        return [tuple(r) for r in (result.all() if many else [result.first()]) if r is not None]
    else:
        raw = _on_sqlite(driver.sqlite, c, args, many)[0]
    return [c.row(r) for r in raw if r is not None]


async def _invalidate(conn, err: BaseException) -> None:
    """Take the connection out of the pool for good (it is closed; the next checkout opens a new one)."""
    with contextlib.suppress(Exception):  # already unusable; what matters is that it is not handed out again
        await conn.invalidate(exception=err if isinstance(err, Exception) else None)


async def sqlite_of(conn) -> sqlite3.Connection | None:
    """The sqlite3 connection under the SQLAlchemy `AsyncConnection` `conn` when it runs inline
    (models.sqlite_inline; a SQLite file), else None."""
    return getattr(await _driver(conn), "sqlite", None)


def run_sqlite(sqlite: sqlite3.Connection, statement, dialect, params: dict) -> tuple[tuple | None, int, int]:
    """SQLite: run `statement` with `params` on the sqlite3 connection; answers (the first row processed, or
    None when the statement returns no rows; rowcount; lastrowid). Raises IntegrityError for a constraint
    violation."""
    c, args = _prepared(statement, dialect, params)
    raw, rowcount, lastrowid = _on_sqlite(sqlite, c, args, many=False)
    return c.row(raw[0]), rowcount, lastrowid

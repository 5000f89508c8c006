"""When PostgreSQL drops the connections (a restart, a failover, an administrator's kill), the service recovers:
at most the requests that were on a dead connection fail, and the next ones are answered as usual. The action path
runs its statements on the driver's own connection (models/compiled.py), so it must retire a dead connection
itself, as SQLAlchemy would."""

import asyncio

import psycopg
import pytest
from sqlalchemy import literal, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from chuishao.models.compiled import connection, fetch_one
from chuishao.models.db import Database
from chuishao.notifications.hub import Hub
from chuishao.notifications.listener import listen


def _drop_connections(db_url: str) -> int:
    name = make_url(db_url).database
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall())


def _reports(api, n: int) -> list[int]:
    who, out = api.as_("gw_fc1"), []
    for _ in range(n):
        try:
            out.append(who.post("/api/v1/cases", json={"title": "东街占道经营", "description": "重连后上报"})
                       .status_code)
        except Exception:  # noqa: BLE001 - the test client raises what would be a 500
            out.append(500)
    return out


def test_reports_and_actions_recover_after_postgresql_drops_every_connection(county, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    api = county
    for round_ in range(2):  # the second time too: a connection that failed once must not stay in the pool
        case = api.report()
        api.act("disp_fc", case["id"], "accept", {"category": "ENV01"})
        assert _drop_connections(db_url) > 0
        statuses = _reports(api, 12)
        # each pooled connection that died may fail one request; then every request is answered again
        assert statuses[-6:] == [201] * 6, (round_, statuses)
        assert set(statuses) <= {201, 500}
        fresh = api.report()
        api.act("disp_fc", fresh["id"], "accept", {"category": "ENV01"})
        assert api.get("disp_fc", fresh["id"])["status"] == "accepted"


def test_after_a_drop_only_the_first_action_meets_a_dead_connection(db_url):
    """Every connection of the action pool was open when PostgreSQL dropped them all: the first unit of work to meet
    a dead one fails, and with it the pool retires the others (as SQLAlchemy does when it sees a disconnect), so
    the next units reconnect instead of each failing on another dead connection."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    one = select(literal(1))

    async def scenario() -> list:
        db = Database(db_url)
        try:
            async def hold() -> None:
                async with db.one_statement_write() as s:
                    await fetch_one(await connection(s), one, {})
                    await asyncio.sleep(0.05)  # all at once: the pool opens every connection it keeps

            await asyncio.gather(*(hold() for _ in range(10)))
            assert _drop_connections(db_url) >= 10
            out = []
            for _ in range(12):
                try:
                    async with db.one_statement_write() as s:
                        out.append(await fetch_one(await connection(s), one, {}))
                except OperationalError:
                    out.append("failed")
            return out
        finally:
            await db.dispose()

    results = asyncio.run(scenario())
    assert results.count("failed") <= 1 and results[-11:] == [(1,)] * 11, results


def _commit_event(db_url: str) -> int:
    with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
        return conn.execute("INSERT INTO events (kind, unit_ids, audience, payload, at) "
                            "VALUES ('checkpoint', '[]', '{}', '{}', now()) RETURNING id").fetchone()[0]


def _conninfo(db_url: str) -> str:
    u = make_url(db_url)
    return f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} dbname={u.database}"


def test_the_live_feed_listener_comes_back_after_postgresql_drops_its_connection(db_url):
    """The process's LISTEN connection is dropped (a restart, an administrator's kill): the listener notices,
    reconnects and catches up, so the live feed goes on — before, it waited for a notification that could no
    longer come, and every socket of that process heard nothing more until a restart."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no LISTEN")

    async def scenario() -> tuple[int, int, list[int]]:
        db, hub, ready = Database(db_url), Hub(), asyncio.Event()
        sub = hub.subscribe(lambda _e: True)
        task = asyncio.create_task(listen(db, hub, ready))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            first = await asyncio.to_thread(_commit_event, db_url)
            heard = [(await asyncio.wait_for(sub.queue.get(), 10))["id"]]
            ready.clear()
            with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
                # the listener's connection is the backend it registered for the events' NOTIFY
                killed = conn.execute("SELECT pg_terminate_backend(pid) FROM live_watchers").fetchall()
            assert killed, "no listening backend found"
            second = await asyncio.to_thread(_commit_event, db_url)  # committed while it may be deaf
            heard.append((await asyncio.wait_for(sub.queue.get(), 15))["id"])
            return first, second, heard
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await db.dispose()

    first, second, heard = asyncio.run(scenario())
    assert heard == [first, second]

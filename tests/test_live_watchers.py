"""PostgreSQL: the events' NOTIFY is sent only while some API process has a live socket open (live_watchers,
migration 0020; notifications/listener.py), and a process that starts listening misses nothing committed after
the `last_event_id` its sockets are told."""

import asyncio
import contextlib
import threading
import time

import asyncpg
import psycopg
import pytest

from chuishao.models.db import Database
from chuishao.notifications.hub import Hub
from chuishao.notifications.listener import CHANNEL, Listener, _dsn
from tests.test_notifications import eventually
from tests.test_reconnect import _commit_event, _conninfo

INSERT_EVENT = ("INSERT INTO events (kind, unit_ids, audience, payload, at) "
                "VALUES ('checkpoint', '[]', '{}', '{}', now()) RETURNING id")


@pytest.fixture
def pg(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no NOTIFY: its API process reads new events itself")
    return db_url


def _watchers(db_url: str) -> list[int]:
    with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM live_watchers ORDER BY pid")]


@contextlib.asynccontextmanager
async def _running(db_url: str):
    """A Listener (not yet watching) running on its own task, a subscriber on its hub, and a spy: a plain
    LISTEN connection that is not registered, which hears whatever NOTIFY is sent."""
    db, hub, ready = Database(db_url), Hub(), asyncio.Event()
    listener = Listener(db, hub, ready)
    sub = hub.subscribe(lambda _e: True)
    heard: list[str] = []
    spy = await asyncpg.connect(_dsn(db_url))
    await spy.add_listener(CHANNEL, lambda *args: heard.append(args[-1]))
    task = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield listener, sub, heard
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await spy.close()
        await db.dispose()


async def _quiet(heard: list[str], seconds: float = 0.5) -> list[str]:
    await asyncio.sleep(seconds)
    return list(heard)


def test_no_notify_while_no_socket_is_open_and_every_event_once_one_is(pg):
    """A commit sends no NOTIFY while no process watches; once one does, it hears every event (and so does any
    other listener); after it stops, commits are quiet again and its row is gone."""

    async def scenario():
        async with _running(pg) as (listener, sub, heard):
            await asyncio.to_thread(_commit_event, pg)
            unwatched = await _quiet(heard)
            await listener.watch()
            assert _watchers(pg) == [listener._conn.get_server_pid()]
            watched = await asyncio.to_thread(_commit_event, pg)
            got = (await asyncio.wait_for(sub.queue.get(), 10))["id"]
            spied = await _quiet(heard, 0.2)
            await listener.unwatch()  # refused while a subscriber is there
            kept = _watchers(pg)
            listener.hub.unsubscribe(sub)
            await listener.unwatch()
            after = _watchers(pg)
            heard.clear()
            await asyncio.to_thread(_commit_event, pg)
            return unwatched, watched, got, spied, kept, after, await _quiet(heard)

    unwatched, watched, got, spied, kept, after, quiet_again = asyncio.run(scenario())
    assert unwatched == []
    assert got == watched and len(spied) == 1 and f'"id" : {watched}' in spied[0]
    assert len(kept) == 1 and after == [] and quiet_again == []


def test_an_event_written_while_a_process_starts_watching_is_counted_before_its_hello(pg):
    """A transaction that inserted an event before the process registered, and commits after, sent no NOTIFY.
    Registering waits for it to end, so the id the process then gives its sockets is at or above that event's:
    no socket is told it will hear an event that never comes."""

    async def scenario():
        async with _running(pg) as (listener, _sub, _heard):
            writer = await asyncio.to_thread(psycopg.connect, _conninfo(pg))  # one open transaction
            try:
                slow = (await asyncio.to_thread(writer.execute, INSERT_EVENT)).fetchone()[0]
                watching = asyncio.create_task(listener.watch())
                await asyncio.sleep(0.3)
                waited = not watching.done()
                await asyncio.to_thread(writer.commit)
                await asyncio.wait_for(watching, 10)
            finally:
                await asyncio.to_thread(writer.close)
            return slow, waited, listener.hub.last_id

    slow, waited, last_id = asyncio.run(scenario())
    assert waited, "the registration returned while a transaction that had written an event was still open"
    assert last_id >= slow


def test_a_process_stops_the_notify_a_while_after_its_last_socket_closed(county, db_url, monkeypatch):
    """Through the app: the first socket registers the process, and `live_unwatch_seconds` after the last one
    closed it is taken out again; a socket opened after that registers it anew and hears the next event."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no NOTIFY: its API process reads new events itself")
    api = county
    live = api.client.app.state.live
    monkeypatch.setattr(live.settings, "live_unwatch_seconds", 0.5)
    assert _watchers(db_url) == []
    with api.client.websocket_connect(f"/api/v1/ws?token={api.token('disp_fc')}") as ws:
        assert ws.receive_json()["type"] == "hello"
        assert len(_watchers(db_url)) == 1
    assert eventually(lambda: _watchers(db_url) == [], seconds=10)
    with api.client.websocket_connect(f"/api/v1/ws?token={api.token('disp_fc')}") as ws:
        hello = ws.receive_json()
        assert len(_watchers(db_url)) == 1
        case = api.report(who="gw_fc2")
        event = ws.receive_json()
    assert (event["case_id"], event["action"]) == (case["id"], "report") and event["id"] > hello["last_event_id"]


def test_a_row_left_by_a_process_that_died_is_removed_when_a_listener_starts(pg):
    with psycopg.connect(_conninfo(pg), autocommit=True) as conn:
        gone = conn.execute("SELECT max(pid) + 1000000 FROM pg_stat_activity").fetchone()[0]
        conn.execute("INSERT INTO live_watchers (pid, since) VALUES (%s, now())", (gone,))

    async def scenario():
        async with _running(pg):
            return _watchers(pg)

    assert asyncio.run(scenario()) == []


def test_a_socket_opening_while_its_process_takes_its_row_out_registers_it_again(county, db_url):
    """The last socket closed and the process is taking its row out when a new socket opens: the new socket
    waits for that to finish and registers the process again, rather than being told it hears everything while
    the row is being deleted (found by trying it: the socket then heard nothing)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no NOTIFY: its API process reads new events itself")
    api = county
    live = api.client.app.state.live
    with api.client.websocket_connect(f"/api/v1/ws?token={api.token('disp_fc')}") as ws:
        ws.receive_json()
    with psycopg.connect(_conninfo(db_url)) as holder:  # holds the row, so the unwatch's DELETE waits
        holder.execute("SELECT pid FROM live_watchers FOR UPDATE").fetchall()
        unwatching = api.client.portal.start_task_soon(live.listener.unwatch)
        time.sleep(0.3)
        assert not unwatching.done()
        threading.Timer(0.5, holder.commit).start()
        with api.client.websocket_connect(f"/api/v1/ws?token={api.token('disp_fc')}") as ws:
            ws.receive_json()  # the hello
            unwatching.result(10)
            registered, rows = live.listener.registered, _watchers(db_url)
            case = api.report(who="gw_fc2")
            if rows:  # (without a row the event never comes and receive_json would wait for ever)
                event = ws.receive_json()
    assert registered and len(rows) == 1
    assert (event["case_id"], event["action"]) == (case["id"], "report")


def test_two_sockets_opening_at_once_both_wait_for_the_registration(county, db_url):
    """Two sockets open on a process that is not registered while a transaction that wrote an event is still
    open: both hellos wait for the registration to end, so neither is told an id below that event's."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no NOTIFY: its API process reads new events itself")
    live = county.client.app.state.live
    portal = county.client.portal
    with psycopg.connect(_conninfo(db_url)) as writer:
        slow = writer.execute(INSERT_EVENT).fetchone()[0]
        first = portal.start_task_soon(live.hear_everything)
        time.sleep(0.2)
        second = portal.start_task_soon(live.hear_everything)
        time.sleep(0.3)
        waiting = (first.done(), second.done())
        writer.commit()
    first.result(10)
    second.result(10)
    assert waiting == (False, False)
    assert live.hub.last_id >= slow


def test_a_socket_opening_while_the_listen_connection_is_down_hears_what_came_meanwhile(pg):
    """The listener's connection is lost while no socket is open, and the process is taken out; a socket
    opens before the listener has reconnected, and an event commits in that gap: the reconnection registers
    and reads back what came after the id the socket was told (found by trying it: the event was lost)."""

    async def scenario():
        async with _running(pg) as (listener, sub, _heard):
            listener.hub.unsubscribe(sub)
            await listener.watch()
            await asyncio.to_thread(_kill_listener, pg)
            await _until_lost(listener)
            await listener.unwatch()  # the process's quiet-time check, while the connection is down
            sub = listener.hub.subscribe(lambda _e: True)
            await listener.watch()  # a socket opens: its hello gives this id
            told = listener.hub.last_id
            meanwhile = await asyncio.to_thread(_commit_event, pg)
            got = (await asyncio.wait_for(sub.queue.get(), 15))["id"]
            return told, meanwhile, got

    told, meanwhile, got = asyncio.run(scenario())
    assert meanwhile > told and got == meanwhile


def _kill_listener(db_url: str, pid: int | None = None) -> None:
    """End the listener's backend: the registered one, or `pid`."""
    with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
        if pid is None:
            assert conn.execute("SELECT pg_terminate_backend(pid) FROM live_watchers").fetchall()
        else:
            assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def _commit_events(db_url: str, n: int) -> list[int]:
    with psycopg.connect(_conninfo(db_url), autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "INSERT INTO events (kind, unit_ids, audience, payload, at) "
            "SELECT 'checkpoint', '[]', '{}', '{}', now() FROM generate_series(1, %s) RETURNING id", (n,))]


async def _until_lost(listener: Listener) -> None:
    deadline = time.monotonic() + 10
    while listener._conn is not None and not listener._conn.is_closed() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)  # until the listener saw its connection go (it reconnects 1 s later)


def test_an_idle_process_with_its_connection_down_tells_a_new_socket_the_newest_id(pg):
    """A process that heard nothing while no socket was open (its newest id far behind) has its LISTEN
    connection lost; a socket opens before it reconnects: it is told the database's newest id, and an event
    committed next reaches it (found by trying it: it was told an old id and the read-back stopped 1,000 events
    later, short of the new one)."""

    async def scenario():
        async with _running(pg) as (listener, sub, _heard):
            earlier = (await asyncio.to_thread(_commit_events, pg, 1100))[-1]
            await asyncio.to_thread(_kill_listener, pg, listener._conn.get_server_pid())
            await _until_lost(listener)
            await listener.watch()
            told = listener.hub.last_id
            meanwhile = await asyncio.to_thread(_commit_event, pg)
            return earlier, told, meanwhile, (await asyncio.wait_for(sub.queue.get(), 15))["id"]

    earlier, told, meanwhile, got = asyncio.run(scenario())
    assert told >= earlier and got == meanwhile


def test_more_events_than_a_socket_holds_while_the_connection_is_down_cut_the_socket_off(pg):
    """1,100 events commit while a watching process's LISTEN connection is down: the reconnection reads all of
    them back, so a socket whose queue holds 1,000 is cut off (its client reconnects with `since`), rather than
    silently missing the last hundred (found by trying it: the read-back stopped at 1,000)."""

    async def scenario():
        async with _running(pg) as (listener, sub, _heard):
            await listener.watch()
            await asyncio.to_thread(_kill_listener, pg)
            await _until_lost(listener)
            committed = await asyncio.to_thread(_commit_events, pg, 1100)
            got = []
            while len(got) < len(committed):
                event = await asyncio.wait_for(sub.queue.get(), 15)
                if event is None:  # the hub cut this subscriber off: too far behind
                    return committed, got, True
                got.append(event["id"])
            return committed, got, False

    committed, got, cut_off = asyncio.run(scenario())
    assert cut_off or got == committed

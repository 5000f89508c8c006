"""PostgreSQL LISTEN: an API process with sockets open hears every committed event, whichever process caused it.

The `events` table's trigger sends the event itself as JSON on commit (migration 0017), or its id alone when
the event is too large for a notification; we read only those back, and hand every event to the hub. It sends
nothing while `live_watchers` is empty (migration 0020): a NOTIFY serializes the commits that send one (PostgreSQL
takes a database-wide lock from the NOTIFY's queueing to the end of the commit), wakes every listening backend
and makes every API process decode every event, which with no socket open is work for no one (bench/RESULTS.md
#loop: about a tenth of an action's CPU). A process registers its LISTEN connection there when its first socket
opens (`Listener.watch`) and takes it out a while after its last one closed (`Listener.unwatch`); a row left by a
process that died names a backend that is gone and is removed by the next registration."""

import asyncio
import json
import logging
import re
import time
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.engine import make_url

from chuishao.models.db import Database
from chuishao.notifications.events import events_after, events_by_id, last_event_id
from chuishao.notifications.hub import Hub

log = logging.getLogger("chuishao.listener")
CHANNEL = "chuishao_events"
_ID_RE = re.compile(r'"id"\s*:\s*(\d+)')
# how long a registration waits for the transactions that were writing when it committed (see Listener._register)
IN_FLIGHT_WAIT = 5.0
READ_BACK_PAGE = 1000

_REGISTER = ("INSERT INTO live_watchers (pid, since) VALUES (pg_backend_pid(), timezone('UTC', now())) "
             "ON CONFLICT (pid) DO NOTHING")
_PURGE = "DELETE FROM live_watchers WHERE pid NOT IN (SELECT pid FROM pg_stat_activity)"
_UNREGISTER = "DELETE FROM live_watchers WHERE pid = pg_backend_pid()"
# the transactions of this database that hold a transaction id (that wrote something), other than ours
_WRITING = ("SELECT pid, backend_xid::text FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()")
_STILL_WRITING = ("SELECT count(*) FROM pg_stat_activity a JOIN unnest($1::int[], $2::text[]) AS w(pid, xid) "
                  "ON a.pid = w.pid AND a.backend_xid::text = w.xid")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """One API process's LISTEN connection and its place in `live_watchers`. `run()` until cancelled; it
    reconnects, and catches up on anything committed while disconnected. `wanted`: whether the process needs
    every event now (a socket is open); set by `watch`/`unwatch`, or at the start for a listener that always hears.

    Ids come from the notifications themselves, not "everything after the last id": two transactions
    may commit in the opposite order of their ids, and reading by range would skip the slower one."""

    def __init__(self, db: Database, hub: Hub, ready: asyncio.Event | None = None,
                 kick: asyncio.Event | None = None, *, wanted: bool = False):
        self.db, self.hub, self.ready, self.kick = db, hub, ready, kick
        self.wanted = wanted
        self.registered = False  # our LISTEN connection's backend is in live_watchers
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one registration change at a time, on the one connection
        self._deaf_from: int | None = None  # sockets were told this id while we were not hearing everything
        self._wake = asyncio.Event()
        self._pending: set[int] = set()  # ids sent alone (or by a trigger older than migration 0017): read back
        self._arrived: dict[int, dict] = {}  # events that came whole

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        try:
            if payload.startswith("{"):
                event = json.loads(payload)
                event["at"] = datetime.fromisoformat(event["at"]).replace(tzinfo=UTC).isoformat()  # as event_dict
                self._arrived[event["id"]] = event
            else:
                self._pending.add(int(payload))
        except (ValueError, KeyError, TypeError):
            # a payload of another shape (a trigger newer than this code, during a rolling upgrade): read the
            # event back by its id rather than lose it — an exception here would end this listener for good
            found = _ID_RE.search(payload)
            if found:
                self._pending.add(int(found.group(1)))
            else:
                log.warning("event notification without an id, ignored: %.80s", payload)
        self._wake.set()

    async def watch(self) -> None:
        """Make sure every event committed from now on reaches this process's hub, and `hub.last_id` is a point
        after which nothing is missed; call it before telling a socket that id. One registration change at a
        time: a caller that comes while another registers, or while `unwatch` takes the row out, waits for it.
        With the connection down (or failing now) it returns at once, with `hub.last_id` moved up to the
        database's newest id as the point to read back from: the reconnection registers and publishes every
        event committed after it."""
        async with self._lock:
            self.wanted = True
            if self.registered:
                return
            conn = self._conn
            if conn is not None and not conn.is_closed():
                try:
                    await self._register(conn)
                    return
                except Exception:  # noqa: BLE001 - the connection failed under us: run() reconnects
                    log.warning("live feed: registering failed; the listener reconnects and reads back",
                                exc_info=True)
            if self._deaf_from is None:
                # an idle process's newest id may be far behind (it heard nothing while no socket was open):
                # tell the socket the database's newest, so the reconnection reads back only what follows it
                try:
                    self.hub.last_id = max(self.hub.last_id, await last_event_id(self.db))
                except Exception:  # noqa: BLE001 - the database is unreachable too: read back from what we have
                    log.warning("live feed: could not read the newest event id", exc_info=True)
                self._deaf_from = self.hub.last_id

    async def unwatch(self) -> None:
        """Stop the events' NOTIFY on this process's account (others' registrations keep theirs), unless a
        socket subscribed meanwhile. Raises what the database raises."""
        async with self._lock:
            if self.hub.subscribers:
                return
            self.wanted, self._deaf_from = False, None
            registered, self.registered = self.registered, False
            if registered and self._conn is not None and not self._conn.is_closed():
                await self._conn.execute(_UNREGISTER)

    async def _register(self, conn: asyncpg.Connection) -> None:
        """Put this connection's backend in live_watchers, so every event inserted from then on is sent. An event
        inserted just before, by a transaction still open, was not sent: wait (up to IN_FLIGHT_WAIT seconds) for
        the transactions of this database that were writing when the registration committed to end, then move
        `hub.last_id` up to the newest event. Every event above it was inserted after the registration (ids
        come from a sequence) and so is sent; a transaction older than the wait may still commit one unsent.
        `registered` turns True only then. Call it holding `_lock`."""
        await conn.execute(_REGISTER)
        await conn.execute(_PURGE)  # rows of backends that are gone: a process that died, an old connection
        writing = await conn.fetch(_WRITING)
        deadline = time.monotonic() + IN_FLIGHT_WAIT
        while writing and await conn.fetchval(_STILL_WRITING, [r[0] for r in writing], [r[1] for r in writing]):
            if time.monotonic() > deadline:
                log.warning("live feed: a transaction writing for over %.0f s; an event it inserted before this "
                            "process began listening may not reach its sockets", IN_FLIGHT_WAIT)
                break
            await asyncio.sleep(0.005)
        self.hub.last_id = max(self.hub.last_id, await last_event_id(self.db))
        self.registered = True

    def _lost(self) -> None:
        """The connection is gone: not registered any more; while sockets need every event, remember from where
        to read back (the newest id heard, unless a point was kept already)."""
        if self.wanted and self._deaf_from is None:
            self._deaf_from = self.hub.last_id
        self._conn, self.registered = None, False

    async def run(self) -> None:
        """Until cancelled: LISTEN, register while `wanted`, publish every event that arrives to the hub and wake
        the deliverer; after a lost connection, reconnect within a second and read back what was missed."""
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(_dsn(self.db.url))
                # a dropped connection (a restart, an administrator's kill) sends no notification: wake up and see
                conn.add_termination_listener(lambda _conn: self._wake.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                await conn.execute(_PURGE)  # a process that stopped or died leaves its row: NOTIFY for no one
                async with self._lock:
                    self._conn = conn
                    if self.wanted:
                        await self._register(conn)
                    deaf_from, self._deaf_from = self._deaf_from, None
                if self.ready is not None:
                    self.ready.set()
                if deaf_from is not None and self.registered:  # committed while we were not listening
                    try:
                        await self._read_back(deaf_from)
                    except BaseException:
                        self._deaf_from = deaf_from  # not all read: again after the next reconnection
                        raise
                await self._hear(conn)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - lost connection: log, wait, reconnect
                log.exception("event listener failed; reconnecting")
            finally:
                self._lost()
                if conn is not None:
                    await _close(conn)
            await asyncio.sleep(1)  # after a failure only: a cancellation has left the loop in `finally`

    async def _read_back(self, after_id: int) -> None:
        """Publish every event committed with an id above `after_id`, page by page: all of them, so that a
        socket that cannot take so many is cut off (and reconnects with `since`) rather than silently missing
        the rest."""
        while True:
            events = await events_after(self.db, after_id, READ_BACK_PAGE)
            for event in events:
                self.hub.publish(event)
            if len(events) < READ_BACK_PAGE:
                return
            after_id = events[-1]["id"]

    async def _hear(self, conn: asyncpg.Connection) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if conn.is_closed():
                raise ConnectionError("the LISTEN connection was closed")
            ids = sorted(self._pending)
            self._pending.difference_update(ids)
            whole = [self._arrived.pop(i) for i in list(self._arrived)]
            read = await events_by_id(self.db, ids)
            for event in sorted([*whole, *read], key=lambda e: e["id"]):
                self.hub.publish(event)
            if self.kick is not None:
                self.kick.set()  # new events: fan them out and deliver


async def _close(conn: asyncpg.Connection) -> None:
    """Take our row out (a stopping process: the next one need not purge it), then close."""
    try:
        if not conn.is_closed():
            await asyncio.wait_for(conn.execute(_UNREGISTER), 2)
    except Exception:  # noqa: BLE001 - the connection is going anyway; a row left is purged by the next start
        log.debug("could not take the live watcher row out", exc_info=True)
    finally:
        await conn.close()


async def listen(db: Database, hub: Hub, ready: asyncio.Event | None = None,
                 kick: asyncio.Event | None = None) -> None:
    """A listener that hears every event for as long as it runs (registered from the start); until cancelled."""
    await Listener(db, hub, ready, kick, wanted=True).run()

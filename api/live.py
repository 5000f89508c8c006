"""The API process's background work: the live hub (fed by LISTEN on PostgreSQL, directly on SQLite),
the deliverer that fans events out and sends external deliveries shortly after commits (batched: one round for
the commits of `delivery_batch_seconds`, not one per action), and the watch
that closes the sockets of sessions that have ended (signed out, account deactivated or changed)."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from chuishao.api.metrics import WS_CLIENTS
from chuishao.flows.clock import Clock
from chuishao.flows.sessions import live_sessions
from chuishao.models.config import Settings
from chuishao.models.db import Database
from chuishao.notifications.channels import channels_from
from chuishao.notifications.dispatcher import deliver_due
from chuishao.notifications.events import events_after, last_event_id
from chuishao.notifications.fanout import fan_out
from chuishao.notifications.hub import Hub, Subscriber
from chuishao.notifications.listener import Listener

log = logging.getLogger("chuishao.live")
SESSION_ENDED = object()  # put on a socket's queue: its session has ended or expired; the socket closes


@dataclass(eq=False)
class Socket:
    """An open WebSocket: whose, under which session (until when, UTC), and its hub subscription."""

    user_id: int
    session_id: str
    expires: datetime
    sub: Subscriber


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait for the event or the timeout. (asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
    cancellation that arrives as the event fires, and the task would never stop.)"""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


class Live:
    def __init__(self, db: Database, settings: Settings, clock: Clock):
        self.db, self.settings, self.clock = db, settings, clock
        self.hub = Hub()
        self.channels = channels_from(settings)
        self._kick = asyncio.Event()  # wakes the deliverer
        self._poll = asyncio.Event()  # wakes the SQLite event reader
        self._tasks: list[asyncio.Task] = []
        self.listening = asyncio.Event()
        self.sockets: dict[int, set[Socket]] = {}  # user id → that user's open sockets in this process
        self._recheck = asyncio.Event()  # wakes the session watch
        # PostgreSQL: the LISTEN connection, registered (the events' NOTIFY on) while this process has sockets open
        self.listener = Listener(db, self.hub, self.listening, self._kick) if db.is_postgres else None
        self._quiet_since: float | None = None  # loop time since when no socket has been open

    def committed(self, events: list) -> None:
        """Called by the case service after each commit: wake the deliverer and (SQLite) the reader. PostgreSQL's
        listener hears the events themselves from their NOTIFY (migration 0017) while a socket is open (0020)."""
        self._poll.set()
        self._kick.set()

    def start(self) -> None:
        if self.listener is not None:
            self._tasks.append(asyncio.create_task(self.listener.run()))
        else:
            self._tasks.append(asyncio.create_task(self._poll_loop()))
        self._tasks.append(asyncio.create_task(self._deliver_loop()))
        self._tasks.append(asyncio.create_task(self._session_loop()))

    async def hear_everything(self) -> None:
        """Before a socket's hello: make sure this process hears every event committed from now on, in any
        process, and that `hub.last_id` is the point after which the socket misses nothing (PostgreSQL:
        Listener.watch; SQLite reads them all anyway)."""
        self._quiet_since = None
        if self.listener is not None:
            await _wait(self.listening, 5)  # a process just started: its listener may still be connecting
            await self.listener.watch()

    async def _unwatch_when_quiet(self) -> None:
        """`live_unwatch_seconds` after the last socket closed, stop the events' NOTIFY on this process's account."""
        if self.listener is None or not self.listener.wanted:
            return
        if self.hub.subscribers:
            self._quiet_since = None
            return
        now = asyncio.get_running_loop().time()
        if self._quiet_since is None:
            self._quiet_since = now
        elif now - self._quiet_since >= self.settings.live_unwatch_seconds:
            await self.listener.unwatch()
            self._quiet_since = None

    # ---- sockets and their sessions ------------------------------------------------------------------------
    def open_socket(self, user_id: int, session_id: str, expires: datetime, sub: Subscriber) -> Socket | None:
        """Register a socket; None when the user already has `max_sockets_per_user` open in this process."""
        mine = self.sockets.setdefault(user_id, set())
        if len(mine) >= self.settings.max_sockets_per_user:
            return None
        sock = Socket(user_id, session_id, expires, sub)
        mine.add(sock)
        WS_CLIENTS.inc()
        return sock

    def close_socket(self, sock: Socket) -> None:
        mine = self.sockets.get(sock.user_id)
        if mine is not None and sock in mine:
            mine.discard(sock)
            WS_CLIENTS.dec()
            if not mine:
                del self.sockets[sock.user_id]

    def sessions_changed(self) -> None:
        """Sessions were ended in this process: re-check the open sockets now rather than at the next round."""
        self._recheck.set()

    @staticmethod
    def _end(sock: Socket) -> None:
        try:
            sock.sub.queue.put_nowait(SESSION_ENDED)
        except asyncio.QueueFull:  # the socket is behind: the sentinel goes first on a fresh queue
            sock.sub.overflowed = True
            sock.sub.queue = asyncio.Queue(1)
            sock.sub.queue.put_nowait(SESSION_ENDED)

    async def check_sessions(self) -> int:
        """Close the sockets whose session has ended (one query for all open sockets) or whose token has expired
        (by the injectable clock). Returns how many were closed."""
        socks = [sock for mine in self.sockets.values() for sock in mine]
        if not socks:
            return 0
        alive = await live_sessions(self.db, (sock.session_id for sock in socks))
        now = self.clock()
        ended = [sock for sock in socks if sock.session_id not in alive or sock.expires <= now]
        for sock in ended:
            self.close_socket(sock)
            self._end(sock)
        return len(ended)

    async def _session_loop(self) -> None:
        """Every `session_recheck_seconds`, or at once when this process ended sessions: sessions ended by
        another API process (or the CLI) close their sockets here within that interval."""
        while True:
            await _wait(self._recheck, self.settings.session_recheck_seconds)
            self._recheck.clear()
            try:
                await self.check_sessions()
                await self._unwatch_when_quiet()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep watching; the next round retries
                log.exception("session check failed")

    async def _poll_loop(self) -> None:
        """SQLite has no LISTEN: read new events by id, right after our own commits and every half second for
        other processes' (the scheduled sweep, the CLI). SQLite writers commit one at a time, so ids arrive
        in commit order and reading "after the last id" misses nothing."""
        self.hub.last_id = await last_event_id(self.db)
        self.listening.set()
        while True:
            await _wait(self._poll, 0.5)
            if self._poll.is_set():  # a commit of ours: let the ones right behind it join this read
                await asyncio.sleep(self.settings.live_batch_seconds)
            self._poll.clear()
            try:
                if not self.hub.subscribers and await self._skip_to_newest():
                    continue
                for event in await events_after(self.db, self.hub.last_id):
                    self.hub.publish(event)
                    self._kick.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep polling
                log.exception("event poll failed")

    async def _skip_to_newest(self) -> bool:
        """With no socket open there is no one to hand events to: read only the newest event's id (one index
        lookup, not every new row decoded) and wake the deliverer for other processes' events. Answers False
        when a socket subscribed meanwhile: the caller reads the events as usual, so that socket gets every
        event after the `last_event_id` its hello gave it."""
        newest = await last_event_id(self.db)
        if self.hub.subscribers:
            return False
        if newest > self.hub.last_id:
            self.hub.last_id = newest
            self._kick.set()
        return True

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _deliver_loop(self) -> None:
        await asyncio.sleep(self.settings.delivery_delay)
        while True:
            await _wait(self._kick, 2.0)
            if self._kick.is_set():  # a commit: batch the ones that follow it into the same round
                await asyncio.sleep(self.settings.delivery_batch_seconds)
            self._kick.clear()
            try:
                now = self.clock()
                await fan_out(self.db, now)
                await deliver_due(self.db, self.channels, now)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep delivering; the scheduled redelivery also catches up
                log.exception("delivery round failed")


def sessions_ended(app) -> None:
    """Tell this process's live hub that sessions were ended (a sign-out, an account change), so their sockets
    close now; other processes notice within `session_recheck_seconds`."""
    live = getattr(app.state, "live", None)
    if live is not None:
        live.sessions_changed()

"""The API process's background work: the live hub (fed by LISTEN on PostgreSQL, directly on SQLite)
and the deliverer that fans events out and sends external deliveries right after each commit."""

import asyncio
import contextlib
import logging

from flows.clock import Clock
from models.config import Settings
from models.db import Database
from notifications.channels import channels_from
from notifications.dispatcher import deliver_due
from notifications.events import events_after, last_event_id
from notifications.fanout import fan_out
from notifications.hub import Hub
from notifications.listener import listen

log = logging.getLogger("chuishao.live")


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

    def committed(self, events: list) -> None:
        """Called by the case service after each commit."""
        self._poll.set()  # SQLite: read what was committed; PostgreSQL: LISTEN delivers it anyway
        self._kick.set()

    def start(self) -> None:
        if self.db.is_postgres:
            self._tasks.append(asyncio.create_task(listen(self.db, self.hub, self.listening, self._kick)))
        else:
            self._tasks.append(asyncio.create_task(self._poll_loop()))
        self._tasks.append(asyncio.create_task(self._deliver_loop()))

    async def _poll_loop(self) -> None:
        """SQLite has no LISTEN: read new events by id, right after our own commits and every half second for
        other processes' (the scheduled sweep, the CLI). SQLite writers commit one at a time, so ids arrive
        in commit order and reading "after the last id" misses nothing."""
        self.hub.last_id = await last_event_id(self.db)
        self.listening.set()
        while True:
            await _wait(self._poll, 0.5)
            self._poll.clear()
            try:
                for event in await events_after(self.db, self.hub.last_id):
                    self.hub.publish(event)
                    self._kick.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep polling
                log.exception("event poll failed")

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _deliver_loop(self) -> None:
        await asyncio.sleep(self.settings.delivery_delay)
        while True:
            await _wait(self._kick, 2.0)
            self._kick.clear()
            try:
                now = self.clock()
                await fan_out(self.db, now)
                await deliver_due(self.db, self.channels, now)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep delivering; the scheduled redelivery also catches up
                log.exception("delivery round failed")

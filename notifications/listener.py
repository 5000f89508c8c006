"""PostgreSQL LISTEN: every API process hears every committed event, whichever process caused it.
The `events` table's trigger sends the id on commit; we read the row and hand it to the hub."""

import asyncio
import logging

import asyncpg
from sqlalchemy.engine import make_url

from chuishao.models.db import Database
from chuishao.notifications.events import events_after, events_by_id, last_event_id
from chuishao.notifications.hub import Hub

log = logging.getLogger("chuishao.listener")
CHANNEL = "chuishao_events"


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(db: Database, hub: Hub, ready: asyncio.Event | None = None,
                 kick: asyncio.Event | None = None, known: dict[int, dict] | None = None) -> None:
    """Run until cancelled; reconnects, and catches up on anything committed while disconnected. `known`: events
    this process committed itself (id → `events.event_dict`), published from memory when their NOTIFY comes
    instead of being read back (taken out of `known` as they are).

    Ids come from the notifications themselves, not "everything after the last id": two transactions
    may commit in the opposite order of their ids, and reading by range would skip the slower one."""
    wake = asyncio.Event()
    pending: set[int] = set()

    def on_notify(_conn, _pid, _channel, payload):
        pending.add(int(payload))
        wake.set()

    hub.last_id = max(hub.last_id, await last_event_id(db))
    while True:
        conn = None
        try:
            conn = await asyncpg.connect(_dsn(db.url))
            await conn.add_listener(CHANNEL, on_notify)
            if ready is not None:
                ready.set()
            for event in await events_after(db, hub.last_id):  # committed while we were not listening
                hub.publish(event)
            while True:
                await wake.wait()
                for _ in range(2):  # the committing request hands its events to `known` right after its write
                    await asyncio.sleep(0)  # returns: let it, so they need not be read back
                wake.clear()
                ids = sorted(pending)
                pending.difference_update(ids)
                mine = {i: known.pop(i) for i in ids if known and i in known}
                read = await events_by_id(db, [i for i in ids if i not in mine])
                for event in sorted([*mine.values(), *read], key=lambda e: e["id"]):
                    hub.publish(event)
                if kick is not None:
                    kick.set()  # new events: fan them out and deliver
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - lost connection: log, wait, reconnect
            log.exception("event listener failed; reconnecting")
            await asyncio.sleep(1)
        finally:
            if conn is not None:
                await conn.close()

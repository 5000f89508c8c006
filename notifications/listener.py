"""PostgreSQL LISTEN: every API process hears every committed event, whichever process caused it.
The `events` table's trigger sends the event itself as JSON on commit (migration 0017), or its id alone when
the event is too large for a notification; we read only those back, and hand every event to the hub."""

import asyncio
import json
import logging
import re
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.engine import make_url

from chuishao.models.db import Database
from chuishao.notifications.events import events_after, events_by_id, last_event_id
from chuishao.notifications.hub import Hub

log = logging.getLogger("chuishao.listener")
CHANNEL = "chuishao_events"
_ID_RE = re.compile(r'"id"\s*:\s*(\d+)')


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(db: Database, hub: Hub, ready: asyncio.Event | None = None,
                 kick: asyncio.Event | None = None) -> None:
    """Run until cancelled; reconnects, and catches up on anything committed while disconnected.

    Ids come from the notifications themselves, not "everything after the last id": two transactions
    may commit in the opposite order of their ids, and reading by range would skip the slower one."""
    wake = asyncio.Event()
    pending: set[int] = set()  # ids sent alone (or by a trigger older than migration 0017): read back
    arrived: dict[int, dict] = {}  # events that came whole

    def on_notify(_conn, _pid, _channel, payload):
        try:
            if payload.startswith("{"):
                event = json.loads(payload)
                event["at"] = datetime.fromisoformat(event["at"]).replace(tzinfo=UTC).isoformat()  # as event_dict
                arrived[event["id"]] = event
            else:
                pending.add(int(payload))
        except (ValueError, KeyError, TypeError):
            # a payload of another shape (a trigger newer than this code, during a rolling upgrade): read the
            # event back by its id rather than lose it — an exception here would end this listener for good
            found = _ID_RE.search(payload)
            if found:
                pending.add(int(found.group(1)))
            else:
                log.warning("event notification without an id, ignored: %.80s", payload)
        wake.set()

    hub.last_id = max(hub.last_id, await last_event_id(db))
    while True:
        conn = None
        try:
            conn = await asyncpg.connect(_dsn(db.url))
            # a dropped connection (a restart, an administrator's kill) sends no notification: wake up and see
            conn.add_termination_listener(lambda _conn: wake.set())
            await conn.add_listener(CHANNEL, on_notify)
            if ready is not None:
                ready.set()
            for event in await events_after(db, hub.last_id):  # committed while we were not listening
                hub.publish(event)
            while True:
                await wake.wait()
                wake.clear()
                if conn.is_closed():
                    raise ConnectionError("the LISTEN connection was closed")
                ids = sorted(pending)
                pending.difference_update(ids)
                whole = [arrived.pop(i) for i in list(arrived)]
                read = await events_by_id(db, ids)
                for event in sorted([*whole, *read], key=lambda e: e["id"]):
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

"""WebSocket /api/v1/ws: committed events within the caller's scope, live; `since` replays missed ones."""

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.security import Unauthorized
from notifications.events import events_after, public

router = APIRouter(tags=["live"])
REPLAY_LIMIT = 1000


async def _authenticate(ws: WebSocket, svc):
    token = ws.query_params.get("token")
    if not token:  # or as the first message: {"token": "..."}
        try:
            first = json.loads(await asyncio.wait_for(ws.receive_text(), timeout=10))
            token = first.get("token") if isinstance(first, dict) else None
        except (TimeoutError, ValueError, WebSocketDisconnect):
            token = None
    if not token:
        raise Unauthorized("请先登录", "authentication required")
    return svc.tokens.read(token, svc.clock())


@router.websocket("/ws")
async def ws(websocket: WebSocket):
    svc = websocket.app.state.services
    live = websocket.app.state.live
    await websocket.accept()
    try:
        actor = await _authenticate(websocket, svc)
    except Unauthorized as err:
        await websocket.send_json({"error": {"code": err.code, "message": err.message}})
        await websocket.close(code=4401)
        return
    since = websocket.query_params.get("since")
    sub = live.hub.subscribe(actor.sees_event)
    try:
        await websocket.send_json({"type": "hello", "user": actor.username, "last_event_id": live.hub.last_id})
        if since is not None and since.isdigit():
            for event in await events_after(svc.db, int(since), REPLAY_LIMIT):
                if actor.sees_event(event):
                    await websocket.send_json({"type": "event", **public(event), "replay": True})
        reader = asyncio.create_task(_drain(websocket))
        while not reader.done():
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            event = getter.result()
            if event is None:  # fell too far behind: the client reconnects with `since`
                await websocket.close(code=4408)
                break
            await websocket.send_json({"type": "event", **public(event)})
    except WebSocketDisconnect:
        pass
    finally:
        live.hub.unsubscribe(sub)
        with contextlib.suppress(Exception):
            reader.cancel()


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a close is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()

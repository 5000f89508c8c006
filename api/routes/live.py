"""WebSocket /api/v1/ws: committed events within the caller's scope, live; `since` replays missed ones."""

import asyncio
import contextlib
import json
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.security import Unauthorized
from api.web.session import SESSION_COOKIE
from notifications.events import events_after, public

router = APIRouter(tags=["live"])
REPLAY_LIMIT = 1000
_CLOSED = object()  # put on a subscriber's queue when its client goes away
_FRAMES: dict[int, tuple[dict, str]] = {}  # event id → (the hub's event dict, its frame), for this process
_FRAMES_KEPT = 256


def _frame(event: dict) -> str:
    """The live frame for an event, encoded as Starlette's send_json would, but once per event and process
    instead of once per socket: the hub hands the same dict to every subscriber. Only that very dict hits
    the cache, so another app in the same process (tests) never gets a frame that merely shares an id."""
    hit = _FRAMES.get(event["id"])
    if hit is not None and hit[0] is event:
        return hit[1]
    text = json.dumps({"type": "event", **public(event)}, separators=(",", ":"), ensure_ascii=False)
    _FRAMES[event["id"]] = (event, text)
    if len(_FRAMES) > _FRAMES_KEPT:
        del _FRAMES[next(iter(_FRAMES))]
    return text


def _same_origin(ws: WebSocket) -> bool:
    """A page of ours, not another site's script riding on the user's cookie (cross-site WebSocket hijacking)."""
    origin, host = ws.headers.get("origin"), ws.headers.get("host")
    return bool(origin and host) and urlsplit(origin).netloc == host


async def _authenticate(ws: WebSocket, svc):
    token = ws.query_params.get("token")
    if not token and ws.cookies.get(SESSION_COOKIE) and _same_origin(ws):  # a signed-in page
        token = ws.cookies[SESSION_COOKIE]
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
        reader = asyncio.create_task(_drain(websocket, sub))
        while True:  # one queue wait per event: no task or asyncio.wait per event and socket
            event = await sub.queue.get()
            if event is _CLOSED:
                break
            if event is None:  # fell too far behind: the client reconnects with `since`
                await websocket.close(code=4408)
                break
            await websocket.send_text(_frame(event))
    except WebSocketDisconnect:
        pass
    finally:
        live.hub.unsubscribe(sub)
        with contextlib.suppress(Exception):
            reader.cancel()


async def _drain(websocket: WebSocket, sub) -> None:
    """Read (and ignore) what the client sends, so a close is noticed at once: it wakes the sending loop.
    (A full queue means that loop is busy sending; its next send fails on the closed socket and ends it.)"""
    try:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()
    finally:
        with contextlib.suppress(asyncio.QueueFull):
            sub.queue.put_nowait(_CLOSED)

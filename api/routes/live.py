"""WebSocket /api/v1/ws: committed events within the caller's scope, live; `since` replays missed ones.

Closes with 4401 when the token is missing or invalid or does not arrive within `ws_auth_timeout` seconds,
and later when its session ends (sign-out, the account deactivated or its role, unit or password changed; at
once in this process, within a second in others) or the token expires; 4429 when the user already has
`max_sockets_per_user` sockets open in this process, or the client address already holds
`max_unauthenticated_sockets_per_address` sockets that have not signed in yet; 4408 when the client falls too
far behind. An error frame {"error": {"code", "message"}} comes first."""

import asyncio
import contextlib
import json
from collections import Counter
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from chuishao.api.deps import check_token
from chuishao.api.live import SESSION_ENDED
from chuishao.api.security import Unauthorized
from chuishao.api.web.session import SESSION_COOKIE
from chuishao.notifications.events import events_after, public

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
    """The caller's claims, from `?token=`, the session cookie of a page of ours, or a first message
    {"token": "..."} sent within `ws_auth_timeout` seconds. Raises Unauthorized."""
    token = ws.query_params.get("token")
    if not token and ws.cookies.get(SESSION_COOKIE) and _same_origin(ws):  # a signed-in page
        token = ws.cookies[SESSION_COOKIE]
    if not token:  # or as the first message: {"token": "..."}
        try:
            first = json.loads(await asyncio.wait_for(ws.receive_text(), timeout=svc.settings.ws_auth_timeout))
            token = first.get("token") if isinstance(first, dict) else None
        except (TimeoutError, ValueError, WebSocketDisconnect):
            token = None
    if not isinstance(token, str) or not token:
        raise Unauthorized("请先登录", "authentication required")
    return await check_token(svc, token)


async def _refuse(ws: WebSocket, code: str, message: str, close_code: int) -> None:
    with contextlib.suppress(Exception):  # the client may be gone already
        await ws.send_json({"error": {"code": code, "message": message}})
        await ws.close(code=close_code)


@router.websocket("/ws")
async def ws(websocket: WebSocket):
    svc = websocket.app.state.services
    live = websocket.app.state.live
    # sockets not yet signed in cost nothing to open: cap them per client address, so that one client cannot
    # hold hundreds of them through the sign-in wait
    waiting = _unauthenticated(websocket.app)
    address = websocket.client.host if websocket.client else ""
    cap = svc.settings.max_unauthenticated_sockets_per_address
    if waiting[address] >= cap:
        await websocket.accept()
        await _refuse(websocket, "too_many_sockets",
                      f"未登录的实时连接过多：每个地址最多 {cap} 个，请稍后重试 / too many live connections that "
                      f"have not signed in: at most {cap} per address; retry later", 4429)
        return
    waiting[address] += 1
    try:
        await websocket.accept()
        claims = await _authenticate(websocket, svc)
    except Unauthorized as err:
        claims = err
    finally:
        waiting[address] -= 1
        if not waiting[address]:
            del waiting[address]
    if isinstance(claims, Unauthorized):
        await _refuse(websocket, claims.code, claims.message, 4401)
        return
    actor = claims.actor
    since = websocket.query_params.get("since")
    sub = live.hub.subscribe(actor.sees_event)
    sock = live.open_socket(actor.id, claims.session_id, claims.expires, sub)
    if sock is None:
        live.hub.unsubscribe(sub)
        n = svc.settings.max_sockets_per_user
        await _refuse(websocket, "too_many_sockets",
                      f"实时连接过多：每人最多同时打开 {n} 个，请关闭其他页面或窗口后重试 / "
                      f"too many live connections: at most {n} per user; close other pages and retry", 4429)
        return
    reader = None
    try:
        await live.hear_everything()
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
            if event is SESSION_ENDED:
                await _refuse(websocket, "unauthorized", "登录已失效，请重新登录 / this session has ended; sign in "
                                                         "again", 4401)
                break
            if event is None:  # fell too far behind: the client reconnects with `since`
                await websocket.close(code=4408)
                break
            await websocket.send_text(_frame(event))
    except WebSocketDisconnect:
        pass
    finally:
        live.hub.unsubscribe(sub)
        live.close_socket(sock)
        if reader is not None:
            reader.cancel()


def _unauthenticated(app) -> Counter:
    """Client address → sockets of this app accepted but not yet signed in."""
    if not hasattr(app.state, "ws_unauthenticated"):
        app.state.ws_unauthenticated = Counter()
    return app.state.ws_unauthenticated


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

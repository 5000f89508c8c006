"""What a request may carry, refused before any route reads it, in the API's error shape
(docs/access.md#refusals):

- bodies no larger than the limits (413), whether or not they declare a Content-Length;
- bodies sent no slower than a minimum rate after a first pause (408), so a slow client cannot hold a
  connection and a worker's attention for ever;
- text a database can store and JSON that reads back (422): no NUL characters (PostgreSQL refuses
  them), no unpaired UTF-16 surrogates (they have no UTF-8 form), no NaN or infinities (not JSON; a
  stored one would break every later read), no nesting deeper than any body of ours needs.
"""

import asyncio
import json
import math
import re

from fastapi import Request
from fastapi.routing import APIRoute

from chuishao.flows.errors import Invalid

MAX_JSON_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyLimit:
    """Bodies no larger than `default` bytes (`uploads` for multipart) → else 413; and, when `timeout` is set,
    no slower than the client may send them: the body may pause `timeout` seconds at first and must then
    average `min_rate` bytes a second (Apache's mod_reqtimeout has the same two knobs) → else 408. Either
    refusal closes the connection, whatever the app was doing with the body; so does any answer sent before
    the body has been read to its end (the rest would otherwise be read at the client's pace, untimed)."""

    def __init__(self, app, *, default: int, uploads: int, timeout: float | None = None, min_rate: int = 1):
        self.app, self.default, self.uploads = app, default, uploads
        self.timeout, self.min_rate = timeout, max(min_rate, 1)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        is_upload = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.uploads + 64 * 1024 if is_upload else self.default
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _answer(send, scope, *TOO_LARGE)
        has_body = (declared is not None and declared != b"0") or b"transfer-encoding" in headers
        loop = asyncio.get_running_loop()
        began = loop.time()
        seen, cut, started, complete = 0, None, False, not has_body

        async def counted():
            nonlocal seen, cut, complete
            if complete or self.timeout is None:
                message = await receive()
            else:
                allowed = began + self.timeout + seen / self.min_rate - loop.time()
                try:
                    if allowed <= 0:  # as asyncio.wait_for(…, 0) would: out of time, whatever is waiting
                        raise TimeoutError
                    # a deadline on this task rather than wait_for's task a message (and its loop rounds)
                    async with asyncio.timeout(allowed):
                        message = await receive()
                except TimeoutError:
                    cut = TOO_SLOW
                    raise _Cut from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                complete = complete or not message.get("more_body", False)
                if seen > limit:
                    cut = TOO_LARGE
                    raise _Cut
            return message

        async def guarded_send(message):
            nonlocal started
            if cut and not started:
                return  # the app's own answer to a body we cut off (FastAPI makes it a 400); ours follows
            if message["type"] == "http.response.start" and not complete:
                # answered before its body was read (404, 405, a malformed upload …): uvicorn would keep
                # reading the rest for the next request, and a trickle restarts its keep-alive timer, so a
                # slow client held the connection for ever. `connection: close` makes uvicorn close it.
                message = {**message, "headers": [*_without_connection(message.get("headers") or []),
                                                  (b"connection", b"close")]}
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not cut:
                raise
        if cut and not started:
            await _answer(send, scope, *cut)


# (status, code, message, what a browser's page says)
TOO_LARGE = (413, "too_large", "请求内容过大 / request body too large",
             "提交的内容或文件过大，请压缩照片、减少文件或精简文字后重试。")
TOO_SLOW = (408, "request_timeout", "请求内容发送过慢，已超时 / request body timed out (sent too slowly)",
            "网络过慢，提交未能完成，请在网络较好时重试。")


async def _answer(send, scope, status: int, code: str, message: str, page: str):
    """Answer in the caller's error shape and close the connection (the body may still be arriving)."""
    path = scope.get("path", "")
    if path.startswith("/open311/"):  # the standard's own error shape there
        if path.endswith(".xml"):
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><errors><error>"
                    f"<code>{status}</code><description>{message}</description></error></errors>").encode()
            kind = b"text/xml; charset=utf-8"
        else:
            body = json.dumps([{"code": status, "description": message}], ensure_ascii=False).encode()
            kind = b"application/json"
    elif _is_page(scope):  # a browser posting a form: a page it can show, in Chinese
        title = "内容过大" if status == 413 else "请求超时"
        body = (f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{title}</title><p>{page}</p>"
                "<p><a href=\"javascript:history.back()\">返回上一页</a></p></html>").encode()
        kind = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()
        kind = b"application/json"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _is_page(scope) -> bool:
    """A browser's form post to a web page (not the REST API, Open311, or a script asking for JSON)."""
    headers = dict(scope.get("headers") or [])
    return (not scope.get("path", "").startswith(("/api/", "/open311/"))
            and b"application/json" not in headers.get(b"accept", b""))


def _without_connection(headers) -> list:
    return [(k, v) for k, v in headers if k.lower() != b"connection"]


class _Cut(Exception):
    """Raised into the app when its body is cut off (too large or too slow)."""


def _refuse(zh: str, en: str) -> Invalid:
    return Invalid(f"请求内容有误：{zh}", f"invalid request: {en}", code="validation_error")


def _no_constant(name: str):
    raise _refuse("JSON 中不能使用 NaN 或无穷大", f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _refuse(f"数值 {text[:20]} 超出范围", f"number {text[:20]} is out of range")
    return value


def check_text(value: str) -> None:
    if "\x00" in value:
        raise _refuse("文本中不能含有 NUL 字符（\\u0000）", "text must not contain NUL (\\u0000) characters")
    if _SURROGATE.search(value):
        raise _refuse("文本中含有无效的 Unicode 字符（孤立的代理项）", "text contains an unpaired UTF-16 surrogate")


def check_json(value) -> None:
    """Walk a decoded JSON value without recursion: every string storable, nesting bounded."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            check_text(v)
        elif isinstance(v, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _refuse(f"JSON 嵌套超过 {MAX_JSON_DEPTH} 层", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            items = [*v.keys(), *v.values()] if isinstance(v, dict) else v
            stack.extend((item, depth + 1) for item in items)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "" or media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


UNPARSED = object()  # parse_checked: the body is no JSON


def check_query(scope) -> None:
    """No NUL in the query string, raw or escaped. Raises Invalid."""
    query = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query:
        check_text("\x00")


def parse_checked(body: bytes):
    """The JSON value of a non-empty `body`, every rule above checked (raises Invalid), or UNPARSED when it is no
    JSON at all (FastAPI parses it again and answers 422 with where it broke). The value is what `json.loads`
    makes of it, so FastAPI may take it instead of parsing again."""
    try:
        value = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return UNPARSED
    except RecursionError:
        raise _refuse(f"JSON 嵌套超过 {MAX_JSON_DEPTH} 层", "JSON nested too deeply") from None
    except ValueError:  # an integer of more than 4300 digits
        raise _refuse("数字过长", "number too long") from None
    check_json(value)
    return value


async def check_request(request: Request) -> None:
    check_query(request.scope)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = await request.body()
        if b"\x00" in body or b"%00" in body:
            check_text("\x00")
    elif _is_json(content_type):
        body = await request.body()
        if body and (value := parse_checked(body)) is not UNPARSED:
            # what Starlette's `request.json()` keeps once parsed: FastAPI reads the body from it, not again
            request._json = value


class GuardedRoute(APIRoute):
    """A route that runs `check_request` before FastAPI parses the body. Errors raised here go through the
    app's exception handlers, so they leave in the API's error shape like any other."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def guarded(request: Request):
            await check_request(request)
            return await handler(request)

        return guarded

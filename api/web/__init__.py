"""The web UI (docs/ui.md): server-rendered pages over the same services as the REST API.

`install(app)` mounts the vendored static files, the pages, CSRF protection for forms and HTML error
pages for browser paths. The REST API (`/api/…`) and Open311 (`/open311/…`) keep their bearer tokens and
API keys: no cookie is read there, so CSRF does not apply to them.
"""

import json
import re
from pathlib import Path

from asgi_csrf import asgi_csrf
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from chuishao.api.web import admin, auth, case, dashboard, duplicates, inbox, notifications, report, reports
from chuishao.api.web import case_review as case_review_pages
from chuishao.api.web import disclosure as disclosure_pages
from chuishao.api.web.render import page
from chuishao.api.web.session import LoginRequired, login_redirect

STATIC = Path(__file__).parent.parent / "static"
API_PREFIXES = ("/api/", "/open311/", "/static/", "/healthz", "/metrics", "/openapi.json", "/docs", "/redoc")
ERROR_TITLES = {401: "请先登录", 403: "无权访问", 404: "页面不存在", 405: "不支持的操作", 409: "内容已被他人更新",
                413: "内容过大", 422: "无法执行", 429: "操作过于频繁"}

ROUTERS = [auth.router, report.router, notifications.router, inbox.router, case.router, dashboard.router,
           reports.router, admin.router, duplicates.router]

ROUTERS.append(disclosure_pages.router)  # 行政执法公示: /gongshi, /gongshi/review, /admin/disclosure
ROUTERS.append(case_review_pages.router)  # 案卷评查: /case-review…


def is_page(request: Request) -> bool:
    """A browser page (HTML answers) rather than the REST API, Open311 or a static file."""
    return not request.url.path.startswith(API_PREFIXES)


def error_page(request: Request, status: int, message: str):
    return page(request, "error.html", status_code=status, title=ERROR_TITLES.get(status, "出错了"),
                message=message)


async def csrf_failed_page(scope, send, message_id):
    body = ("<!doctype html><html lang=zh-CN><meta charset=utf-8><title>页面已过期</title>"
            "<p>页面已过期或来源不明，请返回刷新后重试。</p><p><a href=\"/\">返回首页</a></p></html>").encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/html; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})


def _bad_multipart(scope) -> bool:
    """asgi-csrf asserts on a multipart body without a boundary (a 500): refuse those before it reads them."""
    headers = dict(scope.get("headers") or [])
    ctype = headers.get(b"content-type", b"")
    return ctype.split(b";", 1)[0].strip() == b"multipart/form-data" and b"; boundary=" not in ctype


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for r in ROUTERS:
        app.include_router(r)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        return login_redirect(request, exc.next_path)


class CSRF:
    """Middleware: every state-changing request to a page carries the double-submit token (asgi-csrf): the
    hidden `csrftoken` field of each form, or the `x-csrftoken` header htmx and our scripts send."""

    def __init__(self, app, secret: str):
        self.app = app
        self.protected = asgi_csrf(app, signing_secret=secret, cookie_samesite="Lax",
                                   skip_if_scope=lambda scope: scope["path"].startswith(API_PREFIXES),
                                   send_csrf_failed=csrf_failed_page)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not _cookies_decode(scope):
            # asgi-csrf decodes the Cookie header as UTF-8 on every path (a 500 before any route otherwise)
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": json.dumps({"error": {
                "code": "bad_cookie", "message": "Cookie 格式不正确（不是 UTF-8），请清除本站 Cookie 后重试 / "
                                                 "the Cookie header is not valid UTF-8"}},
                ensure_ascii=False).encode()})
            return
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIXES):
            # asgi-csrf would pass these on too (`skip_if_scope`), but only after signing a fresh token for
            # each request and wrapping its `send`; no page is rendered there, so nothing would read the token
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and _bad_multipart(scope):
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": "表单格式不正确 / malformed form".encode()})
            return
        if scope["type"] == "http" and _multipart_form_post(scope):
            scope, receive, found = await _form_token_as_header(scope, receive)
            if not found:
                await csrf_failed_page(scope, send, None)
                return
        await self.protected(scope, receive, send)


def _cookies_decode(scope) -> bool:
    try:
        for name, value in scope.get("headers") or []:
            if name == b"cookie":
                value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# asgi-csrf 0.11 reads a multipart form's token with python-multipart's old `FileClass` hook, which
# python-multipart 0.0.2x removed (a TypeError, so a 500, for every page upload sent without the header).
# We read the first part ourselves -- the form's `csrftoken` field, which must come before any file -- and
# pass it on as the `x-csrftoken` header; asgi-csrf still compares it with the cookie. The body is replayed.
_FIRST_PART_LIMIT = 64 * 1024


def _multipart_form_post(scope) -> bool:
    headers = dict(scope.get("headers") or [])
    return (scope.get("method") not in ("GET", "HEAD", "OPTIONS", "TRACE")
            and headers.get(b"content-type", b"").split(b";", 1)[0].strip() == b"multipart/form-data"
            and b"x-csrftoken" not in headers and b"cookie" in headers
            and not headers.get(b"authorization", b"").startswith(b"Bearer "))


def _first_part_token(body: bytes, boundary: bytes) -> str | None:
    delim = b"--" + boundary
    if not body.startswith(delim + b"\r\n"):
        return None
    head, sep, rest = body[len(delim) + 2:].partition(b"\r\n\r\n")
    value, sep2, _ = rest.partition(b"\r\n" + delim)
    if not sep or not sep2 or b"filename=" in head.lower():
        return None
    if not re.search(rb'(?i)^content-disposition:\s*form-data;\s*name="csrftoken"\s*$', head, re.M):
        return None
    return value.decode("latin-1") if len(value) <= 200 else None


async def _form_token_as_header(scope, receive):
    """(scope with the form's token as `x-csrftoken`, a receive that replays the body, whether it was found)."""
    headers = list(scope.get("headers") or [])
    ctype = dict(headers).get(b"content-type", b"")
    boundary = ctype.split(b"boundary=", 1)[1].split(b";", 1)[0].strip().strip(b'"')
    buffered, body, more = [], b"", True
    while more and len(body) < _FIRST_PART_LIMIT and body.count(b"--" + boundary) < 2:
        message = await receive()
        buffered.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        more = message.get("more_body", False)

    async def replay():
        return buffered.pop(0) if buffered else await receive()

    token = _first_part_token(body, boundary)
    if token is None:
        return scope, replay, False
    return {**scope, "headers": [*headers, (b"x-csrftoken", token.encode("latin-1"))]}, replay, True

"""Every error answer of every documented route, in /openapi.json, with the shape the handlers write.

Routes say nothing about errors themselves; what a route can answer follows from what it depends on and what
it takes, so it is derived here in one place, from the generated document and the route's dependencies:

| answer | when (shape: `error` unless said) |
|---|---|
| 401 | the route needs a bearer token (OAuth2 security), or takes the login form (wrong credentials) |
| 403 | admin only (`api.deps.admin`); or signed in and naming a resource or taking a body: the caller's role or
        scope may refuse it |
| 404 | it names a resource (a path parameter other than a value such as a year, a date or a channel kind): a
        case, user, item, bulletin ... that does not exist |
| 409 | an admin POST that creates (201: the code or name exists), or it takes `If-Match` (stale version) |
| 413 | it takes a body (larger than the configured limit) |
| 422 | it takes parameters or a body (a validation error; a rule refuses the request) |
| 429 | the login form (too many failures; `Retry-After`) |
| any | listed for the route in `ALSO` (what its dependencies and parameters do not tell) |
| 400, 403, 404, 413 | Open311 GeoReport v2 (`/open311/v2`): the standard's error list, XML or JSON (403: api_key, not
                     on discovery and services; 413: posts) |

`error` is `{"error": {"code", "message", ...}}` (api/errors.py): `code` a stable English word, `message`
Chinese first, then English. FastAPI's own 422 schema (`HTTPValidationError`, `{"detail": [...]}`) is replaced:
no route of ours answers in it. 405 and 500 are not per operation and are described once in the document.
"""

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import OAuth2PasswordRequestForm

from chuishao.api.deps import admin

ERROR = "Error"
OPEN311_ERRORS = "Open311Errors"
SCHEMAS = {
    ERROR: {
        "title": "Error", "type": "object", "required": ["error"],
        "description": "Every refusal: a stable code and a message, Chinese first, then English. Some refusals add "
                       "fields (`field`: the body field at fault; `actions`: the actions there are).",
        "properties": {"error": {
            "type": "object", "required": ["code", "message"], "additionalProperties": True,
            "properties": {
                "code": {"type": "string", "examples": ["validation_error", "unauthorized", "not_found"]},
                "message": {"type": "string", "examples": ["请求内容有误：… / invalid request: …"]},
            }}},
    },
    OPEN311_ERRORS: {
        "title": "Open311Errors", "type": "array",
        "description": "GeoReport v2 errors (JSON; the XML form is `<errors><error><code/><description/></error>`)",
        "items": {"type": "object", "required": ["code", "description"],
                  "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}},
    },
}
DESCRIPTIONS = {
    400: "请求参数有误 / bad request",
    401: "未登录、登录凭证无效或已过期，或用户名密码错误 / not signed in, token invalid or expired, or wrong "
         "credentials",
    403: "无权执行此操作（角色或权限范围） / forbidden for this role or outside this caller's scope",
    404: "资源不存在 / not found",
    409: "冲突：已存在同名资源，或案件版本已变化 / conflict: the name exists, or the version is stale",
    413: "请求内容过大 / request body too large",
    422: "请求内容有误或不被规则允许 / invalid request, or refused by a rule",
    429: "登录失败次数过多，请按 Retry-After 等待 / too many failed sign-ins; wait Retry-After seconds",
}
OPEN311_DESCRIPTIONS = {
    400: "参数有误 / bad request (the standard's error list)",
    403: "api_key 缺失或无效 / api_key missing or invalid",
    404: "资源或格式不存在 / no such resource or format",
    413: "请求内容过大 / request body too large",
}
GENERAL = ("Any route may also answer 405 (a method the path does not take) and, for a fault of ours, 500, "
           "both in the same error shape.")
WRITES = frozenset({"post", "put", "patch", "delete"})
# answers a route gives that its dependencies and parameters do not tell (tests/test_openapi_errors.py probes
# every route and fails on an answer that is not documented)
ALSO = {
    ("post", "/api/v1/me/channels/webhook/secret"): {404},  # no webhook set yet
}
# path parameters that are values (a year, a date, a channel kind), not the name of something stored: no 404
VALUE_PARAMS = frozenset({"year", "day", "channel"})
PUBLIC_OPEN311 = ("/open311/v2/discovery.", "/open311/v2/services")  # no api_key asked


def _calls(route: APIRoute) -> set:
    seen, stack = set(), [route.dependant]
    while stack:
        d = stack.pop()
        if d.call is not None:
            seen.add(d.call)
        stack.extend(d.dependencies)
    return seen


def error_statuses(route: APIRoute, path: str, method: str, operation: dict) -> list[int]:
    """The error statuses the route at `path` (as served, prefix included) can answer for `method` (lower
    case), per the table in the module doc; `operation` is its entry in the generated document."""
    params = operation.get("parameters", [])
    in_path = any(p["in"] == "path" and p["name"] not in VALUE_PARAMS for p in params)
    body = "requestBody" in operation
    if path.startswith("/open311/"):
        out = {400, 404}
        if not path.startswith(PUBLIC_OPEN311):
            out.add(403)
        if method in WRITES:
            out.add(413)
        return sorted(out)
    calls = _calls(route)
    login = OAuth2PasswordRequestForm in calls
    signed_in = "security" in operation
    out = set()
    if signed_in or login:
        out.add(401)
    if admin in calls or (signed_in and (in_path or body)):
        out.add(403)
    if in_path:
        out.add(404)
    if (method == "post" and route.status_code == 201 and admin in calls) or any(
            p["in"] == "header" and p["name"].lower() == "if-match" for p in params):
        out.add(409)
    if body:
        out.add(413)
    if params or body:
        out.add(422)
    if login:
        out.add(429)
    return sorted(out | ALSO.get((method, path), set()))


def _answer(status: int, open311: bool) -> dict:
    if open311:
        ref = {"$ref": f"#/components/schemas/{OPEN311_ERRORS}"}
        return {"description": OPEN311_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": ref}, "text/xml": {"schema": {"type": "string"}}}}
    return {"description": DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}}}


def document(app: FastAPI, schema: dict) -> dict:
    """Add every route's error answers to `schema` (the app's OpenAPI document), in place; idempotent."""
    paths = schema.get("paths", {})
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = context.path_format
        for method in (m.lower() for m in context.methods or ()):
            operation = paths.get(path, {}).get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            open311 = path.startswith("/open311/")
            if open311 or responses.get("422", {}).get("content", {}).get("application/json", {}).get(
                    "schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                responses.pop("422", None)  # FastAPI's shape, which no handler of ours writes
            for status in error_statuses(route, path, method, operation):
                responses.setdefault(str(status), _answer(status, open311))
    info = schema.setdefault("info", {})
    if GENERAL not in info.get("description", ""):
        info["description"] = (info.get("description", "") + "\n\n" + GENERAL).strip()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(SCHEMAS)
    text = str(paths)
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"/{unused}'" not in text:
            components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Serve /openapi.json with the error answers documented."""
    generate = app.openapi

    def openapi() -> dict:
        return document(app, generate())

    app.openapi = openapi

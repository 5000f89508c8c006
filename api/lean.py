"""A lean way in for the two requests the API takes most (a case action, a report), beside their FastAPI routes.

FastAPI spends more of the API process's CPU on such a request than our own code around the service does:
matching the path against every included router (twice), solving the dependency tree and validating each
parameter through it, and the JSON body parsed a second time after `limits.check_request` read it. A `Lean`
route sits first in the app's routes and answers a *regular* request itself — every parameter already in range,
a JSON object or no body, no query NUL — doing exactly what its APIRoute would: the body checks of
api/limits.py on the one parse, the bearer token as `deps.signed` checks it, the same service call, and the
answer validated and written by the APIRoute's own response model (same bytes, same headers). Errors are raised,
so the app's exception handlers shape them as for any route.

Anything else (a parameter out of range, a body that is no JSON object, another content type, another method)
is handed to the FastAPI route unchanged, with the body already read replayed to it: its answer, its 422 wording
and its refusal order stay FastAPI's. The APIRoute stays registered, so /openapi.json describes the route as
before; tests/test_lean.py checks that both ways answer alike.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.routing import BaseRoute, Match, compile_path, get_route_path

from chuishao.api.limits import UNPARSED, check_query, parse_checked

# the scope key that sends a request the lean route declined on to the FastAPI route
DECLINED = "chuishao.lean_declined"
Endpoint = Callable[[Request, Any, dict[str, str]], Awaitable[Response | None]]


class Lean(BaseRoute):
    """`endpoint(request, body, path_params)` answers a POST to `path` (the APIRoute's full path, prefix
    included), or returns None to hand the request to `api_route`. `body`: the request's JSON value, checked by
    api/limits.py, or None for an empty body; a body of another content type, or no JSON, goes to `api_route`.
    The path pattern is kept under private names: to route listings this is not a route of its own."""

    def __init__(self, path: str, api_route: APIRoute, endpoint: Endpoint):
        self._regex = compile_path(path)[0]
        self.api_route, self.endpoint = api_route, endpoint

    def matches(self, scope) -> tuple[Match, dict]:
        if scope["type"] == "http" and scope["method"] == "POST" and DECLINED not in scope:
            m = self._regex.match(get_route_path(scope))
            if m:
                return Match.FULL, {"path_params": m.groupdict()}
        return Match.NONE, {}

    async def handle(self, scope, receive, send) -> None:
        request = Request(scope, receive, send)

        async def app(scope, receive, send):
            response = await self._answer(request)
            if response is None:
                await _decline(request, send)
            else:
                await response(scope, receive, send)

        await wrap_app_handling_exceptions(app, request)(scope, receive, send)

    async def _answer(self, request: Request) -> Response | None:
        check_query(request.scope)
        body = await request.body()
        value = None
        if body:
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                return None  # FastAPI's reading of other types (and its 422s) stays its own
            value = parse_checked(body)
            if value is UNPARSED:
                return None
        request.scope["route"] = self.api_route
        return await self.endpoint(request, value, request.scope["path_params"])


async def _decline(request: Request, send) -> None:
    """Hand the request to the app's router again, this route skipped; the body read here is replayed."""
    scope, receive = request.scope, request.receive
    body, replayed = await request.body(), False

    async def replay():
        nonlocal replayed
        if replayed:
            return await receive()  # a disconnect, if the route waits for one
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope[DECLINED] = True
    scope.pop("route", None)
    await scope["router"](scope, replay, send)


def answer(route: APIRoute, content: Any, status: int | None = None) -> Response:
    """`content` as `route` would answer it: validated by its response model (a key the model lacks is a 500,
    as there) and written by it with the route's include/exclude settings."""
    field = route.response_field
    value, errors = field.validate(content, {}, loc=("response",))
    if errors:
        raise ResponseValidationError(errors=errors, body=content)
    data = field.serialize_json(value, include=route.response_model_include, exclude=route.response_model_exclude,
                                by_alias=route.response_model_by_alias,
                                exclude_unset=route.response_model_exclude_unset,
                                exclude_defaults=route.response_model_exclude_defaults,
                                exclude_none=route.response_model_exclude_none)
    return Response(content=data, media_type="application/json", status_code=status or route.status_code or 200)

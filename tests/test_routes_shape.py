"""No route's path is taken by an earlier route (issue 10: `GET /calendar/hours` reached `GET /calendar/{year}`
and answered 422 instead of 405)."""

from fastapi.routing import iter_route_contexts
from starlette.convertors import IntegerConvertor

from chuishao.api.app import create_app
from tests.conftest import test_settings


def _sample(context) -> str:
    """A concrete path the route itself takes: each parameter replaced by a value its convertor accepts."""
    values = {name: "7" if isinstance(conv, IntegerConvertor) else "x"
              for name, conv in (context.param_convertors or {}).items()}
    return context.path_format.format(**values)


def test_no_route_is_taken_by_an_earlier_one(tmp_path):
    """Starlette answers a request with the first route whose pattern and method match. If an earlier route's
    pattern matches a later route's path, then every method the earlier route takes is answered by it there (a
    GET on `/calendar/hours` went to `/calendar/{year}`), and the methods both take never reach the later one.
    Only routes with the very same path may share it, each with its own methods."""
    app = create_app(test_settings(f"sqlite:///{tmp_path}/x.db", tmp_path))
    routes = [c for c in iter_route_contexts(app.routes) if getattr(c, "path_regex", None) is not None
              and getattr(c, "methods", None)]  # HTTP routes (WebSocket routes never answer HTTP)
    assert len(routes) > 60
    clashes = []
    for i, later in enumerate(routes):
        path = _sample(later)
        assert later.path_regex.match(path), later.path  # the sample is one the route takes itself
        for earlier in routes[:i]:
            if not earlier.path_regex.match(path):
                continue
            if earlier.path_format == later.path_format and not (earlier.methods & later.methods):
                continue  # GET /units and POST /units: one path, its methods split between two routes
            clashes.append(f"{sorted(earlier.methods)} {earlier.path} takes {sorted(later.methods)} {later.path}")
    assert not clashes, "\n".join(clashes)


def test_a_method_a_path_does_not_take_is_405_in_the_error_shape(county):
    admin = county.as_("admin")
    for url, allowed in (("/api/v1/calendar/hours", "PUT"), ("/api/v1/calendar/import", "POST"),
                         ("/api/v1/calendar/days/2026-11-17", "PUT")):
        r = admin.get(url)
        assert r.status_code == 405, (url, r.text)
        assert r.json()["error"]["code"] == "http_405" and r.json()["error"]["message"].startswith("不支持的请求方法")
        assert r.headers["allow"] == allowed
    # a year is still a year, and only a year
    assert admin.get("/api/v1/calendar/2026").json()["year"] == 2026
    assert admin.get("/api/v1/calendar/nope").status_code == 404

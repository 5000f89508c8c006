"""The lean ways in for a case action and a report (api/lean.py) answer exactly as their FastAPI routes do: each
request here is sent with the lean routes in place and again with them taken out (so FastAPI alone answers), and
the two answers must agree in status, headers and body. Refusals change nothing, so both see the same state;
successful requests run on twin cases (same steps, same clock) and agree but for the case's id and code."""

import pytest

from chuishao.api.lean import Lean
from tests.county import LEAD_LIAISON


@pytest.fixture
def both(county):
    """send(who, method, url, twin_url=None, **kw) → (lean answer, FastAPI answer); `send.taken` lists what the
    lean routes did with each request that reached them: answered, raised (a refusal) or handed on."""
    app = county.client.app
    leans = [r for r in app.router.routes if isinstance(r, Lean)]
    assert len(leans) == 2
    taken = []
    for lean in leans:
        endpoint = lean.endpoint

        async def counted(request, body, params, endpoint=endpoint):
            outcome = "raised"  # a refusal, shaped by the app's handlers
            try:
                response = await endpoint(request, body, params)
                outcome = "answered" if response is not None else "handed on"
                return response
            finally:
                taken.append(outcome)

        lean.endpoint = counted

    def send(who, method, url, twin_url=None, **kw):
        client = county.as_(who) if who else county.client
        first = getattr(client, method)(url, **kw)
        app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, Lean)]
        try:
            second = getattr(client, method)(twin_url or url, **kw)
        finally:
            app.router.routes[:0] = leans
        return first, second

    send.taken = taken
    return send


def _same(a, b, twins=False):
    assert a.status_code == b.status_code, (a.status_code, a.text, b.status_code, b.text)
    ha = {k: v for k, v in a.headers.items() if k != "content-length" or not twins}
    hb = {k: v for k, v in b.headers.items() if k != "content-length" or not twins}
    assert ha == hb
    if not twins:
        assert a.content == b.content
        return
    ja, jb = a.json(), b.json()
    assert list(ja) == list(jb)  # the same keys in the same order
    for key in ("id", "code"):
        ja.pop(key), jb.pop(key)
    assert ja == jb


def test_refusals_are_the_fastapi_routes_own(county, both):
    case = county.to_dispatched()
    url = f"/api/v1/cases/{case['id']}/actions/"
    liaison = LEAD_LIAISON["LAND01"]
    bearer = {"Authorization": "Bearer " + county.token(liaison)}
    for who, path, kw in [
        (None, "check_in", {"json": {}}),  # no token
        (None, "check_in", {"json": {}, "headers": {"Authorization": "Bearer nope"}}),
        (None, "check_in", {"json": {}, "headers": {"Authorization": "Basic eDp5"}}),
        (liaison, "check_in", {"json": {}, "headers": {"If-Match": "nope"}}),
        (liaison, "check_in", {"json": {}, "headers": {"If-Match": "1"}}),  # stale
        (liaison, "check_in", {"json": {}, "headers": {"If-Match": "1" * 41}}),  # longer than the header takes
        (liaison, "check_in", {"json": {"nope": 1}}),  # unknown field (the service's refusal)
        (liaison, "check_in", {"json": [1]}),  # no object
        (liaison, "check_in", {"content": b"NaN", "headers": {"Content-Type": "application/json"}}),
        (liaison, "check_in", {"content": b'{"a": "\\u0000"}', "headers": {"Content-Type": "application/json"}}),
        (liaison, "check_in", {"content": b"{", "headers": {"Content-Type": "application/json"}}),
        (liaison, "check_in", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}),
        (liaison, "check_in?x=%00", {"json": {}}),
        (liaison, "verify", {"json": {}}),  # not allowed in this state
        (liaison, "nope", {"json": {}}),  # unknown action
        (liaison, "x" * 201, {"json": {}}),
        ("gw_fc1", "check_in", {"json": {}}),  # not this caller's to do
        ("gw_lhl", "check_in", {"json": {}}),  # outside the caller's scope
    ]:
        _same(*both(who, "post", url + path, **kw))
    for bad_id in ("0", "abc", str(2**31), "007", "99999"):
        _same(*both(None, "post", f"/api/v1/cases/{bad_id}/actions/check_in", json={}, headers=bearer))
    _same(*both(liaison, "get", url + "check_in"))  # 405, as FastAPI says
    for kw in [{"json": {"title": ""}}, {"json": [1]}, {"content": b""}, {"json": {"title": "x", "description": "y",
               "nope": 1}}, {"json": {"title": "x", "description": "y"}, "headers": {"Idempotency-Key": "k" * 65}},
               {"json": {"title": "x", "description": "y"}, "headers": {"Idempotency-Key": "sp ace"}}]:
        _same(*both("gw_fc1", "post", "/api/v1/cases", **kw))
        _same(*both("disp_fc", "post", "/api/v1/cases", **kw))  # a role that may not report
    assert {"raised", "handed on"} <= set(both.taken)  # refusals of the lean routes' own, and requests handed on


def test_answers_agree_on_twin_cases(county, both):
    body = {"title": "东街有人私搭乱建", "description": "东街 12 号院内新建砖房", "lat": 37.5, "lon": 112.0}
    first, second = both("gw_fc1", "post", "/api/v1/cases", json=body)
    _same(first, second, twins=True)
    assert first.status_code == 201
    a, b = first.json()["id"], second.json()["id"]
    steps = [("disp_fc", "accept", {"category": "LAND01"}), ("disp_fc", "dispatch", {}),
             (LEAD_LIAISON["LAND01"], "check_in", None), ("zrzy_off1", "feedback",
             {"outcome": "resolved", "result": "已拆除违建", "officers": ["zrzy_off1", "zrzy_off2"]})]
    for who, action, step_body in steps:
        kw = {"json": step_body} if step_body is not None else {}
        version = county.get(who, a)["version"]
        kw["headers"] = {"If-Match": f'W/"{version}"'}
        _same(*both(who, "post", f"/api/v1/cases/{a}/actions/{action}", f"/api/v1/cases/{b}/actions/{action}",
                    **kw), twins=True)
    key = {"Idempotency-Key": "twin-1"}
    first = county.as_("gw_fc1").post("/api/v1/cases", json=body, headers=key)
    _same(*both("gw_fc1", "post", "/api/v1/cases", json=body, headers=key))  # a replay, 200, both ways
    assert first.status_code == 201 and county.as_("gw_fc1").post(
        "/api/v1/cases", json=body, headers=key).status_code == 200
    # the twin report, the steps, the two posts with the key above and the replay sent through both()
    assert both.taken.count("answered") == 1 + len(steps) + 3

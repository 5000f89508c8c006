"""Hostile and malformed input on every /api/v1 endpoint (docs/access.md#refusals).

Every such request must get a clear 4xx — never a 500 — as {"error": {"code", "message"}} with the
Chinese message first, and must change nothing: no row in any table, no case version, status or
timeline entry, no file under the data directory.

Hostile input changes nothing, so one county per database serves the whole module (building one per
test would take minutes); `changes_nothing` compares every table and every stored file before and
after each refused request, which is a stronger check than starting each test from scratch.
"""

import contextlib
import json
import re
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url

from chuishao.api.app import create_app
from chuishao.flows.admin import AdminService, Passwords, bootstrap
from chuishao.flows.clock import FixedClock
from chuishao.flows.units import UnitDirectory
from chuishao.models import metadata
from chuishao.models.config import Settings
from chuishao.models.db import Database, make_sync_engine
from tests.conftest import ADMIN_PASSWORD, START
from tests.county import PASSWORD, Api, build_county, settled, table_rows

SECRET = "test-secret-of-at-least-thirty-two-bytes"
MiB = 1024 * 1024
BIG = "违" * 34_000  # about 100 kB of UTF-8: far over every text limit, under the 256 kB body limit
HUGE_ID = "99999999999999999999"
CJK = re.compile(r"[\u4e00-\u9fff]")


class Raw(bytes):
    """A body sent exactly as written, as application/json."""


# ---- one county per database for the whole module ------------------------------------------------------
@dataclass
class World:
    api: Api
    client: TestClient
    settings: Settings
    clock: FixedClock
    engine: Engine
    cases: dict[str, int]
    attachment: int

    def as_(self, who: str | None):
        return self.api.as_(who) if who else self.client

    def snapshot(self) -> dict:
        rows = table_rows(self.engine)
        root = self.settings.data_dir
        rows["files under the data dir"] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        return rows

    def case_view(self, case_id: int) -> tuple:
        """What a user sees of a case: its version, status and how long its timeline is."""
        case = self.api.get("supervisor", case_id)
        timeline = self.api.as_("supervisor").get(f"/api/v1/cases/{case_id}/timeline").json()
        return case["version"], case["status"], len(timeline)


def _truncate_pg(url: str) -> None:
    u = make_url(url)
    with psycopg.connect(f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}",
                         autocommit=True) as conn:
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def _bootstrap(settings: Settings) -> None:
    import asyncio

    async def run():
        db = Database(settings.url)
        svc = AdminService(db, UnitDirectory(), Passwords(1, 8192))
        await bootstrap(svc, county_code="WS", county_name="文水县", admin_password=ADMIN_PASSWORD, now=START)
        await db.dispose()

    asyncio.run(run())


def _cases(api: Api) -> dict[str, int]:
    """One case in every state an action starts from, plus one in another township."""
    c = {"reported": api.report()["id"], "reported2": api.report()["id"]}
    c["accepted"] = api.report()["id"]
    api.act("disp_fc", c["accepted"], "accept", {"category": "LAND01"})
    c["dispatched"] = api.to_dispatched()["id"]
    c["returned"] = api.to_dispatched()["id"]
    api.act("zrzy_liaison", c["returned"], "return", {"reason": "非本部门职责"})
    c["disputed"] = api.to_dispatched()["id"]
    api.act("zrzy_liaison", c["disputed"], "return", {"reason": "非本部门职责"})
    api.act("disp_fc", c["disputed"], "escalate_dispute", {"reason": "职责不清"})
    c["handling"] = api.to_handling()["id"]
    c["extension"] = api.to_handling()["id"]
    api.act("zrzy_liaison", c["extension"], "request_extension", {"working_days": 3, "reason": "需协调"})
    c["suspended"] = api.to_handling()["id"]
    api.act("liaison_fc", c["suspended"], "suspend", {"reason": "等待司法鉴定"})
    c["feedback"] = api.to_feedback()["id"]
    c["closed"] = api.to_feedback()["id"]
    api.act("liaison_fc", c["closed"], "verify", {"passed": True})
    c["other_township"] = api.report("gw_lhl")["id"]
    return c


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp / "chuishao.db")
        url = f"sqlite:///{tmp / 'chuishao.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _truncate_pg(url)
    settings = Settings(database_url=url, data_dir=tmp / "data", secret_key=SECRET, argon2_time_cost=1,
                        argon2_memory_kib=8192, max_upload_bytes=MiB,
                        delivery_batch_seconds=0.0, live_batch_seconds=0.0)  # see tests/conftest.test_settings
    _bootstrap(settings)
    clock = FixedClock(START)
    engine = make_sync_engine(url)
    with TestClient(create_app(settings, clock), raise_server_exceptions=False) as client:
        api = Api(client, ADMIN_PASSWORD)
        build_county(api)
        cases = _cases(api)
        r = api.as_("gw_fc1").post(f"/api/v1/cases/{cases['handling']}/attachments",
                                   files={"file": ("现场.jpg", b"\xff\xd8photo", "image/jpeg")})
        assert r.status_code == 201, r.text
        yield World(api, client, settings, clock, engine, cases, r.json()["id"])
    engine.dispose()


# ---- what every refusal must look like ---------------------------------------------------------------
def refused(r, status: int | None = None, code: str | None = None) -> dict:
    """A clear 4xx in the spec's error shape, Chinese first; returns the error object."""
    assert r.status_code < 500, f"server error {r.status_code}: {r.text[:300]}"
    assert 400 <= r.status_code < 500, f"expected a refusal, got {r.status_code}: {r.text[:300]}"
    if status is not None:
        assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body = r.json()
    assert list(body) == ["error"] and isinstance(body["error"], dict), body
    err = body["error"]
    assert isinstance(err.get("code"), str) and err["code"], err
    zh = err["message"].split(" / ")[0]
    assert CJK.search(zh), f"no Chinese before the English: {err['message'][:200]}"
    assert "Traceback" not in r.text and "sqlalchemy" not in r.text.lower(), r.text[:300]
    if code is not None:
        assert err["code"] == code, err
    return err


@contextlib.contextmanager
def changes_nothing(w: World, *case_ids: int):
    settled(w.engine)  # the fan-out of earlier actions' events is not the refused request's doing
    before, views = w.snapshot(), {c: w.case_view(c) for c in case_ids}
    yield
    after = w.snapshot()
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, f"a refused request changed {changed}"
    for c, view in views.items():
        assert w.case_view(c) == view, f"case {c}: (version, status, timeline length) moved"


def send(w: World, who: str | None, method: str, url: str, body=None, headers: dict | None = None, **kw):
    headers = dict(headers or {})
    if isinstance(body, Raw):
        kw["content"] = bytes(body)
        headers.setdefault("Content-Type", "application/json")
    elif body is not None:
        kw["json"] = body
    return getattr(w.as_(who), method)(url, headers=headers, **kw)


param = pytest.param


class Ref(str):
    """A case named by its state in the world (`Ref("closed")`), resolved to its id when sent."""


# ---- bodies that are broken the same way whatever the endpoint -------------------------------------------
NOT_JSON = [
    param(Raw(b'{"title": '), id="truncated"),
    param(Raw(b"{'title': 'x'}"), id="single-quotes"),
    param(Raw(b'{"title": "x",}'), id="trailing-comma"),
    param(Raw(b"\xff\xfe\x00garbage"), id="binary"),
    param(Raw(b""), id="empty"),
]
NOT_AN_OBJECT = [
    param(Raw(b"[]"), id="list"),
    param(Raw(b'"text"'), id="string"),
    param(Raw(b"42"), id="number"),
    param(Raw(b"true"), id="bool"),
]
WEIRD_JSON = [
    param(Raw(b"[" * 100_000 + b"]" * 100_000), id="nested-100k-deep"),
    param(Raw(b'{"a": ' * 5000 + b"1" + b"}" * 5000), id="objects-5k-deep"),
    param(Raw(b'{"title": 1' + b"0" * 5000 + b"}"), id="5000-digit-number"),
    param(Raw(b'{"title": "\\ud800"}'), id="lone-surrogate"),
    param(Raw(b'{"title": "a\\u0000b"}'), id="nul-char"),
    param(Raw(b'{"title": NaN}'), id="NaN"),
]


def _case_url(w: World, state: str = "handling", rest: str = "") -> str:
    return f"/api/v1/cases/{w.cases[state]}{rest}"


def url(w: World, path: str) -> str:
    """`/api/v1/cases/{handling}/attachments/{attachment}` with the world's ids filled in."""
    return path.format(**w.cases, attachment=w.attachment)


# every JSON endpoint, acting as a user allowed to use it, with a body it accepts
JSON_ENDPOINTS = {
    "POST /units": ("admin", "post", "/api/v1/units",
                    {"code": "NEW1", "name": "新单位", "kind": "department", "parent": "WS"}),
    "POST /users": ("admin", "post", "/api/v1/users",
                    {"username": "newbie", "password": PASSWORD, "name": "新人", "role": "grid_worker",
                     "unit": "FC-G1"}),
    "POST /catalog": ("admin", "post", "/api/v1/catalog",
                      {"code": "NEW01", "name": "新事项", "category": "其他/其他", "lead_unit": "ZJJ"}),
    "PUT /catalog/override": ("admin", "put", "/api/v1/catalog/ENV01/townships/LHL", {"lead_unit": "ZJJ"}),
    "POST /cases": ("gw_fc1", "post", "/api/v1/cases", {"title": "新事件", "township": "FC"}),
    "POST actions/urge": ("liaison_fc", "post", "/api/v1/cases/{handling}/actions/urge", {"note": "请尽快办理"}),
}


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", NOT_JSON + NOT_AN_OBJECT + WEIRD_JSON)
def test_every_json_endpoint_refuses_broken_json(world, endpoint, body):
    who, method, path, _ = JSON_ENDPOINTS[endpoint]
    with changes_nothing(world):
        refused(send(world, who, method, url(world, path), body))


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_every_json_endpoint_refuses_unknown_fields_nulls_wrong_shapes_and_unstorable_text(world, endpoint):
    who, method, path, good = JSON_ENDPOINTS[endpoint]
    text_field = next(k for k in ("name", "title", "note", "lead_unit") if k in good)  # free text where there is any
    bodies = [{**good, "bogus": 1}, {**good, "id": 1}, {**good, "version": 99}, [good], Raw(b"null"),
              {**good, text_field: 5}, {**good, text_field: [good[text_field]]}, {**good, text_field: good},
              {**good, text_field: good[text_field] + "\u0000"},
              Raw(json.dumps({**good, text_field: good[text_field] + "\ud800"}).encode())]  # lone surrogate
    if endpoint != "PUT /catalog/override":  # every field of an override is optional: null clears it
        bodies.append({k: None for k in good})
    with changes_nothing(world):
        for body in bodies:
            err = refused(send(world, who, method, url(world, path), body), 422)
            assert err["code"] == "validation_error", (body, err)


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_every_json_endpoint_refuses_a_body_over_256_kb_with_413(world, endpoint):
    who, method, path, good = JSON_ENDPOINTS[endpoint]
    padded = json.dumps({**good, "padding": "x" * 300_000}).encode()
    with changes_nothing(world):
        refused(send(world, who, method, url(world, path), Raw(padded)), 413, "too_large")
        # the same without a Content-Length header (chunked): counted while it arrives
        refused(send(world, who, method, url(world, path), headers={"Content-Type": "application/json"},
                     content=iter([padded[i:i + 65536] for i in range(0, len(padded), 65536)])), 413, "too_large")


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_every_json_endpoint_refuses_form_and_text_bodies(world, endpoint):
    who, method, path, good = JSON_ENDPOINTS[endpoint]
    with changes_nothing(world):
        refused(send(world, who, method, url(world, path), data={k: str(v) for k, v in good.items()}), 422)
        refused(send(world, who, method, url(world, path), content=json.dumps(good).encode(),
                     headers={"Content-Type": "text/plain"}), 422)


def test_text_that_is_unusual_but_valid_is_kept_as_written(world):
    """The control for the refusals above: emoji (surrogate pairs in JSON), Hangul, a literal backslash-u."""
    title = "东街😀 한글 \\u0000 O'Brien; DROP TABLE cases;--"
    r = world.api.as_("gw_fc1").post("/api/v1/cases", content=json.dumps({"title": title}).encode(),
                                     headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert world.api.get("gw_fc1", r.json()["id"])["title"] == title


# ---- POST /cases --------------------------------------------------------------------------------------
BAD_REPORTS = [
    param({}, "validation_error", id="no-title"),
    param({"title": ""}, "validation_error", id="empty-title"),
    param({"title": "   "}, "validation_error", id="blank-title"),
    param({"title": BIG}, "validation_error", id="100kB-title"),
    param({"title": "x", "description": BIG}, "validation_error", id="100kB-description"),
    param({"title": "x", "address": BIG}, "validation_error", id="100kB-address"),
    param({"title": 123}, "validation_error", id="int-title"),
    param({"title": ["东街"]}, "validation_error", id="list-title"),
    param({"title": {"zh": "东街"}}, "validation_error", id="object-title"),
    param({"title": None}, "validation_error", id="null-title"),
    param({"title": "x", "description": None}, "validation_error", id="null-description"),
    param({"title": "x", "lat": "37.45", "lon": "112.05"}, "validation_error", id="string-coordinates"),
    param({"title": "x", "lat": True, "lon": 112.05}, "validation_error", id="bool-lat"),
    param({"title": "x", "lat": 91, "lon": 112}, "validation_error", id="lat-91"),
    param({"title": "x", "lat": 37, "lon": -181}, "validation_error", id="lon-minus-181"),
    param({"title": "x", "lat": 1e308, "lon": 1e308}, "validation_error", id="lat-1e308"),
    param({"title": "x", "lat": 10**400, "lon": 0}, "validation_error", id="lat-400-digit-int"),
    param({"title": "x", "urgency": "asap"}, "validation_error", id="unknown-urgency"),
    param({"title": "x", "source": "twitter"}, "validation_error", id="unknown-source"),
    param({"title": "x", "status": "closed"}, "validation_error", id="client-sets-status"),
    param({"title": "x", "category": "NOPE"}, "unknown_category", id="unknown-category"),
    param({"title": "x", "category": "../../etc/passwd"}, "validation_error", id="path-category"),
    param({"title": "x", "township": "NOPE"}, "unknown_unit", id="unknown-township"),
    param({"title": "x", "township": "ZRZY"}, "unknown_unit", id="department-as-township"),
    param({"title": "x", "grid": "NOPE"}, "unknown_unit", id="unknown-grid"),
    param({"title": "x", "grid": "FC"}, "unknown_unit", id="township-as-grid"),
    param({"title": "x", "township": "FC", "grid": "LHL-G1"}, "invalid", id="grid-of-another-township"),
    param({"title": "x", "township": "F" * 65}, "validation_error", id="65-char-code"),
    param({"title": "x\u0000y"}, "validation_error", id="nul-in-title"),
    param({"title": "x", "description": "a\u0000b"}, "validation_error", id="nul-in-description"),
]


@pytest.mark.parametrize("body,code", BAD_REPORTS)
def test_report_refuses_bad_fields(world, body, code):
    with changes_nothing(world):
        refused(world.api.as_("gw_fc1").post("/api/v1/cases", json=body), 422, code)


@pytest.mark.parametrize("who,body", [
    param("gw_fc1", {"title": "x", "township": "LHL"}, id="grid-worker-into-another-township"),
    param("disp_fc", {"title": "x", "grid": "LHL-G1"}, id="dispatcher-into-another-township"),
    param("zrzy_off1", {"title": "x", "township": "FC"}, id="department-officer"),
    param("admin", {"title": "x", "township": "FC"}, id="admin"),
])
def test_report_by_someone_who_may_not_is_403(world, who, body):
    with changes_nothing(world):
        refused(world.api.as_(who).post("/api/v1/cases", json=body), 403, "forbidden")


# ---- POST /cases/{id}/actions/{action} ----------------------------------------------------------------
# the case state each action starts from, the user who may take it there, and a body it accepts
ACTIONS = {
    "accept": ("reported", "disp_fc", {"category": "LAND01"}),
    "reject": ("reported", "disp_fc", {"reason": "不属实"}),
    "merge": ("reported", "disp_fc", {"into": Ref("reported2")}),
    "dispatch": ("accepted", "disp_fc", {"lead_unit": "ZRZY"}),
    "check_in": ("dispatched", "zrzy_liaison", {"note": "已报到"}),
    "return": ("dispatched", "zrzy_liaison", {"reason": "非本部门职责"}),
    "escalate_dispute": ("returned", "disp_fc", {"reason": "职责不清"}),
    "arbitrate": ("disputed", "supervisor", {"lead_unit": "ZRZY"}),
    "request_extension": ("handling", "zrzy_liaison", {"working_days": 3, "reason": "需协调"}),
    "approve_extension": ("extension", "liaison_fc", {"note": "同意"}),
    "deny_extension": ("extension", "liaison_fc", {"note": "不同意"}),
    "suspend": ("handling", "liaison_fc", {"reason": "等待鉴定"}),
    "resume": ("suspended", "liaison_fc", {}),
    "feedback": ("handling", "zrzy_off1", {"outcome": "resolved", "result": "已拆除",
                                           "officers": ["zrzy_off1", "zrzy_off2"]}),
    "verify": ("feedback", "liaison_fc", {"passed": True, "rating": 5}),
    "urge": ("handling", "liaison_fc", {"note": "请尽快"}),
    "supervise": ("handling", "supervisor", {"note": "县级督办"}),
}


def resolve(w: World, body):
    if isinstance(body, dict):
        return {k: w.cases[v] if isinstance(v, Ref) else v for k, v in body.items()}
    return body


def _good_body(w: World, action: str) -> dict:
    return resolve(w, ACTIONS[action][2])


def act(w: World, action: str, body, headers: dict | None = None, case: str | None = None, who: str | None = None):
    state, actor, _ = ACTIONS[action]
    return send(w, who or actor, "post", _case_url(w, case or state, f"/actions/{action}"), body, headers)


def test_the_world_offers_each_action_to_its_actor(world):
    """Guards the tests below: each bad body is refused for itself, not because the action was off anyway."""
    for action, (state, who, _) in ACTIONS.items():
        assert action in world.api.get(who, world.cases[state])["allowed_actions"], (action, state, who)


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_refuses_broken_bodies(world, action):
    state = ACTIONS[action][0]
    good = _good_body(world, action)
    bodies = [{**good, "bogus": 1}, {**good, "status": "closed"}, {**good, "version": 1}, [good], Raw(b"[]"),
              Raw(b'"x"'), Raw(b"7"), Raw(b'{"note": '), Raw(b"{'note': 1}"), {**good, "note": BIG},
              {**good, "note": "a\u0000b"}, {k: [v] for k, v in good.items()} or {"note": "x"}]
    with changes_nothing(world, world.cases[state]):
        for body in bodies:
            err = refused(act(world, action, body), 422)
            assert err["code"] == "validation_error", (str(body)[:100], err)


BAD_ACTION_BODIES = [
    param("accept", {"category": "NOPE"}, "unknown_category", id="accept-unknown-category"),
    param("accept", {"category": 5}, "validation_error", id="accept-int-category"),
    param("accept", {"category": "../x"}, "validation_error", id="accept-path-category"),
    param("accept", {"urgency": "asap"}, "validation_error", id="accept-unknown-urgency"),
    param("accept", {"note": BIG}, "validation_error", id="accept-100kB-note"),
    param("reject", {}, "validation_error", id="reject-no-reason"),
    param("reject", {"reason": ""}, "validation_error", id="reject-empty-reason"),
    param("reject", {"reason": " \n\t "}, "validation_error", id="reject-blank-reason"),
    param("reject", {"reason": None}, "validation_error", id="reject-null-reason"),
    param("reject", {"reason": 123}, "validation_error", id="reject-int-reason"),
    param("reject", {"reason": ["不属实"]}, "validation_error", id="reject-list-reason"),
    param("reject", {"reason": {"zh": "不属实"}}, "validation_error", id="reject-object-reason"),
    param("reject", {"reason": BIG}, "validation_error", id="reject-100kB-reason"),
    param("reject", {"reason": "a\u0000b"}, "validation_error", id="reject-nul-reason"),
    param("merge", {}, "validation_error", id="merge-no-target"),
    param("merge", {"into": "abc"}, "validation_error", id="merge-into-abc"),
    param("merge", {"into": "1"}, "validation_error", id="merge-into-string-id"),
    param("merge", {"into": -1}, "validation_error", id="merge-into-negative"),
    param("merge", {"into": 0}, "validation_error", id="merge-into-zero"),
    param("merge", {"into": 1.5}, "validation_error", id="merge-into-float"),
    param("merge", {"into": True}, "validation_error", id="merge-into-true"),
    param("merge", {"into": None}, "validation_error", id="merge-into-null"),
    param("merge", {"into": int(HUGE_ID)}, "validation_error", id="merge-into-huge"),
    param("merge", {"into": 2**31 - 1}, "invalid", id="merge-into-missing-case"),
    param("merge", {"into": Ref("reported")}, "invalid", id="merge-into-itself"),
    param("merge", {"into": Ref("other_township")}, "invalid", id="merge-into-other-township"),
    param("merge", {"into": Ref("closed")}, "invalid", id="merge-into-closed-case"),
    param("dispatch", {"lead_unit": "NOPE"}, "unknown_unit", id="dispatch-unknown-unit"),
    param("dispatch", {"lead_unit": "FC"}, "invalid", id="dispatch-to-a-township"),
    param("dispatch", {"lead_unit": "WS"}, "invalid", id="dispatch-to-the-county"),
    param("dispatch", {"lead_unit": ["ZRZY"]}, "validation_error", id="dispatch-list-lead"),
    param("dispatch", {"assist_units": "ZJJ"}, "validation_error", id="dispatch-string-for-list"),
    param("dispatch", {"assist_units": ["NOPE"]}, "unknown_unit", id="dispatch-unknown-assist"),
    param("dispatch", {"assist_units": [1, 2]}, "validation_error", id="dispatch-int-assists"),
    param("dispatch", {"assist_units": ["ZJJ"] * 21}, "validation_error", id="dispatch-21-assists"),
    param("dispatch", {"assist_units": {"ZJJ": True}}, "validation_error", id="dispatch-object-assists"),
    param("check_in", {"note": 5}, "validation_error", id="check_in-int-note"),
    param("check_in", {"note": BIG}, "validation_error", id="check_in-100kB-note"),
    param("return", {}, "validation_error", id="return-no-reason"),
    param("return", {"reason": BIG}, "validation_error", id="return-100kB-reason"),
    param("escalate_dispute", {"reason": None}, "validation_error", id="escalate-null-reason"),
    param("arbitrate", {}, "validation_error", id="arbitrate-no-lead"),
    param("arbitrate", {"lead_unit": "NOPE"}, "unknown_unit", id="arbitrate-unknown-unit"),
    param("arbitrate", {"lead_unit": "LHL"}, "invalid", id="arbitrate-to-a-township"),
    param("arbitrate", {"lead_unit": "ZRZY", "assist_units": ["NOPE"]}, "unknown_unit", id="arbitrate-unknown-assist"),
    param("request_extension", {"working_days": "3", "reason": "x"}, "validation_error", id="ext-string-days"),
    param("request_extension", {"working_days": 0, "reason": "x"}, "validation_error", id="ext-zero-days"),
    param("request_extension", {"working_days": -1, "reason": "x"}, "validation_error", id="ext-negative-days"),
    param("request_extension", {"working_days": 61, "reason": "x"}, "validation_error", id="ext-61-days"),
    param("request_extension", {"working_days": 1.5, "reason": "x"}, "validation_error", id="ext-float-days"),
    param("request_extension", {"working_days": True, "reason": "x"}, "validation_error", id="ext-bool-days"),
    param("request_extension", {"working_days": int(HUGE_ID), "reason": "x"}, "validation_error",
          id="ext-huge-days"),
    param("request_extension", {"working_days": 3}, "validation_error", id="ext-no-reason"),
    param("approve_extension", {"note": ["x"]}, "validation_error", id="approve-list-note"),
    param("deny_extension", {"note": BIG}, "validation_error", id="deny-100kB-note"),
    param("suspend", {"reason": ""}, "validation_error", id="suspend-empty-reason"),
    param("resume", {"note": "x"}, "validation_error", id="resume-takes-no-fields"),
    param("feedback", {"outcome": "done", "result": "x"}, "validation_error", id="feedback-unknown-outcome"),
    param("feedback", {"outcome": "resolved"}, "validation_error", id="feedback-no-result"),
    param("feedback", {"outcome": "resolved", "result": BIG}, "validation_error", id="feedback-100kB-result"),
    param("feedback", {"outcome": "resolved", "result": "x", "officers": "zrzy_off1"}, "validation_error",
          id="feedback-string-for-officers"),
    param("feedback", {"outcome": "resolved", "result": "x", "officers": ["nobody", "zrzy_off1"]}, "invalid",
          id="feedback-unknown-officer"),
    param("feedback", {"outcome": "resolved", "result": "x", "officers": ["zrzy_off1", "sthj_off"]},
          "certified_officers_required", id="feedback-officer-of-another-unit"),  # names sthj_off and why
    param("feedback", {"outcome": "resolved", "result": "x", "officers": ["zrzy_off1", "zrzy_off3"]},
          "certified_officers_required", id="feedback-expired-certificate"),
    param("verify", {}, "validation_error", id="verify-no-passed"),
    param("verify", {"passed": "yes"}, "validation_error", id="verify-string-passed"),
    param("verify", {"passed": 1}, "validation_error", id="verify-int-passed"),
    param("verify", {"passed": None}, "validation_error", id="verify-null-passed"),
    param("verify", {"passed": True, "rating": 0}, "validation_error", id="verify-rating-0"),
    param("verify", {"passed": True, "rating": 6}, "validation_error", id="verify-rating-6"),
    param("verify", {"passed": True, "rating": "5"}, "validation_error", id="verify-string-rating"),
    param("verify", {"passed": True, "rating": 4.5}, "validation_error", id="verify-float-rating"),
    param("verify", {"passed": True, "satisfaction": "happy"}, "validation_error", id="verify-unknown-satisfaction"),
    param("urge", {}, "validation_error", id="urge-no-note"),
    param("urge", {"note": ""}, "validation_error", id="urge-empty-note"),
    param("supervise", {"note": BIG}, "validation_error", id="supervise-100kB-note"),
]


@pytest.mark.parametrize("action,body,code", BAD_ACTION_BODIES)
def test_action_refuses_bad_fields(world, action, body, code):
    body = resolve(world, body)
    case_id = world.cases[ACTIONS[action][0]]
    with changes_nothing(world, case_id):
        refused(act(world, action, body), 422, code)


@pytest.mark.parametrize("name", ["close", "ACCEPT", "accept ", "accept%00", "../accept", "a" * 33, "delete"])
def test_unknown_actions_are_refused(world, name):
    case_id = world.cases["reported"]
    with changes_nothing(world, case_id):
        r = world.api.as_("disp_fc").post(f"/api/v1/cases/{case_id}/actions/{name}", json={})
        refused(r)
        assert r.status_code in (404, 422)


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "9999999999", HUGE_ID, "", "1, 2", "*", "x" * 41, "版本"])
def test_a_malformed_if_match_is_422(world, value):
    case_id = world.cases["handling"]
    with changes_nothing(world, case_id):
        headers = {"If-Match": value.encode()}  # as bytes, so non-ASCII goes over the wire as it is
        refused(act(world, "urge", {"note": "请尽快"}, headers), 422)


def test_a_stale_if_match_is_409(world):
    case_id = world.cases["handling"]
    version = world.api.get("liaison_fc", case_id)["version"]
    with changes_nothing(world, case_id):
        for stale in (str(version - 1), f'"{version + 1}"', "0"):
            refused(act(world, "urge", {"note": "请尽快"}, {"If-Match": stale}), 409, "version_conflict")


@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_the_state_does_not_allow_is_422_even_with_a_good_body(world, action):
    case_id = world.cases["closed"]
    with changes_nothing(world, case_id):
        refused(act(world, action, _good_body(world, action), case="closed"), 422, "action_not_allowed")


# ---- ids in paths -----------------------------------------------------------------------------------
CASE_PATHS = [
    ("get", "/api/v1/cases/{id}"),
    ("get", "/api/v1/cases/{id}/timeline"),
    ("post", "/api/v1/cases/{id}/actions/urge"),
    ("post", "/api/v1/cases/{id}/attachments"),
    ("get", "/api/v1/cases/{id}/attachments"),
    ("get", "/api/v1/cases/{id}/attachments/1"),
]
BAD_IDS = ["abc", "-1", "0", "1.5", "1e3", "0x10", "2147483648", HUGE_ID, "-" + HUGE_ID, "%20", "1%00", "１"]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_bad_case_ids_are_422_on_every_case_endpoint(world, bad_id):
    with changes_nothing(world):
        for method, path in CASE_PATHS:
            kw = {"json": {"note": "请尽快"}} if path.endswith("urge") else {}
            if path.endswith("attachments") and method == "post":
                kw = {"files": {"file": ("a.jpg", b"photo", "image/jpeg")}}
            r = getattr(world.api.as_("supervisor"), method)(path.format(id=bad_id), **kw)
            refused(r, 422)


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_bad_attachment_ids_are_422(world, bad_id):
    with changes_nothing(world):
        refused(world.api.as_("supervisor").get(_case_url(world, "handling", f"/attachments/{bad_id}")), 422)


def test_ids_that_are_well_formed_but_unknown_are_404(world):
    sup = world.api.as_("supervisor")
    with changes_nothing(world):
        for method, path in CASE_PATHS:
            kw = {"json": {"note": "请尽快"}} if path.endswith("urge") else {}
            if path.endswith("attachments") and method == "post":
                kw = {"files": {"file": ("a.jpg", b"photo", "image/jpeg")}}
            refused(getattr(sup, method)(path.format(id=2**31 - 1), **kw), 404)
        refused(sup.get(_case_url(world, "handling", f"/attachments/{2**31 - 1}")), 404)
        # an attachment of one case is not reachable through another
        refused(sup.get(_case_url(world, "feedback", f"/attachments/{world.attachment}")), 404)


# ---- GET /cases query parameters -----------------------------------------------------------------------
BAD_QUERIES = [
    param({"page": "0"}, id="page-0"),
    param({"page": "-1"}, id="page-negative"),
    param({"page": "abc"}, id="page-abc"),
    param({"page": "1.5"}, id="page-float"),
    param({"page": HUGE_ID}, id="page-huge"),
    param({"page_size": "0"}, id="page_size-0"),
    param({"page_size": "101"}, id="page_size-101"),
    param({"page_size": "all"}, id="page_size-all"),
    param({"status": "bogus"}, id="unknown-status"),
    param({"status": "closed,bogus"}, id="one-unknown-status"),
    param({"status": "x" * 201}, id="201-char-status"),
    param({"township": "NOPE"}, id="unknown-township"),
    param({"township": "ZRZY"}, id="department-as-township"),
    param({"unit": "NOPE"}, id="unknown-unit"),
    param({"alert": "red"}, id="unknown-alert"),
    param({"q": "x" * 101}, id="101-char-q"),
    param({"q": "东街\u0000"}, id="nul-in-q"),
    param({"township": "\u0000"}, id="nul-in-township"),
    param({"status": "closed\u0000"}, id="nul-in-status"),
]


@pytest.mark.parametrize("params", BAD_QUERIES)
def test_case_list_refuses_bad_query_parameters(world, params):
    with changes_nothing(world):
        refused(world.api.as_("supervisor").get("/api/v1/cases", params=params), 422)


@pytest.mark.parametrize("q", [
    param("CS20261116" + "9" * 20, id="case-code-beyond-64-bits"),
    param("CS20261116" + "9" * 10, id="case-code-beyond-32-bits"),
])
def test_searching_for_a_case_code_with_a_huge_number_finds_nothing(world, q):
    r = world.api.as_("supervisor").get("/api/v1/cases", params={"q": q})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["items"] == []


@pytest.mark.parametrize("params", [{"bogus": "1"}, {"page": "2", "page_size": "100"}, {"q": "%_"}, {"q": "'"}])
def test_case_list_ignores_unknown_parameters_and_escapes_search_text(world, params):
    r = world.api.as_("supervisor").get("/api/v1/cases", params=params)
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize("path", ["/api/v1/units", "/api/v1/users", "/api/v1/catalog", "/api/v1/cases"])
def test_list_endpoints_ignore_parameters_they_do_not_know_but_refuse_nul(world, path):
    admin = world.api.as_("admin")
    r = admin.get(path, params={"sort": "../../etc/passwd", "limit": HUGE_ID, "fields": "password_hash"})
    assert r.status_code == 200, r.text[:300]
    assert "$argon2" not in r.text and "password" not in r.text  # never, however asked
    with changes_nothing(world):
        refused(admin.get(path, params={"sort": "name\u0000"}), 422)


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/cases", "/mine", "/", "/open311/v2/services.json",
                                  "/healthz", "/static/app.css"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_cookie_header_that_is_not_utf8_is_a_400_on_every_path(world, path, method):
    """Browsers never send such a header, anyone else can: it was a 500 with two tracebacks before any route."""
    # raw ASGI: test clients re-encode header values as UTF-8, a raw socket does not
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"cookie", b"chuishao_session=\xc3\xa9\xff")],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    with changes_nothing(world):
        world.client.portal.call(world.client.app, scope, receive, send)
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    assert start["status"] == 400, (start, body[:300])
    assert json.loads(body)["error"]["code"] == "bad_cookie"


# ---- admin: units, users, catalog, overrides -------------------------------------------------------------
def _unit(**kw):
    return {"code": "NEW1", "name": "新单位", "kind": "department", "parent": "WS", **kw}


def _user(**kw):
    return {"username": "newbie", "password": PASSWORD, "name": "新人", "role": "department_officer",
            "unit": "ZRZY", **kw}


def _item(**kw):
    return {"code": "NEW01", "name": "新事项", "category": "其他/其他", "lead_unit": "ZJJ", **kw}


SQUARE = {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]]]}
GRID = json.dumps(_unit(kind="grid", parent="FC", polygon=SQUARE)).encode()  # a grid the admin could create

BAD_ADMIN = [
    # units
    param("/units", _unit(code="../x"), 422, id="unit-path-code"),
    param("/units", _unit(code="F" * 65), 422, id="unit-65-char-code"),
    param("/units", _unit(code=5), 422, id="unit-int-code"),
    param("/units", _unit(code=""), 422, id="unit-empty-code"),
    param("/units", _unit(name=BIG), 422, id="unit-100kB-name"),
    param("/units", _unit(name=""), 422, id="unit-empty-name"),
    param("/units", _unit(name="a\u0000b"), 422, id="unit-nul-name"),
    param("/units", _unit(kind="city"), 422, id="unit-unknown-kind"),
    param("/units", _unit(parent="NOPE"), 422, id="unit-unknown-parent"),
    param("/units", _unit(parent=None), 422, id="unit-no-parent"),
    param("/units", _unit(kind="grid", parent="ZRZY"), 422, id="grid-under-a-department"),
    param("/units", _unit(kind="county", parent=None), 409, id="second-county"),
    param("/units", _unit(code="FC"), 409, id="unit-duplicate-code"),
    param("/units", _unit(polygon="POLYGON((1 1,2 1,2 2,1 1))"), 422, id="unit-string-polygon"),
    param("/units", _unit(kind="grid", parent="FC", polygon={"type": "Point", "coordinates": [1, 2]}), 422,
          id="grid-point-polygon"),
    param("/units", _unit(kind="grid", parent="FC", polygon={"type": "Polygon", "coordinates": "x"}), 422,
          id="grid-string-coordinates"),
    param("/units", _unit(kind="grid", parent="FC", polygon={"type": "Feature", "geometry": None}), 422,
          id="grid-feature-without-geometry"),
    param("/units", _unit(polygon=SQUARE), 422, id="polygon-on-a-department"),
    param("/units", Raw(GRID.replace(b"2]", b"NaN]")), 422, id="grid-polygon-with-NaN"),
    param("/units", Raw(GRID.replace(b"2]", b"1e999]")), 422, id="grid-polygon-with-1e999"),
    param("/units", Raw(GRID.replace(b"]]]", b"]]], " + b'"properties": ' + b"[" * 500 + b"]" * 500)), 422,
          id="grid-polygon-500-deep"),
    # users
    param("/users", _user(role="superuser"), 422, id="user-unknown-role"),
    param("/users", _user(role=1), 422, id="user-int-role"),
    param("/users", _user(role=["admin"]), 422, id="user-list-role"),
    param("/users", _user(unit="NOPE"), 422, id="user-unknown-unit"),
    param("/users", _user(unit=7), 422, id="user-int-unit"),
    param("/users", _user(role="grid_worker", unit="ZRZY"), 422, id="grid-worker-in-a-department"),
    param("/users", _user(username="admin"), 409, id="user-duplicate"),
    param("/users", _user(username="../x"), 422, id="user-path-username"),
    param("/users", _user(username=123), 422, id="user-int-username"),
    param("/users", _user(password="short"), 422, id="user-short-password"),
    param("/users", _user(password="p" * 129), 422, id="user-129-char-password"),
    param("/users", _user(password=12345678), 422, id="user-int-password"),
    param("/users", _user(name=BIG), 422, id="user-100kB-name"),
    param("/users", _user(name="a\u0000b"), 422, id="user-nul-name"),
    param("/users", _user(certificate_no="晋执-9", certificate_expires="2026-13-45"), 422, id="cert-2026-13-45"),
    param("/users", _user(certificate_no="晋执-9", certificate_expires="2026-02-30"), 422, id="cert-2026-02-30"),
    param("/users", _user(certificate_no="晋执-9", certificate_expires="31/12/2026"), 422, id="cert-dd-mm-yyyy"),
    param("/users", _user(certificate_no="晋执-9", certificate_expires="tomorrow"), 422, id="cert-tomorrow"),
    param("/users", _user(certificate_no="晋执-9", certificate_expires=""), 422, id="cert-empty"),
    param("/users", _user(certificate_no="晋执-9", certificate_expires="99999-01-01"), 422, id="cert-year-99999"),
    param("/users", _user(certificate_no="晋执-9", certificate_expires=20261231), 422, id="cert-int"),
    param("/users", _user(certificate_no="晋执-9", certificate_expires=["2026-12-31"]), 422, id="cert-list"),
    param("/users", _user(certificate_no=12345), 422, id="cert-int-number"),
    param("/users", _user(certificate_no="x" * 65), 422, id="cert-65-char-number"),
    param("/users", _user(password_hash="$argon2id$..."), 422, id="user-password-hash"),
    param("/users", _user(active=False), 422, id="user-active-flag"),
    # catalog
    param("/catalog", _item(lead_unit="NOPE"), 422, id="item-unknown-lead"),
    param("/catalog", _item(lead_unit="FC"), 422, id="item-township-lead"),
    param("/catalog", _item(lead_unit=None), 422, id="item-no-lead-not-devolved"),
    param("/catalog", _item(assist_units=["NOPE"]), 422, id="item-unknown-assist"),
    param("/catalog", _item(assist_units="ZJJ"), 422, id="item-string-assists"),
    param("/catalog", _item(code="LAND01"), 409, id="item-duplicate"),
    param("/catalog", _item(code="x y"), 422, id="item-space-code"),
    param("/catalog", _item(name=BIG), 422, id="item-100kB-name"),
    param("/catalog", _item(category=None), 422, id="item-null-category"),
    param("/catalog", _item(devolved="yes"), 422, id="item-string-devolved"),
    param("/catalog", _item(enforcement=1), 422, id="item-int-enforcement"),
    param("/catalog", _item(limits="fast"), 422, id="item-string-limits"),
    param("/catalog", _item(limits={"forever": {"normal": "1d"}}), 422, id="item-unknown-clock"),
    param("/catalog", _item(limits={"handle": {"slow": "1d"}}), 422, id="item-unknown-urgency"),
    param("/catalog", _item(limits={"handle": {"normal": "0d"}}), 422, id="item-zero-limit"),
    param("/catalog", _item(limits={"handle": {"normal": "1y"}}), 422, id="item-unknown-unit-of-time"),
    param("/catalog", _item(limits={"handle": {"normal": "-1d"}}), 422, id="item-negative-limit"),
    param("/catalog", _item(limits={"handle": {"normal": 5}}), 422, id="item-int-limit"),
    param("/catalog", _item(limits={"handle": "5d"}), 422, id="item-limit-without-urgency"),
]


@pytest.mark.parametrize("path,body,status", BAD_ADMIN)
def test_admin_refuses_bad_units_users_and_catalog_items(world, path, body, status):
    with changes_nothing(world):
        refused(send(world, "admin", "post", "/api/v1" + path, body), status)


@pytest.mark.parametrize("ring", [
    param([[0, 0], [10**400, 0], [10**400, 10**400], [0, 0]], id="400-digit-coordinates"),
    param([[100, 100], [500, 100], [500, 500], [100, 100]], id="outside-wgs84"),
    param([[True, False], [True, True], [False, True], [True, False]], id="bool-coordinates"),
])
def test_a_grid_polygon_must_be_made_of_real_coordinates(county, ring):
    """Uses a fresh county, so that a regression cannot spoil the shared one."""
    polygon = {"type": "Polygon", "coordinates": [ring]}
    r = county.as_("admin").post("/api/v1/units", json=_unit(kind="grid", parent="LHL", polygon=polygon))
    refused(r, 422)


BAD_OVERRIDES = [
    param("NOPE", "FC", {"lead_unit": "ZJJ"}, 404, id="unknown-item"),
    param("LAND01", "NOPE", {"lead_unit": "ZJJ"}, 404, id="unknown-township"),
    param("LAND01", "ZRZY", {"lead_unit": "ZJJ"}, 404, id="department-as-township"),
    param("LAND01", "FC-G1", {"lead_unit": "ZJJ"}, 404, id="grid-as-township"),
    param("LAND01", "F" * 65, {"lead_unit": "ZJJ"}, 422, id="65-char-township"),
    param("LAND..01", "FC", {"lead_unit": "ZJJ"}, 404, id="dots-in-item"),
    param("LAND01", "FC%00", {"lead_unit": "ZJJ"}, 422, id="nul-in-township"),
    param("LAND%2001", "FC", {"lead_unit": "ZJJ"}, 422, id="space-in-item"),
    param("LAND01", "FC", {"lead_unit": "NOPE"}, 422, id="unknown-lead"),
    param("LAND01", "FC", {"lead_unit": "LHL"}, 422, id="township-as-lead"),
    param("LAND01", "LHL", {"lead_unit": "FC-ZFD"}, 422, id="another-townships-team"),
    param("LAND01", "FC", {"assist_units": ["NOPE"]}, 422, id="unknown-assist"),
    param("LAND01", "FC", {"assist_units": "ZJJ"}, 422, id="string-for-assists"),
    param("LAND01", "FC", {"limits": {"handle": {"normal": "forever"}}}, 422, id="bad-limit"),
    param("LAND01", "FC", {"limits": []}, 422, id="list-limits"),
    param("LAND01", "FC", {"lead_unit": "ZJJ", "township": "LHL"}, 422, id="unknown-field"),
]


@pytest.mark.parametrize("code,township,body,status", BAD_OVERRIDES)
def test_township_override_refuses_unknown_codes_and_bad_bodies(world, code, township, body, status):
    with changes_nothing(world):
        refused(world.api.as_("admin").put(f"/api/v1/catalog/{code}/townships/{township}", json=body), status)


@pytest.mark.parametrize("unit", ["NOPE", "../x", "x" * 65, "a b", "\u0000"])
def test_user_list_refuses_unknown_or_malformed_unit_codes(world, unit):
    with changes_nothing(world):
        refused(world.api.as_("admin").get("/api/v1/users", params={"unit": unit}), 422)


# ---- POST /auth/token ---------------------------------------------------------------------------------
BAD_LOGINS = [
    param({"username": "disp_fc", "password": "wrong-password"}, 401, id="wrong-password"),
    param({"username": "nobody", "password": PASSWORD}, 401, id="unknown-user"),
    param({"username": "DISP_FC", "password": "wrong-password"}, 401, id="username-case"),  # any case signs in
    param({"username": "disp_fc' OR '1'='1", "password": "' OR '1'='1"}, 401, id="sql-injection"),
    param({"username": "x" * 10_000, "password": PASSWORD}, 401, id="10k-username"),
    param({"username": "disp_fc", "password": "p" * 10_000}, 401, id="10k-password"),
    param({"username": "disp\u0000fc", "password": PASSWORD}, 422, id="nul-in-username"),
    param({"username": "disp_fc", "password": PASSWORD + "\u0000"}, 422, id="nul-in-password"),
    param({"username": "disp_fc"}, 422, id="no-password"),
    param({"password": PASSWORD}, 422, id="no-username"),
    param({"username": "disp_fc", "password": ""}, 422, id="empty-password"),
    param({"username": "disp_fc", "password": PASSWORD, "grant_type": "client_credentials"}, 422,
          id="wrong-grant-type"),
]


@pytest.mark.parametrize("form,status", BAD_LOGINS)
def test_login_refuses_bad_credentials_and_forms(world, form, status):
    with changes_nothing(world):
        r = world.client.post("/api/v1/auth/token", data=form)
        err = refused(r, status)
        assert "access_token" not in r.text
        if r.status_code == 401:
            assert r.headers.get("www-authenticate") == "Bearer", err


def test_login_refuses_json_huge_and_garbage_bodies(world):
    c = world.client
    with changes_nothing(world):
        refused(c.post("/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}), 422)
        refused(c.post("/api/v1/auth/token", data={"username": "admin", "password": "x" * 300_000}), 413)
        refused(c.post("/api/v1/auth/token", content=b"\xff\xfe%%%&&&==",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}))


# ---- 401 and 403 ---------------------------------------------------------------------------------------
# (method, path, body) for every endpoint under /api/v1, each with a body it would accept from the right user
EVERY_ENDPOINT = [
    ("get", "/api/v1/units", None),
    ("post", "/api/v1/units", _unit()),
    ("get", "/api/v1/users", None),
    ("post", "/api/v1/users", _user()),
    ("get", "/api/v1/catalog", None),
    ("post", "/api/v1/catalog", _item()),
    ("put", "/api/v1/catalog/ENV01/townships/LHL", {"lead_unit": "ZJJ"}),
    ("post", "/api/v1/cases", {"title": "新事件", "township": "FC"}),
    ("get", "/api/v1/cases", None),
    ("get", "/api/v1/cases/{handling}", None),
    ("get", "/api/v1/cases/{handling}/timeline", None),
    ("post", "/api/v1/cases/{handling}/actions/urge", {"note": "请尽快"}),
    ("post", "/api/v1/cases/{handling}/attachments", "file"),
    ("get", "/api/v1/cases/{handling}/attachments", None),
    ("get", "/api/v1/cases/{handling}/attachments/{attachment}", None),
    ("get", "/api/v1/me", None),
]


def _claims(w: World, **kw) -> dict:
    now = int(w.clock().timestamp())
    return {"sub": "admin", "uid": 1, "role": "admin", "unit": 1, "unit_code": "WS", "township": None,
            "iat": now, "exp": now + 3600, **kw}


BAD_TOKENS = {
    "no header": lambda w: None,
    "empty bearer": lambda w: "Bearer ",
    "garbage": lambda w: "Bearer not-a-token",
    "10 kB garbage": lambda w: "Bearer " + "A" * 10_000,
    "basic auth": lambda w: "Basic YWRtaW46YWRtaW4tcGFzcy0xMjM=",  # admin:admin-pass-123
    "another secret": lambda w: "Bearer " + jwt.encode(_claims(w), "another-secret-of-at-least-thirty-two-b"),
    "alg none": lambda w: "Bearer " + jwt.encode(_claims(w), None, algorithm="none"),
    "no user id": lambda w: "Bearer " + jwt.encode({k: v for k, v in _claims(w).items() if k != "uid"}, SECRET),
    "tampered role": lambda w: "Bearer " + _tampered(w),
    "expired": lambda w: "Bearer " + jwt.encode(_claims(w, exp=int(w.clock().timestamp()) - 1), SECRET),
}


def _tampered(w: World) -> str:
    """A grid worker's real token with the payload swapped for an admin's, signature kept."""
    header, _, signature = w.api.token("gw_fc1").split(".")
    payload = jwt.utils.base64url_encode(json.dumps(_claims(w)).encode()).decode()
    return f"{header}.{payload}.{signature}"


def _call(w: World, method: str, path: str, body, headers: dict):
    if body == "file":
        return getattr(w.client, method)(url(w, path), headers=headers,
                                         files={"file": ("a.jpg", b"photo", "image/jpeg")})
    return send(w, None, method, url(w, path), body, headers)


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_every_endpoint_refuses_a_missing_or_bad_token_with_401(world, token):
    auth = BAD_TOKENS[token](world)
    headers = {"Authorization": auth} if auth else {}
    with changes_nothing(world):
        for method, path, body in EVERY_ENDPOINT:
            r = _call(world, method, path, body, headers)
            err = refused(r, 401, "unauthorized")
            assert r.headers.get("www-authenticate") == "Bearer", (method, path, err)


def test_a_token_expires_on_every_endpoint(world):
    token = world.api.token("admin")  # issued (and cached) while the clock stood at START
    start = world.clock.now
    world.clock.now = start + timedelta(hours=12, seconds=1)
    try:
        with changes_nothing(world):
            for method, path, body in EVERY_ENDPOINT:
                err = refused(_call(world, method, path, body, {"Authorization": f"Bearer {token}"}), 401)
                assert "过期" in err["message"], (method, path, err)
    finally:
        world.clock.now = start


WRONG_ROLE = [
    param("gw_fc1", "post", "/api/v1/units", _unit(), id="grid-worker-creates-unit"),
    param("supervisor", "post", "/api/v1/units", _unit(), id="supervisor-creates-unit"),
    param("disp_fc", "post", "/api/v1/users", _user(role="admin", unit="WS"), id="dispatcher-creates-admin"),
    param("supervisor", "get", "/api/v1/users", None, id="supervisor-lists-users"),
    param("zrzy_liaison", "post", "/api/v1/catalog", _item(), id="department-creates-item"),
    param("liaison_fc", "put", "/api/v1/catalog/ENV01/townships/FC", {"lead_unit": "ZJJ"},
          id="liaison-overrides-catalog"),
    param("disp_lhl", "get", "/api/v1/cases/{handling}", None, id="other-township-reads-case"),
    param("gw_fc2", "get", "/api/v1/cases/{handling}/timeline", None, id="other-grid-worker-reads-timeline"),
    param("sthj_liaison", "get", "/api/v1/cases/{handling}/attachments", None, id="unwhistled-department-lists"),
    param("gw_lhl", "get", "/api/v1/cases/{handling}/attachments/{attachment}", None,
          id="other-township-downloads"),
    param("disp_lhl", "post", "/api/v1/cases/{handling}/actions/urge", {"note": "请尽快"},
          id="other-township-urges"),
    param("sthj_off", "post", "/api/v1/cases/{handling}/actions/feedback",
          {"outcome": "resolved", "result": "已拆除"}, id="unwhistled-department-feeds-back"),
    param("gw_fc2", "post", "/api/v1/cases/{handling}/attachments", "file", id="other-grid-worker-uploads"),
]


@pytest.mark.parametrize("who,method,path,body", WRONG_ROLE)
def test_a_valid_token_for_the_wrong_role_or_scope_is_403(world, who, method, path, body):
    headers = {"Authorization": f"Bearer {world.api.token(who)}"}
    with changes_nothing(world, world.cases["handling"]):
        refused(_call(world, method, path, body, headers), 403, "forbidden")


def test_unknown_paths_and_methods_are_refused_in_the_error_shape(world):
    sup = world.api.as_("admin")
    case = world.cases["handling"]
    with changes_nothing(world, case):
        refused(sup.get("/api/v1/nothing-here"), 404)
        auth = {"Authorization": f"Bearer {world.api.token('admin')}"}
        refused(world.client.delete(f"/api/v1/cases/{case}", headers=auth), 405)
        refused(sup.put(f"/api/v1/cases/{case}", json={"status": "closed"}), 405)
        refused(sup.get(f"/api/v1/cases/{case}/actions/urge"), 405)
        refused(sup.post("/api/v1/units/FC", json={"name": "x"}), 404)


# ---- attachments ----------------------------------------------------------------------------------------
def multipart(filename: bytes | None, content: bytes = b"\xff\xd8photo", content_type: bytes = b"image/jpeg",
              field: bytes = b"file", disposition: bytes | None = None) -> tuple[bytes, dict]:
    """A multipart body built by hand, so file names reach the server byte for byte (httpx would escape them)."""
    boundary = b"hostile-boundary-7MA4YWxkTrZu0gW"
    if disposition is None:
        disposition = b'form-data; name="' + field + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
    body = (b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\nContent-Type: " + content_type
            + b"\r\n\r\n" + content + b"\r\n--" + boundary + b"--\r\n")
    return body, {"Content-Type": "multipart/form-data; boundary=" + boundary.decode()}


def upload(w: World, body_headers: tuple[bytes, dict], case: str = "handling", who: str = "gw_fc1"):
    body, headers = body_headers
    return w.api.as_(who).post(_case_url(w, case, "/attachments"), content=body, headers=headers)


BAD_NAMES = [
    param(b"../../x", id="dot-dot-slash"),
    param(b"..\\x", id="dot-dot-backslash"),
    param(b"/etc/passwd", id="absolute"),
    param(b"x\\..\\..\\win.ini", id="windows-traversal"),
    param(b"photos/../../../etc/passwd", id="nested-traversal"),
    param(b"a\x00b.jpg", id="NUL"),
    param(b"a\x01b.jpg", id="SOH"),
    param(b"a\x1bb.jpg", id="ESC"),
    param(b"a\tb.jpg", id="tab"),
    param(b"a\x7fb.jpg", id="DEL"),
    param("a\u0085b.jpg".encode(), id="C1-NEL"),
    param("photo\u202egpj.exe".encode(), id="right-to-left-override"),
    param("a\u2028b.jpg".encode(), id="line-separator"),
    param(b"", id="empty"),
    param(b".", id="dot"),
    param(b"..", id="dot-dot"),
    param(b"...", id="three-dots"),
    param(b".htaccess", id="hidden"),
    param(b"x" * 201, id="201-chars"),
    param(None, id="no-filename"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_upload_refuses_path_tricks_and_control_characters_in_file_names(world, name):
    with changes_nothing(world, world.cases["handling"]):
        refused(upload(world, multipart(name)), 422)


@pytest.mark.parametrize("disposition", [
    param(b"form-data; name=\"file\"; filename*=UTF-8''..%2F..%2Fx", id="rfc2231-traversal"),
    param(b"form-data; name=\"file\"; filename*=UTF-8''a%00b.jpg", id="rfc2231-NUL"),
    param(b'form-data; name="other"; filename="a.jpg"', id="wrong-field-name"),
    param(b"attachment", id="no-form-data"),
])
def test_upload_refuses_tricky_content_dispositions(world, disposition):
    with changes_nothing(world, world.cases["handling"]):
        refused(upload(world, multipart(None, disposition=disposition)))


def test_upload_refuses_hostile_content_types_and_broken_multipart(world):
    case = world.cases["handling"]
    url = _case_url(world, "handling", "/attachments")
    gw = world.api.as_("gw_fc1")
    with changes_nothing(world, case):
        body, headers = multipart(b"a.jpg")
        refused(gw.post(url, content=body, headers={"Content-Type": "multipart/form-data"}))  # no boundary
        refused(gw.post(url, content=body[: len(body) // 2], headers=headers))  # cut short
        refused(gw.post(url, content=b"just bytes", headers=headers))  # no parts at all
        refused(gw.post(url, json={"file": "aGVsbG8="}), 422)  # JSON, not multipart
        refused(gw.post(url, data={"file": "not a file"}), 422)  # a text field, not a file
        refused(upload(world, multipart(b"a.jpg", content_type=b"image/jpeg\x00text/html")))  # NUL in its type


def test_upload_refuses_an_empty_file(world):
    with changes_nothing(world, world.cases["handling"]):
        refused(upload(world, multipart(b"empty.jpg", content=b"")), 422)


@pytest.mark.parametrize("size", [MiB + 1, MiB + 60 * 1024, 2 * MiB, 20 * MiB])
def test_upload_refuses_a_file_over_the_limit_with_413(world, size):
    with changes_nothing(world, world.cases["handling"]):
        refused(upload(world, multipart(b"big.jpg", content=b"\xff" * size)), 413, "too_large")


def test_upload_refuses_an_oversized_file_sent_without_content_length(world):
    body, headers = multipart(b"big.jpg", content=b"\xff" * (3 * MiB))
    chunks = iter([body[i:i + 65536] for i in range(0, len(body), 65536)])
    with changes_nothing(world, world.cases["handling"]):
        r = world.api.as_("gw_fc1").post(_case_url(world, "handling", "/attachments"), content=chunks,
                                         headers=headers)
        refused(r, 413, "too_large")


@pytest.mark.parametrize("case,who,status", [
    param("closed", "gw_fc1", 422, id="closed-case"),
    param("other_township", "gw_fc1", 403, id="case-outside-scope"),
])
def test_upload_to_a_case_that_takes_none_writes_no_file(world, case, who, status):
    unique = f"not stored anywhere {case}".encode()
    with changes_nothing(world, world.cases[case]):
        refused(upload(world, multipart(b"a.jpg", content=unique), case=case, who=who), status)


def test_the_attachment_made_in_setup_is_still_served(world):
    """The control for the upload refusals: the one good upload is listed and downloads intact."""
    gw = world.api.as_("gw_fc1")
    listed = gw.get(_case_url(world, "handling", "/attachments")).json()
    assert [a["filename"] for a in listed] == ["现场.jpg"]
    r = gw.get(_case_url(world, "handling", f"/attachments/{world.attachment}"))
    assert r.status_code == 200 and r.content == b"\xff\xd8photo"


def test_data_dir_holds_only_the_stored_attachment(world):
    root = world.settings.data_dir
    files = [p for p in root.rglob("*") if p.is_file()]
    assert [p.parent.parent for p in files] == [root / "attachments"], files
    assert not [p for p in files if p.name.startswith(".upload-")]
    assert all(Path(p).resolve().is_relative_to(root.resolve()) for p in files)

"""/openapi.json says what every answer and every action body looks like (issue 14: it said nothing, so an
integrator reading /docs and an API fuzzer checking answers against the schema learned nothing).

The document is walked as an integrator's tooling would read it, and real answers are checked against what it says."""

import asyncio

import jsonschema
import pytest

from chuishao.api.app import create_app
from chuishao.api.open311_params import QUERY_FIELDS, REQUEST_FIELDS, UPDATE_FIELDS
from chuishao.flows import lifecycle as lc
from chuishao.flows.commands import parse_body
from chuishao.flows.demo.county import DEPT_BY_CODE, ITEM_BY_CODE
from chuishao.flows.jobs import run_bulletin, run_checkpoint
from chuishao.flows.lifecycle import BY_ACTION
from tests.conftest import test_settings

ACT = ("/api/v1/cases/{case_id}/actions/{action}", "post")


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi")
    return create_app(test_settings(f"sqlite:///{tmp}/x.db", tmp)).openapi()


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _answer_schema(doc: dict, path: str, method: str, status: int) -> dict:
    return doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


def test_every_operation_says_what_it_answers(doc):
    """Each operation has a success answer; unless it is 204 (no body), every content type it answers in has a
    schema, and a JSON answer names its fields (an object with properties, or an array of such)."""
    vague = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            ok = {s: a for s, a in operation["responses"].items() if s.startswith("2")}
            if not ok:
                vague.append(f"{method} {path}: no 2xx answer")
            for status, answer in ok.items():
                content = answer.get("content", {})
                if status == "204":
                    assert not content, (method, path)
                    continue
                if not content:
                    vague.append(f"{method} {path} {status}: no content")
                for media, body in content.items():
                    schema = body.get("schema") or {}
                    if not schema:
                        vague.append(f"{method} {path} {status} {media}: empty schema")
                    elif media == "application/json":
                        shown = _resolve(doc, schema)
                        shown = _resolve(doc, shown.get("items", shown))
                        if not shown.get("properties"):
                            vague.append(f"{method} {path} {status}: JSON without fields")
    assert len(doc["paths"]) > 40
    assert not vague, "\n".join(vague)


def test_every_json_request_body_names_its_fields(doc):
    """A JSON request body is a model with fields (or any of several, or an array of one), never a bare object an
    integrator cannot fill in; the action route names its bodies per action (`x-action-bodies`)."""
    vague = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None or (path, method) == ACT:
                continue
            shown = _resolve(doc, body.get("schema") or {})
            options = [_resolve(doc, o) for o in shown.get("anyOf", [shown]) if o.get("type") != "null"]
            options = [_resolve(doc, o.get("items", o)) for o in options]
            if not all(o.get("properties") for o in options):
                vague.append(f"{method} {path}")
    assert not vague, "request bodies without fields:\n" + "\n".join(vague)


def test_the_action_operation_shows_every_actions_body(doc):
    """For every action of the transition table the action operation names the rules' own body model, with
    exactly its fields and required fields, and an example that those rules accept."""
    assert set(lc.BODIES) == set(BY_ACTION)
    operation = doc["paths"][ACT[0]][ACT[1]]
    body = operation["requestBody"]["content"]["application/json"]
    offered = {ref["$ref"] for ref in body["schema"]["anyOf"]}
    for action, model in lc.BODIES.items():
        ref = operation["x-action-bodies"][action]
        assert ref == f"#/components/schemas/{model.__name__}" and ref in offered, action
        shown = _resolve(doc, {"$ref": ref})
        assert set(shown.get("properties", {})) == set(model.model_fields), action
        assert set(shown.get("required", [])) == {n for n, f in model.model_fields.items() if f.is_required()}
        assert shown.get("additionalProperties") is False, action  # unknown fields are refused
        example = body["examples"][action]["value"]
        assert set(example) == set(model.model_fields), action
        parse_body(model, example)  # raises Invalid if the documented example is a body the rules refuse
    assert operation["parameters"][[p["name"] for p in operation["parameters"]].index("action")]["schema"][
        "enum"] == list(BY_ACTION)


def test_the_action_examples_name_the_demo_countys_codes_and_logins(doc):
    """A user who ran the README's quick start can send an example from /docs as it stands: its catalog item,
    units and officers are the demo county's."""
    examples = doc["paths"][ACT[0]][ACT[1]]["requestBody"]["content"]["application/json"]["examples"]
    values = [e["value"] for e in examples.values()]
    assert {v["category"] for v in values if "category" in v} <= set(ITEM_BY_CODE)
    units = ({v["lead_unit"] for v in values if "lead_unit" in v}
             | {u for v in values for u in v.get("assist_units", [])})
    assert units and units <= set(DEPT_BY_CODE)
    officers = {o for v in values for o in v.get("officers", [])}
    zrzy = DEPT_BY_CODE["ZRZY"].officers
    assert officers and officers <= {f"zrzy_officer{k}" for k in range(1, zrzy + 1)}


def test_the_georeport_resources_say_what_they_take(doc):
    """Open311 clients send form fields and query parameters the routes read by hand: the document lists exactly
    the fields each POST takes and only query parameters the GETs read."""
    forms = {"/open311/v2/requests.{fmt}": REQUEST_FIELDS, "/open311/v2/servicerequestupdates.{fmt}": UPDATE_FIELDS}
    for path, fields in forms.items():
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert set(body["properties"]) == fields, path
    for path, operations in doc["paths"].items():
        if path.startswith("/open311/") and "get" in operations:
            query = {p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "query"}
            assert query <= QUERY_FIELDS, path
    listed = doc["paths"]["/open311/v2/requests.{fmt}"]["get"]["parameters"]
    assert {p["name"] for p in listed if p["in"] == "query"} == QUERY_FIELDS


def _checker(doc: dict):
    def check(path: str, method: str, r, status: int = 200):
        """The answer `r` has `status` and validates against the document's schema for it; its JSON."""
        assert r.status_code == status, r.text
        schema = {**_answer_schema(doc, path, method, status), "components": doc["components"]}
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in jsonschema.Draft202012Validator(schema).iter_errors(r.json())]
        assert not errors, (method, path, errors)
        return r.json()

    return check


def test_answers_are_what_the_document_says(county):
    """Real answers (a report, a replayed report, actions, the case, the list, the timeline, attachments, the
    caller, units, catalog, notifications) validate against the schemas /openapi.json gives for them."""
    api = county
    check = _checker(api.client.get("/openapi.json").json())

    gw = api.as_("gw_fc1")
    body = {"title": "东街占道经营", "description": "早市摊位占用消防通道", "lat": 37.43, "lon": 112.03,
            "township": "FC"}
    case = check("/api/v1/cases", "post", gw.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "k-1"}),
                 201)
    again = check("/api/v1/cases", "post", gw.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "k-1"}))
    assert "replayed" not in case and again["replayed"] is True and again["id"] == case["id"]
    act = ACT[0].replace("{case_id}", str(case["id"]))
    disp = api.as_("disp_fc")
    check(*ACT, disp.post(act.replace("{action}", "accept"), json={"category": "LAND01", "urgency": "urgent"}))
    dispatched = check(*ACT, disp.post(act.replace("{action}", "dispatch"), json={}))
    assert dispatched["whistles"] and dispatched["deadline"]
    check(*ACT, disp.post(act.replace("{action}", "urge"), json={"note": "请尽快报到"}))
    path = "/api/v1/cases/{case_id}"
    check(path, "get", disp.get(f"/api/v1/cases/{case['id']}"))
    check("/api/v1/cases", "get", disp.get("/api/v1/cases"))
    entries = check(path + "/timeline", "get", disp.get(f"/api/v1/cases/{case['id']}/timeline"))
    assert [e["action"] for e in entries] == ["report", "accept", "dispatch", "urge"]
    photo = ("p.jpg", b"\xff\xd8\xff\xe0 not much of a photo", "image/jpeg")
    added = check(path + "/attachments", "post",
                  gw.post(f"/api/v1/cases/{case['id']}/attachments", files={"file": photo}), 201)
    assert "replayed" not in added
    check(path + "/attachments", "get", gw.get(f"/api/v1/cases/{case['id']}/attachments"))
    for url in ("/api/v1/me", "/api/v1/units", "/api/v1/catalog", "/api/v1/notifications",
                "/api/v1/notifications/unread_count", "/api/v1/calendar/2026"):
        check(url.replace("2026", "{year}"), "get", disp.get(url))
    check("/api/v1/users/{username}", "get", api.as_("admin").get("/api/v1/users/zrzy_off1"))
    email = check("/api/v1/me/channels/{channel}", "put",
                  disp.put("/api/v1/me/channels/email", json={"address": "disp@example.cn"}))
    assert "secret" not in email
    channels = check("/api/v1/me/channels", "get", disp.get("/api/v1/me/channels"))
    assert channels == [{"channel": "email", "address": "disp@example.cn", "enabled": True}]


def test_stored_checkpoints_and_bulletins_are_what_the_document_says(county, clock):
    """The weekly checkpoint and the monthly bulletin, the county's and a township's own version, as the
    document describes them (they are described, not validated per request: see api/schemas.py)."""
    api = county
    case = api.to_dispatched()
    api.act("disp_fc", case["id"], "urge", {"note": "请尽快报到"})
    asyncio.run(run_checkpoint("2026-W47", clock(), api.settings))
    asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    check = _checker(api.client.get("/openapi.json").json())
    for who in ("supervisor", "disp_fc"):
        week = check("/api/v1/checkpoints/{name}", "get", api.as_(who).get("/api/v1/checkpoints/2026-W47"))
        month = check("/api/v1/bulletins/{name}", "get", api.as_(who).get("/api/v1/bulletins/2026-11"))
        assert week["preview"] and month["preview"]
        assert ("scope" in week) == ("scope" in month) == (who == "disp_fc")

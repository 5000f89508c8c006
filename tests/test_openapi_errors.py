"""/openapi.json documents every error answer of every route, in the shape the handlers write (issue 10: 401,
403, 404, 409 and 422 were not documented, and FastAPI's `{"detail": [...]}` 422 was, which no route answers).
The check is by probing: every route is called as nobody, as a grid worker and as the admin, with names that
exist nowhere, and every 4xx that comes back must be documented for that operation."""

import re

from chuishao.flows.lifecycle import BY_ACTION

ERROR_REF = "#/components/schemas/Error"
OPEN311_REF = "#/components/schemas/Open311Errors"
SKIP = {("post", "/api/v1/auth/logout")}  # would end the admin's session for the probes after it


def _value(param: dict) -> str:
    """A value of the right type that names nothing stored."""
    schema = param.get("schema", {})
    if param["name"] == "fmt":
        return "json"
    if schema.get("format") == "date":
        return "2026-11-17"
    if "enum" in schema:
        return str(schema["enum"][0])
    if param["name"] == "year" or schema.get("type") == "integer":
        return "2026" if param["name"] == "year" else "987654"
    return "nope"


def _probes(path: str, method: str, operation: dict):
    values = {p["name"]: _value(p) for p in operation.get("parameters", []) if p["in"] == "path"}
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    yield url, None, True
    if values:  # the wrong type in every path parameter (a typed path, `{year:int}`, is then no route at all)
        yield re.sub(r"\{(\w+)\}", "x" * 3, path), None, False
    if method in ("post", "put", "patch"):
        yield url, {}, True
        yield url, {"unknown_field": 1}, True


def test_every_error_answer_is_documented(county):
    api = county
    doc = api.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(doc)
    seen, missing = set(), []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status, answer in responses.items():
                if status.startswith(("4", "5")):
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref == (OPEN311_REF if path.startswith("/open311/") else ERROR_REF), (path, status)
            if (method, path) in SKIP:
                continue
            for url, body, routed in _probes(path, method, operation):
                for who in (None, "gw_fc1", "admin"):
                    headers = {"Authorization": f"Bearer {api.token(who)}"} if who else {}
                    r = api.client.request(method.upper(), url, json=body, headers=headers)
                    if r.status_code < 400 or (not routed and "http_404" in r.text):
                        continue
                    seen.add(r.status_code)
                    if str(r.status_code) not in responses:
                        missing.append(f"{method.upper()} {url} as {who}: {r.status_code} {r.text[:160]}")
                    if not path.startswith("/open311/"):
                        err = r.json()["error"]
                        assert {"code", "message"} <= set(err) and " / " in err["message"], (url, r.text)
    assert not missing, "answered but not documented:\n" + "\n".join(missing)
    assert {401, 403, 404, 422} <= seen  # 409 needs a real conflict: see below


def test_conflicts_are_documented_where_they_happen(county):
    api = county
    doc = api.client.get("/openapi.json").json()
    admin = api.as_("admin")
    r = admin.post("/api/v1/units", json={"code": "FC", "name": "凤城镇", "kind": "township", "parent": "WS"})
    assert r.status_code == 409 and "409" in doc["paths"]["/api/v1/units"]["post"]["responses"]
    case = api.report()
    r = api.as_("disp_fc").post(f"/api/v1/cases/{case['id']}/actions/accept", json={},
                                headers={"If-Match": str(case["version"] + 5)})
    assert r.status_code == 409
    assert "409" in doc["paths"]["/api/v1/cases/{case_id}/actions/{action}"]["post"]["responses"]


def test_an_unknown_action_names_the_actions_there_are(county):
    api = county
    case = api.report()
    for name in ("frobnicate", "ACCEPT", "a" * 60):
        r = api.as_("disp_fc").post(f"/api/v1/cases/{case['id']}/actions/{name}", json={})
        assert r.status_code == 404, r.text
        err = r.json()["error"]
        assert err["code"] == "unknown_action" and err["actions"] == list(BY_ACTION)
        zh, en = err["message"].split(" / ")
        assert zh.startswith(f"未知操作 {name[:40]}。可用的操作：accept（受理）、") and "verify（" in zh
        assert en.startswith(f"unknown action '{name[:40]}'; the actions are accept, reject, ")
    assert api.get("disp_fc", case["id"])["version"] == case["version"]
    doc = api.client.get("/openapi.json").json()
    operation = doc["paths"]["/api/v1/cases/{case_id}/actions/{action}"]["post"]
    action = next(p for p in operation["parameters"] if p["name"] == "action")
    assert action["schema"]["enum"] == list(BY_ACTION)
    assert "404" in operation["responses"] and "unknown_action" in operation["description"]

"""Visibility and the 401/403/404/409/422 rules (docs/access.md#scope, docs/access.md#refusals)."""

import pytest


def codes(page):
    return {c["id"] for c in page["items"]}


def test_each_role_sees_only_its_scope(county):
    api = county
    mine = api.report(who="gw_fc1")
    theirs = api.report(who="gw_fc2")
    lhl = api.report(who="gw_lhl")
    dispatched = api.to_dispatched("ENV01")  # to 生态环境分局

    def listed(who):
        r = api.as_(who).get("/api/v1/cases", params={"page_size": 100})
        assert r.status_code == 200, r.text
        return codes(r.json())

    assert listed("gw_fc1") == {mine["id"], dispatched["id"]}  # their own reports only
    assert listed("gw_fc2") == {theirs["id"]}
    assert listed("disp_fc") == {mine["id"], theirs["id"], dispatched["id"]}  # the whole township
    assert listed("liaison_lhl") == {lhl["id"]}
    assert listed("sthj_liaison") == {dispatched["id"]}  # whistled to their unit
    assert listed("zrzy_liaison") == set()
    assert listed("supervisor") == listed("admin") == {mine["id"], theirs["id"], lhl["id"], dispatched["id"]}

    # reading one case outside one's scope is 403, and so is acting on it
    for who, case in (("gw_fc2", mine), ("disp_lhl", mine), ("zrzy_liaison", dispatched), ("sthj_off", lhl)):
        assert api.as_(who).get(f"/api/v1/cases/{case['id']}").status_code == 403
        assert api.as_(who).get(f"/api/v1/cases/{case['id']}/timeline").status_code == 403
    r = api.as_("disp_lhl").post(f"/api/v1/cases/{mine['id']}/actions/accept", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert api.get("disp_fc", mine["id"])["status"] == "reported"


def test_list_filters(county):
    api = county
    a = api.report(title="东街垃圾")
    b = api.to_dispatched("ENV01")
    api.report(who="gw_lhl", title="刘胡兰村垃圾")
    sup = api.as_("supervisor")
    assert codes(sup.get("/api/v1/cases", params={"status": "dispatched"}).json()) == {b["id"]}
    assert codes(sup.get("/api/v1/cases", params={"township": "FC"}).json()) == {a["id"], b["id"]}
    assert codes(sup.get("/api/v1/cases", params={"unit": "STHJ"}).json()) == {b["id"]}
    assert codes(sup.get("/api/v1/cases", params={"q": "东街垃圾"}).json()) == {a["id"]}
    assert codes(sup.get("/api/v1/cases", params={"q": a["code"]}).json()) == {a["id"]}
    page = sup.get("/api/v1/cases", params={"page_size": 2, "page": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert sup.get("/api/v1/cases", params={"status": "nonsense"}).status_code == 422
    assert sup.get("/api/v1/cases", params={"township": "NOPE"}).status_code == 422


@pytest.mark.parametrize("who,action,body", [
    ("zrzy_liaison", "check_in", {}),  # not whistled yet
    ("disp_fc", "check_in", {}),  # wrong role
    ("liaison_fc", "accept", {}),  # the dispatcher accepts, not the liaison
    ("disp_fc", "verify", {"passed": True}),  # wrong state and role
    ("supervisor", "accept", {}),
])
def test_actions_the_state_or_role_does_not_allow_are_422_naming_what_is_allowed(county, who, action, body):
    api = county
    case = api.report()
    r = api.as_(who).post(f"/api/v1/cases/{case['id']}/actions/{action}", json=body)
    if who == "zrzy_liaison":
        assert r.status_code == 403  # no whistle yet: not in the department's scope at all
        return
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "action_not_allowed"
    allowed = api.get(who, case["id"])["allowed_actions"]
    assert err["allowed_actions"] == allowed
    assert "当前可执行" in err["message"] and err["message"].index("当前可执行") < err["message"].index("Allowed")
    assert api.get("disp_fc", case["id"])["version"] == 1


def test_unknown_ids_and_actions_are_404(county):
    api = county
    case = api.report()
    sup = api.as_("supervisor")
    assert sup.get("/api/v1/cases/987654").status_code == 404
    assert sup.post("/api/v1/cases/987654/actions/urge", json={"note": "x"}).status_code == 404
    r = sup.post(f"/api/v1/cases/{case['id']}/actions/teleport", json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_action"


def test_stale_if_match_is_409_and_changes_nothing(county):
    api = county
    case = api.report()
    r = api.as_("disp_fc").post(f"/api/v1/cases/{case['id']}/actions/accept", json={}, headers={"If-Match": "1"})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = api.as_("disp_fc").post(f"/api/v1/cases/{case['id']}/actions/reject", json={"reason": "x"},
                                headers={"If-Match": "1"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "version_conflict"
    after = api.get("disp_fc", case["id"])
    assert (after["status"], after["version"]) == ("accepted", 2)
    assert len(api.as_("disp_fc").get(f"/api/v1/cases/{case['id']}/timeline").json()) == 2


def test_requests_without_a_valid_token_are_401(county, clock):
    api = county
    c = api.client
    assert c.get("/api/v1/cases").status_code == 401
    assert c.get("/api/v1/cases", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    bad = c.post("/api/v1/auth/token", data={"username": "disp_fc", "password": "wrong-password"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
    token = api.token("disp_fc")
    clock.advance(hours=13)  # tokens last 12 hours
    r = c.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "过期" in r.json()["error"]["message"]


def test_only_admin_keeps_units_users_and_catalog(county):
    api = county
    for who in ("disp_fc", "supervisor", "zrzy_liaison"):
        r = api.as_(who).post("/api/v1/units", json={"code": "X1", "name": "x", "kind": "department", "parent": "WS"})
        assert r.status_code == 403
    assert api.as_("admin").get("/api/v1/units").status_code == 200


def test_passwords_are_stored_hashed(county, settings):
    import sqlite3

    if not settings.url.startswith("sqlite"):
        pytest.skip("checked once, on the SQLite file")
    path = settings.url.removeprefix("sqlite:///")
    hashes = [h for (h,) in sqlite3.connect(path).execute("SELECT password_hash FROM users")]
    assert hashes and all(h.startswith("$argon2id$") and "secret-pass-1" not in h for h in hashes)

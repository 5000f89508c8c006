"""Possible duplicates (疑似重复): at report time and before acceptance, open cases of the same item near the point
or with a similar title, with distance and similarity, only among the cases the caller may see. SQLite and
PostgreSQL (the `county` fixture)."""

import math

from tests.test_web_admin import Browserish

# 凤城镇东街网格 lies in 112.00–112.10 E, 37.40–37.50 N (tests/county.py)
LAT, LON = 37.45, 112.05
M_PER_DEG_LAT = math.pi * 6371008.8 / 180  # the haversine's metres per degree of latitude


def north(metres: float) -> float:
    """The latitude `metres` due north of LAT (distance along a meridian is exact on the sphere)."""
    return LAT + metres / M_PER_DEG_LAT


def dups(api, who: str, **params) -> dict:
    r = api.as_(who).get("/api/v1/possible-duplicates", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_same_item_within_the_radius_is_offered_with_its_distance(county):
    inside = county.report(title="东街口违法占地建房", category="LAND01", lat=north(199), lon=LON)
    outside = county.report(title="西关村委会南侧围墙", category="LAND01", lat=north(201), lon=LON)
    other_item = county.report(title="西关市场门口摊贩", category="MKT01", lat=north(10), lon=LON)
    found = dups(county, "disp_fc", category="LAND01", lat=LAT, lon=LON, title="村南新修院墙")
    assert found["radius_m"] == 200
    assert [(c["id"], c["distance_m"], c["near"], c["same_item"]) for c in found["items"]] == [
        (inside["id"], 199, True, True)]
    ids = {c["id"] for c in found["items"]}
    assert outside["id"] not in ids and other_item["id"] not in ids
    # the admin widens the radius: 201 m is in
    admin = county.as_("admin")
    r = admin.put("/api/v1/possible-duplicates/settings", json={"radius_m": 250, "min_similarity": 0.4})
    assert r.status_code == 200, r.text
    found = dups(county, "disp_fc", category="LAND01", lat=LAT, lon=LON, title="村南新修院墙")
    assert [c["id"] for c in found["items"]] == [inside["id"], outside["id"]]
    # bounds are refused in the error shape, naming the field
    r = admin.put("/api/v1/possible-duplicates/settings", json={"radius_m": 0, "min_similarity": 0.4})
    assert r.status_code == 422 and "error" in r.json()
    assert county.as_("disp_fc").put("/api/v1/possible-duplicates/settings",
                                     json={"radius_m": 300, "min_similarity": 0.4}).status_code == 403


def test_a_similar_title_is_offered_whatever_the_place(county):
    first = county.report(title="东街12号院内新建砖房", category="LAND01")
    county.report(title="西街菜市场门口占道经营", category="STALL01")
    found = dups(county, "disp_fc", title="【12345】东街12号院私建砖房")
    assert [c["id"] for c in found["items"]] == [first["id"]]
    c = found["items"][0]
    assert c["similar"] and not c["near"] and c["distance_m"] is None
    assert abs(c["similarity"] - 7 / 16) < 0.001  # 东街 街1 12 2号 号院 建砖 砖房: 7 of 16 bigrams


def test_a_grid_worker_is_offered_only_cases_they_may_see(county):
    mine = county.report(who="gw_fc1", title="东街12号院内新建砖房", category="LAND01", lat=north(50), lon=LON)
    theirs = county.report(who="gw_lhl", title="东街12号院内新建砖房", category="LAND01")
    probe = {"title": "东街12号院内新建砖房", "category": "LAND01", "lat": LAT, "lon": LON}
    assert [c["id"] for c in dups(county, "gw_fc1", **probe)["items"]] == [mine["id"]]
    assert [c["id"] for c in dups(county, "gw_lhl", **probe)["items"]] == [theirs["id"]]
    assert [c["id"] for c in dups(county, "gw_fc2", **probe)["items"]] == []  # same township, not their report
    assert [c["id"] for c in dups(county, "disp_lhl", **probe)["items"]] == [theirs["id"]]
    # a case of another township: 403 before anything is said about its neighbours
    r = county.as_("disp_lhl").get(f"/api/v1/cases/{mine['id']}/possible-duplicates")
    assert r.status_code == 403


def test_before_acceptance_the_dispatcher_sees_candidates_and_merges_into_one(county):
    master = county.report(title="东街12号院内新建砖房", category="LAND01", lat=north(120), lon=LON)
    second = county.report(who="gw_fc2", title="【12345】东街12号院私建砖房", category="LAND01", lat=LAT, lon=LON)
    closed_like = county.report(title="东街12号院内新建砖房", category="LAND01")
    county.act("disp_fc", closed_like["id"], "reject", {"reason": "重复上报，已另案办理"})  # finished: not offered
    r = county.as_("disp_fc").get(f"/api/v1/cases/{second['id']}/possible-duplicates")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(c["id"], c["distance_m"], c["near"], c["similar"]) for c in items] == [
        (master["id"], 120, True, True)]
    # the case page shows them beside the merge action, and merging from there ends the duplicate
    browser = Browserish(county.client)
    browser.login("disp_fc")
    page = browser.get(f"/cases/{second['id']}").text
    assert f'hx-get="/cases/{second["id"]}/possible-duplicates"' in page
    part = browser.get(f"/cases/{second['id']}/possible-duplicates").text
    assert "相距约 120 米" in part and master["code"] in part and "合并到此案件" in part
    r = browser.post(f"/cases/{second['id']}/actions/merge", {"version": str(second["version"]),
                                                               "into": master["code"]})
    assert r.status_code == 303, r.text
    assert county.get("disp_fc", second["id"])["merged_into"] == master["id"]


def test_the_report_form_offers_candidates_before_sending(county):
    first = county.report(title="东街12号院内新建砖房", category="LAND01", lat=north(80), lon=LON)
    browser = Browserish(county.client)
    browser.login("gw_fc1")
    form = browser.get("/report").text
    assert 'hx-get="/report/duplicates"' in form
    part = browser.get(f"/report/duplicates?title=&category=LAND01&lat={LAT}&lon={LON}").text
    assert "可能已有人上报过" in part and "相距约 80 米" in part and first["code"] in part
    assert browser.get("/report/duplicates?title=完全不同的事情").text.strip() == ""
    assert browser.get("/report/duplicates?lat=abc").status_code == 200  # still typing: nothing, no error


def test_bad_report_time_queries_are_refused_clearly(county):
    r = county.as_("disp_fc").get("/api/v1/possible-duplicates", params={"lat": LAT})
    assert r.status_code == 422 and "error" in r.json()
    r = county.as_("disp_fc").get("/api/v1/possible-duplicates", params={"title": "x", "township": "NOPE"})
    assert r.status_code == 422 and "error" in r.json()
    r = county.as_("disp_fc").get("/api/v1/possible-duplicates", params={"lat": 91, "lon": LON, "title": "x"})
    assert r.status_code == 422

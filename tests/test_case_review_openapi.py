"""The 案卷评查 API (/api/v1/case-review) says what it answers: every answer of a draw, its reviews, scores,
finalisation, results and the yearly report validates against the schema /openapi.json gives for it, and the
refusals of routes that name nothing (lists, results, the report) are documented (403)."""

from tests.test_case_review import ALL_PASS, closed_case, enforcement, reviewers
from tests.test_openapi_shape import _checker

BASE = "/api/v1/case-review"


def test_case_review_answers_are_what_the_document_says(county):
    api = county
    reviewers(api)
    land = [closed_case(api) for _ in range(2)]
    closed_case(api, "ENV01", "河边焚烧秸秆")
    enforcement(api, "ENV01")
    doc = api.client.get("/openapi.json").json()
    check = _checker(doc)
    sup, rev = api.as_("supervisor"), api.as_("reviewer1")

    d = check(BASE + "/draws", "post",
              sup.post(BASE + "/draws", json={"period": "2026", "seed": 7, "share": 100, "note": "年度抽查"}), 201)
    assert d["counts"]["reviews"] == 3 and all(r["reviewer"] is None and r["passed"] is None for r in d["reviews"])
    listed = check(BASE + "/draws", "get", sup.get(BASE + "/draws"))
    assert [x["id"] for x in listed] == [d["id"]]
    assert check(BASE + "/reviewers", "get", sup.get(BASE + "/reviewers"))
    reviews = {r["case_id"]: r["id"] for r in d["reviews"]}
    a, b = reviews[land[0]], reviews[land[1]]
    path = BASE + "/reviews/{review_id}"
    for rid in (a, b):
        check(path + "/reviewer", "put", sup.put(f"{BASE}/reviews/{rid}/reviewer", json={"reviewer": "reviewer1"}))
    check(path + "/scores", "put", rev.put(f"{BASE}/reviews/{a}/scores", json={"scores": ALL_PASS}))
    fail = {"evidence": {"passed": False, "note": "询问笔录缺当事人签名"}}
    scored = check(path + "/scores", "put", rev.put(f"{BASE}/reviews/{b}/scores", json={"scores": ALL_PASS | fail}))
    assert scored["complete"] and [f["point"] for f in scored["failed"]] == ["evidence"]
    check(path, "get", rev.get(f"{BASE}/reviews/{b}"))
    assert len(check(BASE + "/reviews/mine", "get", rev.get(BASE + "/reviews/mine"))) == 2
    final = check(path + "/finalise", "post", sup.post(f"{BASE}/reviews/{a}/finalise"))
    assert final["passed"] is True and final["finalised_at"]
    assert check(BASE + "/draws/{draw_id}/finalise", "post",
                 sup.post(f"{BASE}/draws/{d['id']}/finalise")) == {"finalised": 1}
    shown = check(BASE + "/draws/{draw_id}", "get", sup.get(f"{BASE}/draws/{d['id']}"))
    assert shown["reproduced"] is True and shown["counts"]["finalised"] == 2 and shown["counts"]["passed"] == 1
    res = check(BASE + "/results", "get", sup.get(BASE + "/results", params={"period": "2026-11"}))
    assert res["total"] == {"num": 1, "den": 2, "rate": 0.5} and res["failed_cases"][0]["id"] == land[1]
    year = check(BASE + "/reports/{year}", "get", sup.get(BASE + "/reports/2026"))
    assert year["draws"][0]["sampled"] == 3 and year["definitions"]

    # refusals a grid worker meets where the route names nothing and takes no body are documented too
    for url, method in ((BASE + "/draws", "get"), (BASE + "/reviewers", "get"), (BASE + "/reviews/mine", "get"),
                        (BASE + "/reports/{year}", "get")):
        r = api.as_("gw_fc1").get(url.replace("{year}", "2026"))
        assert r.status_code == 403 and "403" in doc["paths"][url][method]["responses"], (url, r.text)

"""案卷评查 (case-file review, issue 15; docs/case-review.md) through the API and the pages, on both databases: a
seeded draw that draws the same sample again, only the supervisor draws/assigns/finalises, only the assigned reviewer
scores, a failed point needs a note, 案卷合格率 with its numerator and denominator on a small known answer, the
bulletin's section and the yearly report's files."""

import asyncio
import io

from openpyxl import load_workbook
from pypdf import PdfReader

from chuishao.flows.case_review import _by_name, draw_sample, parse_period
from chuishao.flows.jobs import run_bulletin
from tests.county import PASSWORD
from tests.test_inbox import sql
from tests.test_web_forms import page_token, web_login

ALL_PASS = {k: {"passed": True} for k in ("subject", "evidence", "procedure", "law", "decision", "documents")}


def closed_case(api, category="LAND01", title="东街有人私搭乱建") -> int:
    """A case through the whole loop to 结案, led by the item's department."""
    case = api.to_dispatched(category, title=title)
    liaison = {"LAND01": "zrzy_liaison", "ENV01": "sthj_liaison"}[category]
    api.act(liaison, case["id"], "check_in")
    officer, officers = ("zrzy_off1", ["zrzy_off1", "zrzy_off2"]) if category == "LAND01" else ("sthj_off", None)
    body = {"outcome": "resolved", "result": "已依法处理完毕"} | ({"officers": officers} if officers else {})
    api.act(officer, case["id"], "feedback", body)
    api.act("liaison_fc", case["id"], "verify", {"passed": True, "satisfaction": "satisfied", "rating": 5})
    return case["id"]


def enforcement(api, code: str) -> None:
    """Mark a catalog item an enforcement item (行政执法事项) after its cases have closed (no route edits a flag)."""
    sql(api, "UPDATE catalog_items SET enforcement = true WHERE code = :code", code=code)


def reviewers(api) -> None:
    """The county 司法局 with two legal reviewers (法制审核员)."""
    admin = api.as_("admin")
    assert admin.post("/api/v1/units", json={"code": "SFJ", "name": "司法局", "kind": "department",
                                             "parent": "WS"}).status_code == 201
    for name in ("reviewer1", "reviewer2"):
        r = admin.post("/api/v1/users", json={"username": name, "password": PASSWORD, "name": name,
                                              "role": "legal_reviewer", "unit": "SFJ"})
        assert r.status_code == 201, r.text


def error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert set(body) >= {"code", "message"} and body["message"]
    if code:
        assert body["code"] == code
    return body


def test_the_period_names_and_the_pure_draw():
    assert parse_period("2026-q3")[1:] == parse_period("2026-Q3")[1:]
    name, start, end = parse_period("2026-Q4")
    assert (name, start.month, end.year, end.month) == ("2026-Q4", 10, 2027, 1)
    # order of the candidates does not matter; one seed, one sample; per unit, at most its own cases
    rows = [("ZRZY", 5), ("STHJ", 9), ("ZRZY", 2), ("ZRZY", 7), ("STHJ", 4)]
    once = draw_sample(rows, 42, 2, None)
    assert once == draw_sample(list(reversed(rows)), 42, 2, None)
    assert len(once) == 4 and {4, 9} <= set(once)
    assert len(draw_sample(rows, 42, None, 34)) == 2 + 1  # 34 % of 3 → 2 (rounded up), of 2 → 1
    # result tables list units by name in pinyin order, not by code
    units = [{"code": "A1", "name": "自然资源局"}, {"code": "Z9", "name": "公安局"},
             {"code": "B2", "name": "生态环境分局"}]
    assert [u["name"] for u in sorted(units, key=_by_name)] == ["公安局", "生态环境分局", "自然资源局"]


def test_same_seed_same_draw_and_only_the_supervisor_draws(county, clock):
    api = county
    ids = [closed_case(api) for _ in range(4)] + [closed_case(api, "ENV01", "河边焚烧秸秆") for _ in range(2)]
    body = {"period": "2026-11", "seed": 20261116, "size": 2}
    for who in ("admin", "zrzy_liaison", "liaison_fc"):
        error(api.as_(who).post("/api/v1/case-review/draws", json=body), 403, "forbidden")
    # 秸秆焚烧 is no enforcement item: its files are not drawn …
    only_enforcement = api.as_("supervisor").post("/api/v1/case-review/draws", json=body).json()
    assert only_enforcement["candidates"] == 4 and set(only_enforcement["case_ids"]) <= set(ids[:4])
    assert {r["unit"] for r in only_enforcement["reviews"]} == {"ZRZY"}
    enforcement(api, "ENV01")  # … until the catalog marks it one: the flag is read when the draw runs
    first = api.as_("supervisor").post("/api/v1/case-review/draws", json=body)
    assert first.status_code == 201, first.text
    d = first.json()
    assert d["candidates"] == 6 and len(d["case_ids"]) == 4 and set(d["case_ids"]) <= set(ids)
    assert d["seed"] == 20261116 and d["drawn_by"]["username"] == "supervisor" and d["period"] == "2026-11"
    assert {r["unit"] for r in d["reviews"]} == {"ZRZY", "STHJ"}
    again = api.as_("supervisor").post("/api/v1/case-review/draws", json=body).json()
    assert again["case_ids"] == d["case_ids"] and again["id"] != d["id"]
    # a case closed after the draw leaves the recorded draw reproducible (it drew what had closed by then)
    clock.advance(hours=2)
    closed_case(api)
    shown = api.as_("supervisor").get(f"/api/v1/case-review/draws/{d['id']}").json()
    assert shown["reproduced"] is True and shown["case_ids"] == d["case_ids"] and shown["seed"] == 20261116
    error(api.as_("zrzy_liaison").get(f"/api/v1/case-review/draws/{d['id']}"), 403)
    error(api.as_("supervisor").get("/api/v1/case-review/draws/9999"), 404, "not_found")
    # bad bodies: both size and share, a period that is no period, a period with nothing closed
    error(api.as_("supervisor").post("/api/v1/case-review/draws", json=body | {"share": 10}), 422)
    error(api.as_("supervisor").post("/api/v1/case-review/draws", json=body | {"period": "2026-13"}), 422)
    error(api.as_("supervisor").post("/api/v1/case-review/draws", json=body | {"period": "2026-10"}), 422)


def test_assigned_reviewer_scores_a_fail_needs_a_note_and_the_rate_counts_finalised_reviews(county, clock):
    api = county
    reviewers(api)
    land = [closed_case(api) for _ in range(2)]
    env = closed_case(api, "ENV01", "河边焚烧秸秆")
    enforcement(api, "ENV01")
    sup = api.as_("supervisor")
    d = sup.post("/api/v1/case-review/draws", json={"period": "2026", "seed": 7, "share": 100}).json()
    reviews = {r["case_id"]: r["id"] for r in d["reviews"]}
    assert set(reviews) == {*land, env}
    a, b, c = reviews[land[0]], reviews[land[1]], reviews[env]

    # only the supervisor assigns; the reviewer must be a legal reviewer or supervisor outside the case's unit
    error(api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{a}/reviewer", json={"reviewer": "reviewer1"}), 403)
    error(sup.put(f"/api/v1/case-review/reviews/{a}/reviewer", json={"reviewer": "zrzy_off1"}), 422)
    for rid in (a, b, c):
        r = sup.put(f"/api/v1/case-review/reviews/{rid}/reviewer", json={"reviewer": "reviewer1"})
        assert r.status_code == 200 and r.json()["reviewer"]["username"] == "reviewer1", r.text

    # only the assigned reviewer scores: another reviewer and the supervisor get 403, an unknown review 404
    for who in ("reviewer2", "supervisor", "zrzy_liaison"):
        error(api.as_(who).put(f"/api/v1/case-review/reviews/{a}/scores", json={"scores": ALL_PASS}), 403)
    error(api.as_("reviewer1").put("/api/v1/case-review/reviews/99999/scores", json={"scores": ALL_PASS}), 404)
    error(api.as_("reviewer2").get(f"/api/v1/case-review/reviews/{a}"), 403)
    assert [r["id"] for r in api.as_("reviewer1").get("/api/v1/case-review/reviews/mine").json()] == sorted(
        [a, b, c], key=lambda rid: ({a: "ZRZY", b: "ZRZY", c: "STHJ"}[rid], rid))
    assert api.as_("reviewer2").get("/api/v1/case-review/reviews/mine").json() == []

    # a failed point needs a note (422, nothing saved)
    bad = {"scores": {"evidence": {"passed": False, "note": "  "}}}
    body = error(api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{b}/scores", json=bad), 422, "note_required")
    assert "证据是否充分" in body["message"]
    odd = {"scores": {"evidence": {"passed": "maybe"}}}  # the refusal names the review's own field, in Chinese
    body = error(api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{b}/scores", json=odd), 422)
    assert "评查结论须为是（true）或否（false）" in body["message"] and "核查" not in body["message"]
    assert api.as_("reviewer1").get(f"/api/v1/case-review/reviews/{b}").json()["scores"] == {}

    # a: all pass; b: two fails with notes (revised once: the first fail of 法律适用 is withdrawn); c: all pass
    assert api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{a}/scores",
                                    json={"scores": ALL_PASS}).status_code == 200
    fails = {"evidence": {"passed": False, "note": "询问笔录缺当事人签名"},
             "law": {"passed": False, "note": "处罚决定书未载明法律依据条款"}}
    r = api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{b}/scores", json={"scores": ALL_PASS | fails})
    assert [f["label"] for f in r.json()["failed"]] == ["证据是否充分", "法律适用是否准确"]
    r = api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{b}/scores", json={"scores": {"law": {"passed": True}}})
    assert [f["note"] for f in r.json()["failed"]] == ["询问笔录缺当事人签名"]
    api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{c}/scores", json={"scores": {"subject": {"passed": True}}})

    # finalising: the supervisor only, all six needed; then scores are frozen
    error(api.as_("reviewer1").post(f"/api/v1/case-review/reviews/{a}/finalise"), 403)
    error(sup.post(f"/api/v1/case-review/reviews/{c}/finalise"), 422)
    assert sup.post(f"/api/v1/case-review/draws/{d['id']}/finalise").json() == {"finalised": 2}  # a, b
    error(api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{b}/scores", json={"scores": ALL_PASS}), 422)
    # 案卷合格率 counts finalised reviews only: 自然资源局 1/2 (b failed), 生态环境分局 none yet (c not final)
    res = sup.get("/api/v1/case-review/results", params={"period": "2026-11"}).json()
    assert res["total"] == {"num": 1, "den": 2, "rate": 0.5}
    assert [(x["code"], x["rate"]["num"], x["rate"]["den"]) for x in res["by_department"]] == [("ZRZY", 1, 2)]
    assert [(x["id"], x["problems"]) for x in res["failed_cases"]] == [(land[1], "证据是否充分：询问笔录缺当事人签名")]
    api.as_("reviewer1").put(f"/api/v1/case-review/reviews/{c}/scores", json={"scores": ALL_PASS})
    assert sup.post(f"/api/v1/case-review/reviews/{c}/finalise").json()["passed"] is True
    res = sup.get("/api/v1/case-review/results", params={"period": "2026"}).json()
    assert res["total"] == {"num": 2, "den": 3, "rate": 0.6667}
    assert [(x["code"], x["passed"], x["reviewed"]) for x in res["by_department"]] == [("STHJ", 1, 1), ("ZRZY", 1, 2)]
    error(api.as_("reviewer1").get("/api/v1/case-review/results", params={"period": "2026"}), 403)

    # the monthly bulletin: its section, appendix rows and XLSX sheet
    data = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert data["case_review"]["total"] == {"num": 2, "den": 3, "rate": 0.6667}
    assert [x["code"] for x in data["case_review_cases"]] == [res["failed_cases"][0]["code"]]
    assert {"案卷评查", "案卷合格率"} <= {x["term"] for x in data["definitions"]}
    html = sup.get("/api/v1/bulletins/2026-11.html").text
    assert "七、案卷评查" in html and "询问笔录缺当事人签名" in html and "66.7%" in html
    book = load_workbook(io.BytesIO(sup.get("/api/v1/bulletins/2026-11.xlsx").content))
    rows = list(book["案卷评查"].iter_rows(values_only=True))
    assert rows[0][:5] == ("部门编码", "部门", "评查案卷", "合格", "不合格")
    assert rows[2][:5] == ("ZRZY", "自然资源局", 2, 1, 1)
    # a department reads its own failed cases in its version; another department none of them
    assert [x["id"] for x in api.as_("zrzy_liaison").get("/api/v1/bulletins/2026-11").json()["case_review_cases"]] \
        == [land[1]]
    assert api.as_("sthj_liaison").get("/api/v1/bulletins/2026-11").json()["case_review_cases"] == []

    # the yearly report: HTML, PDF (CJK text extractable), XLSX
    report = sup.get("/api/v1/case-review/reports/2026")
    assert report.json()["title"].endswith("2026年度行政执法案卷评查报告")
    page = sup.get("/api/v1/case-review/reports/2026", params={"format": "html"}).text
    assert "行政执法案卷评查报告" in page and "各部门案卷合格率" in page and "询问笔录缺当事人签名" in page
    pdf = sup.get("/api/v1/case-review/reports/2026", params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "案卷合格率" in text and "询问笔录缺当事人签名" in text and "自然资源局" in text
    book = load_workbook(io.BytesIO(sup.get("/api/v1/case-review/reports/2026", params={"format": "xlsx"}).content))
    assert {"案卷评查", "评查项目", "不合格案卷", "抽样记录", "口径说明"} <= set(book.sheetnames)
    points = {r[1]: r[2] for r in book["评查项目"].iter_rows(min_row=2, values_only=True)}
    assert points["证据是否充分"] == 1 and points["法律适用是否准确"] == 0
    error(api.as_("zrzy_liaison").get("/api/v1/case-review/reports/2026"), 403)
    # JSON is the default and may also be asked for by name; a year not begun has no report
    assert sup.get("/api/v1/case-review/reports/2026", params={"format": "json"}).json() == report.json()
    assert "尚未开始" in error(sup.get("/api/v1/case-review/reports/2027"), 422)["message"]


def test_the_scoring_page_shows_the_case_file_to_the_assigned_reviewer_only(client, county):
    api = county
    reviewers(api)
    case_id = closed_case(api, title="北街违建砖房")
    d = api.as_("supervisor").post("/api/v1/case-review/draws", json={"period": "2026-11", "seed": 1, "size": 1}).json()
    rid = d["reviews"][0]["id"]
    api.as_("supervisor").put(f"/api/v1/case-review/reviews/{rid}/reviewer", json={"reviewer": "reviewer1"})

    web_login(client, "reviewer2")
    r = client.get(f"/case-review/reviews/{rid}")
    assert r.status_code == 403 and "北街违建砖房" not in r.text
    web_login(client, "reviewer1")
    html = client.get(f"/case-review/reviews/{rid}").text
    assert "北街违建砖房" in html and "全过程记录" in html and "执法文书" in html and "执法主体资格" in html
    assert "已依法处理完毕" in html  # the feedback result beside the form
    # 执法主体资格: each officer with the certificate number, its expiry and whether it held on the feedback's day
    assert "晋执-0001" in html and "2028-12-31" in html and "晋执-0002" in html and "2027-06-30" in html
    assert html.count('<span class="tag">有效</span>') == 2
    assert client.get(f"/cases/{case_id}").status_code == 403  # the case itself stays out of the reviewer's scope
    token = page_token(html)
    form = {"csrftoken": token, "subject": "pass", "evidence": "fail", "evidence_note": ""}
    r = client.post(f"/case-review/reviews/{rid}/scores", data=form)
    assert r.status_code == 422 and "须写明问题" in r.text
    assert r.headers["HX-Push-Url"] == f"/case-review/reviews/{rid}"  # the address bar shows the review page
    form["evidence_note"] = "询问笔录缺当事人签名"
    r = client.post(f"/case-review/reviews/{rid}/scores", data=form, follow_redirects=False)
    assert r.status_code == 303
    html = client.get(r.headers["location"]).text
    assert "评分已保存" in html and "询问笔录缺当事人签名" in html
    web_login(client, "supervisor")
    assert "北街违建砖房" in client.get(f"/case-review/draws/{d['id']}").text


def test_the_draw_form_limits_departments_by_a_multi_select(client, county):
    api = county
    closed_case(api)
    closed_case(api, "ENV01", "河边焚烧秸秆")
    enforcement(api, "ENV01")
    web_login(client, "supervisor")
    html = client.get("/case-review").text
    assert '<select id="cr-units" name="units" multiple' in html
    assert '<option value="STHJ">生态环境分局</option>' in html
    form = {"csrftoken": page_token(html), "period": "2026-11", "seed": "5", "size": "3", "units": ["STHJ"]}
    r = client.post("/case-review/draws", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    d = api.as_("supervisor").get("/api/v1/case-review/draws/" + r.headers["location"].rsplit("/", 1)[1]).json()
    assert d["units"] == ["STHJ"] and {x["unit"] for x in d["reviews"]} == {"STHJ"}

"""行政执法公示 (docs/disclosure.md) end to end, on SQLite and PostgreSQL: closed cases of disclosed items appear on
the public page, JSON and Atom feed (no sign-in) on the N-th working day after closure, with personal data masked;
only the case's township withholds or releases one, with a reason, and a withheld case never shows."""

import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from chuishao.flows.clock import LOCAL_TZ
from tests.test_web_admin import site  # noqa: F401, F811 (a fixture)
from tests.test_web_forms import page_token, web_login

ATOM = "{http://www.w3.org/2005/Atom}"
RESULT = ("经查，当事人李四华（电话13812345678，身份证号14112319850307123X）在凤城镇城关村3组15号未批先建，"
          "执法人员郭建国、宋丽已监督其自行拆除；举报人张三表示满意。")
MASKED = ("经查，当事人李某（电话[电话已隐去]，身份证号[身份证号已隐去]）在凤城镇城关村未批先建，"
          "执法人员郭某、宋某已监督其自行拆除；举报人张某表示满意。")
RAW_BITS = ("李四华", "13812345678", "14112319850307123X", "3组15号", "郭建国", "宋丽", "张三")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


@pytest.fixture
def world(county, clock):
    """LAND01 marked for disclosure; the reporter and officers have real names (so exact masking has work)."""
    admin = county.as_("admin")
    assert admin.put("/api/v1/settings/disclosure/items", json={"items": ["LAND01"]}).json() == {"items": ["LAND01"]}
    for username, name in (("gw_fc1", "张三"), ("zrzy_off1", "郭建国"), ("zrzy_off2", "宋丽")):
        r = admin._send("patch", f"/api/v1/users/{username}", json={"name": name})
        assert r.status_code == 200, r.text
    return county


def close_case(api, category="LAND01", township="FC", result=RESULT, address="凤城镇城关村3组15号") -> dict:
    """A case reported, accepted, dispatched, handled and verified now (the clock's time)."""
    reporter = {"FC": "gw_fc1", "LHL": "gw_lhl"}[township]
    dispatcher, liaison = {"FC": ("disp_fc", "liaison_fc"), "LHL": ("disp_lhl", "liaison_lhl")}[township]
    case = api.report(who=reporter, township=township, address=address)
    api.act(dispatcher, case["id"], "accept", {"category": category})
    case = api.act(dispatcher, case["id"], "dispatch")
    lead = {"LAND01": ("zrzy_liaison", "zrzy_off1"), "ENV01": ("sthj_liaison", "sthj_off")}[category]
    api.act(lead[0], case["id"], "check_in")
    body = {"outcome": "resolved", "result": result}
    if category == "LAND01":
        body["officers"] = ["zrzy_off1", "zrzy_off2"]
    api.act(lead[1], case["id"], "feedback", body)
    return api.act(liaison, case["id"], "verify", {"passed": True, "satisfaction": "satisfied", "rating": 5})


def public(client, **params) -> dict:
    client.cookies.clear()
    r = client.get("/api/v1/disclosures", params=params)  # no Authorization header, no cookie
    assert r.status_code == 200, r.text
    return r.json()


def codes(client, **params) -> list[str]:
    return [row["code"] for row in public(client, **params)["items"]]


def feed(client, **params) -> ET.Element:
    client.cookies.clear()
    r = client.get("/disclosures.atom", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml"), r.text
    root = ET.fromstring(r.content)  # parses as XML; an Atom feed
    assert root.tag == f"{ATOM}feed" and root.find(f"{ATOM}title").text == "文水县行政执法公示"  # the county's name
    return root


def test_a_case_is_published_on_the_seventh_working_day_after_closure_by_the_working_calendar(world, clock):
    api = world
    admin = api.as_("admin")
    # a day off on Friday 20 November (a local holiday): the working days after Monday 16th are 17, 18, 19, 23, 24,
    # 25, 26 → published on Thursday 26 November
    r = admin.put("/api/v1/calendar/days/2026-11-20", json={"kind": "holiday", "name": "临时停工"})
    assert r.status_code == 200, r.text
    clock.now = at("2026-11-16T10:00")
    case = close_case(api)
    other_item = close_case(api, category="ENV01", result="已扑灭火点")  # its item is not marked for disclosure
    still_open = api.to_feedback()
    assert codes(api.client) == []  # closed, but the township's review days have not passed

    clock.now = at("2026-11-25T23:59")
    assert codes(api.client) == []
    clock.now = at("2026-11-26T00:00")
    data = public(api.client)
    assert [r["code"] for r in data["items"]] == [case["code"]] and data["working_days"] == 7
    row = data["items"][0]
    assert (row["closed_on"], row["published_on"]) == ("2026-11-16", "2026-11-26")
    assert (row["item"], row["township"], row["lead_unit"], row["outcome_label"]) == (
        "违法占地", "凤城镇", "自然资源局", "已解决")
    assert other_item["code"] not in str(data) and still_open["code"] not in str(data)

    clock.now = at("2027-03-01T10:00")  # and it stays listed: the archive by closing month
    assert codes(api.client, month="2026-11") == [case["code"]] and codes(api.client, month="2026-12") == []

    # the admin shortens the period to 0: a case closed now is listed at once
    assert admin.put("/api/v1/settings/disclosure", json={"working_days": 0}).json() == {"working_days": 0}
    fresh = close_case(api)
    assert codes(api.client) == [fresh["code"], case["code"]]
    assert feed(api.client).find(f"{ATOM}subtitle").text.startswith("已结案行政执法案件，结案后即公示")
    r = admin.put("/api/v1/settings/disclosure", json={"working_days": 31})
    assert r.status_code == 422 and r.json()["error"]["code"]
    assert api.as_("liaison_fc").put("/api/v1/settings/disclosure", json={"working_days": 3}).status_code == 403


def test_personal_data_is_masked_on_the_page_in_json_and_in_the_atom_feed(world, clock):
    api = world
    case = close_case(api)
    clock.now = at("2026-12-01T09:00")
    row = public(api.client)["items"][0]
    assert row["result"] == MASKED and row["place"] == "城关村"  # the township is its own column

    assert row["closed_at"].endswith("+08:00")  # local time, like the rest of the API
    html = api.client.get("/gongshi")
    assert html.status_code == 200 and "<h1>文水县行政执法公示</h1>" in html.text and case["code"] in html.text
    assert "吹哨报到" not in html.text and '<option value="2026-12">2026年12月</option>' in html.text
    assert MASKED in html.text and "城关村" in html.text
    entries = feed(api.client).findall(f"{ATOM}entry")
    assert len(entries) == 1 and MASKED in entries[0].find(f"{ATOM}content").text
    atom_text = api.client.get("/disclosures.atom").text
    for raw in RAW_BITS:
        assert raw not in html.text and raw not in atom_text and raw not in str(row), raw
    assert api.client.get("/").text.count('href="/gongshi"') == 1  # linked from the login page


def test_names_found_once_plates_cards_chat_ids_and_house_numbers_never_reach_the_public(world, clock):
    """The tester's text: a name masked after 当事人 must not leak at its second mention, nor a spouse, a name
    before a title, a plate, a bank card, a WeChat or QQ id, a flat number."""
    api = world
    leaky = ("当事人王建国和其妻子李秀英在幸福小区5号楼2单元301住户私搭乱建，张建华书记到场；王建国表示同意拆除。"
             "经营户马家豪车辆晋J12345占道，罚款由银行卡6222021234567890123缴纳，微信 sun_12345，QQ 12345678。")
    raw_bits = ("王建国", "李秀英", "301", "张建华", "马家豪", "J12345", "6222021234567890123", "sun_12345",
                "12345678", "2单元")
    case = close_case(api, result=leaky, address="凤城镇幸福小区5号楼2单元301")
    clock.now = at("2026-12-01T09:00")
    row = public(api.client)["items"][0]
    assert row["code"] == case["code"] and "王某表示同意拆除" in row["result"] and "其妻子李某" in row["result"]
    html = api.client.get("/gongshi").text
    atom = api.client.get("/disclosures.atom").text
    assert case["code"] in html and case["code"] in atom
    for raw in raw_bits:
        assert raw not in html and raw not in atom and raw not in str(row), raw


def test_only_the_cases_township_withholds_or_releases_it_with_a_reason_and_each_decision_is_kept(world, clock):
    api = world
    case = close_case(api)
    lhl_case = close_case(api, township="LHL")
    not_disclosed = close_case(api, category="ENV01", result="已扑灭火点")
    clock.now = at("2026-12-01T09:00")
    assert set(codes(api.client)) == {case["code"], lhl_case["code"]}
    url = f"/api/v1/cases/{case['id']}/disclosure"
    reason = {"reason": "涉及未成年人隐私，依法不予公开"}

    for who in ("liaison_lhl", "disp_lhl", "zrzy_liaison", "zrzy_off1", "gw_fc1", "supervisor", "admin"):
        r = api.as_(who).post(f"{url}/withhold", json=reason)
        assert r.status_code == 403, (who, r.text)
        assert r.json()["error"]["code"] == "forbidden" and "乡镇" in r.json()["error"]["message"]
    client = api.client
    client.cookies.clear()
    assert client.post(f"{url}/withhold", json=reason).status_code == 401  # not signed in
    r = api.as_("disp_fc").post("/api/v1/cases/999999/disclosure/withhold", json=reason)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    for body in ({}, {"reason": "  "}, {"reason": "。"}, {"reason": "x", "extra": 1}):
        assert api.as_("disp_fc").post(f"{url}/withhold", json=body).status_code == 422, body
    r = api.as_("disp_fc").post(f"/api/v1/cases/{not_disclosed['id']}/disclosure/withhold", json=reason)
    assert r.status_code == 422 and "公示范围" in r.json()["error"]["message"]
    assert set(codes(client)) == {case["code"], lhl_case["code"]}  # nothing above changed the list

    r = api.as_("disp_fc").post(f"{url}/withhold", json=reason)
    assert r.status_code == 200 and r.json()["withheld"] is True
    assert codes(client) == [lhl_case["code"]]
    assert case["code"] not in client.get("/gongshi").text
    assert case["code"] not in client.get("/disclosures.atom").text
    assert api.as_("liaison_fc").post(f"{url}/withhold", json=reason).status_code == 422  # already withheld

    clock.advance(hours=2)
    r = api.as_("liaison_fc").post(f"{url}/release", json={"reason": "当事人信息已另行处理，可以公开"})
    assert r.status_code == 200 and r.json()["withheld"] is False
    assert set(codes(client)) == {case["code"], lhl_case["code"]}
    decisions = api.as_("liaison_fc").get(url).json()["decisions"]
    assert [(d["withheld"], d["by"], d["role"], d["reason"]) for d in decisions] == [
        (True, "disp_fc", "township_dispatcher", "涉及未成年人隐私，依法不予公开"),
        (False, "liaison_fc", "township_liaison", "当事人信息已另行处理，可以公开")]
    assert datetime.fromisoformat(decisions[1]["at"]) > datetime.fromisoformat(decisions[0]["at"])
    assert decisions[0]["at"].endswith("+08:00")
    assert api.as_("supervisor").get(url).status_code == 200  # the county reads the record
    assert api.as_("liaison_lhl").get(url).status_code == 403 and api.as_("zrzy_liaison").get(url).status_code == 403

    review = api.as_("disp_fc").get("/api/v1/disclosures/review").json()
    assert [(r["code"], r["state"]) for r in review["items"]] == [(case["code"], "published")]  # its own only
    assert api.as_("zrzy_liaison").get("/api/v1/disclosures/review").status_code == 403


def test_filters_paging_and_bad_filters(world, clock):
    api = world
    fc = [close_case(api) for _ in range(3)]
    lhl = close_case(api, township="LHL")
    clock.now = at("2026-12-01T09:00")
    first = public(api.client, page_size=2)
    assert (first["total"], first["pages"], len(first["items"])) == (4, 2, 2)
    second = public(api.client, page_size=2, page=2)
    assert {r["code"] for r in first["items"] + second["items"]} == {c["code"] for c in [*fc, lhl]}
    assert codes(api.client, township="LHL") == [lhl["code"]]
    assert codes(api.client, item="ENV01") == [] and codes(api.client, township="NOPE") == []
    assert len(feed(api.client, township="FC").findall(f"{ATOM}entry")) == 3
    r = api.client.get("/api/v1/disclosures", params={"month": "2026-13"})
    assert r.status_code == 422 and r.json()["error"]["code"]
    assert api.client.get("/api/v1/disclosures", params={"page_size": 1000}).status_code == 422
    page = api.client.get("/gongshi", params={"month": "11月"})  # the page says what is wrong, beside the field
    assert page.status_code == 422 and "月份格式" in page.text


def test_the_township_withholds_from_its_review_page(world, clock, client):
    api = world
    case = close_case(api)
    clock.now = at("2026-11-17T09:00")  # before publication: the township reviews what is coming
    web_login(client, "liaison_fc")
    page = client.get("/gongshi/review")  # the default filter: 待公示, the window to withhold
    assert page.status_code == 200 and case["code"] in page.text and "待公示" in page.text and "2026-11-25" in page.text
    assert 'href="/gongshi/review"' in page.text and "公示审核" in page.text  # in the township's navigation
    assert '<a href="/gongshi/review?state=pending" aria-current="page">待公示（1）' in page.text
    assert case["code"] not in client.get("/gongshi/review", params={"state": "published"}).text
    assert "<details" in page.text and "不予公示…" in page.text  # the reason form is folded away
    token = page_token(page.text)
    r = client.post(f"/gongshi/review/{case['id']}/withhold", data={"reason": "", "csrftoken": token})
    assert r.status_code == 422 and "请写明理由" in r.text
    r = client.post(f"/gongshi/review/{case['id']}/withhold", data={"reason": "涉及商业秘密", "csrftoken": token},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "不予公示" in page.text and "涉及商业秘密" in page.text and "已设为不予公示" in page.text
    assert case["code"] not in client.get("/gongshi/review").text  # withheld: no longer 待公示
    clock.now = at("2026-12-01T09:00")
    assert codes(client) == []
    web_login(client, "zrzy_liaison")
    assert client.get("/gongshi/review").status_code == 403


def test_the_demo_county_discloses_its_enforcement_cases_and_withholds_two(tmp_path, clock, sqlite_template):
    """`chuishao demo`: the public page lists closed enforcement cases; two are withheld with their reasons."""
    import shutil

    from fastapi.testclient import TestClient

    from chuishao.api.app import create_app
    from chuishao.flows.demo.county import DEMO_PASSWORD, TOWNSHIPS
    from chuishao.flows.demo.disclosure import WITHHELD_THEN_RELEASED, WITHHOLD_REASONS
    from tests.conftest import test_settings
    from tests.test_demo import run_demo

    shutil.copy(sqlite_template, tmp_path / "demo.db")
    settings = test_settings(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)
    _, log = run_demo(settings, clock)
    assert any("行政执法公示" in line for line in log)
    with TestClient(create_app(settings, clock)) as client:
        listed = client.get("/api/v1/disclosures", params={"page_size": 100}).json()
        assert listed["total"] > 5 and all(r["outcome_label"] and r["result"] for r in listed["items"])
        page = client.get("/gongshi")
        assert page.status_code == 200 and listed["items"][0]["code"] in page.text
        seen = []
        for t in TOWNSHIPS:
            r = client.post("/api/v1/auth/token", data={"username": f"{t.prefix}_liaison", "password": DEMO_PASSWORD})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            pages = client.get("/api/v1/disclosures/review", headers=headers).json()["pages"]
            for p in range(1, pages + 1):
                rows = client.get("/api/v1/disclosures/review", params={"page": p}, headers=headers).json()["items"]
                seen += [(row["code"], row["state"], [d["reason"] for d in row["decisions"]]) for row in rows
                         if row["decisions"]]
    withheld = [(code, reasons) for code, state, reasons in seen if state == "withheld"]
    assert sorted(r for _, rs in withheld for r in rs) == sorted(WITHHOLD_REASONS)
    assert [reasons for _, state, reasons in seen if state != "withheld"] == [list(WITHHELD_THEN_RELEASED)]
    assert not {code for code, _ in withheld} & {r["code"] for r in listed["items"]}


def test_the_admin_marks_items_for_disclosure_by_form_import_and_settings_page(site, tmp_path):  # noqa: F811
    """The item form's 行政执法公示 box, the import's 公示 column and the 执法公示 admin page all set the flag."""
    from chuishao.flows.catalog_import import read_items

    web, api, _ = site
    r = web.post("/admin/catalog", {"code": "NOISE01", "name": "噪声扰民", "category": "环境/噪声",
                                    "lead_unit": "STHJ", "disclose": "1"})
    assert r.status_code == 303
    catalog = {i["code"]: i for i in api.as_("admin").get("/api/v1/catalog").json()}
    assert catalog["NOISE01"]["disclose"] is True and catalog["LAND01"]["disclose"] is False
    assert '<span class="tag">公示</span>' in web.get(r.headers["location"]).text  # the item page's tag

    csv = tmp_path / "items.csv"
    csv.write_text("code,name,category,lead_unit,公示\nA1,甲,类/甲,ZRZY,是\nA2,乙,类/乙,ZRZY,\n", encoding="utf-8")
    assert [(i["code"], i["disclose"]) for i in read_items(csv)] == [("A1", True), ("A2", False)]

    page = web.get("/admin/disclosure")
    assert page.status_code == 200 and 'value="7"' in page.text
    bad = web.post("/admin/disclosure", {"working_days": "45", "items": ["LAND01"]})
    assert bad.status_code == 422 and "0–30" in bad.text
    r = web.post("/admin/disclosure", {"working_days": "5", "items": ["LAND01", "ENV01"]})
    assert r.status_code == 303
    catalog = {i["code"]: i["disclose"] for i in api.as_("admin").get("/api/v1/catalog").json()}
    assert catalog == {"LAND01": True, "ENV01": True, "STALL01": False, "MKT01": False, "NOISE01": False}
    assert api.as_("admin").get("/api/v1/settings/disclosure").json() == {"working_days": 5}
    web.login("liaison_fc")
    assert web.get("/admin/disclosure").status_code == 403

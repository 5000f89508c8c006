"""The case page's action forms without a browser: the posted form → the action's body (types, empty optional
fields left out, unknown fields refused, Chinese messages per field), and the page routes over a real app."""

import re

import pytest

from chuishao.api.web import forms
from chuishao.flows import lifecycle as lc
from chuishao.flows.case_hints import CaseHints, bigrams, score_candidates


def errors_of(action, form) -> dict:
    with pytest.raises(forms.FormErrors) as exc:
        forms.parse(action, form)
    return exc.value.errors


# ---- form → body ------------------------------------------------------------------------------
def test_empty_optional_fields_are_left_out_and_csrf_and_version_are_not_body_fields():
    assert forms.parse("check_in", {"csrftoken": "t", "version": "3", "note": ""}) == {}
    assert forms.parse("check_in", {"note": "   "}) == {}
    assert forms.parse("accept", {"category": "", "urgency": "", "note": ""}) == {}
    assert forms.parse("verify", {"passed": "true", "note": "", "satisfaction": "", "rating": ""}) == {"passed": True}


def test_fields_convert_by_the_models_types():
    assert forms.parse("request_extension", {"working_days": " 5 ", "reason": "等待检测报告"}) == \
        {"working_days": 5, "reason": "等待检测报告"}
    assert forms.parse("verify", {"passed": "false", "note": "仍有垃圾", "satisfaction": "basic", "rating": "2"}) == \
        {"passed": False, "note": "仍有垃圾", "satisfaction": "basic", "rating": 2}
    # lists: every value of the name; the form's empty marker means "none ticked", not "left out"
    assert forms.parse("feedback", [("outcome", "resolved"), ("result", "已拆除"), ("officers", ""),
                                    ("officers", "zrzy_off1"), ("officers", "zrzy_off2")]) == \
        {"outcome": "resolved", "result": "已拆除", "officers": ["zrzy_off1", "zrzy_off2"]}
    assert forms.parse("dispatch", [("lead_unit", "ZRZY"), ("assist_units", "")]) == \
        {"lead_unit": "ZRZY", "assist_units": []}
    assert forms.parse("dispatch", {"lead_unit": ""}) == {}  # routed by the catalog


def test_merge_takes_a_case_number_as_people_write_it_or_an_id():
    assert forms.parse("merge", {"into": "CS20261116000042"}) == {"into": 42}
    assert forms.parse("merge", {"into": "cs20261116000042"}) == {"into": 42}
    assert forms.parse("merge", {"into": "42"}) == {"into": 42}
    # the candidate ticked and the same number typed agree; two different cases do not
    assert forms.parse("merge", [("into", "CS20261116000042"), ("into", "CS20261116000042")]) == {"into": 42}
    assert errors_of("merge", [("into", "CS20261116000042"), ("into", "43")]) == \
        {"into": "合并到案件只能填写或选择一项"}
    assert errors_of("merge", {"into": "东街那件"}) == {"into": "请填写案件编号（CS 开头）或案件 ID"}
    assert errors_of("merge", {}) == {"into": "请选择合并到案件"}


def test_missing_and_out_of_range_answers_come_back_in_chinese_beside_each_field():
    assert errors_of("request_extension", {"working_days": "十天", "reason": ""}) == {
        "working_days": "延期工作日数须为整数", "reason": "请填写延期理由"}
    assert errors_of("request_extension", {"working_days": "0", "reason": "x"}) == \
        {"working_days": "延期工作日数不能小于 1"}
    assert errors_of("request_extension", {"working_days": "61", "reason": "x"}) == \
        {"working_days": "延期工作日数不能大于 60"}
    assert errors_of("verify", {"satisfaction": "great", "rating": "9"}) == {
        "passed": "请选择核查结论", "satisfaction": "请从给出的选项中选择群众满意度",
        "rating": "对部门评价（一哨一考核）不能大于 5"}
    assert errors_of("verify", {"passed": "maybe"}) == {"passed": "请选择核查结论"}
    assert errors_of("feedback", {"outcome": "done", "result": "好" * 5001}) == {
        "outcome": "请从给出的选项中选择办理结果", "result": "办理情况不能超过 5000 个字（现有 5001 个字）"}
    assert errors_of("dispatch", {"lead_unit": "自然资源局"}) == {"lead_unit": "主办单位格式不正确，请从列表中选择"}
    many = [("officers", f"u{i}") for i in range(21)]
    assert errors_of("feedback", [("outcome", "resolved"), ("result", "x"), *many]) == \
        {"officers": "执法人员最多选择 20 项"}
    assert errors_of("urge", {"note": " "}) == {"note": "请填写催办内容"}


def test_unknown_fields_files_and_unstorable_text_are_refused():
    errs = errors_of("check_in", {"note": "好", "status": "closed"})
    assert set(errs) == {"_"} and "status" in errs["_"]
    assert errors_of("reject", {"reason": "a\x00b"}) == {"reason": "理由含有无法保存的字符，请删除后重试"}
    assert errors_of("reject", {"reason": object()}) == {"reason": "理由不接受文件"}
    with pytest.raises(KeyError):
        forms.parse("close", {})


def test_a_passed_verification_needs_nothing_more():
    assert forms.parse("verify", {"passed": "true"}) == {"passed": True}


def test_every_action_has_a_form_with_chinese_labels_and_a_button_that_says_what_it_does():
    case = {"id": 1, "category": None, "urgency": "normal", "title": "x"}
    for action in lc.BODIES:
        form = forms.build(action, case, CaseHints())
        assert form.label == lc.ACTION_LABELS[action]
        assert re.search(r"[\u4e00-\u9fff]", form.submit), action
        for f in form.fields:
            assert re.search(r"[\u4e00-\u9fff]", f.label), (action, f.name)
            if f.kind in ("bool", "enum"):
                assert all(re.search(r"[\u4e00-\u9fff]", c.label) for c in f.choices), (action, f.name)
    verify = forms.build("verify", case, CaseHints())
    assert [c.label for c in verify.get("passed").choices] == ["通过", "不通过"]
    assert [c.value for c in verify.get("rating").choices] == ["1", "2", "3", "4", "5"]
    assert verify.get("note").widget == "textarea" and verify.get("passed").widget == "radio"
    assert forms.build("request_extension", case, CaseHints()).get("working_days").maximum == 60


def test_duplicate_candidates_share_a_rare_title_bigram_or_are_the_same_item_nearby():
    from collections import namedtuple
    from datetime import UTC, datetime

    Row = namedtuple("Row", "id title status category lat lon created_at")
    at = datetime(2026, 11, 16, 2, tzinfo=UTC)
    case = {"id": 10, "title": "东街社区烧烤摊油烟扰民", "category": "ENV01", "lat": 37.45, "lon": 112.05}
    rows = [Row(9, "东街社区夜市烧烤摊", "handling", "MKT01", None, None, at),  # shares 烧烤
            Row(8, "东街社区路灯不亮", "accepted", "ROAD01", 37.45, 112.05, at),  # only the place name
            Row(7, "油罐车侧翻", "dispatched", "ENV01", 37.451, 112.05, at),  # same item, 111 m away
            Row(6, "秸秆焚烧", "dispatched", "ENV01", 37.47, 112.05, at)]  # same item, 2 km away
    rows += [Row(100 + i, f"东街社区问题{i}", "accepted", None, None, None, at) for i in range(6)]
    found = score_candidates(case, rows)
    assert [c.id for c in found] == [7, 9]
    assert found[0].same_item and 100 < found[0].distance_m < 120
    assert "烧烤" in found[1].shared and "东街" not in found[1].shared
    assert bigrams("A区 东街") == {"东街"}


# ---- the page over a real app (TestClient) ----------------------------------------------------
def web_login(client, username: str) -> str:
    """Sign in through the login form; returns the CSRF token the page forms carry."""
    from tests.county import PASSWORD

    client.cookies.clear()
    token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/").text).group(1)
    r = client.post("/", data={"username": username, "password": PASSWORD, "csrftoken": token},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return token


def page_token(html: str) -> str:
    return re.search(r'name="csrftoken" value="([^"]+)"', html).group(1)


def test_the_case_page_answers_403_outside_the_callers_scope_without_any_case_data(client, county):
    case = county.to_dispatched(title="北街违建砖房")
    web_login(client, "sthj_liaison")  # ENV's department: never whistled for a land case
    r = client.get(f"/cases/{case['id']}")
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert "无权访问" in r.text and "北街违建砖房" not in r.text and case["code"] not in r.text
    assert client.get(f"/cases/{case['id']}/attachments/1").status_code == 403
    assert client.get("/cases/999999").status_code == 404


def test_a_form_post_acts_through_the_service_and_bad_input_changes_nothing(client, county):
    case = county.to_handling()
    web_login(client, "zrzy_liaison")
    html = client.get(f"/cases/{case['id']}").text
    assert 'id="act-request_extension"' in html and 'id="act-feedback"' in html and 'id="act-return"' not in html
    token = page_token(html)
    url = f"/cases/{case['id']}/actions/request_extension"
    r = client.post(url, data={"csrftoken": token, "version": str(case["version"]), "working_days": "99",
                               "reason": ""}, follow_redirects=False)
    assert r.status_code == 422
    assert "延期工作日数不能大于 60" in r.text and "请填写延期理由" in r.text and 'value="99"' in r.text
    assert county.get("zrzy_liaison", case["id"])["version"] == case["version"]
    r = client.post(url, data={"csrftoken": token, "version": str(case["version"]), "working_days": "3",
                               "reason": "等待检测报告"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case['id']}?done=request_extension"
    after = county.get("zrzy_liaison", case["id"])
    assert after["pending_extension"]["working_days"] == 3
    page = client.get(r.headers["location"]).text
    assert "延期申请已提交" in page and "等待检测报告" in page
    # the same form again, with the version it showed: refused as stale, nothing changed
    r = client.post(url, data={"csrftoken": token, "version": str(case["version"]), "working_days": "3",
                               "reason": "再次申请"}, follow_redirects=False)
    assert r.status_code == 409 and "案件已被他人更新，请刷新后重试" in r.text
    assert county.get("zrzy_liaison", case["id"])["version"] == after["version"]


def test_evidence_uploads_from_the_case_page_and_only_images_are_shown_inline(client, county):
    case = county.to_handling()
    web_login(client, "zrzy_off1")
    token = page_token(client.get(f"/cases/{case['id']}").text)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    # the form's own token field, first, as a browser without scripts posts it (htmx sends it as a header)
    r = client.post(f"/cases/{case['id']}/attachments", data={"csrftoken": token, "back": "feedback"},
                    files=[("files", ("现场.png", png, "image/png")),
                           ("files", ("evil.html", b"<script>alert(1)</script>", "text/html"))],
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=attach&open=feedback")
    html = client.get(r.headers["location"]).text
    assert "附件已上传" in html and 'alt="照片：现场.png"' in html and ">evil.html</a>" in html
    assert re.search(r'<details class="action" id="act-feedback" open>', html)
    ids = [int(x) for x in re.findall(rf"/cases/{case['id']}/attachments/(\d+)", html)]
    img = client.get(f"/cases/{case['id']}/attachments/{min(ids)}")
    assert img.status_code == 200 and img.headers["content-type"] == "image/png" and img.content == png
    doc = client.get(f"/cases/{case['id']}/attachments/{max(ids)}")
    assert doc.headers["content-type"] == "application/octet-stream"
    assert doc.headers["content-disposition"].startswith("attachment")
    assert doc.headers["x-content-type-options"] == "nosniff"
    # nothing chosen: the message beside the field, nothing written
    before = county.get("zrzy_off1", case["id"])["version"]
    r = client.post(f"/cases/{case['id']}/attachments", data={"back": ""}, headers={"x-csrftoken": token},
                    files=[("files", ("", b"", "application/octet-stream"))], follow_redirects=False)
    assert r.status_code == 422 and "请选择要上传的照片或文件" in r.text
    assert county.get("zrzy_off1", case["id"])["version"] == before


def test_a_finished_case_refuses_uploads_beside_the_field(client, county):
    case = county.to_feedback()
    county.act("liaison_fc", case["id"], "verify", {"passed": True})
    web_login(client, "liaison_fc")
    html = client.get(f"/cases/{case['id']}").text
    assert "案件已结束，不能再添加附件" in html and 'name="files"' not in html
    r = client.post(f"/cases/{case['id']}/attachments", headers={"x-csrftoken": page_token(html)},
                    files=[("files", ("a.png", b"x" * 10, "image/png"))], follow_redirects=False)
    assert r.status_code == 422 and "案件已办结，不能再添加附件" in r.text


def test_the_dispatchers_forms_offer_the_catalog_by_name_the_routed_units_and_likely_duplicates(client, county):
    first = county.report(title="东街菜市场门口流动摊贩占道", lat=37.45, lon=112.05)
    county.act("disp_fc", first["id"], "accept", {"category": "STALL01"})
    case = county.report(title="菜市场门口摊贩占道经营", lat=37.4505, lon=112.05)
    web_login(client, "disp_fc")
    html = client.get(f"/cases/{case['id']}").text
    assert re.findall(r'<details class="action[^"]*" id="act-(\w+)"', html) == ["accept", "reject", "merge"]
    # acceptance: the catalog by name, grouped by category, the code submitted
    assert '<optgroup label="国土">' in html and '<option value="LAND01">违法占地</option>' in html
    # merge: the earlier report is offered with its number and why it looks the same
    merge = html[html.index('id="act-merge"'):]
    assert first["code"] in merge and "东街菜市场门口流动摊贩占道" in merge and "相同字词" in merge
    token = page_token(html)
    r = client.post(f"/cases/{case['id']}/actions/accept", follow_redirects=False,
                    data={"csrftoken": token, "version": str(case["version"]), "category": "LAND01",
                          "urgency": "normal", "note": ""})
    assert r.status_code == 303
    html = client.get(f"/cases/{case['id']}").text
    dispatch = html[html.index('id="act-dispatch"'):]
    dispatch = dispatch[:dispatch.index("</details>")]
    # routed as CaseService routes a dispatch that names no unit: 自然资源局 leads, 住建局 assists
    assert '<option value="ZRZY" selected>自然资源局</option>' in dispatch
    assert re.search(r'value="ZJJ" checked>住房和城乡建设局', dispatch)
    assert "凤城镇综合行政执法队" in dispatch and "刘胡兰" not in dispatch  # this township's team only
    assert "违法占地" in html[html.index('class="card case-summary"'):html.index('id="h-timeline"')]


def test_a_form_over_the_size_limit_gets_a_chinese_page_and_scripts_get_json(client, county):
    big = {"file": ("big.png", b"\x89PNG" + bytes(2 * 1024 * 1024), "image/png")}
    page = client.post("/cases/1/attachments", files=big, headers={"accept": "text/html"})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "过大" in page.text
    script = client.post("/report", files=big, headers={"accept": "application/json"})
    assert script.status_code == 413 and script.json()["error"]["code"] == "too_large"

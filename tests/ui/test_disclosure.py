"""行政执法公示 in a real browser: the public page on a phone, without signing in."""

from tests.conftest import ADMIN_PASSWORD
from tests.test_disclosure import MASKED, RAW_BITS, close_case
from tests.ui.conftest import console_errors, desktop, phone, serious_violations, shot


def test_the_public_disclosure_page_renders_on_a_phone_without_signing_in(live_sqlite, browser, tmp_path):
    api = live_sqlite.api
    admin = api.as_("admin")
    assert admin.put("/api/v1/settings/disclosure", json={"working_days": 0}).status_code == 200  # listed at once
    assert admin.put("/api/v1/settings/disclosure/items", json={"items": ["LAND01"]}).status_code == 200
    for username, name in (("gw_fc1", "张三"), ("zrzy_off1", "郭建国"), ("zrzy_off2", "宋丽")):
        assert admin._send("patch", f"/api/v1/users/{username}", json={"name": name}).status_code == 200
    case = close_case(api)
    close_case(api, township="LHL", result="已责令当事人王五华恢复原状，并处罚款。")

    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    page.goto(live_sqlite.url + "/")
    page.get_by_role("link", name="行政执法公示").click()  # linked from the login page
    page.wait_for_url(live_sqlite.url + "/gongshi")
    assert page.get_by_role("heading", name="文水县行政执法公示", exact=True).is_visible()
    card = page.locator(f"li#{case['code']}")
    assert card.get_by_text(MASKED).is_visible() and card.get_by_text("· 城关村").is_visible()
    body = page.locator("main").inner_text()
    assert "王某" in body and not any(raw in body for raw in RAW_BITS)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    shot(page, "disclosure-phone", tmp_path)

    page.get_by_label("乡镇").select_option(label="刘胡兰镇")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**/gongshi?township=LHL**")
    assert page.locator("li.gs-case").count() == 1 and case["code"] not in page.locator("main").inner_text()
    assert serious_violations(page) == []
    assert errors == []
    ctx.close()

    ctx = desktop(browser)
    page = ctx.new_page()
    page.goto(live_sqlite.url + "/gongshi")
    assert serious_violations(page) == []
    shot(page, "disclosure-desktop", tmp_path)
    page = live_sqlite.login(ctx.new_page(), "admin", ADMIN_PASSWORD)
    page.goto(live_sqlite.url + "/admin/disclosure")
    names = page.locator(".gs-item-name")
    line = names.first.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 24")
    assert all(names.nth(i).bounding_box()["height"] < 1.6 * line for i in range(names.count()))  # one line each
    shot(page, "disclosure-admin-desktop", tmp_path)
    ctx.close()

    # the township withholds it from its review page; the public page no longer shows it
    ctx = phone(browser)
    page = live_sqlite.login(ctx.new_page(), "liaison_fc")
    page.get_by_role("navigation", name="底部导航").get_by_role("link", name="公示审核").click()  # in the tab bar
    page.wait_for_url("**/gongshi/review")
    assert page.get_by_text("本乡镇暂无待公示的案件").is_visible()  # N = 0: published at once, nothing pending
    page.get_by_role("link", name="全部（1）").click()
    page.wait_for_url("**/gongshi/review?state=all")
    assert not page.get_by_label("不予公示的理由").is_visible()  # folded away: the card stays short
    page.get_by_text("不予公示…").click()
    page.get_by_label("不予公示的理由").fill("涉及未成年人隐私，依法不予公开")
    page.get_by_role("button", name="不予公示").click()
    page.get_by_text("已设为不予公示").wait_for()
    assert page.get_by_text("涉及未成年人隐私").first.is_visible()  # the record is open on a withheld case
    page.get_by_text("恢复公示…").click()
    assert page.get_by_text("恢复公示的理由").is_visible()
    shot(page, "disclosure-review-phone", tmp_path)
    page.goto(live_sqlite.url + "/gongshi/review?state=all")
    shot(page, "disclosure-review-all-phone", tmp_path)
    page.goto(live_sqlite.url + "/gongshi")
    assert case["code"] not in page.locator("main").inner_text()
    ctx.close()

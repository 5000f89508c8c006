"""Possible duplicates in the browser: the report form shows candidates before sending (htmx, as the title is typed
and the phone's position arrives), and the dispatcher's case page shows them beside the merge action."""

from playwright.sync_api import expect

from tests.ui.conftest import FC_G1_POINT, console_errors, desktop, phone, serious_violations, shot


def test_the_report_form_and_the_case_page_offer_possible_duplicates(live_sqlite, browser, tmp_path):
    live = live_sqlite
    lat, lon = FC_G1_POINT["latitude"], FC_G1_POINT["longitude"] + 0.001  # about 88 m east of the phone
    first = live.api.report(title="东街12号院内新建砖房", category="LAND01", lat=lat, lon=lon)

    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    live.login(page, "gw_fc1")
    page.goto(live.url + "/report")
    page.wait_for_selector("form[data-report-form][data-ready]")
    page.get_by_label("标题").press_sequentially("东街12号院私建砖房")
    box = page.locator("#dup-report")
    expect(box.get_by_text("可能已有人上报过")).to_be_visible()
    expect(box.get_by_text(first["title"])).to_be_visible()
    page.get_by_role("button", name="使用当前位置").click()  # the position arrives: the distance shows
    expect(box.get_by_text("相距约 88 米")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "report-possible-duplicates", tmp_path)
    assert not serious_violations(page) and not errors
    ctx.close()

    second = live.api.report(who="gw_fc2", title="【12345】东街12号院私建砖房", category="LAND01", lat=lat, lon=lon)
    ctx = desktop(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    live.login(page, "disp_fc")
    page.goto(f"{live.url}/cases/{second['id']}")
    panel = page.locator("#dup-case")
    expect(panel.get_by_text("相距约 0 米")).to_be_visible()
    expect(panel.get_by_role("button", name=f"将本案件合并到 {first['code']}")).to_be_visible()
    shot(page, "case-possible-duplicates", tmp_path)
    assert not serious_violations(page) and not errors
    page.once("dialog", lambda d: d.accept())
    panel.get_by_role("button", name=f"将本案件合并到 {first['code']}").click()
    expect(page.get_by_text("已合并到主案件")).to_be_visible()
    assert live.api.get("disp_fc", second["id"])["merged_into"] == first["id"]
    ctx.close()

"""待办 and 案件 in a real browser: live updates, scope, filters, accessibility."""

import re

from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from chuishao.models.db import sync_url
from tests.ui.conftest import desktop, phone, serious_violations, shot


def set_alert(live, case_id: int, level: str) -> None:
    """Give a case an alert level as the deadline sweep would (the live server runs on the wall clock)."""
    engine = create_engine(sync_url(live.settings.url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET alert = :level WHERE id = :id"), {"level": level, "id": case_id})
    engine.dispose()


def rows(page) -> list[str]:
    """The case titles the visible list shows, in order (cells on a phone, the table on a desktop)."""
    shown = page.locator(".ib-cell .title:visible, .ib-table td.ib-title a:visible")
    return [t.strip() for t in shown.all_inner_texts()]


def test_the_dispatchers_inbox_shows_a_new_report_without_reloading(live_sqlite, browser, tmp_path):
    live = live_sqlite
    ctx = desktop(browser)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    live.login(page, "disp_fc")
    page.goto(live.url + "/inbox")
    expect(page.get_by_role("heading", name="暂无待办")).to_be_visible()
    assert page.title().startswith("待办 ·")
    page.evaluate("window.__same_page = true")  # gone if the page reloads

    case = live.api.report(title="东街井盖缺失")
    expect(page.locator(".ib-table").get_by_role("link", name="东街井盖缺失")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("有新动态，列表已更新")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^待办 \(1\)"))
    row = page.locator(".ib-table tbody tr", has_text="东街井盖缺失")
    expect(row).to_contain_text("待受理")
    expect(row).to_contain_text("已上报")
    expect(row).to_contain_text(case["code"])
    expect(row).to_contain_text("凤城镇")
    expect(row).to_contain_text(re.compile(r"剩余 \d+"))
    assert page.evaluate("window.__same_page === true")
    shot(page, "inbox-dispatcher-live-desktop", tmp_path)

    # accepted elsewhere: it now waits to be dispatched, and the row says so
    live.api.act("disp_fc", case["id"], "accept", {"category": "ENV01"})
    expect(row).to_contain_text("待吹哨", timeout=10_000)

    # the case list keeps its filters while it refreshes itself
    page.goto(live.url + "/cases?status=reported")
    page.evaluate("window.__same_page = true")
    live.api.report(title="西街路灯不亮")
    live.api.to_dispatched("ENV01", title="西街秸秆焚烧")
    expect(page.locator(".ib-table").get_by_role("link", name="西街路灯不亮")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1500)  # the dispatch's events have arrived and been applied too
    assert rows(page) == ["西街路灯不亮"]
    assert page.url.endswith("/cases?status=reported") and page.evaluate("window.__same_page === true")
    page.get_by_role("link", name="西街路灯不亮").click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    assert errors == []
    ctx.close()


def test_a_department_sees_only_its_whistles_and_filters_by_alert(live_sqlite, browser, tmp_path):
    live = live_sqlite
    ours_red = live.api.to_dispatched("LAND01", title="南街违法占地建房")  # 自然资源局 leads
    ours = live.api.to_dispatched("LAND01", title="北街违法占地")
    theirs = live.api.to_dispatched("ENV01", title="东街秸秆焚烧")  # 生态环境分局
    live.api.report(title="西街垃圾堆放")  # not whistled to anyone yet
    set_alert(live, ours_red["id"], "overdue")
    set_alert(live, theirs["id"], "overdue")
    set_alert(live, ours["id"], "warning")

    for make, name in ((desktop, "desktop"), (phone, "phone")):
        ctx = make(browser)
        page = ctx.new_page()
        live.login(page, "zrzy_liaison")
        page.goto(live.url + "/inbox")
        assert sorted(rows(page)) == ["北街违法占地", "南街违法占地建房"]
        expect(page.locator(".ib-cell:visible, .ib-table tr:visible", has_text="南街违法占地建房").first
               ).to_contain_text("红灯")
        page.goto(live.url + "/cases")
        assert sorted(rows(page)) == ["北街违法占地", "南街违法占地建房"]
        if name == "phone":
            page.get_by_text("更多筛选").click()  # the selects fold away on a phone
        page.get_by_label("预警").select_option(label="红灯")
        page.get_by_role("button", name="筛选").click()
        page.wait_for_url(re.compile(r"alert=overdue"))
        expect(page.get_by_text("符合条件的案件")).to_contain_text("1")
        assert rows(page) == ["南街违法占地建房"]  # not the other department's red case
        expect(page.get_by_label("预警")).to_have_value("overdue")  # the form shows what is filtered
        page.get_by_label("预警").select_option(label="黄灯")
        page.get_by_role("button", name="筛选").click()
        page.wait_for_url(re.compile(r"alert=warning"))
        assert rows(page) == ["北街违法占地"]
        shot(page, f"cases-department-filtered-{name}", tmp_path)
        # a case of another unit is not theirs to open either
        assert page.goto(live.url + f"/cases/{theirs['id']}").status == 403
        ctx.close()

    # the county supervisor sees both red cases; a bad filter value gets the form back with a message
    ctx = desktop(browser)
    page = ctx.new_page()
    live.login(page, "supervisor")
    page.goto(live.url + "/cases?alert=overdue")
    assert sorted(rows(page)) == ["东街秸秆焚烧", "南街违法占地建房"]
    response = page.goto(live.url + "/cases?alert=purple&township=NOWHERE")
    assert response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("乡镇不正确，请从列表中选择")
    expect(page.get_by_role("alert")).to_contain_text("预警状态不正确")
    expect(page.get_by_role("button", name="筛选")).to_be_visible()
    ctx.close()


def test_inbox_and_cases_pass_axe_at_phone_and_desktop_sizes(live_sqlite, browser, tmp_path):
    live = live_sqlite
    live.api.report(title="东街井盖缺失", urgency="urgent")
    red = live.api.to_dispatched("LAND01", title="南街违法占地建房")
    set_alert(live, red["id"], "escalated")
    live.api.to_handling("ENV01")
    for who in ("disp_fc", "supervisor"):
        for make, name in ((phone, "phone"), (desktop, "desktop")):
            ctx = make(browser)
            page = ctx.new_page()
            live.login(page, who)
            for path in ("/inbox", "/cases", "/cases?alert=escalated&status=dispatched", "/cases?alert=bad"):
                page.goto(live.url + path)
                page.wait_for_load_state("networkidle")
                assert serious_violations(page) == [], (who, name, path)
                assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], path
            shot(page, f"cases-{who}-{name}", tmp_path)
            ctx.close()

"""The live dashboard and the bulletins/checkpoints pages in a real browser."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import expect

from chuishao.flows.clock import LOCAL_TZ
from tests.ui.conftest import _in_thread, console_errors, desktop, phone, serious_violations, shot

KPI_NEW = '[data-kpi="new_today"] .n'
KPI_OPEN = '[data-kpi="open"] .n'


def open_dashboard(live, page, who: str):
    """Sign in, open /dashboard, and wait until its charts are drawn and the live feed has said hello (an event
    sent before the socket is up would not reach this page)."""
    live.login(page, who)
    frames = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f)))
    page.goto(live.url + "/dashboard")
    page.wait_for_selector("#dashboard.dash-live")
    for _ in range(200):  # {"type": "hello", …}
        if frames:
            break
        page.wait_for_timeout(50)
    assert frames, "the live feed did not connect"
    return page


def test_the_county_dashboard_counts_a_report_made_on_a_phone_without_reloading(live_sqlite, browser, tmp_path):
    live = live_sqlite
    boss_ctx = desktop(browser)
    boss = boss_ctx.new_page()
    errors = console_errors(boss)
    open_dashboard(live, boss, "supervisor")
    before = int(boss.locator(KPI_NEW).inner_text())
    boss.evaluate("window.__sameDocument = true")  # gone if the page reloads

    worker_ctx = phone(browser)
    worker = worker_ctx.new_page()
    live.login(worker, "gw_fc1")
    worker.goto(live.url + "/report")
    worker.wait_for_selector("form[data-report-form][data-ready]")
    worker.get_by_label("标题").fill("东街菜市场门口污水外溢")
    worker.get_by_label("详细情况").fill("下水道堵塞，污水漫到路面。")
    worker.get_by_role("button", name="提交上报").click()
    worker.wait_for_url("**/report/done/*")

    expect(boss.locator(KPI_NEW)).to_have_text(str(before + 1), timeout=10_000)
    expect(boss.locator(KPI_OPEN)).to_have_text(str(before + 1))
    expect(boss.locator(".dash-latest li").first).to_contain_text("东街菜市场门口污水外溢")
    expect(boss.locator(".dash-latest li").first).to_contain_text("凤城镇东街网格 上报")
    # the text for screen readers follows the chart
    assert "第1步事件上报 1 件" in boss.locator('[data-chart="steps"]').get_attribute("aria-label")
    assert boss.evaluate("window.__sameDocument") is True
    shot(boss, "dashboard-desktop", tmp_path)
    assert errors == []
    worker_ctx.close()
    boss_ctx.close()


def test_a_township_dashboard_counts_only_its_township_also_live(live_sqlite, browser, tmp_path):
    live = live_sqlite
    live.api.report(who="gw_fc1", title="凤城镇东街路灯不亮")
    live.api.report(who="gw_lhl", title="刘胡兰村河道垃圾")
    live.api.report(who="gw_lhl", title="刘胡兰村违章搭建")
    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    open_dashboard(live, page, "disp_fc")
    expect(page.get_by_role("heading", name="凤城镇实时看板")).to_be_visible()
    assert page.locator(KPI_NEW).inner_text() == "1"
    assert page.locator(KPI_OPEN).inner_text() == "1"
    assert "刘胡兰" not in page.locator("#main").inner_text()

    live.api.report(who="gw_lhl", title="刘胡兰村又一件")  # another township's: never reaches this page
    page.wait_for_timeout(2500)
    assert page.locator(KPI_NEW).inner_text() == "1"
    live.api.report(who="gw_fc2", title="凤城镇西街井盖缺失")  # its own: counted, live
    expect(page.locator(KPI_NEW)).to_have_text("2", timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on the phone
    shot(page, "dashboard-township-phone", tmp_path)
    assert errors == []
    ctx.close()


def test_leaving_and_coming_back_by_htmx_keeps_one_set_of_charts(live_sqlite, browser):
    live = live_sqlite
    ctx = desktop(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    open_dashboard(live, page, "supervisor")
    # one canvas in each of the five chart boxes: none missing, none drawn twice
    drawn = "Array.from(document.querySelectorAll('[data-chart]')).map(e => e.querySelectorAll('canvas').length)"
    assert page.evaluate(drawn) == [1] * 5
    page.locator(".topnav").get_by_role("link", name="通报").click()  # boosted: the body is swapped
    page.wait_for_url("**/reports")
    page.locator(".topnav").get_by_role("link", name="看板").click()
    page.wait_for_url("**/dashboard")
    page.wait_for_selector("#dashboard.dash-live")
    assert page.evaluate(drawn) == [1] * 5
    page.go_back()  # htmx restores /reports from its history
    page.wait_for_url("**/reports")
    page.go_forward()
    page.wait_for_url("**/dashboard")
    page.wait_for_selector("#dashboard.dash-live")
    assert page.evaluate(drawn) == [1] * 5
    before = int(page.locator(KPI_NEW).inner_text())
    live.api.report(who="gw_fc1", title="返回看板后的新事件")  # still live after the round trip
    expect(page.locator(KPI_NEW)).to_have_text(str(before + 1), timeout=10_000)
    assert errors == []
    ctx.close()


def _generate_reports(live) -> tuple[str, str]:
    """This month's bulletin and this week's checkpoint (previews: the county was set up just now, so earlier
    periods have nothing to report), by the plain job functions against the live server's database and data
    directory."""
    from chuishao.flows.jobs import run_bulletin, run_checkpoint

    now = datetime.now(UTC)
    here = now.astimezone(LOCAL_TZ)
    iso = here.isocalendar()
    month, week = f"{here.year:04d}-{here.month:02d}", f"{iso.year:04d}-W{iso.week:02d}"
    _in_thread(lambda: asyncio.run(run_bulletin(month, now, live.settings)))
    _in_thread(lambda: asyncio.run(run_checkpoint(week, now, live.settings)))
    return month, week


def test_reports_list_opens_and_downloads_with_the_session(live_sqlite, browser, tmp_path):
    live = live_sqlite
    live.api.to_dispatched("ENV01", title="东街焚烧秸秆")
    month, week = _generate_reports(live)
    year, mon = month.split("-")
    ctx = desktop(browser, accept_downloads=True)
    page = ctx.new_page()
    errors = console_errors(page)
    live.login(page, "disp_fc")
    page.goto(live.url + "/reports")
    item = page.locator(".rep-list li").filter(has_text=f"{year}年{int(mon)}月工作通报")
    expect(item).to_be_visible()
    assert serious_violations(page) == []
    shot(page, "reports-desktop", tmp_path)

    with page.expect_download() as dl:
        item.get_by_role("link", name="PDF").click()
    download = dl.value
    assert download.suggested_filename == f"chuishao-bulletin-{month}.pdf"
    assert Path(download.path()).read_bytes()[:5] == b"%PDF-"

    item.get_by_role("link", name="网页版").click()
    page.wait_for_url(f"**/reports/bulletins/{month}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("工作月度通报")
    page.get_by_role("link", name="← 返回通报列表").click()
    page.wait_for_url("**/reports")

    page.locator(".rep-list a.cell").first.click()
    page.wait_for_url(f"**/reports/checkpoints/{week}")
    expect(page.get_by_role("heading", name="乡镇：凤城镇")).to_be_visible()
    assert "乡镇：刘胡兰镇" not in page.content()  # a township sees its own section
    assert serious_violations(page) == []
    assert errors == []
    ctx.close()

    ctx = phone(browser)
    page = ctx.new_page()
    live.login(page, "gw_fc1")
    response = page.goto(live.url + "/reports")
    assert response.status == 403
    expect(page.get_by_role("heading", name="无权访问")).to_be_visible()
    assert page.request.get(live.url + f"/reports/bulletins/{month}.pdf").status == 403
    ctx.close()


def test_no_serious_accessibility_problems(live_sqlite, browser, tmp_path):
    live = live_sqlite
    live.api.to_handling("ENV01")
    live.api.report(who="gw_lhl")
    _generate_reports(live)
    for make, size in ((phone, "phone"), (desktop, "desktop")):
        ctx = make(browser)
        page = ctx.new_page()
        open_dashboard(live, page, "supervisor")
        assert serious_violations(page) == [], size
        page.locator("details.dash-data").first.locator("summary").click()  # the data table, opened
        assert serious_violations(page) == [], size
        shot(page, f"dashboard-{size}", tmp_path)
        page.goto(live.url + "/reports")
        assert serious_violations(page) == [], size
        ctx.close()

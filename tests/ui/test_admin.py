"""The admin's pages (管理员) in a real browser: users and their certificates, deactivation, the working calendar,
township overrides, who may open them, and accessibility."""

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_PASSWORD
from tests.county import PASSWORD
from tests.ui.conftest import console_errors, desktop, phone, serious_violations, shot

NEW_PASSWORD = "Tudi-2026-zhifa"


def as_admin(live, browser, ctx_factory=desktop) -> Page:
    page = ctx_factory(browser).new_page()
    live.login(page, "admin", ADMIN_PASSWORD)
    return page


def users_via_api(live) -> dict[str, dict]:
    r = live.api.as_("admin").get("/api/v1/users")
    assert r.status_code == 200, r.text
    return {u["username"]: u for u in r.json()}


def field_error(page: Page, field_id: str):
    """The error shown beside one field (inside the same .field block)."""
    return page.locator(f".field:has(#{field_id}) .field-error")


def create_officer(page: Page, live, username: str = "zrzy_off9") -> None:
    page.goto(live.url + "/admin/users/new")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("初始密码").fill(NEW_PASSWORD)
    page.get_by_label("姓名").fill("赵执法")
    page.get_by_label("角色").select_option(label="部门执法人员")
    page.get_by_label("所属单位").select_option(label="自然资源局")
    page.get_by_label("执法证号").fill("晋执-0099")
    page.get_by_label("有效期至").fill("2028-06-30")
    page.get_by_role("button", name="新建用户").click()
    page.wait_for_load_state("networkidle")


def test_admin_creates_an_officer_with_a_certificate_who_then_signs_in(live_sqlite, browser, tmp_path):
    live = live_sqlite
    page = as_admin(live, browser)
    errors = console_errors(page)
    create_officer(page, live)

    expect(page.get_by_role("status").filter(has_text="已新建用户 zrzy_off9")).to_be_visible()
    row = page.locator("tr", has_text="zrzy_off9")
    expect(row).to_contain_text("部门执法人员")
    expect(row).to_contain_text("自然资源局")
    expect(row).to_contain_text("晋执-0099")
    expect(row).to_contain_text("2028-06-30")
    expect(row).not_to_contain_text("已过期")
    kept = users_via_api(live)["zrzy_off9"]
    assert (kept["role"], kept["unit"], kept["certificate_no"], kept["certificate_expires"], kept["active"]) == (
        "department_officer", "ZRZY", "晋执-0099", "2028-06-30", True)
    shot(page, "admin-users-created", tmp_path)

    officer = desktop(browser).new_page()
    live.login(officer, "zrzy_off9", NEW_PASSWORD)
    assert urlparse(officer.url).path == "/inbox"  # signed in: the department's landing page, not the login form
    expect(officer.locator(".who-name")).to_contain_text("zrzy_off9 · 部门执法人员")
    assert errors == []


def test_an_expired_certificate_is_marked_as_expired(live_sqlite, browser):
    page = as_admin(live_sqlite, browser)
    page.goto(live_sqlite.url + "/admin/users?unit=ZRZY")
    expect(page.locator("tr", has_text="zrzy_off3")).to_contain_text("已过期")  # 2026-11-01, before today
    expect(page.locator("tr", has_text="zrzy_off1")).not_to_contain_text("已过期")


def test_a_bad_user_form_shows_each_error_beside_its_field_and_creates_nothing(live_sqlite, browser):
    live = live_sqlite
    page = as_admin(live, browser)
    before = users_via_api(live)

    page.goto(live.url + "/admin/users/new")
    page.get_by_label("用户名").fill("zrzy_off1")  # taken
    page.get_by_label("初始密码").fill("abcdefghi")  # trivial: a run of letters
    page.get_by_label("姓名").fill("重名的人")
    page.get_by_label("角色").select_option(label="乡镇受理员")
    page.get_by_label("所属单位").select_option(label="自然资源局")  # a department, not a township
    page.get_by_role("button", name="新建用户").click()
    page.wait_for_load_state("networkidle")

    expect(page.get_by_role("alert").filter(has_text="请修改以下内容")).to_be_visible()
    expect(field_error(page, "f-username")).to_contain_text("用户名 zrzy_off1 已被使用")
    expect(field_error(page, "f-password")).to_contain_text("连续")
    expect(field_error(page, "f-unit")).to_contain_text("乡镇受理员须属于乡镇")
    expect(page.get_by_label("姓名")).to_have_value("重名的人")  # what was typed stays

    page.get_by_label("用户名").fill("new_person")
    page.get_by_label("初始密码").fill("short")
    page.get_by_label("角色").select_option(label="部门执法人员")
    # a unit that is not in the list (removed since the page was opened, or a forged form)
    page.evaluate("""() => { const s = document.querySelector('#f-unit');
                            const o = new Option('已撤销的单位', 'GONE'); s.add(o); s.value = 'GONE'; }""")
    page.get_by_role("button", name="新建用户").click()
    page.wait_for_load_state("networkidle")
    expect(field_error(page, "f-password")).to_contain_text("至少 8 位")
    expect(field_error(page, "f-unit")).to_contain_text("请从列表中选择所属单位")
    expect(field_error(page, "f-username")).to_have_count(0)

    assert users_via_api(live) == before


def test_a_deactivated_user_can_no_longer_sign_in_and_a_reactivated_one_can(live_sqlite, browser):
    live = live_sqlite
    page = as_admin(live, browser)
    create_officer(page, live)

    page.goto(live.url + "/admin/users/zrzy_off9/edit")
    page.get_by_text("停用 赵执法 的账号…").click()
    page.get_by_role("button", name="确认停用账号").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("status").filter(has_text="已停用用户 zrzy_off9")).to_be_visible()
    expect(page.locator(".page-head")).to_contain_text("已停用")
    assert users_via_api(live)["zrzy_off9"]["active"] is False

    other = desktop(browser).new_page()
    live.login(other, "zrzy_off9", NEW_PASSWORD)
    expect(other.get_by_text("用户名或密码错误")).to_be_visible()
    token = live.api.client.post("/api/v1/auth/token", data={"username": "zrzy_off9", "password": NEW_PASSWORD})
    assert token.status_code == 401

    page.get_by_role("button", name="恢复账号").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("status").filter(has_text="已恢复用户 zrzy_off9")).to_be_visible()
    live.login(other, "zrzy_off9", NEW_PASSWORD)
    expect(other.locator(".who-name")).to_contain_text("zrzy_off9")


def test_the_admin_cannot_deactivate_their_own_account(live_sqlite, browser):
    page = as_admin(live_sqlite, browser)
    page.goto(live_sqlite.url + "/admin/users/admin/edit")
    expect(page.get_by_text("这是你正在使用的账号，不能停用")).to_be_visible()
    expect(page.get_by_role("button", name="确认停用账号")).to_have_count(0)


def day_cell(page: Page, iso: str):
    return page.locator(f'a.cal-day[data-date="{iso}"]')


def test_the_calendar_shows_national_day_and_its_make_up_day_and_a_day_can_be_edited(live_sqlite, browser, tmp_path):
    live = live_sqlite
    page = as_admin(live, browser)
    page.goto(live.url + "/admin/calendar?year=2026")
    expect(page.get_by_role("heading", name="2026 年工作日历")).to_be_visible()
    national = day_cell(page, "2026-10-01")
    expect(national).to_have_attribute("data-kind", "holiday")
    expect(national).to_contain_text("休")
    expect(national).to_have_attribute("aria-label", re.compile("节假日 国庆节"))
    makeup = day_cell(page, "2026-10-10")  # a Saturday worked in exchange (调休上班)
    expect(makeup).to_have_attribute("data-kind", "workday")
    expect(makeup).to_contain_text("班")
    expect(day_cell(page, "2026-10-09")).to_have_attribute("data-kind", "normal")

    day_cell(page, "2026-10-09").click()
    page.wait_for_load_state("networkidle")
    form = page.locator("#day-edit")
    expect(form.get_by_role("heading")).to_have_text("10月9日（周五）")
    form.get_by_label("节假日（休息）").check()
    form.get_by_label("名称").fill("县庆")
    form.get_by_role("button", name="保存这一天").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("status").filter(has_text="已修改 10月9日为节假日")).to_be_visible()
    edited = day_cell(page, "2026-10-09")
    expect(edited).to_have_attribute("data-kind", "holiday")
    expect(edited).to_contain_text("休")
    expect(edited).to_have_attribute("aria-label", re.compile("县庆（管理员修改）"))

    day_cell(page, "2026-10-10").click()
    # the day's own form, not the one still on screen while the click's page loads
    expect(page.locator("#day-edit").get_by_role("heading")).to_have_text("10月10日（周六）")
    page.locator("#day-edit").get_by_label("恢复常规（周一至周五上班、周末休息）").check()
    page.locator("#day-edit").get_by_role("button", name="保存这一天").click()
    page.wait_for_load_state("networkidle")
    expect(day_cell(page, "2026-10-10")).to_have_attribute("data-kind", "weekend")
    expect(day_cell(page, "2026-10-10")).not_to_contain_text("班")

    days = {d["date"]: d for d in live.api.as_("admin").get("/api/v1/calendar/2026").json()["days"]}
    assert (days["2026-10-09"]["kind"], days["2026-10-09"]["name"]) == ("holiday", "县庆")
    assert "2026-10-10" not in days
    shot(page, "admin-calendar", tmp_path)


def test_a_year_without_official_data_is_shown_as_provisional(live_sqlite, browser):
    page = as_admin(live_sqlite, browser)
    page.goto(live_sqlite.url + "/admin/calendar?year=2027")
    expect(page.locator(".page-head .tag")).to_have_text("暂定")
    expect(page.get_by_text("2027 年尚无国务院放假安排")).to_be_visible()
    expect(day_cell(page, "2027-10-01")).to_have_attribute("data-kind", "holiday")  # by rule


def test_a_township_override_set_through_the_form_routes_the_whistle(live_sqlite, browser):
    live = live_sqlite
    r = live.api.as_("admin").post("/api/v1/units", json={"code": "LHL-ZFD", "name": "刘胡兰镇综合行政执法队",
                                                          "kind": "team", "parent": "LHL"})
    assert r.status_code == 201, r.text
    page = as_admin(live, browser)
    page.goto(live.url + "/admin/catalog/LAND01/townships")
    expect(page.get_by_role("heading", name=re.compile("违法占地"))).to_be_visible()
    page.locator("#f-township").select_option(label="凤城镇")
    page.wait_for_url(re.compile(r"township=FC"))
    page.get_by_label("主办单位").select_option(label="刘胡兰镇综合行政执法队（乡镇综合行政执法队）")
    page.get_by_label("办理时限（一般）").fill("2x")
    page.get_by_role("button", name="保存本乡镇清单").click()
    page.wait_for_load_state("networkidle")
    expect(field_error(page, "f-lead_unit")).to_contain_text("其他乡镇的执法队")
    expect(page.locator("td.has-error .field-error")).to_contain_text("30m、2h、1d")

    page.get_by_label("主办单位").select_option(label="住房和城乡建设局")
    page.get_by_label("办理时限（一般）").fill("3d")
    page.get_by_role("button", name="保存本乡镇清单").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("status").filter(has_text="已保存违法占地（凤城镇）的本乡镇清单")).to_be_visible()
    listed = page.locator("#ov-h + ul li", has_text="凤城镇")
    expect(listed).to_contain_text("主办：住房和城乡建设局")
    expect(listed).to_contain_text("办理 3 工作日")

    case = live.api.to_dispatched("LAND01")  # reported in 凤城镇, dispatched without naming a unit
    assert case["lead_unit"] == "ZJJ"
    lhl = live.api.report(who="gw_lhl")
    live.api.act("disp_lhl", lhl["id"], "accept", {"category": "LAND01"})
    assert live.api.act("disp_lhl", lhl["id"], "dispatch")["lead_unit"] == "ZRZY"  # other townships unchanged


ADMIN_PAGES = ["/admin", "/admin/units", "/admin/users", "/admin/users/new", "/admin/users/gw_fc1/edit",
               "/admin/catalog", "/admin/catalog/LAND01/townships", "/admin/calendar", "/admin/api-keys",
               "/admin/scorecard"]


@pytest.mark.parametrize("who", ["supervisor", "disp_fc"])
def test_anyone_but_the_admin_gets_403_on_admin_pages(live_sqlite, browser, who):
    live = live_sqlite
    page = desktop(browser).new_page()
    live.login(page, who, PASSWORD)
    for path in ADMIN_PAGES:
        r = page.goto(live.url + path)
        assert r.status == 403, path
        expect(page.get_by_role("heading", name="无权访问")).to_be_visible()
        expect(page.get_by_text("仅管理员可访问此页面")).to_be_visible()
    before = users_via_api(live)
    status = page.evaluate("""async () => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const body = new URLSearchParams({username: 'sneaky', password: 'Sneaky-pass-2026', name: 'x',
                                          role: 'admin', unit: 'WS', csrftoken: token});
        return (await fetch('/admin/users', {method: 'POST', body})).status; }""")
    assert status == 403
    assert users_via_api(live) == before


def test_admin_pages_have_no_serious_accessibility_problems(live_sqlite, browser, tmp_path):
    live = live_sqlite
    page = as_admin(live, browser)
    errors = console_errors(page)
    for path in ("/admin", "/admin/users", "/admin/calendar"):
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        assert serious_violations(page) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366, path
    mobile = as_admin(live, browser, phone)
    mobile.goto(live.url + "/admin")
    mobile.wait_for_load_state("networkidle")
    assert serious_violations(mobile) == []
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
    expect(mobile.locator(".admin-nav")).to_be_hidden()  # the phone lists the sections in the page instead
    expect(mobile.get_by_role("link", name=re.compile("^工作日历"))).to_be_visible()
    shot(mobile, "admin-phone", tmp_path)
    assert errors == []

"""Account actions in a real browser (issue 10): the admin resets a password on the user's page, which signs the
user out of the browser they are using at once; too many failed sign-ins are explained on the login page."""

from playwright.sync_api import expect

from tests.conftest import ADMIN_PASSWORD
from tests.county import PASSWORD
from tests.ui.conftest import console_errors, desktop, phone, serious_violations, shot

NEW_PASSWORD = "Tudi-2026-zhifa"


def test_a_password_reset_signs_the_user_out_of_their_open_browser(live_sqlite, browser, tmp_path):
    live = live_sqlite
    user = phone(browser).new_page()
    live.login(user, "zrzy_off1")
    admin = desktop(browser).new_page()
    errors = console_errors(admin)
    live.login(admin, "admin", ADMIN_PASSWORD)

    admin.goto(live.url + "/admin/users/zrzy_off1/edit")
    admin.get_by_label("新密码").fill("password")
    admin.get_by_role("button", name="重置密码").click()
    admin.wait_for_load_state("networkidle")
    expect(admin.locator("#e-new_password")).to_contain_text("常见")
    assert serious_violations(admin) == []
    shot(admin, "admin-user-password", tmp_path)

    admin.get_by_label("新密码").fill(NEW_PASSWORD)
    admin.get_by_role("button", name="重置密码").click()
    admin.wait_for_load_state("networkidle")
    expect(admin.get_by_role("status").filter(has_text="已重置用户 zrzy_off1 的密码")).to_be_visible()

    user.reload()  # the user's next page asks them to sign in, and only the new password works
    expect(user.get_by_role("button", name="登录")).to_be_visible()
    live.login(user, "zrzy_off1", PASSWORD)
    expect(user.get_by_text("用户名或密码错误")).to_be_visible()
    live.login(user, "zrzy_off1", NEW_PASSWORD)
    expect(user.get_by_role("button", name="登录")).to_have_count(0)
    assert errors == []


def test_the_login_page_says_when_too_many_attempts_failed(live_sqlite, browser):
    page = desktop(browser).new_page()
    page.goto(live_sqlite.url + "/")
    limit = int(live_sqlite.api.settings.login_limit_account.split()[0])
    for _ in range(limit):
        page.get_by_label("用户名").fill("disp_fc")
        page.get_by_label("密码").fill("wrong-guess-1")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_text("用户名或密码错误")).to_be_visible()
    live_sqlite.login(page, "disp_fc")  # the right password, too late
    expect(page.get_by_role("alert")).to_contain_text("登录失败次数过多，请 15 分钟后再试")

"""Signing in and out in a real browser."""

from tests.ui.conftest import console_errors, phone


def test_a_grid_worker_signs_in_on_a_phone_lands_on_the_report_page_and_signs_out(live_sqlite, browser):
    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    page.goto(live_sqlite.url + "/report")  # not signed in: the login page, which comes back here after
    assert page.get_by_role("button", name="登录").is_visible()
    page.get_by_label("用户名").fill("gw_fc1")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_text("用户名或密码错误").is_visible()
    live_sqlite.login(page, "gw_fc1")
    assert page.url.endswith("/report")
    cookie = next(c for c in ctx.cookies() if c["name"] == "chuishao_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="退出").first.click()
    page.wait_for_url(live_sqlite.url + "/")
    assert not [c for c in ctx.cookies() if c["name"] == "chuishao_session"]
    assert errors == []
    ctx.close()

"""Signing in and out in a real browser."""

from tests.ui.conftest import console_errors, desktop, phone, serious_violations


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


def test_the_login_page_has_no_serious_accessibility_findings_and_refuses_open_redirects(live_sqlite, browser):
    for context in (phone(browser), desktop(browser)):
        page = context.new_page()
        page.goto(live_sqlite.url + "/?next=//evil.example/x")
        assert serious_violations(page) == []
        page.get_by_label("用户名").fill("disp_fc")
        page.get_by_label("密码").fill("secret-pass-1")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(live_sqlite.url + "/inbox")  # the forged `next` is ignored: the dispatcher's home
        context.close()
    # a form post from another site (no CSRF token) signs nobody in
    r = live_sqlite.api.client.post("/", data={"username": "disp_fc", "password": "secret-pass-1"},
                                    headers={"cookie": "csrftoken=forged"}, follow_redirects=False)
    assert r.status_code == 403 and "chuishao_session" not in r.headers.get("set-cookie", "")

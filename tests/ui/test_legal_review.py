"""法制审核 in a real browser: the department ticks 重大执法决定 on the feedback form; the township's legal reviewer
finds the case under 待法制审核, sees the approve and return forms on the case page, and returns it with a reason."""

from playwright.sync_api import expect

from chuishao.flows.lifecycle import ACTION_LABELS
from tests.ui.conftest import console_errors, desktop, phone, serious_violations, shot
from tests.ui.test_case import action_buttons, open_case


def add_reviewer(live) -> None:
    r = live.api.as_("admin").post("/api/v1/users", json={"username": "legal_fc", "password": "secret-pass-1",
                                                          "name": "王法审", "role": "legal_reviewer", "unit": "FC"})
    assert r.status_code == 201, r.text


def test_the_department_marks_a_decision_major_and_the_reviewer_returns_it(live_sqlite, browser, tmp_path):
    live = live_sqlite
    add_reviewer(live)
    case = live.api.to_handling("LAND01")
    ctx = desktop(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    open_case(live, page, "zrzy_off1", case["id"])
    page.locator("#act-feedback > summary").click()
    form = page.locator("#act-feedback")
    form.get_by_label("已解决").check()
    form.get_by_label("办理情况").fill("拟对违法建筑作出强制拆除决定")
    for name in ("zrzy_off1", "zrzy_off2"):
        form.locator(f"input[name=officers][value={name}]").check()
    form.get_by_label("重大执法决定", exact=False).check()
    form.get_by_label("重大执法决定", exact=False).scroll_into_view_if_needed()
    shot(page, "case-feedback-major-desktop", tmp_path, full_page=False)
    form.get_by_role("button", name="提交办理结果").click()
    expect(page.locator(".notice.ok")).to_be_visible()
    assert live.api.get("zrzy_off1", case["id"])["status"] == "legal_review"
    ctx.close()

    ctx = phone(browser)
    page = ctx.new_page()
    errors += console_errors(page)
    live.login(page, "legal_fc")
    page.goto(f"{live.url}/inbox")
    expect(page.locator("body")).to_contain_text("待法制审核")
    page.goto(f"{live.url}/cases/{case['id']}")
    assert action_buttons(page) == [ACTION_LABELS["approve_legal_review"], ACTION_LABELS["return_legal_review"]]
    expect(page.locator("body")).to_contain_text("法制审核中")
    expect(page.locator(".timeline > li").last).to_contain_text("重大执法决定：是，先送法制审核")
    page.locator("#act-return_legal_review > summary").click()
    shot_path = shot(page, "case-legal-review-phone", tmp_path)
    assert shot_path.exists()
    page.locator("#act-return_legal_review").get_by_role("button").click()  # no reason: the form says why
    expect(page.locator("#act-return_legal_review .field-error")).to_be_visible()
    assert live.api.get("legal_fc", case["id"])["status"] == "legal_review"
    page.locator("#act-return_legal_review textarea").fill("未告知当事人陈述申辩权利，请补正后重新报审")
    page.locator("#act-return_legal_review").get_by_role("button").click()
    expect(page.locator(".notice.ok")).to_be_visible()
    assert live.api.get("legal_fc", case["id"])["status"] == "handling"
    assert serious_violations(page) == []
    assert errors == []
    ctx.close()

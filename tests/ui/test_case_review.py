"""案卷评查's scoring page in a real browser: the assigned reviewer sees the case file beside the six points, a fail
without a note is refused beside its point, and a saved fail shows with its note (docs/case-review.md)."""

from playwright.sync_api import expect

from tests.test_case_review import closed_case, reviewers
from tests.ui.conftest import console_errors, desktop, phone, serious_violations, shot


def test_the_reviewer_scores_beside_the_case_file(live_sqlite, browser, tmp_path):
    live = live_sqlite
    reviewers(live.api)
    closed_case(live.api, title="北街违建砖房")
    sup = live.api.as_("supervisor")
    d = sup.post("/api/v1/case-review/draws", json={"period": "2026", "seed": 20261201, "size": 1}).json()
    rid = d["reviews"][0]["id"]
    assert sup.put(f"/api/v1/case-review/reviews/{rid}/reviewer", json={"reviewer": "reviewer1"}).status_code == 200

    ctx = desktop(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    live.login(page, "reviewer1")
    page.goto(f"{live.url}/case-review/mine")
    page.get_by_text("北街违建砖房").click()
    expect(page.locator(".case-summary")).to_contain_text("北街违建砖房")
    expect(page.locator(".case-timeline")).to_contain_text("结果反馈")
    expect(page.get_by_role("heading", name="案卷评查评分")).to_be_visible()
    # the form beside the case file on a desk screen
    form_box, file_box = page.locator(".review-form").bounding_box(), page.locator(".case-summary").bounding_box()
    assert form_box["x"] > file_box["x"] + file_box["width"] - 1

    for point in ("subject", "procedure", "law", "decision", "documents"):
        page.locator(f"#pt-{point} input[value=pass]").check()
    page.locator("#pt-evidence input[value=fail]").check()
    page.get_by_role("button", name="保存评分").click()
    expect(page.locator("#pt-evidence .field-error")).to_contain_text("须写明问题")
    page.get_by_label("证据是否充分说明").fill("询问笔录缺当事人签名")
    page.get_by_role("button", name="保存评分").click()
    expect(page.get_by_role("status")).to_contain_text("评分已保存")
    expect(page.get_by_label("证据是否充分说明")).to_have_value("询问笔录缺当事人签名")
    assert live.api.as_("reviewer1").get(f"/api/v1/case-review/reviews/{rid}").json()["failed"] == [
        {"point": "evidence", "label": "证据是否充分", "note": "询问笔录缺当事人签名"}]
    shot(page, "case-review-scoring-desktop", tmp_path)
    assert serious_violations(page) == []
    assert errors == []

    mobile = phone(browser).new_page()
    live.login(mobile, "reviewer1")
    mobile.goto(f"{live.url}/case-review/reviews/{rid}")
    expect(mobile.get_by_role("heading", name="案卷评查评分")).to_be_visible()
    shot(mobile, "case-review-scoring-phone", tmp_path)

"""The case page in a real browser: every role sees its own actions as forms, and the forms act through the
same service as the REST API — with the rules' messages, the web form's own checks and stale-form refusals."""

from playwright.sync_api import expect

from chuishao.flows.lifecycle import ACTION_LABELS
from tests.ui.conftest import console_errors, phone, serious_violations, shot

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5d6b1f50000000049454e44ae426082")
RULE = "本事项为行政执法事项，须选择至少两名持有效执法证的执法人员（《行政处罚法》）"


def open_case(live, page, username: str, case_id: int):
    live.login(page, username)
    page.goto(f"{live.url}/cases/{case_id}")
    return page


def action_buttons(page) -> list[str]:
    return page.locator("details.action > summary").all_inner_texts()


def test_a_department_liaison_sees_exactly_its_actions_and_checks_in_through_the_form(live_sqlite, browser, tmp_path):
    live = live_sqlite
    case = live.api.to_dispatched("LAND01")
    allowed = live.api.get("zrzy_liaison", case["id"])["allowed_actions"]
    assert sorted(allowed) == ["check_in", "return"]
    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    open_case(live, page, "zrzy_liaison", case["id"])
    assert action_buttons(page) == [ACTION_LABELS[a] for a in allowed] == ["报到", "退回"]
    expect(page.locator(".case-summary")).to_contain_text("违法占地")  # the item by name, not LAND01
    expect(page.locator(".case-whistles")).to_contain_text("待报到")
    shot(page, "case-dispatched-phone", tmp_path)

    page.locator("#act-check_in > summary").click()
    page.get_by_label("报到说明").fill("已安排执法人员明早到场")
    page.get_by_role("button", name="确认报到").click()
    expect(page.locator(".notice.ok")).to_have_text("✓ 已报到")
    assert live.api.get("zrzy_liaison", case["id"])["status"] == "handling"
    entry = page.locator(".timeline > li").last
    expect(entry).to_contain_text("报到")
    expect(entry).to_contain_text("zrzy_liaison（部门联络员，自然资源局）")
    expect(entry).to_contain_text("已安排执法人员明早到场")
    expect(page.locator(".case-whistles .whistle").first).to_contain_text("已报到")
    assert action_buttons(page) == [ACTION_LABELS[a] for a in live.api.get("zrzy_liaison", case["id"])
                                    ["allowed_actions"]]
    assert errors == []
    ctx.close()


def test_feedback_on_an_enforcement_item_needs_two_certified_officers(live_sqlite, browser, tmp_path):
    live = live_sqlite
    case = live.api.to_handling("LAND01")
    ctx = phone(browser)
    page = ctx.new_page()
    open_case(live, page, "zrzy_off1", case["id"])
    page.locator("#act-feedback > summary").click()
    form = page.locator("#act-feedback")
    # the site photo goes up from inside the feedback form, which comes back open
    form.locator("input[type=file]").set_input_files(files=[{"name": "拆除现场.png", "mimeType": "image/png",
                                                             "buffer": PNG}])
    expect(form.locator(".file-names")).to_have_text("已选 1 个：拆除现场.png")
    form.get_by_role("button", name="上传所选文件").click()
    expect(page.locator(".notice.ok")).to_have_text("✓ 附件已上传")
    expect(page.locator(".case-files img[alt='照片：拆除现场.png']")).to_be_visible()
    expect(form).to_have_attribute("open", "")
    expect(form.get_by_text(RULE)).to_be_visible()  # said before anything is submitted
    form.get_by_label("已解决").check()
    form.get_by_label("办理情况").fill("责令停止建设并拆除大棚")
    form.locator("input[name=officers][value=zrzy_off1]").check()
    form.locator("input[name=officers][value=zrzy_off3]").check()  # certificate expired
    expect(form.locator("[data-valid-count]")).to_have_text("1")
    form.get_by_role("button", name="提交办理结果").click()
    # beside the officers, naming the one who does not count and why
    expect(form.locator("#e-feedback-officers")).to_contain_text("至少两名持有效执法证")
    expect(form.locator("#e-feedback-officers")).to_contain_text("zrzy_off3 执法证已于 2026-11-01 过期")
    shot(page, "case-feedback-refused-phone", tmp_path)
    after = live.api.get("zrzy_off1", case["id"])
    assert after["status"] == "handling" and after["version"] == case["version"] + 1  # the photo, nothing else
    # the form came back open with what the officer had entered
    expect(form.get_by_label("办理情况")).to_have_value("责令停止建设并拆除大棚")
    expect(form.locator("input[name=officers][value=zrzy_off1]")).to_be_checked()

    form.locator("input[name=officers][value=zrzy_off2]").check()
    expect(form.locator("[data-valid-count]")).to_have_text("2")
    form.get_by_role("button", name="提交办理结果").click()
    expect(page.locator(".notice.ok")).to_contain_text("办理结果已提交")
    assert live.api.get("zrzy_off1", case["id"])["status"] == "feedback"
    expect(page.locator(".timeline > li").last).to_contain_text("zrzy_off1、zrzy_off2、zrzy_off3")
    ctx.close()


def test_failed_verification_without_a_reason_is_refused_beside_the_field(live_sqlite, browser):
    live = live_sqlite
    case = live.api.to_feedback()
    ctx = phone(browser)
    page = ctx.new_page()
    open_case(live, page, "liaison_fc", case["id"])
    page.locator("#act-verify > summary").click()
    form = page.locator("#act-verify")
    expect(form).to_contain_text("已拆除违建")  # what the department reported, to check against
    form.get_by_label("不通过").check()
    form.get_by_label("不满意").check()
    form.get_by_role("button", name="提交核查结果").click()
    expect(form.locator("#e-verify-note")).to_contain_text("核查不通过须写明原因")
    expect(form.get_by_label("不满意")).to_be_checked()
    assert page.url == f"{live.url}/cases/{case['id']}"  # not the form's address: reloading shows the case
    after = live.api.get("liaison_fc", case["id"])
    assert after["status"] == "feedback" and after["version"] == case["version"]

    form.get_by_label("核查意见").fill("现场砖房仍未拆除")
    form.get_by_role("button", name="提交核查结果").click()
    expect(page.locator(".notice.ok")).to_contain_text("核查结果已提交")
    after = live.api.get("liaison_fc", case["id"])
    assert after["status"] == "handling" and after["rework_count"] == 1
    ctx.close()


def test_a_department_never_whistled_gets_403_and_no_case_data(live_sqlite, browser):
    live = live_sqlite
    case = live.api.to_dispatched("LAND01", title="西街私建二层砖房")
    ctx = phone(browser)
    page = ctx.new_page()
    live.login(page, "sthj_liaison")
    response = page.goto(f"{live.url}/cases/{case['id']}")
    assert response.status in (403, 404)
    html = page.content()
    assert "西街私建二层砖房" not in html and case["code"] not in html and "东街 12 号" not in html
    expect(page.get_by_role("heading", level=1)).to_have_text("无权访问")
    ctx.close()


def test_a_stale_form_is_refused_with_a_clear_message_and_changes_nothing(live_sqlite, browser):
    live = live_sqlite
    case = live.api.to_dispatched("LAND01")
    ctx = phone(browser)
    page = ctx.new_page()
    open_case(live, page, "zrzy_liaison", case["id"])
    page.locator("#act-return > summary").click()
    page.get_by_label("退回理由").fill("该地块属于林地，应由林业部门办理")
    # meanwhile the township urges: the case's version moves on
    live.api.act("disp_fc", case["id"], "urge", {"note": "请尽快报到"})
    # the open form is not swapped away by the live refresh; the page says something happened
    expect(page.locator("#case-stale")).to_be_visible(timeout=10_000)
    expect(page.get_by_label("退回理由")).to_have_value("该地块属于林地，应由林业部门办理")
    page.get_by_role("button", name="退回乡镇").click()
    expect(page.locator(".notice.warn[role=alert]")).to_have_text("案件已被他人更新，请刷新后重试")
    after = live.api.get("zrzy_liaison", case["id"])
    assert after["status"] == "dispatched" and after["return_count"] == 0
    assert after["whistles"][0]["state"] == "sent"
    # the page now shows the case as it is, the urge included, and keeps what was typed
    expect(page.locator(".timeline > li").last).to_contain_text("请尽快报到")
    expect(page.get_by_label("退回理由")).to_have_value("该地块属于林地，应由林业部门办理")
    ctx.close()


def test_the_page_follows_live_events_when_no_form_is_open(live_sqlite, browser):
    live = live_sqlite
    case = live.api.to_dispatched("LAND01")
    ctx = phone(browser)
    page = ctx.new_page()
    open_case(live, page, "disp_fc", case["id"])
    page.wait_for_load_state("networkidle")
    live.api.act("zrzy_liaison", case["id"], "check_in")
    expect(page.locator(".case-summary .tag").first).to_have_text("办理中", timeout=10_000)
    expect(page.locator(".timeline > li").last).to_contain_text("zrzy_liaison")
    ctx.close()


def test_the_case_page_has_no_serious_accessibility_findings_on_a_phone(live_sqlite, browser, tmp_path):
    live = live_sqlite
    case = live.api.to_handling("LAND01")
    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    open_case(live, page, "zrzy_liaison", case["id"])
    assert serious_violations(page) == []
    page.locator("#act-feedback > summary").click()
    page.locator("#act-request_extension > summary").click()
    assert serious_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "case-handling-forms-phone", tmp_path)
    assert errors == []
    ctx.close()


def test_an_upload_over_the_limit_says_so_and_changes_nothing(live_sqlite, browser, tmp_path):
    live = live_sqlite
    case = live.api.to_handling("LAND01")
    big = tmp_path / "现场录像.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024))  # the test server allows 1 MiB
    ctx = phone(browser)
    page = ctx.new_page()
    open_case(live, page, "zrzy_off1", case["id"])
    page.locator("#act-feedback > summary").click()
    form = page.locator("#act-feedback")
    form.locator("input[type=file]").set_input_files(str(big))
    form.get_by_role("button", name="上传所选文件").click()
    expect(page.locator("#live-status")).to_contain_text("过大")
    assert live.api.as_("zrzy_off1").get(f"/api/v1/cases/{case['id']}/attachments").json() == []
    assert live.api.get("zrzy_off1", case["id"])["version"] == case["version"]
    ctx.close()

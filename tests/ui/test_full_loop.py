"""One case from report to closure entirely through the web UI, each person in their own browser: a grid
worker on a phone reports with a photo and a GPS position; the township dispatcher accepts (picking the
item by name) and blows the whistle to the routed department; the department checks in and feeds back
with evidence and two certified officers; the township liaison fails the verification once with a reason;
the department feeds back again; the liaison verifies with a rating; the grid worker sees 已结案.
On SQLite and on PostgreSQL."""

from playwright.sync_api import Page, expect

from tests.ui.conftest import console_errors, desktop, phone
from tests.ui.test_report import _png

TITLE = "东街路口有人私建砖房"


def act(page: Page, action: str, submit: str, fill=None) -> None:
    """Open the action's form on the case page, fill it, submit, and wait for the confirmation."""
    page.locator(f"#act-{action} > summary").click()
    form = page.locator(f"#act-{action}")
    if fill:
        fill(form)
    form.get_by_role("button", name=submit).click()
    expect(page.locator(".notice.ok")).to_be_visible()


def test_a_case_goes_from_report_to_closure_through_the_web_ui(live, browser, tmp_path):
    photo, evidence = _png(tmp_path / "现场.png"), _png(tmp_path / "拆除后.png", w=40, h=40)
    people = {}

    def person(username: str, size=desktop) -> Page:
        if username not in people:
            ctx = size(browser)
            page = ctx.new_page()
            people[username] = (ctx, page, console_errors(page))
            live.login(page, username)
        return people[username][1]

    # 1 事件上报 — on a phone, with the GPS position and a photo
    worker = person("gw_fc1", phone)
    worker.goto(live.url + "/report")
    worker.wait_for_selector("form[data-report-form][data-ready]")
    worker.get_by_role("button", name="使用当前位置").click()
    worker.get_by_text("（按当前位置）").wait_for()
    worker.get_by_label("标题").fill(TITLE)
    worker.get_by_label("详细情况").fill("路口东侧新砌砖墙约 20 米，疑似违法建设。")
    worker.set_input_files("#f-photos", str(photo))
    worker.get_by_role("button", name="提交上报").click()
    worker.wait_for_url("**/report/done/*")
    case_id = int(worker.url.rsplit("/", 1)[1])
    expect(worker.get_by_role("heading", name="已上报")).to_be_visible()

    # 2 受理 and 3 吹哨 — the dispatcher finds it in their work list
    dispatcher = person("disp_fc")
    dispatcher.goto(live.url + "/inbox")
    dispatcher.get_by_role("link", name=TITLE).first.click()
    dispatcher.wait_for_url(f"**/cases/{case_id}")
    expect(dispatcher.locator(".case-files img")).to_have_count(1)  # the worker's photo, inline
    act(dispatcher, "accept", "确认受理",
        lambda f: f.get_by_label("事项类别").select_option(label="违法占地"))
    act(dispatcher, "dispatch", "吹哨派发")  # lead and assisting units pre-filled from the catalog
    expect(dispatcher.locator(".case-whistles")).to_contain_text("自然资源局")

    # 4 报到 — the department liaison, on a phone
    liaison = person("zrzy_liaison", phone)
    liaison.goto(f"{live.url}/cases/{case_id}")
    act(liaison, "check_in", "确认报到", lambda f: f.get_by_label("报到说明").fill("执法队今日到场"))

    # 5 结果反馈 — with evidence and two certified officers
    officer = person("zrzy_off1", phone)

    def feedback(result: str):
        officer.goto(f"{live.url}/cases/{case_id}")
        officer.locator("#act-feedback > summary").click()
        form = officer.locator("#act-feedback")
        form.get_by_label("已解决").check()
        form.get_by_label("办理情况").fill(result)
        form.locator("input[name=officers][value=zrzy_off1]").check()
        form.locator("input[name=officers][value=zrzy_off2]").check()
        form.get_by_role("button", name="提交办理结果").click()
        expect(officer.locator(".notice.ok")).to_contain_text("办理结果已提交")

    officer.goto(f"{live.url}/cases/{case_id}")
    officer.locator("#act-feedback > summary").click()
    officer.locator("#act-feedback input[type=file]").set_input_files(str(evidence))
    officer.locator("#act-feedback").get_by_role("button", name="上传所选文件").click()
    expect(officer.locator(".notice.ok")).to_have_text("✓ 附件已上传")
    feedback("已责令停工，违建砖墙已拆除")

    # 6 核查 — fails once, with a reason: back to the department (返工)
    township = person("liaison_fc")
    township.goto(f"{live.url}/cases/{case_id}")
    act(township, "verify", "提交核查结果", lambda f: (f.get_by_label("不通过").check(),
                                                       f.get_by_label("核查意见").fill("墙基仍在，未清运建筑垃圾")))
    assert live.api.get("liaison_fc", case_id)["status"] == "handling"

    feedback("墙基已挖除，建筑垃圾已清运")
    township.goto(f"{live.url}/cases/{case_id}")
    act(township, "verify", "提交核查结果", lambda f: (
        f.get_by_label("通过", exact=True).check(), f.get_by_label("满意", exact=True).check(),
        f.locator("input[name=rating][value='5']").check()))

    case = live.api.get("liaison_fc", case_id)
    assert (case["status"], case["outcome"], case["rework_count"]) == ("closed", "resolved", 1)
    files = live.api.as_("liaison_fc").get(f"/api/v1/cases/{case_id}/attachments").json()
    assert sorted(f["filename"] for f in files) == ["拆除后.png", "现场.png"]
    trail = [e["action"] for e in live.api.as_("liaison_fc").get(f"/api/v1/cases/{case_id}/timeline").json()]
    assert trail == ["report", "attach", "accept", "dispatch", "check_in", "attach", "feedback", "verify",
                     "feedback", "verify"]

    # the grid worker sees it closed, in their own list and on the case page
    worker.goto(live.url + "/mine")
    row = worker.locator("li", has_text=TITLE)
    expect(row).to_contain_text("已结案")
    row.get_by_role("link").first.click()
    expect(worker.locator(".case-summary")).to_contain_text("已结案")

    for ctx, _, errors in people.values():
        assert errors == []
        ctx.close()

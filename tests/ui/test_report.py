"""The grid worker's pages on a phone: 上报 (GPS, photo, drafts kept offline and sent once), the confirmation,
我的上报, and 通知."""

import base64
import hashlib
import struct
import time
import zlib

from playwright.sync_api import expect

from chuishao.api.web.render import when
from tests.ui.conftest import console_errors, desktop, phone, serious_violations, shot


def _png(path, w=48, h=32):
    """A small real PNG (a colour gradient), as a phone's camera would hand over an image file."""
    rows = b"".join(b"\x00" + b"".join(bytes([(x * 5) % 256, (y * 7) % 256, 140]) for x in range(w))
                    for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def _cases(live, who="gw_fc1"):
    r = live.api.as_(who).get("/api/v1/cases")
    assert r.status_code == 200, r.text
    return r.json()


def _attachments(live, case_id, who="gw_fc1"):
    return live.api.as_(who).get(f"/api/v1/cases/{case_id}/attachments").json()


def _report_page(live, page, who="gw_fc1"):
    live.login(page, who)
    page.goto(live.url + "/report")
    page.wait_for_selector("form[data-report-form][data-ready]")  # report.js has wired the form
    return page


def test_a_grid_worker_reports_from_the_phone_with_gps_and_a_photo(live_sqlite, browser, tmp_path):
    live = live_sqlite
    photo = _png(tmp_path / "现场.png")
    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    _report_page(live, page)
    assert page.get_by_text("所在网格：凤城镇东街网格（凤城镇）").is_visible()

    page.get_by_role("button", name="使用当前位置").click()
    page.get_by_text("坐标 37.450000, 112.050000").wait_for()
    page.get_by_text("（按当前位置）").wait_for()  # the GPS point resolves to FC-G1 through its polygon
    page.get_by_label("事项类别").fill("秸秆焚烧（环境/秸秆焚烧）")
    page.get_by_label("标题").fill("东街麦田有人焚烧秸秆")
    page.get_by_label("详细情况").fill("浓烟很大，靠近居民区。")
    page.set_input_files("#f-photos", str(photo))
    page.get_by_role("img", name="第 1 张照片").wait_for()  # the thumbnail before sending
    shot(page, "report-phone", tmp_path)
    page.get_by_role("button", name="提交上报").click()

    page.wait_for_url("**/report/done/*")
    case = _cases(live)["items"][0]
    assert page.get_by_role("heading", name="已上报").is_visible()
    assert page.get_by_text(case["code"]).is_visible()
    assert page.get_by_text(f"乡镇指挥中心将在 {when(case['deadline'])} 前受理").is_visible()
    assert (case["title"], case["grid"], case["township"], case["category"]) == (
        "东街麦田有人焚烧秸秆", "FC-G1", "FC", "ENV01")
    assert (case["lat"], case["lon"]) == (37.45, 112.05)
    files = _attachments(live, case["id"])
    assert [(f["content_type"], f["sha256"]) for f in files] == [
        ("image/png", hashlib.sha256(photo.read_bytes()).hexdigest())]
    shot(page, "report-done-phone", tmp_path)
    assert page.get_by_role("link", name="再报一件").get_attribute("href") == "/report"
    page.locator("#main").get_by_role("link", name="我的上报").click()
    page.wait_for_url("**/mine")
    assert page.get_by_text("东街麦田有人焚烧秸秆").is_visible()
    assert errors == []
    ctx.close()


def test_offline_the_report_waits_on_the_phone_and_is_sent_once_when_the_network_returns(live_sqlite, browser,
                                                                                          tmp_path):
    live = live_sqlite
    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    _report_page(live, page)
    key = page.input_value("input[name=client_key]")

    ctx.set_offline(True)
    page.get_by_label("标题").fill("离线时发现的私搭乱建")
    page.set_input_files("#f-album", str(_png(tmp_path / "a.png")))
    page.get_by_role("img", name="第 1 张照片").wait_for()
    page.get_by_role("button", name="提交上报").click()
    page.get_by_text("已保存在手机上，待网络恢复后自动发送（待发送 1 件）").wait_for()
    drafts = page.locator("#draft-list li")
    assert drafts.count() == 1 and "离线时发现的私搭乱建" in drafts.inner_text()
    assert page.get_by_label("标题").input_value() == ""  # the form is free for the next report
    assert _cases(live)["total"] == 0

    ctx.set_offline(False)  # the `online` event sends the waiting draft
    page.get_by_text("已发送 1 件").wait_for()
    assert page.locator("#drafts").is_hidden()
    listing = _cases(live)
    assert listing["total"] == 1 and listing["items"][0]["title"] == "离线时发现的私搭乱建"
    case_id = listing["items"][0]["id"]
    assert len(_attachments(live, case_id)) == 1

    # the answer was lost and the phone sends the same draft again: the server keeps one case, one photo
    png = "data:image/png;base64," + base64.b64encode((tmp_path / "a.png").read_bytes()).decode()
    result = page.evaluate("""async ([key, png]) => {
        const blob = await (await fetch(png)).blob();
        await window.chuishaoReport.drafts.put({key, user: "gw_fc1", created: Date.now(), state: "waiting",
            errors: {}, fields: {title: "离线时发现的私搭乱建", urgency: "normal"},
            photos: [{name: "a.png", type: "image/png", blob}]});
        return await window.chuishaoReport.flush();
    }""", [key, png])
    assert result == {"sent": 1, "left": 0}
    assert page.locator("#drafts").is_hidden()
    assert _cases(live)["total"] == 1 and len(_attachments(live, case_id)) == 1

    # and straight at the server, twice with the same key, as report.js sends it: one case, 201 then 200
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    answers = [ctx.request.post(live.url + "/report", headers={"x-csrftoken": csrf, "Accept": "application/json"},
                                multipart={"client_key": "resend-1", "title": "同一草稿发送两次"})
               for _ in range(2)]
    assert [a.status for a in answers] == [201, 200]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert _cases(live)["total"] == 2
    assert errors == []
    ctx.close()


def test_bad_input_is_shown_beside_the_field_and_nothing_is_created(live_sqlite, browser, tmp_path):
    live = live_sqlite
    ctx = phone(browser)
    page = ctx.new_page()
    _report_page(live, page)
    page.get_by_label("详细情况").fill("忘了写标题")
    page.get_by_role("button", name="提交上报").click()
    title_field = page.locator(".field.has-error", has=page.get_by_label("标题"))
    assert "请填写标题" in title_field.inner_text()
    assert page.locator("#draft-list li").count() == 0

    # a "photo" that is no image: the server refuses it (422), the error shows beside the photos
    fake = tmp_path / "photo.jpg"
    fake.write_text("not an image at all")
    page.get_by_label("标题").fill("有标题了")
    page.set_input_files("#f-album", str(fake))
    page.get_by_role("img", name="第 1 张照片").wait_for(state="attached")
    page.get_by_role("button", name="提交上报").click()
    page.locator("#photos-field.has-error").wait_for()
    assert "不是图片" in page.locator("#photos-field").inner_text()
    assert _cases(live)["total"] == 0
    page.goto(live.url + "/report")  # the refused draft is kept on the phone for editing, not lost
    draft = page.locator("#draft-list li", has_text="有标题了")
    assert "需修改" in draft.inner_text() and "不是图片" in draft.inner_text()
    draft.get_by_role("button", name="修改").click()
    expect(page.get_by_label("标题")).to_have_value("有标题了")
    page.get_by_role("button", name="移除第 1 张照片").click()
    page.get_by_role("button", name="提交上报").click()
    page.wait_for_url("**/report/done/*")
    assert _cases(live)["total"] == 1

    # what report.js would be told about text a database cannot keep, or too long: the fields, as JSON
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    for fields, field, words in (({"title": "井盖\x00缺失"}, "title", "无法保存的字符"),
                                 ({"title": "t", "description": "长" * 5001}, "description", "不能超过 5000 字"),
                                 ({"title": "t", "category_q": "没有这一项"}, "category", "清单中没有这一项")):
        r = ctx.request.post(live.url + "/report", headers={"x-csrftoken": csrf, "Accept": "application/json"},
                             multipart={"client_key": "bad-1", **fields})
        assert r.status == 422 and words in r.json()["fields"][field], r.text()
    assert _cases(live)["total"] == 1
    ctx.close()

    # without JavaScript the same form answers 422 with the error beside the title
    ctx = phone(browser, java_script_enabled=False)
    page = ctx.new_page()
    live.login(page, "gw_fc1")
    page.goto(live.url + "/report")
    page.get_by_label("详细情况").fill("没有脚本也要说清楚")
    with page.expect_response(lambda r: r.url.endswith("/report") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="提交上报").click()
    assert answer.value.status == 422
    assert "请填写标题" in page.locator(".field.has-error", has=page.get_by_label("标题")).inner_text()
    assert page.get_by_label("详细情况").input_value() == "没有脚本也要说清楚"  # nothing typed is lost
    assert _cases(live)["total"] == 1
    page.get_by_label("标题").fill("没有脚本时上报")  # and corrected, the plain form goes through with its photo
    page.set_input_files("#f-photos", str(_png(tmp_path / "plain.png")))
    page.get_by_role("button", name="提交上报").click()
    page.wait_for_url("**/report/done/*")
    case = _cases(live)["items"][0]
    assert case["title"] == "没有脚本时上报" and len(_attachments(live, case["id"])) == 1
    ctx.close()


def test_my_reports_list_mine_only_with_those_to_verify_on_top_and_refresh_live(live_sqlite, browser, tmp_path):
    live = live_sqlite
    mine = live.api.report("gw_fc1", title="东街路灯不亮")
    live.api.report("gw_fc2", title="西街下水道堵塞")
    done = live.api.to_feedback()  # reported by gw_fc1, now waiting for verification
    ctx = phone(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    live.login(page, "gw_fc1")
    page.goto(live.url + "/mine")
    assert page.get_by_text("东街路灯不亮").is_visible()
    assert page.get_by_text("西街下水道堵塞").count() == 0
    verify = page.locator("section", has=page.get_by_role("heading", name="待我核查"))
    assert verify.get_by_role("link").count() == 1
    assert verify.get_by_role("link").get_attribute("href") == f"/cases/{done['id']}"
    row = page.locator("section", has=page.get_by_role("heading", name="全部上报")).get_by_role(
        "link", name="东街路灯不亮")
    assert "已上报" in row.inner_text() and "第 1 步 · 事件上报" in row.inner_text()
    assert serious_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "mine-phone", tmp_path)

    live.api.act("disp_fc", mine["id"], "accept")  # the list follows the live feed, no reload
    page.locator("#mine-live a", has_text="东街路灯不亮").filter(has_text="已受理").wait_for()
    assert errors == []
    verify.get_by_role("link").click()  # a live region's links still open their page
    page.wait_for_url(f"**/cases/{done['id']}")
    ctx.close()


def test_report_page_has_no_serious_accessibility_findings_on_a_phone(live_sqlite, browser, tmp_path):
    ctx = phone(browser)
    page = ctx.new_page()
    _report_page(live_sqlite, page)
    assert serious_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.get_by_role("button", name="提交上报").click()  # with the errors shown, too
    page.locator(".error-summary").wait_for()
    assert serious_violations(page) == []
    ctx.close()


def test_notifications_show_unread_and_mark_all_read(live_sqlite, browser, tmp_path):
    live = live_sqlite
    case = live.api.report("gw_fc1", title="东街井盖缺失")
    live.api.act("disp_fc", case["id"], "accept")
    me = live.api.as_("gw_fc1")
    deadline = time.monotonic() + 10
    while me.get("/api/v1/notifications/unread_count").json()["unread"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    unread = me.get("/api/v1/notifications/unread_count").json()["unread"]
    assert unread >= 1
    ctx = desktop(browser)
    page = ctx.new_page()
    errors = console_errors(page)
    live.login(page, "gw_fc1")
    page.goto(live.url + "/notifications")
    assert page.request.get(live.url + "/notifications/unread.json").json() == {"unread": unread}
    first = page.locator(".nt-list li").first
    assert "东街井盖缺失" in first.inner_text() and "未读" in first.inner_text()
    page.locator("#unread").wait_for()
    assert page.locator("#unread").inner_text() == str(unread)  # the bell
    page.locator(".topnav").get_by_role("link", name="我的上报").click()  # a boosted page keeps the bell's count
    page.wait_for_url("**/mine")
    expect(page.locator("#unread")).to_have_text(str(unread))
    page.locator(".topnav").get_by_role("link", name="通知").click()
    page.wait_for_url("**/notifications")
    assert serious_violations(page) == []
    page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator(".nt-list li.nt-unread")).to_have_count(0)
    assert page.get_by_role("button", name="全部标为已读").count() == 0
    assert me.get("/api/v1/notifications/unread_count").json()["unread"] == 0
    assert page.request.get(live.url + "/notifications/unread.json").json() == {"unread": 0}
    assert errors == []
    page.locator(".nt-list a").first.click()  # opening one leads to its case
    page.wait_for_url(f"**/cases/{case['id']}")
    ctx.close()

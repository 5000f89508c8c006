"""重大执法决定法制审核 (legal review of major decisions; docs/lifecycle.md, docs/access.md#legal-review): a major
decision's feedback waits for the legal reviewer before the township verifies it; the reviewer approves or returns
it with a reason; only a reviewer whose scope covers the case may act; its clock alerts like the others; the
bulletin counts legal reviews with their denominators. On SQLite and PostgreSQL (the `county` fixture)."""

import asyncio
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from chuishao.flows.catalog_import import read_items
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.jobs import run_bulletin, run_checkpoint
from chuishao.flows.open311.history import describe
from chuishao.flows.open311.status import extended_status, standard_status
from chuishao.flows.sweep import sweep
from tests.test_clocks import run_sweep
from tests.test_dashboard import as_page_user
from tests.test_notifications import eventually, inbox

OFFICERS = ["zrzy_off1", "zrzy_off2"]
FEEDBACK = {"outcome": "resolved", "result": "已依法作出拆除决定并组织实施", "officers": OFFICERS}
# the county justice bureau's reviewer, 凤城镇's 司法所 reviewer (a user of the township's unit), 刘胡兰镇's
REVIEWERS = {"legal_county": "SFJ", "legal_fc": "FC", "legal_lhl": "LHL"}


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=LOCAL_TZ)


@pytest.fixture
def legal(county):
    """The test county plus a justice bureau (司法局), three legal reviewers and an item marked major."""
    admin = county.as_("admin")
    r = admin.post("/api/v1/units", json={"code": "SFJ", "name": "司法局", "kind": "department", "parent": "WS"})
    assert r.status_code == 201, r.text
    for username, unit in REVIEWERS.items():
        r = admin.post("/api/v1/users", json={"username": username, "password": "secret-pass-1", "name": username,
                                              "role": "legal_reviewer", "unit": unit})
        assert r.status_code == 201, r.text
    r = admin.post("/api/v1/catalog", json={"code": "DEMOL01", "name": "违法建设强制拆除", "category": "国土/违法建设",
                                            "lead_unit": "ZRZY", "enforcement": True, "major": True})
    assert r.status_code == 201, r.text
    assert r.json()["major"] is True
    return county


def to_handling(api, category="DEMOL01", who="gw_fc1") -> dict:
    case = api.report(who=who)
    disp = "disp_fc" if who.endswith(("fc1", "fc2")) else "disp_lhl"
    api.act(disp, case["id"], "accept", {"category": category})
    api.act(disp, case["id"], "dispatch")
    return api.act("zrzy_liaison", case["id"], "check_in")


def test_a_major_items_feedback_waits_for_legal_review_then_the_township_verifies(legal):
    api = legal
    case = to_handling(api)
    case = api.act("zrzy_off1", case["id"], "feedback", FEEDBACK)
    assert case["status"] == "legal_review"
    # the township cannot verify yet; the reviewer of its township may approve or return
    assert "verify" not in api.get("liaison_fc", case["id"])["allowed_actions"]
    assert api.get("legal_fc", case["id"])["allowed_actions"] == ["approve_legal_review", "return_legal_review"]
    case = api.act("legal_fc", case["id"], "approve_legal_review", {"note": "事实清楚，程序合法，同意"})
    assert case["status"] == "feedback"
    assert api.get("legal_fc", case["id"])["allowed_actions"] == []
    case = api.act("liaison_fc", case["id"], "verify", {"passed": True, "satisfaction": "satisfied", "rating": 5})
    assert (case["status"], case["outcome"]) == ("closed", "resolved")
    timeline = api.as_("liaison_fc").get(f"/api/v1/cases/{case['id']}/timeline").json()
    moves = [(e["action"], e["from_state"], e["to_state"]) for e in timeline][-3:]
    assert moves == [("feedback", "handling", "legal_review"), ("approve_legal_review", "legal_review", "feedback"),
                     ("verify", "feedback", "closed")]
    assert timeline[-2]["role"] == "legal_reviewer" and timeline[-2]["unit"] == "FC"


def test_a_return_needs_a_reason_and_sends_the_department_back_to_handling(legal):
    api = legal
    case = api.act("zrzy_off1", to_handling(api)["id"], "feedback", FEEDBACK)
    refused = api.act("legal_county", case["id"], "return_legal_review", {}, expect=422)
    assert "reason" in str(refused)
    blank = api.act("legal_county", case["id"], "return_legal_review", {"reason": "  "}, expect=422)
    assert blank["error"]["code"] != "action_not_allowed"
    case = api.act("legal_county", case["id"], "return_legal_review",
                   {"reason": "未告知当事人听证权利，请补正程序后重新报审"})
    assert case["status"] == "handling"
    assert case["outcome"] is None
    # the department redoes it and submits again: back to legal review, not to the township
    assert "feedback" in api.get("zrzy_off1", case["id"])["allowed_actions"]
    case = api.act("zrzy_off1", case["id"], "feedback", FEEDBACK)
    assert case["status"] == "legal_review"


def test_only_a_legal_reviewer_whose_scope_covers_the_case_may_act(legal):
    api = legal
    case = api.act("zrzy_off1", to_handling(api)["id"], "feedback", FEEDBACK)  # a 凤城镇 case
    # 刘胡兰镇's reviewer: outside their scope, neither readable nor actionable (403)
    assert api.as_("legal_lhl").get(f"/api/v1/cases/{case['id']}").status_code == 403
    r = api.as_("legal_lhl").post(f"/api/v1/cases/{case['id']}/actions/approve_legal_review", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # others who see the case may not review (422, naming what they may do)
    for who in ("zrzy_liaison", "liaison_fc", "supervisor"):
        r = api.as_(who).post(f"/api/v1/cases/{case['id']}/actions/approve_legal_review", json={})
        assert r.status_code == 422 and r.json()["error"]["code"] == "action_not_allowed", (who, r.text)
    # reviewers see the major decisions of their scope only, not the ordinary cases
    ordinary = api.to_handling("LAND01")
    listed = {c["id"] for c in api.as_("legal_county").get("/api/v1/cases").json()["items"]}
    assert case["id"] in listed and ordinary["id"] not in listed
    assert api.as_("legal_county").get(f"/api/v1/cases/{ordinary['id']}").status_code == 403
    assert case["id"] in {c["id"] for c in api.as_("legal_fc").get("/api/v1/cases").json()["items"]}
    assert api.as_("legal_lhl").get("/api/v1/cases").json()["total"] == 0
    # a reviewer cannot report
    r = api.as_("legal_county").post("/api/v1/cases", json={"title": "测试", "description": "测试", "township": "FC"})
    assert r.status_code == 403
    # a reviewer judges the file and adds nothing to it: no upload (403), no upload form on the page
    r = api.as_("legal_county").post(f"/api/v1/cases/{case['id']}/attachments",
                                     files={"file": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")})
    assert r.status_code == 403 and "不能上传" in r.json()["error"]["message"]
    as_page_user(api, "legal_county")
    page = api.client.get(f"/cases/{case['id']}").text
    assert "上传现场照片或证据" not in page and "审核通过" in page
    assert '结果反馈<span class="sub-step">法制审核中</span>' in page  # the progress bar names the sub-step
    api.client.cookies.clear()
    # the refusal reads as a sentence: 当前角色不能审核通过
    r = api.as_("liaison_fc").post(f"/api/v1/cases/{case['id']}/actions/approve_legal_review", json={})
    assert "不能审核通过" in r.json()["error"]["message"], r.text
    # the county's reviewer may act on any township's case
    assert api.act("legal_county", case["id"], "approve_legal_review")["status"] == "feedback"


def test_the_department_can_mark_one_case_major_at_feedback(legal):
    api = legal
    ordinary = api.act("zrzy_off1", api.to_handling("LAND01")["id"], "feedback", FEEDBACK)
    assert ordinary["status"] == "feedback"
    marked = api.act("zrzy_off1", api.to_handling("LAND01")["id"], "feedback", {**FEEDBACK, "major": True})
    assert marked["status"] == "legal_review"
    assert "approve_legal_review" in api.get("legal_fc", marked["id"])["allowed_actions"]
    # the reviewers of the scope hear of it; 刘胡兰镇's does not
    assert eventually(lambda: any(n["case_id"] == marked["id"] for n in inbox(api, "legal_fc")))
    assert any(n["case_id"] == marked["id"] for n in inbox(api, "legal_county"))
    assert not inbox(api, "legal_lhl")
    r = api.as_("zrzy_off1").post(f"/api/v1/cases/{ordinary['id']}/actions/feedback", json={**FEEDBACK, "major": 1})
    assert r.status_code in (409, 422)  # not a boolean, and the case has moved on anyway


def test_the_legal_review_clock_runs_five_working_days_and_alerts(legal, clock):
    api = legal
    clock.now = at("2026-11-16T10:00")  # Monday
    case = api.act("zrzy_off1", to_handling(api)["id"], "feedback", FEEDBACK)
    # the end of the fifth working day after (docs/clocks.md#defaults): 41 working hours from Monday 10:00
    assert (case["deadline"], case["alert"]) == ("2026-11-23T17:30:00+08:00", "none")
    run_sweep(api, at("2026-11-20T16:00"))
    assert api.get("legal_county", case["id"])["alert"] == "none"
    run_sweep(api, at("2026-11-20T16:30"))  # 80 % (32.8 working hours) was at 16:18 on Friday: yellow
    assert api.get("legal_county", case["id"])["alert"] == "warning"
    run_sweep(api, at("2026-11-23T17:45"))
    assert api.get("legal_county", case["id"])["alert"] == "overdue"
    run_sweep(api, at("2026-11-24T17:45"))  # a working day after the deadline: county supervision
    assert api.get("legal_county", case["id"])["alert"] == "escalated"
    # every reviewer whose scope covers the case heard of each level, as of the case entering review: the
    # township's 司法所 and the county's 司法局; the township liaison too; the supervisor of the escalation
    levels = ("黄灯预警", "红灯超时", "升级督办")
    for reviewer in ("legal_fc", "legal_county"):
        assert eventually(lambda r=reviewer: all(any(n["title"].endswith(lv) for n in inbox(api, r)) for lv in levels))
    assert not inbox(api, "legal_lhl")  # another township's 司法所 hears nothing of it
    assert eventually(lambda: any("升级督办" in n["title"] for n in inbox(api, "supervisor")))
    # the approval stops it; verification's own clock starts (two working days)
    clock.now = at("2026-11-25T10:00")
    case = api.act("legal_county", case["id"], "approve_legal_review")
    assert (case["alert"], case["deadline"]) == ("none", "2026-11-27T17:30:00+08:00")


def test_the_county_reviewers_hear_of_a_legal_review_alert_in_a_later_batch_of_the_sweep(legal, clock):
    """The county-level reviewers hear of a legal review clock's alert whichever of the sweep's batches claims
    it: here the second, after a batch that claimed only an ordinary clock."""
    api = legal
    clock.now = at("2026-11-16T09:00")  # Monday
    ordinary = api.to_dispatched("LAND01")  # its check-in clock (1 working day) falls due first
    clock.now = at("2026-11-16T10:00")
    case = api.act("zrzy_off1", to_handling(api)["id"], "feedback", FEEDBACK)
    svc = api.client.app.state.services
    fired = api.client.portal.call(lambda: sweep(svc.db, svc.cases.calendar.current, at("2026-11-20T16:30"),
                                                 batch=1))
    assert [case_id for case_id, _, _ in fired][0] == ordinary["id"]  # the batch before had no legal review clock
    assert (case["id"], "warning") in {(case_id, level) for case_id, _, level in fired}
    assert eventually(lambda: any(n["case_id"] == case["id"] and n["title"].endswith("黄灯预警")
                                  for n in inbox(api, "legal_county")))


def test_the_legal_review_limit_is_configurable_per_item(legal, clock):
    api = legal
    r = api.as_("admin").post("/api/v1/catalog", json={
        "code": "FINE01", "name": "大额罚款", "category": "环境/大额罚款", "lead_unit": "ZRZY", "major": True,
        "limits": {"legal_review": {"normal": "3d", "urgent": "24h"}}})
    assert r.status_code == 201, r.text
    clock.now = at("2026-11-16T10:00")
    case = api.act("zrzy_off1", to_handling(api, "FINE01")["id"], "feedback", FEEDBACK)
    assert case["deadline"] == "2026-11-19T17:30:00+08:00"  # three working days, not five


def test_the_bulletin_counts_legal_reviews_with_their_denominators_as_at_the_months_end(legal, clock):
    api = legal
    clock.now = at("2026-11-16T10:00")
    a, b, c = (to_handling(api) for _ in range(3))
    for case in (a, b, c):
        api.act("zrzy_off1", case["id"], "feedback", FEEDBACK)  # submitted: 3
    api.act("legal_county", a["id"], "approve_legal_review")  # A passes first time
    api.act("legal_fc", b["id"], "return_legal_review", {"reason": "证据不足"})  # B returned …
    api.act("zrzy_off1", b["id"], "feedback", FEEDBACK)  # … resubmitted (submitted: 4) …
    api.act("legal_fc", b["id"], "approve_legal_review")  # … and passes, not first time
    clock.now = at("2026-12-01T10:00")
    api.act("legal_county", c["id"], "return_legal_review", {"reason": "适用依据错误"})  # December: not November's

    data = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    zrzy = next(r for r in data["scorecard"] if r["code"] == "ZRZY")
    assert zrzy["legal_submitted"] == 4
    # first time: A of the first decisions of A and B (C's first decision is December's); returned: B's return of
    # the three decisions (A, B, B)
    assert zrzy["legal_first_pass"] == {"num": 1, "den": 2, "rate": 0.5}
    assert zrzy["legal_returned"] == {"num": 1, "den": 3, "rate": 0.3333}
    assert next(r for r in data["scorecard"] if r["code"] == "STHJ")["legal_returned"]["den"] == 0
    # December: C's first decision was a return, B's second decision is not a first one → 0 %, not "— (0/0)"
    december = asyncio.run(run_bulletin("2026-12", at("2026-12-02T10:00"), api.settings))
    zrzy_dec = next(r for r in december["scorecard"] if r["code"] == "ZRZY")
    assert zrzy_dec["legal_first_pass"] == {"num": 0, "den": 1, "rate": 0.0}
    assert {"法制审核一次通过率", "法制审核退回率", "提交法制审核数"} <= {d["term"] for d in data["definitions"]}
    # a return is not a rework: 返工率 counts failed verifications only
    assert zrzy["rework"]["num"] == 0
    html = api.as_("supervisor").get("/api/v1/bulletins/2026-11.html").text
    assert "<h3>重大执法决定法制审核</h3>" in html
    assert '50.0%<span class="frac">（1/2）</span>' in html and '33.3%<span class="frac">（1/3）</span>' in html
    book = load_workbook(io.BytesIO(api.as_("supervisor").get("/api/v1/bulletins/2026-11.xlsx").content))
    head, *rows = list(book["部门考核"].iter_rows(values_only=True))
    row = dict(zip(head, next(r for r in rows if r[head.index("部门编码")] == "ZRZY"), strict=True))
    assert (row["提交法制审核数"], row["法制审核一次通过率分子"], row["法制审核一次通过率分母"],
            row["法制审核退回率分子"], row["法制审核退回率分母"]) == (4, 1, 2, 1, 3)


def test_catalog_import_reads_the_major_column(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("code,name,category,lead_unit,enforcement,major\n"
                    "DEMOL02,违法建设强制拆除,城建/违法建设,ZJJ,是,是\n"
                    "STALL02,占道经营,市容/占道经营,CGJ,,\n", encoding="utf-8")
    assert [(i["code"], i["enforcement"], i["major"]) for i in read_items(path)] == [
        ("DEMOL02", True, True), ("STALL02", False, False)]


def test_open311_shows_a_case_under_legal_review_as_open_with_a_note(legal):
    assert (standard_status("legal_review"), extended_status("legal_review")) == ("open", "ACTION_SCHEDULED")
    api = legal
    case = api.act("zrzy_off1", to_handling(api)["id"], "feedback", FEEDBACK)
    entry = api.as_("liaison_fc").get(f"/api/v1/cases/{case['id']}/timeline").json()[-1]
    note = describe(entry["action"], entry["payload"], unit="自然资源局", name_of=str, outcome="resolved",
                    result=FEEDBACK["result"], to_state=entry["to_state"])
    assert note.startswith("自然资源局已反馈办理结果（已解决），属重大执法决定，待法制审核")


def test_legal_reviewers_read_the_bulletin_and_checkpoint_with_only_their_cases_listed(legal, clock):
    api = legal
    clock.now = at("2026-11-02T10:00")
    major = to_handling(api)  # 凤城镇's major decision, waiting for legal review: overdue by the month's end
    api.act("zrzy_off1", major["id"], "feedback", FEEDBACK)
    minor = to_handling(api, "LAND01")  # not major: no legal reviewer sees it
    run_sweep(api, at("2026-11-30T16:00"))  # both overdue
    asyncio.run(run_bulletin("2026-11", at("2026-12-01T10:00"), api.settings))
    asyncio.run(run_checkpoint("2026-W45", at("2026-11-09T10:00"), api.settings))
    for who, sees in (("legal_county", {major["id"]}), ("legal_fc", {major["id"]}), ("legal_lhl", set())):
        client = api.as_(who)
        r = client.get("/api/v1/bulletins/2026-11")
        assert r.status_code == 200, r.text
        assert {c["id"] for c in r.json()["overdue_cases"]} == sees
        assert "全县口径" in r.json()["scope"]["note"]
        r = client.get("/api/v1/checkpoints/2026-W45")
        assert r.status_code == 200, r.text
        listed = {c["id"] for s in r.json()["townships"] + r.json()["departments"] for v in s.values()
                  if isinstance(v, dict) and isinstance(v.get("cases"), list) for c in v["cases"]}
        assert listed == sees and minor["id"] not in listed
    as_page_user(api, "legal_county")
    assert api.client.get("/reports").status_code == 200
    assert 'href="/reports"' in api.client.get("/inbox").text  # the 通报 tab
    api.client.cookies.clear()
    r = api.as_("gw_fc1").get("/api/v1/bulletins/2026-11")
    assert r.status_code == 403 and "网格员请查看" in r.json()["error"]["message"]

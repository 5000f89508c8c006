"""Verification (核查) may correct the outcome the department proposed, and a failed one must say why: through
the REST API, on the case page and on Open311. Runs on SQLite and PostgreSQL (the `county` fixture)."""

import html
import re

from tests.test_open311 import O311
from tests.test_web_forms import page_token, web_login


def feedback(api, outcome="partially_resolved", result="已拆除主体结构"):
    case = api.to_handling()
    return api.act("zrzy_off1", case["id"], "feedback",
                   {"outcome": outcome, "result": result, "officers": ["zrzy_off1", "zrzy_off2"]})


def last_entry(api, who, case_id) -> dict:
    r = api.as_(who).get(f"/api/v1/cases/{case_id}/timeline")
    assert r.status_code == 200, r.text
    return r.json()[-1]


def unchanged(api, case) -> None:
    after = api.get("liaison_fc", case["id"])
    assert (after["status"], after["version"], after["outcome"], after["rework_count"]) == \
        ("feedback", case["version"], case["outcome"], 0)


def test_the_verifier_corrects_the_proposed_outcome_with_a_reason_and_the_timeline_shows_both(county):
    api = county
    case = feedback(api)
    assert case["outcome"] == "partially_resolved"
    # a correction without a reason is refused beside the note, and changes nothing
    err = api.act("liaison_fc", case["id"], "verify", {"passed": True, "outcome": "resolved"}, expect=422)["error"]
    assert err["code"] == "reason_required" and "写明理由" in err["message"]
    unchanged(api, case)
    note = "现场复核，违建已全部拆除，并非部分解决。"
    closed = api.act("liaison_fc", case["id"], "verify", {"passed": True, "outcome": "resolved", "note": note})
    assert (closed["status"], closed["outcome"]) == ("closed", "resolved")
    # every reader of the case sees the corrected outcome
    for who in ("zrzy_liaison", "disp_fc", "supervisor"):
        assert api.get(who, case["id"])["outcome"] == "resolved"
    entry = last_entry(api, "supervisor", case["id"])
    assert (entry["action"], entry["actor"], entry["role"], entry["to_state"]) == \
        ("verify", "liaison_fc", "township_liaison", "closed")
    assert entry["payload"]["proposed_outcome"] == "partially_resolved"
    assert entry["payload"]["outcome"] == "resolved" and entry["payload"]["note"] == note


def test_a_failed_verification_cannot_correct_the_outcome_and_must_say_why(county):
    api = county
    case = feedback(api)
    r = api.as_("liaison_fc").post(f"/api/v1/cases/{case['id']}/actions/verify",
                                   json={"passed": False, "outcome": "not_resolvable", "note": "仍有违建"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "correction_needs_pass", r.text
    for body in ({"passed": False}, {"passed": False, "note": "  "}):
        r = api.as_("liaison_fc").post(f"/api/v1/cases/{case['id']}/actions/verify", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "reason_required", r.text
    unchanged(api, case)
    r = api.as_("liaison_fc").post(f"/api/v1/cases/{case['id']}/actions/verify",
                                   json={"passed": True, "outcome": "finished"})
    assert r.status_code == 422  # only the four outcomes
    unchanged(api, case)


def test_naming_the_proposed_outcome_again_is_no_correction(county):
    api = county
    case = feedback(api, outcome="resolved")
    closed = api.act("gw_fc1", case["id"], "verify", {"passed": True, "outcome": "resolved"})  # no note needed
    assert (closed["status"], closed["outcome"]) == ("closed", "resolved")
    assert "proposed_outcome" not in last_entry(api, "gw_fc1", case["id"])["payload"]


def test_the_case_page_offers_the_correction_as_a_select_and_its_timeline_reads_proposed_then_corrected(
        client, county):
    api = county
    case = feedback(api)
    web_login(client, "liaison_fc")
    page = client.get(f"/cases/{case['id']}").text
    form = page[page.index('id="act-verify"'):]
    select = re.search(r'<select id="f-verify-outcome" name="outcome"[^>]*>(.*?)</select>', form, re.S)
    assert select, form[:2000]
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))
    assert options == [("", "不更正（维持部门反馈：部分解决）"), ("resolved", "已解决"),
                       ("partially_resolved", "部分解决"), ("not_resolvable", "无法解决"),
                       ("transferred", "已移送司法/公安")]
    assert "更正办理结果" in form
    url = f"/cases/{case['id']}/actions/verify"
    # the rule's refusal comes back beside the note field
    r = client.post(url, data={"csrftoken": page_token(page), "version": str(case["version"]), "passed": "true",
                               "outcome": "resolved", "note": ""}, follow_redirects=False)
    assert r.status_code == 422
    note_field = r.text[r.text.index('id="f-verify-note"') - 800:r.text.index('id="f-verify-note"')]
    assert "更正办理结果须在核查意见中写明理由" in note_field
    unchanged(api, case)
    r = client.post(url, data={"csrftoken": page_token(page), "version": str(case["version"]), "passed": "true",
                               "outcome": "resolved", "note": "现场复核已全部拆除"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = html.unescape(client.get(r.headers["location"]).text)
    timeline = page[page.index('id="h-timeline"'):]
    assert "办理结果更正：</span>部门反馈「部分解决」→ 核查认定「已解决」" in timeline
    assert "liaison_fc（乡镇执法联络员" in timeline
    assert "proposed_outcome" not in page


def test_open311_reads_the_corrected_outcome_and_says_so_in_the_status_notes(county):
    o = O311(county)
    rid = o.create("ENV01")
    case_id = int(rid)
    county.act("disp_fc", case_id, "accept")
    county.act("disp_fc", case_id, "dispatch")
    county.act("sthj_liaison", case_id, "check_in")
    county.act("sthj_off", case_id, "feedback", {"outcome": "resolved", "result": "已扑灭明火。"})
    county.act("liaison_fc", case_id, "verify",
               {"passed": True, "outcome": "partially_resolved", "note": "仍有余烬未清理。"})
    r = o.request(rid)
    assert (r["status"], r["extended_attributes"]["status"], r["extended_attributes"]["outcome"]) == \
        ("closed", "CLOSED", "partially_resolved")
    assert r["status_notes"] == ("核查通过，已结案（部分解决；部门反馈为已解决，经核查更正）。"
                                 "办理结果：已扑灭明火。核查意见：仍有余烬未清理。")
    status, feed = o.both("servicerequestupdates")
    assert [u["status"] for u in feed if u["service_request_id"] == rid][-1] == "CLOSED"

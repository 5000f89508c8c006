"""Every side path of the loop (docs/lifecycle.md), each on SQLite and PostgreSQL."""


def statuses(api, who, case_id):
    return [(e["action"], e["from_state"], e["to_state"]) for e in
            api.as_(who).get(f"/api/v1/cases/{case_id}/timeline").json()]


def test_reject_needs_a_reason_and_ends_the_case(county):
    api = county
    case = api.report()
    err = api.act("disp_fc", case["id"], "reject", {}, expect=422)
    assert err["error"]["code"] == "validation_error"
    case = api.act("disp_fc", case["id"], "reject", {"reason": "不属于本乡镇管辖范围"})
    assert (case["status"], case["step"], case["allowed_actions"]) == ("rejected", 2, [])
    assert api.get("gw_fc1", case["id"])["status"] == "rejected"  # the reporter sees why it ended


def test_merge_points_at_the_master_case(county):
    api = county
    master = api.report(title="西街垃圾堆放")
    dup = api.report(title="西街垃圾堆放（重复）", who="gw_fc2")
    case = api.act("disp_fc", dup["id"], "merge", {"into": master["id"]})
    assert (case["status"], case["merged_into"]) == ("merged", master["id"])
    # a case cannot be merged into itself or into another township's case
    other = api.report(who="gw_lhl")
    third = api.report()
    api.act("disp_fc", third["id"], "merge", {"into": third["id"]}, expect=422)
    api.act("disp_fc", third["id"], "merge", {"into": other["id"]}, expect=422)
    api.act("disp_fc", third["id"], "merge", {"into": 999999}, expect=422)
    assert api.get("disp_fc", third["id"])["status"] == "reported"


def test_dispatch_routes_by_override_then_item_default_and_devolved_items_go_to_the_team(county):
    api = county
    # item default: LAND01 → 自然资源局 lead, 住建局 assists
    case = api.to_dispatched("LAND01")
    assert case["lead_unit"] == "ZRZY" and [w["unit"] for w in case["whistles"] if w["role"] == "assist"] == ["ZJJ"]
    # devolved: 占道经营 goes to 凤城镇's own enforcement team
    case = api.to_dispatched("STALL01")
    assert case["lead_unit"] == "FC-ZFD"
    # township override (一乡镇一清单): 凤城镇 sends 秸秆焚烧 to 自然资源局 with 生态环境分局 assisting
    r = api.as_("admin").put("/api/v1/catalog/ENV01/townships/FC",
                             json={"lead_unit": "ZRZY", "assist_units": ["STHJ"]})
    assert r.status_code == 200, r.text
    case = api.to_dispatched("ENV01")
    assert case["lead_unit"] == "ZRZY"
    assert [w["unit"] for w in case["whistles"] if w["role"] == "assist"] == ["STHJ"]
    # ...while 刘胡兰镇 still follows the item default
    other = api.report(who="gw_lhl")
    api.act("disp_lhl", other["id"], "accept", {"category": "ENV01"})
    assert api.act("disp_lhl", other["id"], "dispatch")["lead_unit"] == "STHJ"
    # explicit choice wins over both
    case = api.report()
    api.act("disp_fc", case["id"], "accept", {"category": "ENV01"})
    assert api.act("disp_fc", case["id"], "dispatch", {"lead_unit": "SCJG"})["lead_unit"] == "SCJG"


def test_dispatch_without_any_route_is_refused_naming_the_item(county):
    api = county
    # 刘胡兰镇 has no enforcement team, so the devolved item has nowhere to go
    case = api.report(who="gw_lhl")
    api.act("disp_lhl", case["id"], "accept", {"category": "STALL01"})
    err = api.act("disp_lhl", case["id"], "dispatch", expect=422)["error"]
    assert err["code"] == "no_route" and "STALL01" in err["message"]
    assert api.get("disp_lhl", case["id"])["status"] == "accepted"


def test_dispatch_needs_a_category_set_at_acceptance(county):
    api = county
    case = api.report()
    case = api.act("disp_fc", case["id"], "accept")
    assert "dispatch" not in case["allowed_actions"]
    err = api.act("disp_fc", case["id"], "dispatch", expect=422)["error"]
    assert err["code"] == "action_not_allowed" and "类别" in err["message"]


def test_assisting_units_check_in_without_moving_the_case(county):
    api = county
    case = api.to_dispatched("LAND01")
    case = api.act("zjj_liaison", case["id"], "check_in")
    assert case["status"] == "dispatched"
    assert {w["unit"]: w["state"] for w in case["whistles"]} == {"ZRZY": "sent", "ZJJ": "checked_in"}
    # an assisting unit may neither return nor feed back
    assert api.get("zjj_liaison", case["id"])["allowed_actions"] == []
    api.act("zjj_liaison", case["id"], "return", {"reason": "不归我们管"}, expect=422)
    case = api.act("zrzy_liaison", case["id"], "check_in")
    assert case["status"] == "handling"


def test_return_then_redispatch_and_a_second_return_becomes_a_dispute_for_arbitration(county):
    api = county
    case = api.to_dispatched("ENV01")
    case = api.act("sthj_liaison", case["id"], "return", {"reason": "应由住建局处理"})
    assert (case["status"], case["lead_unit"], case["return_count"]) == ("returned", None, 1)
    assert case["whistles"][0]["state"] == "returned" and not case["whistles"][0]["active"]
    # the dispatcher re-dispatches to another unit
    case = api.act("disp_fc", case["id"], "dispatch", {"lead_unit": "ZJJ"})
    assert case["status"] == "dispatched" and case["lead_unit"] == "ZJJ"
    # the returning department still sees its history but can no longer act
    assert api.get("sthj_liaison", case["id"])["allowed_actions"] == []
    case = api.act("zjj_liaison", case["id"], "return", {"reason": "应由生态环境分局处理"})
    assert (case["status"], case["return_count"]) == ("disputed", 2)  # returned twice → 争议
    assert api.get("supervisor", case["id"])["allowed_actions"] == ["arbitrate", "urge", "supervise"]
    case = api.act("supervisor", case["id"], "arbitrate", {"lead_unit": "STHJ", "assist_units": ["ZJJ"]})
    assert case["status"] == "dispatched" and case["lead_unit"] == "STHJ"
    # the unit named by arbitration may not return it again
    assert api.get("sthj_liaison", case["id"])["allowed_actions"] == ["check_in"]
    err = api.act("sthj_liaison", case["id"], "return", {"reason": "还是不归我们"}, expect=422)["error"]
    assert "裁定" in err["message"]
    api.act("sthj_liaison", case["id"], "check_in")
    assert [a for a, _, _ in statuses(api, "supervisor", case["id"])] == [
        "report", "accept", "dispatch", "return", "dispatch", "return", "arbitrate", "check_in"]


def test_dispatcher_can_send_a_returned_case_up_as_a_dispute(county):
    api = county
    case = api.to_dispatched("ENV01")
    api.act("sthj_liaison", case["id"], "return", {"reason": "不属于本部门职责"})
    case = api.act("disp_fc", case["id"], "escalate_dispute", {"reason": "部门间职责不清"})
    assert case["status"] == "disputed"


def test_return_is_only_before_check_in(county):
    api = county
    case = api.to_handling()
    err = api.act("zrzy_liaison", case["id"], "return", {"reason": "太晚了"}, expect=422)["error"]
    assert err["code"] == "action_not_allowed"
    assert "feedback" in err["allowed_actions"]


def test_extension_requested_then_denied_then_approved_and_kept(county):
    api = county
    case = api.to_handling()
    case = api.act("zrzy_liaison", case["id"], "request_extension", {"working_days": 3, "reason": "需等待测绘结果"})
    assert case["pending_extension"]["working_days"] == 3 and case["status"] == "handling"
    api.act("zrzy_liaison", case["id"], "request_extension", {"working_days": 3, "reason": "再次申请"}, expect=422)
    assert "approve_extension" in api.get("liaison_fc", case["id"])["allowed_actions"]
    case = api.act("liaison_fc", case["id"], "deny_extension", {"note": "理由不充分"})
    assert case["pending_extension"] is None
    api.act("liaison_fc", case["id"], "approve_extension", {}, expect=422)  # nothing pending any more
    api.act("zrzy_liaison", case["id"], "request_extension", {"working_days": 5, "reason": "测绘延误"})
    case = api.act("liaison_fc", case["id"], "approve_extension", {"note": "同意"})
    assert case["pending_extension"] is None
    trail = [e for e in api.as_("liaison_fc").get(f"/api/v1/cases/{case['id']}/timeline").json()
             if "extension" in e["action"]]
    assert [(e["action"], e["payload"].get("working_days")) for e in trail] == [
        ("request_extension", 3), ("deny_extension", 3), ("request_extension", 5), ("approve_extension", 5)]
    # only the lead unit asks, only the township liaison decides
    api.act("zjj_liaison", case["id"], "request_extension", {"working_days": 1, "reason": "x"}, expect=422)


def test_suspend_and_resume_return_to_the_state_left(county):
    api = county
    case = api.to_handling()
    api.act("liaison_fc", case["id"], "suspend", {}, expect=422)  # reason required
    case = api.act("liaison_fc", case["id"], "suspend", {"reason": "当事人住院，暂缓处理"})
    assert (case["status"], case["step"], case["suspended_from"]) == ("suspended", 4, "handling")
    assert api.get("zrzy_off1", case["id"])["allowed_actions"] == []  # paused for the department too
    case = api.act("liaison_fc", case["id"], "resume")
    assert (case["status"], case["suspended_from"]) == ("handling", None)
    # a suspended dispute resumes as a dispute
    other = api.to_dispatched("ENV01")
    api.act("sthj_liaison", other["id"], "return", {"reason": "a"})
    api.act("disp_fc", other["id"], "escalate_dispute", {"reason": "b"})
    api.act("liaison_fc", other["id"], "suspend", {"reason": "c"})
    assert api.act("liaison_fc", other["id"], "resume")["status"] == "disputed"


def test_failed_verification_reworks_then_passes(county):
    api = county
    case = api.to_feedback()
    case = api.act("liaison_fc", case["id"], "verify", {"passed": False, "note": "现场仍有违建未拆除", "rating": 2})
    assert (case["status"], case["rework_count"], case["outcome"]) == ("handling", 1, None)
    case = api.act("zrzy_off1", case["id"], "feedback",
                   {"outcome": "partially_resolved", "result": "已拆除主体", "officers": ["zrzy_off1", "zrzy_off2"]})
    case = api.act("liaison_fc", case["id"], "verify", {"passed": True, "satisfaction": "basic", "rating": 4})
    assert (case["status"], case["outcome"], case["rework_count"]) == ("closed", "partially_resolved", 1)


def test_the_reporting_grid_worker_may_verify_but_not_another_one(county):
    api = county
    case = api.to_feedback()
    assert api.get("gw_fc1", case["id"])["allowed_actions"] == ["verify"]
    r = api.as_("gw_fc2").post(f"/api/v1/cases/{case['id']}/actions/verify", json={"passed": True})
    assert r.status_code == 403  # not their report: outside their scope
    case = api.act("gw_fc1", case["id"], "verify", {"passed": True, "satisfaction": "satisfied"})
    assert case["status"] == "closed"


def test_enforcement_feedback_needs_two_officers_with_valid_certificates(county):
    api = county
    case = api.to_handling("LAND01")
    body = {"outcome": "resolved", "result": "已立案查处"}
    for officers in ([], ["zrzy_off1"], ["zrzy_off1", "zrzy_off3"], ["zrzy_off1", "zrzy_off1"]):
        err = api.act("zrzy_off1", case["id"], "feedback", {**body, "officers": officers}, expect=422)["error"]
        assert err["code"] == "certified_officers_required", officers
    # officers of another unit do not count
    err = api.act("zrzy_off1", case["id"], "feedback", {**body, "officers": ["zrzy_off1", "sthj_off"]}, expect=422)
    assert "sthj_off" in err["error"]["message"]
    assert api.get("zrzy_off1", case["id"])["status"] == "handling"
    case = api.act("zrzy_off1", case["id"], "feedback", {**body, "officers": ["zrzy_off1", "zrzy_off2"]})
    assert case["status"] == "feedback"


def test_certificate_expiry_is_judged_on_the_feedback_date(county, clock):
    api = county
    case = api.to_handling("LAND01")
    clock.advance(days=365)  # 2027-11: zrzy_off2's certificate (to 2027-06-30) has lapsed
    err = api.act("zrzy_off1", case["id"], "feedback",
                  {"outcome": "resolved", "result": "x", "officers": ["zrzy_off1", "zrzy_off2"]}, expect=422)
    assert err["error"]["code"] == "certified_officers_required"


def test_non_enforcement_items_need_no_certified_officers(county):
    api = county
    case = api.to_dispatched("ENV01")
    api.act("sthj_liaison", case["id"], "check_in")
    case = api.act("sthj_off", case["id"], "feedback", {"outcome": "transferred", "result": "移送公安机关"})
    case = api.act("liaison_fc", case["id"], "verify", {"passed": True})
    assert (case["status"], case["outcome"]) == ("closed", "transferred")


def test_urge_and_supervise_are_records_that_do_not_move_the_case(county):
    api = county
    case = api.to_dispatched()
    case = api.act("liaison_fc", case["id"], "urge", {"note": "请尽快到场"})
    assert case["status"] == "dispatched"
    case = api.act("supervisor", case["id"], "supervise", {"note": "县级督办：限期办结"})
    assert case["status"] == "dispatched"
    api.act("liaison_fc", case["id"], "supervise", {"note": "x"}, expect=422)  # 督办 is the county's
    trail = statuses(api, "supervisor", case["id"])
    assert trail[-2:] == [("urge", "dispatched", "dispatched"), ("supervise", "dispatched", "dispatched")]


def test_departments_can_never_close_a_case(county):
    api = county
    case = api.to_feedback()
    for who in ("zrzy_liaison", "zrzy_off1", "zjj_liaison"):
        assert "verify" not in api.get(who, case["id"])["allowed_actions"]
        err = api.act(who, case["id"], "verify", {"passed": True}, expect=422)["error"]
        assert err["code"] == "action_not_allowed"
    assert api.get("liaison_fc", case["id"])["status"] == "feedback"


def test_grid_point_resolves_to_its_grid_and_township(county):
    api = county
    case = api.report(who="disp_fc", lat=37.45, lon=112.05, township=None)
    assert (case["township"], case["grid"]) == ("FC", "FC-G1")


def test_a_failed_verification_must_say_why_and_changes_nothing_without_it(county):
    api = county
    case = api.to_feedback()
    for note in (None, "   "):
        body = {"passed": False} | ({"note": note} if note is not None else {})
        r = api.as_("liaison_fc").post(f"/api/v1/cases/{case['id']}/actions/verify", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "reason_required", r.text
        assert "核查不通过须写明原因" in r.json()["error"]["message"]
    after = api.get("liaison_fc", case["id"])
    assert (after["status"], after["version"], after["rework_count"]) == ("feedback", case["version"], 0)

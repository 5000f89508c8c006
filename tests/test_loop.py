"""The six-step loop end to end, following allowed_actions as a client would."""


def test_report_to_closure_following_allowed_actions(county):
    api = county
    case = api.report(township="FC", grid="FC-G1")
    assert case["status"] == "reported" and case["step"] == 1 and case["version"] == 1
    assert case["code"].startswith("CS20261116")

    seen = api.get("disp_fc", case["id"])
    assert "accept" in seen["allowed_actions"] and "reject" in seen["allowed_actions"]
    case = api.act("disp_fc", case["id"], "accept", {"category": "LAND01"})
    assert (case["status"], case["step"]) == ("accepted", 2)

    case = api.act("disp_fc", case["id"], "dispatch")
    assert (case["status"], case["step"], case["lead_unit"]) == ("dispatched", 3, "ZRZY")
    assert {(w["unit"], w["role"], w["state"]) for w in case["whistles"]} == {
        ("ZRZY", "lead", "sent"), ("ZJJ", "assist", "sent")}

    assert api.get("zrzy_liaison", case["id"])["allowed_actions"] == ["check_in", "return"]
    case = api.act("zrzy_liaison", case["id"], "check_in")
    assert (case["status"], case["step"]) == ("handling", 4)

    case = api.act("zrzy_off1", case["id"], "feedback",
                   {"outcome": "resolved", "result": "已拆除", "officers": ["zrzy_off1", "zrzy_off2"]})
    assert (case["status"], case["step"]) == ("feedback", 5)
    assert "verify" not in api.get("zrzy_liaison", case["id"])["allowed_actions"]  # departments never close

    case = api.act("liaison_fc", case["id"], "verify",
                   {"passed": True, "satisfaction": "satisfied", "rating": 5})
    assert (case["status"], case["step"], case["outcome"]) == ("closed", 6, "resolved")
    assert case["allowed_actions"] == []
    assert case["version"] == 6

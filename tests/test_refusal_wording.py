"""Refusals a county official can read: pydantic's own refusals worded in Chinese with the field's Chinese name,
and reasons that say something (a lone "。" tells a department nothing). SQLite and PostgreSQL (`county`)."""

import pytest

from tests.test_verify_correction import feedback, unchanged


def error(r, status=422) -> dict:
    assert r.status_code == status, r.text[:300]
    return r.json()["error"]


@pytest.mark.parametrize("body, zh", [
    ({"title": ""}, "标题不能为空"),
    ({}, "缺少标题"),
    ({"title": "东街占道", "urgency": "very"}, "紧急程度须为以下之一：'normal'、'urgent'"),
    ({"title": "东街占道", "lat": 200}, "纬度不能大于 90"),
    ({"title": "东街占道", "lon": 200}, "经度不能大于 180"),
    ({"title": "东街占道", "colour": "red"}, "不认识的字段 colour"),
])
def test_a_refused_report_says_what_is_wrong_in_chinese(county, body, zh):
    err = error(county.as_("gw_fc1").post("/api/v1/cases", json=body))
    chinese = err["message"].split(" / ")[0]
    assert zh in chinese, err["message"]
    assert "should" not in chinese and "Field required" not in chinese and " or " not in chinese, err["message"]


@pytest.mark.parametrize("note", ["。", " … ", "!!!", "——"])
def test_a_failed_verification_needs_a_reason_that_says_something(county, note):
    case = feedback(county)
    err = error(county.as_("liaison_fc").post(f"/api/v1/cases/{case['id']}/actions/verify",
                                              json={"passed": False, "note": note}))
    assert err["code"] == "reason_required", err
    unchanged(county, case)


def test_a_return_needs_a_reason_that_says_something(county):
    case = county.to_dispatched()
    err = error(county.as_("zrzy_liaison").post(f"/api/v1/cases/{case['id']}/actions/return",
                                                json={"reason": "。。"}))
    assert err["code"] == "reason_required" and "理由须写明具体内容" in err["message"], err
    assert county.get("zrzy_liaison", case["id"])["status"] == case["status"]

"""An enforcement item's feedback needs two officers of the lead unit holding a valid certificate (执法证; the
enforcement rule of 行政处罚法 第四十二条). A refusal names every officer who does not count and why — in Chinese and
English, and in `extra` so the case page shows it beside the officers field. SQLite and PostgreSQL."""

import html

import pytest
from sqlalchemy import update

from chuishao.models.db import make_sync_engine
from chuishao.models.org import User
from tests.test_web_forms import page_token, web_login

BODY = {"outcome": "resolved", "result": "已立案查处"}


def refuse(api, case, officers, code="certified_officers_required") -> dict:
    r = api.as_("zrzy_off1").post(f"/api/v1/cases/{case['id']}/actions/feedback", json={**BODY, "officers": officers})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["field"] == "officers", err
    after = api.get("zrzy_off1", case["id"])
    assert (after["status"], after["version"]) == ("handling", case["version"])
    return err


def set_user(api, username, **values) -> None:
    engine = make_sync_engine(api.settings.url)
    with engine.begin() as conn:
        conn.execute(update(User).where(User.username == username).values(**values))
    engine.dispose()


@pytest.mark.parametrize("other, reason, zh, en", [
    ("zrzy_off3", "certificate_expired", "zrzy_off3 执法证已于 2026-11-01 过期",
     "zrzy_off3 has a certificate that expired on 2026-11-01"),
    ("zrzy_liaison", "no_certificate", "zrzy_liaison 没有执法证", "zrzy_liaison holds no enforcement certificate"),
    ("sthj_off", "not_in_lead_unit", "sthj_off 不属于主办单位", "sthj_off is not in the lead unit"),
])
def test_the_refusal_names_the_officer_who_does_not_count_and_why(county, other, reason, zh, en):
    case = county.to_handling("LAND01")
    err = refuse(county, case, ["zrzy_off1", other])
    zh_part, en_part = err["message"].split(" / ")
    assert zh in zh_part and "所选 2 名中符合条件的有 1 名" in zh_part, zh_part
    assert en in en_part and "1 of the 2 named qualifies" in en_part, en_part
    assert "zrzy_off1" not in zh_part  # the one who counts is not blamed
    assert [(o["username"], o["reason"]) for o in err["officers"]] == [(other, reason)]
    assert err["officers"][0]["zh"] and err["officers"][0]["en"]


def test_every_unfit_officer_is_named_at_once_with_a_name_when_the_user_has_one(county):
    api = county
    case = api.to_handling("LAND01")
    set_user(api, "zrzy_off3", name="王五")
    set_user(api, "zrzy_off2", certificate_expires=None)
    err = refuse(api, case, ["zrzy_off2", "zrzy_off3", "sthj_off"])
    zh_part, en_part = err["message"].split(" / ")
    for text in ("zrzy_off2 执法证 晋执-0002 未登记有效期", "王五（zrzy_off3）执法证已于 2026-11-01 过期",
                 "sthj_off 不属于主办单位", "符合条件的有 0 名"):
        assert text in zh_part, (text, zh_part)
    for text in ("zrzy_off2 has certificate 晋执-0002 with no expiry date on record",
                 "zrzy_off3 has a certificate that expired on 2026-11-01", "sthj_off is not in the lead unit"):
        assert text in en_part, (text, en_part)
    assert {o["username"]: o["reason"] for o in err["officers"]} == {
        "zrzy_off2": "no_expiry_date", "zrzy_off3": "certificate_expired", "sthj_off": "not_in_lead_unit"}


def test_a_deactivated_officer_counts_for_nobody(county):
    api = county
    case = api.to_handling("LAND01")
    set_user(api, "zrzy_off2", active=False)
    err = refuse(api, case, ["zrzy_off1", "zrzy_off2"])
    assert "zrzy_off2 账号已停用" in err["message"] and "zrzy_off2 has a deactivated account" in err["message"]


def test_beside_two_certified_officers_others_may_sign_if_they_are_active_staff_of_the_lead_unit(county):
    api = county
    case = api.to_handling("LAND01")
    err = refuse(api, case, ["zrzy_off1", "zrzy_off2", "sthj_off"], code="officers_not_eligible")
    assert "sthj_off 不属于主办单位" in err["message"] and [o["username"] for o in err["officers"]] == ["sthj_off"]
    set_user(api, "zrzy_off3", active=False)
    err = refuse(api, case, ["zrzy_off1", "zrzy_off2", "zrzy_off3"], code="officers_not_eligible")
    assert [(o["username"], o["reason"]) for o in err["officers"]] == [("zrzy_off3", "inactive")]
    set_user(api, "zrzy_off3", active=True)  # an expired certificate beside two valid ones: may sign
    done = api.act("zrzy_off1", case["id"], "feedback", {**BODY, "officers": ["zrzy_off1", "zrzy_off2", "zrzy_off3"]})
    assert done["status"] == "feedback"


def test_no_officers_named_says_so(county):
    case = county.to_handling("LAND01")
    err = refuse(county, case, [])
    assert "未选择执法人员" in err["message"] and "no officers are named" in err["message"]
    assert err["officers"] == []


def test_a_lapse_is_judged_on_the_feedback_date_and_named_with_its_date(county, clock):
    case = county.to_handling("LAND01")
    clock.advance(days=365)  # 2027-11: zrzy_off2's certificate (to 2027-06-30) has lapsed
    err = refuse(county, case, ["zrzy_off1", "zrzy_off2"])
    assert "zrzy_off2 执法证已于 2027-06-30 过期" in err["message"]


def test_a_non_enforcement_item_still_refuses_officers_of_another_unit_by_name(county):
    api = county
    case = api.to_handling("ENV01")
    r = api.as_("sthj_off").post(f"/api/v1/cases/{case['id']}/actions/feedback",
                                 json={**BODY, "officers": ["sthj_off", "zrzy_off1"]})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "officers_not_eligible" and err["field"] == "officers"
    assert "zrzy_off1 不属于主办单位" in err["message"] and "zrzy_off1 is not in the lead unit" in err["message"]
    # uncertified staff of the lead unit may sign a non-enforcement result
    assert api.act("sthj_off", case["id"], "feedback", {**BODY, "officers": ["sthj_off"]})["status"] == "feedback"


def test_the_case_page_shows_who_and_why_beside_the_officers_field(client, county):
    case = county.to_handling("LAND01")
    web_login(client, "zrzy_off1")
    page = client.get(f"/cases/{case['id']}").text
    r = client.post(f"/cases/{case['id']}/actions/feedback",
                    data={"csrftoken": page_token(page), "version": str(case["version"]), "outcome": "resolved",
                          "result": "已立案查处", "officers": ["", "zrzy_off1", "zrzy_off3"]},
                    follow_redirects=False)
    assert r.status_code == 422
    text = html.unescape(r.text)
    field = text[text.index('id="f-feedback-officers"'):]
    field = field[:field.index("</fieldset>")]
    assert 'class="field-error"' in field and "zrzy_off3 执法证已于 2026-11-01 过期" in field
